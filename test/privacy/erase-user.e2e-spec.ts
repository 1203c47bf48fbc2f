/** Erasing one end user everywhere: files, catalog, search, export, stats, and the bytes under LOGS_DIR. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createDatabase, dropDatabase } from '../support/postgres';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const USER = 'erase-me-7731';
const PHRASE = 'zanzibar quokka lantern';
const OTHER = 'keep-me-2288';
const DAY = 86_400;

/** Every file under the folder, as bytes (catalog, write-ahead log, state, archive). */
function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? allFiles(full) : [full];
  });
}

function filesContaining(dir: string, needles: string[]): string[] {
  return allFiles(dir).filter((file) => {
    const bytes = fs.readFileSync(file);
    return needles.some((n) => bytes.includes(Buffer.from(n, 'utf8')));
  });
}

describe('DELETE /api/end-users/{end_user}', () => {
  let sim: DifySimulator;
  let t: TestApp;
  let apps: SimulatedApp[];
  let endUserId: string;
  const targets = () => [
    { app: apps[0], organization_id: 'acme' },
    { app: apps[1], organization_id: 'acme' },
    { app: apps[2], organization_id: 'globex' },
  ];
  const backup = (app: SimulatedApp, organization_id: string) =>
    request(t.server)
      .post('/api/conversation-logs')
      .send({
        app_id: app.id,
        organization_id,
        console_api_url: sim.consoleApiUrl,
        admin_api_key: sim.adminApiKey,
        workspace_id: sim.workspaceId,
        filters: { start_date: new Date(Date.now() - 40 * DAY * 1000).toISOString() },
      });
  const exportAll = async () =>
    (await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', start_date: '2000-01-01', end_date: '2099-12-31' }).expect(200)).text;
  const countFiles = () => allFiles(path.join(t.logsDir, 'conversations')).length;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 17 });
    apps = sim.apps.filter((a) => ['chat', 'advanced-chat', 'agent-chat'].includes(a.mode)).slice(0, 3);
    expect(apps).toHaveLength(3);
    const now = Math.floor(Date.now() / 1000);
    for (const app of apps) {
      // one conversation old enough to be compressed, one recent, and another end user's beside them
      sim.addConversation({ app_id: app.id, user: USER, name: `${PHRASE} old`, created_at: now - 20 * DAY, messages: 2 });
      sim.addConversation({ app_id: app.id, user: USER, name: `${PHRASE} new`, created_at: now - DAY, messages: 3 });
      sim.addConversation({ app_id: app.id, user: OTHER, name: 'kept conversation', created_at: now - 20 * DAY, messages: 1 });
    }
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1' });
    for (const { app, organization_id } of targets()) {
      const res = await backup(app, organization_id);
      expect(res.body).toMatchObject({ success: true });
    }
    const compressed = await request(t.server).post('/api/conversation-logs/compress').query({ after_days: 7 }).expect(200);
    expect(compressed.body.compressed_files ?? compressed.body.compressed).toBeGreaterThan(0);
    const hit = (await request(t.server).get('/api/conversation-logs/search').query({ user: USER }).expect(200)).body;
    expect(hit.results.length).toBeGreaterThan(0);
    const file = (await request(t.server).get('/api/conversation-logs/conversation').query({ path: hit.results[0].path }).expect(200)).body;
    endUserId = (file.conversation ?? file).from_end_user_id;
    expect(endUserId).toEqual(expect.any(String));
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('refuses bad input with a 400 naming the field, and deletes nothing', async () => {
    const before = countFiles();
    const badOrg = await request(t.server).delete(`/api/end-users/${USER}`).query({ organization_id: '../acme' }).expect(400);
    expect(JSON.stringify(badOrg.body)).toContain('organization_id');
    const badDry = await request(t.server).delete(`/api/end-users/${USER}`).query({ dry_run: 'maybe' }).expect(400);
    expect(JSON.stringify(badDry.body)).toContain('dry_run');
    const long = await request(t.server).delete(`/api/end-users/${'x'.repeat(300)}`).expect(400);
    expect(JSON.stringify(long.body)).toContain('end_user');
    expect(countFiles()).toBe(before);
  });

  it('answers a dry run with what it would erase and changes nothing', async () => {
    const before = countFiles();
    const dry = await request(t.server).delete(`/api/end-users/${USER}`).query({ dry_run: 'true' }).expect(200);
    expect(dry.body).toMatchObject({ dry_run: true, conversations: 6, organizations: ['acme', 'globex'], remembered: false });
    expect(dry.body.days).toHaveLength(2);
    expect(JSON.stringify(dry.body)).not.toContain(PHRASE);
    expect(countFiles()).toBe(before);
    expect((await exportAll())).toContain(PHRASE);
  });

  it('removes every trace: files, rows, search hits, export lines, stats and bytes under LOGS_DIR', async () => {
    const statsBefore = (await request(t.server).get('/api/conversation-logs/stats').expect(200)).body.totals;
    const filesBefore = countFiles();
    const conversationIds = (await request(t.server).get('/api/conversation-logs/search').query({ user: USER, limit: 50 }).expect(200)).body.results.map(
      (r: { conversation_id: string }) => r.conversation_id,
    );
    expect(conversationIds).toHaveLength(6);
    const erased = await request(t.server).delete(`/api/end-users/${USER}`).expect(200);
    expect(erased.body).toMatchObject({ dry_run: false, conversations: 6, remembered: true });
    expect(countFiles()).toBe(filesBefore - 6);

    expect((await request(t.server).get('/api/conversation-logs/search').query({ q: 'quokka' }).expect(200)).body.results).toEqual([]);
    expect((await request(t.server).get('/api/conversation-logs/search').query({ user: endUserId }).expect(200)).body.results).toEqual([]);
    const exported = await exportAll();
    for (const needle of [USER, endUserId, PHRASE]) expect(exported).not.toContain(needle);
    expect(exported).toContain('kept conversation');
    const statsAfter = (await request(t.server).get('/api/conversation-logs/stats').expect(200)).body.totals;
    expect(statsAfter.conversations).toBe(statsBefore.conversations - 6);
    expect(statsAfter.end_users).toBeLessThan(statsBefore.end_users);

    // not a byte of their ids or text anywhere under LOGS_DIR: catalog, its write-ahead log, state (job
    // history included), archive
    expect(filesContaining(t.logsDir, [USER, endUserId, 'quokka', ...conversationIds])).toEqual([]);
  });

  it('keeps them out of later backups, says so, and lets them back once the erasure is lifted', async () => {
    const again = await backup(apps[0], 'acme');
    expect(again.body).toMatchObject({ success: true, erased_skipped_count: 2 });
    expect(await exportAll()).not.toContain(PHRASE);
    // another organization was not part of an erasure limited to acme: an unlimited one covers it too
    const other = await backup(apps[0], 'initech');
    expect(other.body.erased_skipped_count).toBe(2);

    const lifted = await request(t.server).delete(`/api/erasures/${USER}`).expect(200);
    expect(lifted.body).toEqual({ success: true, lifted: 1 });
    const back = await backup(apps[0], 'acme');
    expect(back.body).toMatchObject({ success: true, erased_skipped_count: 0 });
    expect(back.body.saved_count).toBeGreaterThanOrEqual(2);
    expect(await exportAll()).toContain(PHRASE);
  });

  it('records erasures and retention cleans in the audit log, without content or ids', async () => {
    const cleaned = await request(t.server).delete('/api/conversation-logs').query({ days_to_keep: 10 }).expect(200);
    expect(cleaned.body.deleted_files).toBeGreaterThan(0);
    const page = (await request(t.server).get('/api/audit').expect(200)).body;
    expect(page.entries.map((e: { action: string }) => e.action)).toEqual(['retention-clean', 'lift-erasure', 'erase-end-user']);
    expect(page.total).toBe(3);
    const erase = page.entries[2];
    expect(erase).toMatchObject({ route: 'api', counts: { conversations: 6, days: 2 }, scope: { organization_id: null, app_id: null } });
    expect(erase.client).toMatch(/127\.0\.0\.1/);
    expect(erase.scope.end_user_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(page.entries[0]).toMatchObject({ route: 'api', scope: { days_to_keep: 10 }, counts: { files: cleaned.body.deleted_files } });
    const raw = fs.readFileSync(path.join(t.logsDir, 'state', 'audit.jsonl'), 'utf8');
    for (const needle of [USER, endUserId, 'quokka']) expect(raw).not.toContain(needle);
    expect((await request(t.server).get('/api/audit').query({ limit: 1, offset: 1 }).expect(200)).body.entries.map((e: { action: string }) => e.action)).toEqual([
      'lift-erasure',
    ]);
    const bad = await request(t.server).get('/api/audit').query({ limit: 0 }).expect(400);
    expect(JSON.stringify(bad.body)).toContain('limit');
  });
});

