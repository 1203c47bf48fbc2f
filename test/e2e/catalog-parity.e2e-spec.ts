/**
 * Parity: one archive served once on the SQLite catalog and once on the PostgreSQL catalog answers every query
 * the API offers the same way (same counts, order, pages, bytes), apart from what is by nature per instance.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { conversationPath } from '../../src/log-storage/archive-paths';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { conversation } from '../archive/archive-fixtures';
import { createDatabase } from '../support/postgres';
import { closeTwins, sqliteTwin } from '../support/catalog-twins';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(300_000);

const DAY = 86_400;
const ALL_DAYS = { start_date: '2000-01-01', end_date: '2099-12-31' };

/** Text a test can search for, beside what the simulator makes up: accents, case, scripts, punctuation. */
const NAMES = [
  'Café crème résumé',
  'CAFÉ au lait, naïve façade',
  'Straße Über ÄRGER',
  '東京 旅行 計画',
  'Emoji 🎉 party plan',
  "don't e-mail the O'Brien-Smith refund",
  'refund refund refund policy',
  'Refund policy: 100% (partial) [draft]',
];

type Query = Record<string, string | number | boolean>;

/** Files as the seed's own tool writes them (no organization_id: the folder names it, or there is none), one gzipped. */
function writeSeedFiles(logsDir: string): void {
  const seeds = [
    { org: 'acme', created_at: '2024-03-01T08:00:00.000Z', gz: false, words: 'Seed refund request for the café order' },
    { org: null, created_at: '2024-03-01T08:00:00.000Z', gz: true, words: 'Seed without organization: Straße refund' },
    { org: 'globex', created_at: '2024-03-02T23:59:59.000Z', gz: false, words: 'Seed policy question, 東京 travel' },
  ];
  seeds.forEach(({ org, created_at, gz, words }, i) => {
    const id = `5eed0000-0000-4000-8000-00000000000${i}`;
    const record: Record<string, unknown> = { ...conversation({ id, organization_id: org, created_at, messages: [{ query: words, answer: `${words} answered` }] }) };
    delete record.organization_id;
    const relative = conversationPath({ conversation_id: id, organization_id: org, created_at }, 'UTC') + (gz ? '.gz' : '');
    const text = Buffer.from(JSON.stringify(record, null, 2));
    fs.mkdirSync(path.dirname(path.join(logsDir, relative)), { recursive: true });
    fs.writeFileSync(path.join(logsDir, relative), gz ? gzipSync(text) : text);
  });
}

