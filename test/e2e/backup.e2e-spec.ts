import * as fs from 'node:fs';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedConversation } from '../../src/simulator/simulator.types';
import { findSecrets } from '../support/archive';
import { readStoredArchive, STORE_KINDS, StoreKind, storedTexts, storeUnderTest, StoreUnderTest } from '../support/archive-stores';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

type Mode = 'service' | 'console-admin' | 'console-login';

const TIE_USER = 'tie-user';
const FILE_NAME = /^conversations\/acme\/\d{4}\/\d{2}\/\d{2}\/conversation_([0-9a-f-]{36})_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.json$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

function body(mode: Mode, sim: DifySimulator, app: SimulatedApp, users: string[]) {
  const common = { app_id: app.id, organization_id: 'acme' };
  if (mode === 'service') return { ...common, dify_api_url: sim.serviceApiUrl, api_key: app.apiKey, users };
  if (mode === 'console-admin') {
    return { ...common, console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId };
  }
  return { ...common, console_api_url: sim.consoleApiUrl, email: sim.account.email, password: sim.account.password };
}

/** Conversations a mode can see: console modes everything; service mode the Service-API ones of the given users. */
function visible(mode: Mode, sim: DifySimulator, app: SimulatedApp, users: string[]): SimulatedConversation[] {
  const all = sim.conversations(app.id);
  if (mode !== 'service') return all;
  return all.filter(
    (c) => c.user !== null && users.includes(c.user) && ((c as { invoke_from?: string }).invoke_from ?? 'service-api') === 'service-api',
  );
}

/**
 * Adds conversations that share seconds so that page boundaries of limit=100 fall inside ties, and one
 * conversation of 130 messages whose messages share a second around the backwards page boundary.
 */
function addTraps(sim: DifySimulator, app: SimulatedApp): { longId: string } {
  const existing = sim.conversations(app.id);
  const base = Math.max(...existing.map((c) => c.updated_at), Math.floor(Date.now() / 1000) - 7200) + 10;
  const shift = (((5 - (100 - existing.length)) % 10) + 10) % 10;
  for (let i = 0; i < 130; i++) {
    sim.addConversation({
      app_id: app.id,
      from_source: 'api',
      user: TIE_USER,
      invoke_from: 'service-api',
      created_at: base + Math.floor((i + shift) / 10),
      messages: 1,
    } as Parameters<DifySimulator['addConversation']>[0]);
  }
  const longStart = base + 100;
  const times = Array.from({ length: 130 }, (_, i) => longStart + (i >= 28 && i <= 31 ? 28 : i));
  const long = sim.addConversation({
    app_id: app.id,
    from_source: 'api',
    user: TIE_USER,
    invoke_from: 'service-api',
    created_at: longStart,
    messages: 130,
    message_created_at: times,
  } as Parameters<DifySimulator['addConversation']>[0]);
  return { longId: long.id };
}

const MODES: Mode[] = ['console-admin', 'console-login', 'service'];

