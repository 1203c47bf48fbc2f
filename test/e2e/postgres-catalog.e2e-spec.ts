/** The service on a PostgreSQL catalog answers as it does on SQLite, over the same archive. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { CATALOG_FILE } from '../../src/log-storage/sqlite/catalog-schema';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { readArchive } from '../support/archive';
import { createDatabase } from '../support/postgres';
import { closeTwins, sqliteTwin } from '../support/catalog-twins';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

const PASSWORD = 'pg-secret-7f3a9c';
const ALL_DAYS = 'start_date=2000-01-01&end_date=2099-12-31';

describe('the service with DATABASE_URL', () => {
  let sim: DifySimulator;
  let url: string;
  let onPostgres: TestApp;
  let onSqlite: TestApp;
  let sqliteFileBefore: boolean;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    // the test server trusts loopback connections, so the password is only there to prove it is never shown
    url = (await createDatabase('service_catalog')).replace('postgres@', `postgres:${PASSWORD}@`);
    onPostgres = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DATABASE_URL: url });
    const app = sim.apps.find((a) => a.mode === 'chat')!;
    const backup = await request(onPostgres.server)
      .post('/api/conversation-logs')
      .send({ app_id: app.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId });
    expect(backup.status).toBe(200);
    expect(backup.body.saved_count).toBeGreaterThan(20);
    // row ids break ties in search order: both catalogs number the files as a rebuild walks them
    expect((await request(onPostgres.server).post('/api/conversation-logs/reindex')).status).toBe(200);
    sqliteFileBefore = fs.existsSync(path.join(onPostgres.logsDir, CATALOG_FILE));
    // no SQLite catalog yet: it is rebuilt from the files in the background
    onSqlite = await sqliteTwin(onPostgres);
  });
  afterAll(() => closeTwins({ onSqlite, onPostgres, sim, url }));

  const both = async (path: string) => {
    const [pg, lite] = await Promise.all([request(onPostgres.server).get(path), request(onSqlite.server).get(path)]);
    expect(pg.status).toBe(200);
    expect(lite.status).toBe(200);
    // ndjson is not parsed into a body
    return pg.type === 'application/json' ? { pg: pg.body, lite: lite.body } : { pg: pg.text, lite: lite.text };
  };

  it('keeps the catalog out of LOGS_DIR', () => {
    expect(sqliteFileBefore).toBe(false);
    expect(readArchive(onPostgres.logsDir).length).toBeGreaterThan(20);
  });

  it.each([
    '/api/conversation-logs?action=summary',
    '/api/conversation-logs?action=summary&organization_id=acme',
    '/api/conversation-logs/stats',
    '/api/conversation-logs/stats?organization_id=acme',
    `/api/conversation-logs?action=export&format=json&${ALL_DAYS}`,
    `/api/conversation-logs?action=export&format=ndjson&rating=like&${ALL_DAYS}`,
    `/api/conversation-logs?action=export&format=json&keyword=GIV&${ALL_DAYS}`,
    `/api/conversation-logs/search?organization_id=acme&limit=100&rating=like`,
  ])('answers %s as the SQLite catalog does', async (path) => {
    const { pg, lite } = await both(path);
    expect(pg).toEqual(lite);
    expect(JSON.stringify(pg)).toMatch(/conversation_id|"total_files":[1-9]|"conversations":[1-9]/);
  });

  it('pages through every search the same way, with the same hits marked', async () => {
    const words = [...new Set(readArchive(onPostgres.logsDir).flatMap((f) => (f.json.messages as { query?: string }[]).map((m) => m.query ?? '')).join(' ').match(/\p{L}{4,}/gu) ?? [])];
    const queries = [null, words[0], words[1].slice(0, 3), `${words[2]} ${words[3]}`, words[0].toUpperCase()];
    for (const text of queries) {
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/api/conversation-logs/search?limit=7${text ? `&q=${encodeURIComponent(text)}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
        const { pg, lite } = await both(q);
        // FTS5 and ts_headline may pick another window of a long text: both mark hits of the searched words
        const prefixes = (text ?? '').toLowerCase().split(' ');
        const hits = (body: { results: { snippet: string }[] }) =>
          body.results.map((r) =>
            text ? (r.snippet.match(/«[^»]*»/g) ?? []).length > 0 && (r.snippet.match(/«([^»]*)»/g) ?? []).every((h) => prefixes.some((p) => h.slice(1).toLowerCase().startsWith(p))) : r.snippet,
          );
        expect({ ...pg, results: pg.results.map((r: object) => ({ ...r, snippet: undefined })) }).toEqual({
          ...lite,
          results: lite.results.map((r: object) => ({ ...r, snippet: undefined })),
        });
        expect(hits(pg)).toEqual(hits(lite));
        cursor = pg.next_cursor;
        pages++;
      } while (cursor && pages < 10);
    }
  });

  it('never shows the database password', async () => {
    const health = await request(onPostgres.server).get('/health/ready');
    expect(JSON.stringify(health.body)).not.toContain(PASSWORD);
    expect(onPostgres.logLines.join('\n')).not.toContain(PASSWORD);
  });
});