/** Every row of every table of the database, each as text, with its table's name. */
async function tablesContaining(url: string, needles: string[]): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows;
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['files', 'file_texts', 'messages', 'jobs', 'checkpoints', 'erasures', 'erasure_salt', 'audit_log']));
    const found: string[] = [];
    for (const { name } of tables) {
      const rows = (await client.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`)).rows;
      for (const { row } of rows) for (const n of needles) if (row.includes(n)) found.push(`${name}: ${n}`);
    }
    return found;
  } finally {
    await client.end();
  }
}

describe('DELETE /api/end-users/{end_user} with DATABASE_URL', () => {
  let sim: DifySimulator;
  let t: TestApp;
  let url: string;
  let app: SimulatedApp;
  const backup = () =>
    request(t.server)
      .post('/api/conversation-logs')
      .send({
        app_id: app.id,
        organization_id: 'acme',
        console_api_url: sim.consoleApiUrl,
        admin_api_key: sim.adminApiKey,
        workspace_id: sim.workspaceId,
        filters: { start_date: new Date(Date.now() - 40 * DAY * 1000).toISOString() },
      });

  beforeAll(async () => {
    sim = await startSimulator({ seed: 17 });
    app = sim.apps.find((a) => a.mode === 'chat')!;
    const now = Math.floor(Date.now() / 1000);
    sim.addConversation({ app_id: app.id, user: USER, name: `${PHRASE} old`, created_at: now - 20 * DAY, messages: 2 });
    sim.addConversation({ app_id: app.id, user: USER, name: `${PHRASE} new`, created_at: now - DAY, messages: 3 });
    sim.addConversation({ app_id: app.id, user: OTHER, name: 'kept conversation', created_at: now - 20 * DAY, messages: 1 });
    url = await createDatabase('erase_user');
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DATABASE_URL: url });
    expect((await backup()).body).toMatchObject({ success: true });
    await request(t.server).post('/api/conversation-logs/compress').query({ after_days: 7 }).expect(200);
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
    if (url) await dropDatabase(url);
  });

  it('leaves no byte of the end user under LOGS_DIR and no row holding their ids or text in PostgreSQL', async () => {
    const hits = (await request(t.server).get('/api/conversation-logs/search').query({ user: USER, limit: 50 }).expect(200)).body.results;
    expect(hits).toHaveLength(2);
    const conversationIds = hits.map((r: { conversation_id: string }) => r.conversation_id);
    const file = (await request(t.server).get('/api/conversation-logs/conversation').query({ path: hits[0].path }).expect(200)).body;
    const endUserId: string = (file.conversation ?? file).from_end_user_id;
    const sessionId: string = (file.conversation ?? file).from_end_user_session_id ?? USER;
    const needles = [USER, endUserId, sessionId, 'quokka', 'zanzibar', ...conversationIds];
    expect(await tablesContaining(url, needles)).not.toEqual([]);

    const erased = await request(t.server).delete(`/api/end-users/${USER}`).expect(200);
    expect(erased.body).toMatchObject({ dry_run: false, conversations: 2, remembered: true });

    expect(filesContaining(t.logsDir, needles)).toEqual([]);
    expect(fs.existsSync(path.join(t.logsDir, 'state', 'erasures.json'))).toBe(false);
    expect(fs.existsSync(path.join(t.logsDir, 'state', 'audit.jsonl'))).toBe(false);
    expect(await tablesContaining(url, needles)).toEqual([]);
    expect(await exportText()).toContain('kept conversation');
  });

  it('keeps the end user out of later backups from the erasures in PostgreSQL, and lists the erasure in the audit log', async () => {
    const again = await backup();
    expect(again.body).toMatchObject({ success: true, erased_skipped_count: 2 });
    expect(await exportText()).not.toContain(PHRASE);
    const page = (await request(t.server).get('/api/audit').expect(200)).body;
    expect(page.total).toBe(1);
    expect(page.entries[0]).toMatchObject({ action: 'erase-end-user', route: 'api', counts: { conversations: 2, days: 2 }, scope: { end_user_hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(JSON.stringify(page)).not.toContain(USER);
  });

  const exportText = async () =>
    (await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', start_date: '2000-01-01', end_date: '2099-12-31' }).expect(200)).text;
});