describe('catalog parity: SQLite and PostgreSQL', () => {
  let sim: DifySimulator;
  let url: string;
  let onPostgres: TestApp;
  let onSqlite: TestApp;

  const get = async (t: TestApp, path: string, query: Query) => {
    const res = await request(t.server).get(path).query(query);
    return { status: res.status, type: res.type, body: res.type === 'application/json' ? res.body : res.text };
  };
  /** The same request to both services: the answers, with the same status and type (200 unless `status` says otherwise). */
  const both = async (path: string, query: Query = {}, status = 200) => {
    const [pg, lite] = await Promise.all([get(onPostgres, path, query), get(onSqlite, path, query)]);
    expect({ path, query, status: pg.status, type: pg.type }).toEqual({ path, query, status: lite.status, type: lite.type });
    expect({ path, query, status: lite.status }).toEqual({ path, query, status });
    return { pg: pg.body, lite: lite.body };
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23 });
    const apps = sim.apps.filter((a) => ['chat', 'advanced-chat', 'agent-chat', 'workflow'].includes(a.mode)).slice(0, 4);
    expect(apps.length).toBeGreaterThanOrEqual(3);
    const now = Math.floor(Date.now() / 1000);
    const tie = now - 3 * DAY;
    NAMES.forEach((name, i) => {
      const app = apps[i % 2];
      // pairs created in the same second: the order of ties is part of parity
      sim.addConversation({ app_id: app.id, user: `parity-user-${i % 3}`, name, created_at: i < 4 ? tie : now - (i + 1) * 3600, messages: 1 + (i % 3), queries: [name, `${name} again`, 'plain words'] });
    });
    url = await createDatabase('catalog_parity');
    onPostgres = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DATABASE_URL: url });
    for (const [i, app] of apps.entries()) {
      const res = await request(onPostgres.server)
        .post('/api/conversation-logs')
        .send({
          app_id: app.id,
          // the fourth app without an organization: its files sit directly under conversations/YYYY/MM/DD
          ...(i === 3 ? {} : { organization_id: i === 2 ? 'globex' : 'acme' }),
          console_api_url: sim.consoleApiUrl,
          admin_api_key: sim.adminApiKey,
          workspace_id: sim.workspaceId,
          filters: { start_date: new Date((now - 60 * DAY) * 1000).toISOString() },
        });
      expect(res.body).toMatchObject({ success: true });
    }
    await request(onPostgres.server).post('/api/conversation-logs/compress').query({ after_days: 10 }).expect(200);
    writeSeedFiles(onPostgres.logsDir);
    // row ids break ties: both catalogs number the files as a rebuild walks them
    await request(onPostgres.server).post('/api/conversation-logs/reindex').expect(200);
    onSqlite = await sqliteTwin(onPostgres);
  });
  afterAll(() => closeTwins({ onSqlite, onPostgres, sim, url }));

  it('answers the summary and the statistics alike', async () => {
    const { pg: all } = await both('/api/conversation-logs', { action: 'summary' });
    expect(all.total_files).toBeGreaterThan(40);
    // the seed's own files are part of the archive on both
    const seeds = await both('/api/conversation-logs/search', { q: 'seed' });
    expect(seeds.pg.results.map((r: { path: string }) => r.path.endsWith('.gz'))).toEqual([false, false, true]);
    expect(seeds.pg).toEqual(seeds.lite);
    const days = [...new Set((all.directories as string[]).map((d) => d.split('/').slice(-3).join('-')))].sort();
    expect(days.length).toBeGreaterThan(3);
    const queries: Query[] = [
      {},
      { organization_id: 'acme' },
      { organization_id: 'globex' },
      { organization_id: 'nobody' },
    ];
    for (const q of queries) {
      const summary = await both('/api/conversation-logs', { action: 'summary', ...q });
      expect(summary.pg).toEqual(summary.lite);
    }
    const { pg: stats } = await both('/api/conversation-logs/stats');
    const firstApp: string = stats.days[0].app_id;
    const middle = days[Math.floor(days.length / 2)];
    const statsQueries: Query[] = [{}, { organization_id: 'acme' }, { app_id: firstApp }, { start_date: middle }, { end_date: middle }, { start_date: middle, end_date: middle, organization_id: 'acme' }];
    for (const q of statsQueries) {
      const s = await both('/api/conversation-logs/stats', q);
      expect(s.pg).toEqual(s.lite);
    }
  });

  /** Pages through a search to its end on both, comparing every page; returns the pages seen. */
  const pageThrough = async (query: Query, status = 200): Promise<number> => {
    let cursor: string | null = null;
    let pages = 0;
    let hits = 0;
    do {
      const { pg, lite } = await both('/api/conversation-logs/search', { ...query, ...(cursor ? { cursor } : {}) }, status);
      if (status !== 200) {
        expect(pg).toEqual(lite);
        return 0;
      }
      // snippets too: the same field, window of words and marks
      expect({ query, page: pages, ...pg }).toEqual({ query, page: pages, ...lite });
      hits += pg.results.length;
      cursor = pg.next_cursor;
      pages++;
    } while (cursor && pages < 40);
    expect(cursor).toBeNull();
    return hits;
  };

  it('pages every search alike, to the last partial page, newest first and by relevance, with every filter', async () => {
    const { pg: listing } = await both('/api/conversation-logs/search', { limit: 100 });
    const sample = listing.results[0];
    const filters: Query[] = [
      {},
      { organization_id: 'acme' },
      { organization_id: 'globex' },
      { app_id: sample.app_id },
      { from_source: 'api' },
      { from_source: 'console' },
      { user: 'parity-user-1' },
      { rating: 'like' },
      { rating: 'dislike' },
      { start_date: sample.day ?? '2000-01-01' },
      { end_date: sample.day ?? '2099-12-31', organization_id: 'acme' },
    ];
    const texts = [null, 'refund', 'REFUND', 'ref', 'refund policy', 'café', 'CAFE', 'creme', 'straße', 'über', '東京', "don't", 'e-mail', "O'Brien-Smith", '100%', '(partial)', '"refund policy"', 'nothing-like-this'];
    let total = 0;
    for (const q of texts) {
      for (const f of q === null || q === 'refund' ? filters : [{}]) total += await pageThrough({ limit: 7, ...f, ...(q ? { q } : {}) });
    }
    expect(total).toBeGreaterThan(100);
    // refused alike: a text without a word, a cursor of nothing
    for (const q of ['🎉', '%%%']) await pageThrough({ q }, 400);
    await pageThrough({ cursor: 'not-a-cursor' }, 400);
  });

  it('exports the same bytes in every format, with every filter', async () => {
    const filters: Query[] = [{}, { organization_id: 'acme' }, { rating: 'like' }, { from_source: 'api' }, { user: 'parity-user-0' }, { keyword: 'refund' }, { keyword: 'Café' }];
    for (const format of ['ndjson', 'json', 'csv']) {
      for (const f of filters) {
        const res = await both('/api/conversation-logs', { action: 'export', format, ...ALL_DAYS, ...f });
        expect(typeof res.pg === 'string' ? res.pg : JSON.stringify(res.pg)).toBe(typeof res.lite === 'string' ? res.lite : JSON.stringify(res.lite));
      }
    }
  });

  it('finds every conversation by id and by path alike, and verifies the archive alike', async () => {
    const { pg: listing } = await both('/api/conversation-logs/search', { limit: 100 });
    for (const r of listing.results.slice(0, 20)) {
      const byId = await both(`/api/conversation-logs/conversations/${r.conversation_id}`);
      expect(byId.pg).toEqual(byId.lite);
      const byPath = await both('/api/conversation-logs/conversation', { path: r.path });
      expect(byPath.pg).toEqual(byPath.lite);
    }
    const missing = await both('/api/conversation-logs/conversations/00000000-0000-4000-8000-000000000000', {}, 404);
    expect(missing.pg).toEqual(missing.lite);
    const verified = await both('/api/conversation-logs/verify');
    expect(verified.pg).toEqual(verified.lite);
  });

  it('lists the audit log alike, apart from the time and the salted hash each instance makes', async () => {
    for (const t of [onSqlite, onPostgres]) {
      // end users with no conversation: recorded and audited, and no file of the shared archive is touched
      await request(t.server).delete('/api/end-users/ghost-a').query({ organization_id: 'acme' }).expect(200);
      await request(t.server).delete('/api/end-users/ghost-b').expect(200);
      await request(t.server).delete('/api/erasures/ghost-a').expect(200);
    }
    const local = (page: { total: number; entries: Record<string, unknown>[] }) => ({
      ...page,
      entries: page.entries.map(({ at, scope, ...e }) => ({ ...e, at: typeof at, scope: { ...(scope as object), end_user_hash: 'per instance' } })),
    });
    const pages: Query[] = [{}, { limit: 2 }, { limit: 2, offset: 2 }, { limit: 1, offset: 3 }];
    for (const q of pages) {
      const { pg, lite } = await both('/api/audit', q);
      expect(local(pg)).toEqual(local(lite));
    }
    const { pg } = await both('/api/audit');
    expect(pg.entries.map((e: { action: string }) => e.action)).toEqual(['lift-erasure', 'erase-end-user', 'erase-end-user']);
  });
});