describe.each<[Mode, StoreKind]>(MODES.flatMap((mode) => STORE_KINDS.map((kind): [Mode, StoreKind] => [mode, kind])))('POST /api/conversation-logs in %s mode, archive on %s', (mode, kind) => {
  let sim: DifySimulator;
  let t: TestApp;
  let logsDir: string;
  let store: StoreUnderTest;
  let app: SimulatedApp;
  let users: string[];
  let longId: string;
  const responses: string[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ seed: 7 });
    app = sim.apps.find((a) => a.mode === 'chat')!;
    ({ longId } = addTraps(sim, app));
    const known = [...new Set(sim.conversations(app.id).map((c) => c.user).filter((u): u is string => !!u))];
    users = [TIE_USER, ...known.filter((u) => u !== TIE_USER).slice(0, 3)];
    logsDir = makeTempDir();
    store = await storeUnderTest(kind, () => logsDir, `backup-${mode}`);
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_CONCURRENCY: '4', ...store.env, LOGS_DIR: logsDir });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
    await store?.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });
  const readArchive = () => readStoredArchive(store);
  const archivedCount = async () => (await store.keys('conversations/')).length;

  const post = async (payload: unknown) => {
    const res = await request(t.server).post('/api/conversation-logs').send(payload as object);
    responses.push(JSON.stringify(res.body));
    return res;
  };

  it('archives every conversation the mode can see, with all messages, in the documented layout', async () => {
    const res = await post(body(mode, sim, app, users));
    expect(res.status).toBe(200);
    const expected = visible(mode, sim, app, users);
    expect(expected.length).toBeGreaterThan(130);
    expect(res.body).toMatchObject({
      success: true,
      app_id: app.id,
      access_mode: mode,
      total_conversations: expected.length,
      saved_count: expected.length,
      created_count: expected.length,
      unchanged_count: 0,
      failed_count: 0,
      errors: [],
    });
    expect(res.body.file_paths).toHaveLength(expected.length);
    expect(res.body.coverage.complete).toBe(mode !== 'service');
    if (mode === 'service') expect(res.body.coverage.warnings.join(' ')).toMatch(/WebApp|console/i);

    const files = await readArchive();
    expect(files.map((f) => f.path).sort()).toEqual([...res.body.file_paths].sort());
    const byId = new Map(files.map((f) => [f.json.conversation_id, f]));
    expect(byId.size).toBe(expected.length);
    for (const conv of expected) {
      const file = byId.get(conv.id);
      expect(file).toBeDefined();
      expect(file!.path).toMatch(FILE_NAME);
      expect(FILE_NAME.exec(file!.path)![1]).toBe(conv.id);
      const created = new Date(conv.created_at * 1000).toISOString();
      expect(file!.path).toContain(`/${created.slice(0, 4)}/${created.slice(5, 7)}/${created.slice(8, 10)}/`);
      expect(file!.path).toContain(created.replace(/[:.]/g, '-'));
      const json = file!.json;
      expect(json).toMatchObject({
        conversation_id: conv.id,
        app_id: app.id,
        organization_id: 'acme',
        status: conv.status,
        from_source: conv.from_source,
        created_at: created,
        updated_at: new Date(conv.updated_at * 1000).toISOString(),
        access_mode: mode,
        app_mode: 'chat',
      });
      expect(json.logged_at).toMatch(ISO);
      if (conv.user && conv.from_source === 'api') expect(json.from_end_user_session_id).toBe(conv.user);
      const simMessages = sim.messages(conv.id);
      expect(json.dialogue_count).toBe(simMessages.length);
      expect(json.messages.map((m: { id: string }) => m.id)).toEqual(simMessages.map((m) => m.id));
      for (const m of json.messages) {
        expect(m.created_at).toMatch(ISO);
        expect(Object.keys(m)).toEqual(
          expect.arrayContaining(['id', 'conversation_id', 'query', 'answer', 'created_at', 'message_tokens', 'answer_tokens', 'provider_response_latency', 'from_source', 'from_end_user_id']),
        );
      }
      const times = json.messages.map((m: { created_at: string }) => Date.parse(m.created_at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
    expect(byId.get(longId)!.json.messages).toHaveLength(130);
  });

  it('reports everything unchanged on a second run and writes nothing', async () => {
    const before = (await readArchive()).map((f) => f.text);
    const res = await post(body(mode, sim, app, users));
    expect(res.body).toMatchObject({ success: true, saved_count: 0, failed_count: 0 });
    expect(res.body.unchanged_count).toBe(res.body.total_conversations);
    expect(res.body.file_paths).toEqual([]);
    expect((await readArchive()).map((f) => f.text)).toEqual(before);
  });

  it('rewrites, in place, a conversation that got a new message', async () => {
    const target = visible(mode, sim, app, users).find((c) => c.user === TIE_USER && c.id !== longId)!;
    const pathBefore = (await readArchive()).find((f) => f.json.conversation_id === target.id)!.path;
    sim.addMessage(target.id);
    const res = await post(body(mode, sim, app, users));
    expect(res.body).toMatchObject({ success: true, saved_count: 1, updated_count: 1, created_count: 0, file_paths: [pathBefore] });
    const files = (await readArchive()).filter((f) => f.json.conversation_id === target.id);
    expect(files).toHaveLength(1);
    expect(files[0].json.messages).toHaveLength(sim.messages(target.id).length);
  });

  it('retries 429 (Retry-After) and 5xx to success', async () => {
    sim.injectFault({ path: /messages$/, times: 2, fault: { kind: 'status', status: 503 } });
    sim.injectFault({ path: /conversations$/, times: 1, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const target = visible(mode, sim, app, users).find((c) => c.user === TIE_USER && c.id !== longId)!;
    sim.addMessage(target.id);
    const res = await post(body(mode, sim, app, users));
    sim.clearFaults();
    expect(res.body).toMatchObject({ success: true, failed_count: 0, updated_count: 1 });
  });

  it('gives a clear error naming the field for bad credentials, and writes nothing', async () => {
    const before = await archivedCount();
    const bad =
      mode === 'service'
        ? { ...body(mode, sim, app, users), api_key: 'app-wrong-key-000000000000' }
        : mode === 'console-admin'
          ? { ...body(mode, sim, app, users), admin_api_key: 'wrong-admin-key' }
          : { ...body(mode, sim, app, users), password: 'wrong-password' };
    const res = await post(bad);
    expect(res.status).toBe(400);
    const field = mode === 'service' ? 'api_key' : mode === 'console-admin' ? 'admin_api_key' : 'password';
    expect(res.body.field).toBe(field);
    expect(res.body.message).toMatch(/rejected|failed|invalid/i);
    expect(res.body.message).toMatch(/401|credential|key|password|login/i);
    expect(await archivedCount()).toBe(before);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const good = body(mode, sim, app, users);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, organization_id: '../etc' }, 'organization_id'],
      [{ ...good, app_id: 'a/b' }, 'app_id'],
      [{ ...good, filters: { start_date: 'yesterday' } }, 'start_date'],
      [{ ...good, filters: { start_date: '2025-10-05', end_date: '2025-10-01' } }, 'filters.end_date'],
      [{ ...good, filters: { from_source: 'webapp' } }, 'from_source'],
      [{ ...good, unexpected: 1 }, 'unexpected'],
      [{ ...good, ...(mode === 'service' ? { dify_api_url: 'http://evil.example/v1' } : { console_api_url: 'http://evil.example/console/api' }) }, mode === 'service' ? 'dify_api_url' : 'console_api_url'],
    ];
    for (const [payload, field] of cases) {
      const res = await post(payload);
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expect(JSON.stringify(res.body.message)).toContain(field);
    }
  });

  it('never writes or logs a secret', async () => {
    const secrets = [app.apiKey, sim.adminApiKey!, sim.account.password, 'app-wrong-key-000000000000', 'wrong-admin-key', 'wrong-password'];
    expect(findSecrets(secrets, t.logsDir, [...t.logLines, ...responses, ...(kind === 's3' ? await storedTexts(store) : [])])).toEqual([]);
    expect(t.logLines.some((l) => l.includes('Started backup'))).toBe(true);
  });
});
