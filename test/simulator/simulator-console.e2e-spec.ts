import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatorOptions } from '../../src/simulator/simulator.types';
import { b64, bearer, call, cookieHeader, cookiesOf } from './sim-http';

const UNKNOWN = '7c1d1e5e-0000-4000-8000-000000000000';

function adminHeaders(sim: DifySimulator) {
  return bearer(sim.adminApiKey!, { 'X-WORKSPACE-ID': sim.workspaceId });
}

async function withSim(options: SimulatorOptions, fn: (sim: DifySimulator) => Promise<void>) {
  const sim = await startSimulator({ conversationsPerApp: 4, ...options });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

const login = (sim: DifySimulator, password: string, email = sim.account.email) =>
  call(`${sim.consoleApiUrl}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password, remember_me: true }),
  });

/** the session a browser would hold after login: every cookie plus the CSRF header */
function session(jar: Record<string, string>, prefix = '') {
  return { headers: { Cookie: cookieHeader(jar), 'X-CSRF-Token': jar[`${prefix}csrf_token`] } };
}

describe(`${startSimulator.name}: console API with the admin key`, () => {
  let sut: DifySimulator;
  let chat: SimulatedApp;
  const con = (path: string) => call(`${sut.consoleApiUrl}${path}`, adminHeaders(sut));

  beforeAll(async () => {
    sut = await startSimulator({ seed: 5 });
    chat = sut.apps.find((a) => a.mode === 'chat')!;
  });
  afterAll(() => sut.close());

  it('authenticates with Bearer admin key + X-WORKSPACE-ID and refuses anything less', async () => {
    expect((await con('/apps')).status).toBe(200);
    const noWorkspace = await call(`${sut.consoleApiUrl}/apps`, bearer(sut.adminApiKey!));
    const wrongKey = await call(`${sut.consoleApiUrl}/apps`, bearer('wrong-admin-key', { 'X-WORKSPACE-ID': sut.workspaceId }));
    const none = await call(`${sut.consoleApiUrl}/apps`);
    for (const res of [noWorkspace, wrongKey, none]) expect(res).toMatchObject({ status: 401, body: { code: 'unauthorized', status: 401 } });
  });

  it('pages apps and reports the account timezone', async () => {
    const p1 = await con('/apps?page=1&limit=3');
    const p2 = await con('/apps?page=2&limit=3');
    expect(p1.body).toMatchObject({ page: 1, limit: 3, total: 5, has_more: true });
    expect([...p1.body.data, ...p2.body.data].map((a: { id: string }) => a.id).sort()).toEqual(sut.apps.map((a) => a.id).sort());
    expect((await con('/account/profile')).body).toMatchObject({ email: 'admin@example.com', timezone: 'Asia/Shanghai' });
  });

  it('lists every conversation of the app with offset paging and the full row shape', async () => {
    const all = sut.conversations(chat.id);
    const seen: string[] = [];
    for (let page = 1; ; page++) {
      const res = await con(`/apps/${chat.id}/chat-conversations?page=${page}&limit=100&sort_by=created_at`);
      expect(res.body.total).toBe(all.length);
      seen.push(...res.body.data.map((c: { id: string }) => c.id));
      if (!res.body.has_more) break;
    }
    expect(seen).toEqual(all.map((c) => c.id));
    const row = (await con(`/apps/${chat.id}/chat-conversations?limit=1`)).body.data[0];
    expect(Object.keys(row).sort()).toEqual(
      [
        'id', 'status', 'from_source', 'from_end_user_id', 'from_end_user_session_id', 'from_account_id', 'from_account_name', 'name',
        'summary', 'read_at', 'created_at', 'updated_at', 'annotated', 'model_config', 'message_count', 'user_feedback_stats',
        'admin_feedback_stats', 'status_count',
      ].sort(),
    );
    const reads = (await con(`/apps/${chat.id}/chat-conversations?limit=100`)).body.data.map((c: { read_at: unknown }) => c.read_at);
    expect(reads).toContain(null);
    expect(reads.some((r: unknown) => Number.isInteger(r))).toBe(true);
  });

  it('filters start/end in the account timezone, inclusive, end at :59, on created_at or updated_at by sort_by', async () => {
    // 2026-03-01 10:00 in Asia/Shanghai is 02:00 UTC
    const t0 = Date.UTC(2026, 2, 1, 2, 0, 0) / 1000;
    const inside = sut.addConversation({ app_id: chat.id, user: 'tz-user', created_at: t0, messages: 1 });
    const lastSecond = sut.addConversation({ app_id: chat.id, user: 'tz-user', created_at: t0 + 59, messages: 1 });
    const after = sut.addConversation({ app_id: chat.id, user: 'tz-user', created_at: t0 + 60, messages: 1 });
    const before = sut.addConversation({ app_id: chat.id, user: 'tz-user', created_at: t0 - 1, messages: 1 });
    sut.addMessage(before.id, t0 + 30);
    const ids = async (q: string) =>
      (await con(`/apps/${chat.id}/chat-conversations?limit=100&${q}`)).body.data.map((c: { id: string }) => c.id).sort();
    const start = encodeURIComponent('2026-03-01 10:00');
    expect(await ids(`start=${start}&end=${start}&sort_by=created_at`)).toEqual([inside.id, lastSecond.id].sort());
    expect(await ids(`start=${start}&end=${start}&sort_by=-updated_at`)).toEqual([inside.id, lastSecond.id, before.id].sort());
    expect(await ids(`start=${start}&end=${start}&sort_by=created_at`)).not.toContain(after.id);
    expect((await con(`/apps/${chat.id}/chat-conversations?start=2026-03-01T10:00`)).body).toMatchObject({ status: 400, code: 'invalid_param' });
  });

  it('filters by keyword and annotation status', async () => {
    const hit = (await con(`/apps/${chat.id}/chat-conversations?limit=100&keyword=refund`)).body.data;
    expect(hit.length).toBeGreaterThan(0);
    const annotated = (await con(`/apps/${chat.id}/chat-conversations?limit=100&annotation_status=annotated`)).body;
    const plain = (await con(`/apps/${chat.id}/chat-conversations?limit=100&annotation_status=not_annotated`)).body;
    expect(annotated.data.every((c: { annotated: boolean }) => c.annotated)).toBe(true);
    expect(annotated.total + plain.total).toBe(sut.conversations(chat.id).length);
  });

  it('pages messages backwards without user scoping, with the console item shape', async () => {
    const long = sut.conversations(chat.id).find((c) => c.message_ids.length === 130)!;
    const newest = await con(`/apps/${chat.id}/chat-messages?conversation_id=${long.id}&limit=100`);
    expect(newest.body.has_more).toBe(true);
    expect(newest.body.data.map((m: { id: string }) => m.id)).toEqual(long.message_ids.slice(30));
    const item = newest.body.data[0];
    for (const key of ['feedbacks', 'metadata', 'workflow_run_id', 'message', 'annotation', 'agent_thoughts', 'message_files', 'parent_message_id']) {
      expect(item).toHaveProperty(key);
    }
    expect(item.metadata.usage).toMatchObject({ total_price: expect.any(String), currency: 'USD' });
    const older = await con(`/apps/${chat.id}/chat-messages?conversation_id=${long.id}&limit=100&first_id=${item.id}`);
    expect(older.body.data).toHaveLength(29);
    const consoleConv = sut.conversations(chat.id).find((c) => c.from_source === 'console')!;
    const res = await con(`/apps/${chat.id}/chat-messages?conversation_id=${consoleConv.id}&limit=100`);
    expect(res.body.data.map((m: { id: string }) => m.id)).toEqual(consoleConv.message_ids);
    expect(sut.messages(consoleConv.id)).toEqual(res.body.data);
  });

  it('marks a conversation read only through the detail endpoint, and records it', async () => {
    const unread = sut.conversations(chat.id).find((c) => c.read_at === null)!;
    await con(`/apps/${chat.id}/chat-conversations?limit=100`);
    await con(`/apps/${chat.id}/chat-messages?conversation_id=${unread.id}`);
    expect(sut.readMarks).toEqual([]);
    const detail = await con(`/apps/${chat.id}/chat-conversations/${unread.id}`);
    expect(detail.body.id).toBe(unread.id);
    expect(sut.readMarks).toEqual([expect.objectContaining({ conversation_id: unread.id, app_id: chat.id })]);
    expect(sut.conversations(chat.id).find((c) => c.id === unread.id)!.read_at).toEqual(expect.any(Number));
  });

  it('serves completion conversations newest first with their single message, and workflow app logs', async () => {
    const completion = sut.apps.find((a) => a.mode === 'completion')!;
    const res = await con(`/apps/${completion.id}/completion-conversations?limit=100`);
    expect(res.body.total).toBe(30);
    const created = res.body.data.map((c: { created_at: number }) => c.created_at);
    expect([...created].sort((a, b) => b - a)).toEqual(created);
    expect(res.body.data[0].message).toEqual({ inputs: expect.any(Object), query: expect.any(String), message: expect.any(String), answer: expect.any(String) });
    const workflow = sut.apps.find((a) => a.mode === 'workflow')!;
    expect((await con(`/apps/${workflow.id}/workflow-app-logs?limit=100`)).body.total).toBe(30);
    expect((await con(`/apps/${completion.id}/chat-conversations`)).body).toMatchObject({ status: 404, code: 'app_not_found' });
    expect((await con(`/apps/${UNKNOWN}/chat-conversations`)).body).toMatchObject({ status: 404, code: 'app_not_found' });
    expect((await con(`/apps/${chat.id}/chat-messages?conversation_id=${UNKNOWN}`)).body).toMatchObject({ status: 404, code: 'not_found' });
    expect((await con(`/apps/${chat.id}/chat-conversations?limit=500`)).body).toMatchObject({ status: 400, code: 'invalid_param' });
  });

  it('lets offset pages drift when conversations arrive during a crawl (onRequest)', async () => {
    const path = `/console/api/apps/${chat.id}/chat-conversations`;
    sut.onRequest(path, 1, () => {
      for (let i = 0; i < 5; i++) sut.addConversation({ app_id: chat.id, user: 'drift-user', messages: 1 });
    });
    const p1 = await con(`/apps/${chat.id}/chat-conversations?page=1&limit=20&sort_by=-updated_at`);
    const p2 = await con(`/apps/${chat.id}/chat-conversations?page=2&limit=20&sort_by=-updated_at`);
    const first = new Set(p1.body.data.map((c: { id: string }) => c.id));
    const repeated = p2.body.data.filter((c: { id: string }) => first.has(c.id));
    expect(repeated).toHaveLength(5);
    expect(p2.body.total).toBe(p1.body.total + 5);
  });
});

describe(`${startSimulator.name}: console login sessions`, () => {
  it('logs in with a Base64 password, sets cookies, and requires the CSRF header on every GET', async () => {
    await withSim({}, async (sim) => {
      const res = await login(sim, b64(sim.account.password));
      expect(res.body).toEqual({ result: 'success' });
      const jar = cookiesOf(res.setCookies);
      expect(Object.keys(jar).sort()).toEqual(['access_token', 'csrf_token', 'refresh_token']);
      expect(res.setCookies.find((c) => c.startsWith('access_token='))).toMatch(/HttpOnly/);
      expect(res.setCookies.find((c) => c.startsWith('csrf_token='))).not.toMatch(/HttpOnly/);
      expect((await call(`${sim.consoleApiUrl}/apps`, session(jar))).status).toBe(200);
      const noCsrf = await call(`${sim.consoleApiUrl}/apps`, { headers: { Cookie: cookieHeader(jar) } });
      expect(noCsrf).toMatchObject({ status: 401, body: { code: 'unauthorized', message: 'CSRF token is missing or invalid.', status: 401 } });
      const wrongCsrf = await call(`${sim.consoleApiUrl}/apps`, { headers: { Cookie: cookieHeader(jar), 'X-CSRF-Token': 'forged' } });
      expect(wrongCsrf.body.message).toBe('CSRF token is missing or invalid.');
      // the requests log knows the secrets were sent, never their values
      const logged = JSON.stringify(sim.requests);
      for (const secret of Object.values(jar)) expect(logged).not.toContain(secret);
      expect(sim.requests.at(-1)!.headers).toMatchObject({ cookie: '[present]', 'x-csrf-token': '[present]' });
    });
  });

  it('names cookies with the __Host- prefix when secureCookies is on', async () => {
    await withSim({ secureCookies: true }, async (sim) => {
      const res = await login(sim, b64(sim.account.password));
      const jar = cookiesOf(res.setCookies);
      expect(Object.keys(jar).sort()).toEqual(['__Host-access_token', '__Host-csrf_token', '__Host-refresh_token']);
      expect(res.setCookies.every((c) => /; Secure/.test(c) && /Path=\//.test(c))).toBe(true);
      expect((await call(`${sim.consoleApiUrl}/apps`, session(jar, '__Host-'))).status).toBe(200);
      const unprefixed = { access_token: jar['__Host-access_token'], csrf_token: jar['__Host-csrf_token'] };
      expect((await call(`${sim.consoleApiUrl}/apps`, session(unprefixed))).status).toBe(401);
    });
  });

  it('refuses a plain-text password from 1.11 on and takes it before 1.11', async () => {
    await withSim({ serverVersion: '1.11.0' }, async (sim) => {
      const plain = await login(sim, sim.account.password);
      expect(plain).toMatchObject({ status: 401, body: { code: 'authentication_failed', message: 'Invalid encrypted data' } });
      expect((await login(sim, b64(sim.account.password))).status).toBe(200);
    });
    await withSim({ serverVersion: '1.10.1' }, async (sim) => {
      expect((await login(sim, sim.account.password)).status).toBe(200);
    });
  });

  it('answers bearer tokens in the body before 1.9 and accepts Authorization: Bearer without CSRF', async () => {
    await withSim({ serverVersion: '1.8.0' }, async (sim) => {
      const res = await login(sim, sim.account.password);
      expect(res.setCookies).toEqual([]);
      expect(res.body).toEqual({ result: 'success', data: { access_token: expect.any(String), refresh_token: expect.any(String) } });
      expect((await call(`${sim.consoleApiUrl}/apps`, bearer(res.body.data.access_token))).status).toBe(200);
      sim.expireAccessTokens();
      expect((await call(`${sim.consoleApiUrl}/apps`, bearer(res.body.data.access_token))).status).toBe(401);
      const refreshed = await call(`${sim.consoleApiUrl}/refresh-token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: res.body.data.refresh_token }),
      });
      expect((await call(`${sim.consoleApiUrl}/apps`, bearer(refreshed.body.data.access_token))).status).toBe(200);
    });
  });

  it('locks the e-mail after five wrong passwords, even for the right one', async () => {
    await withSim({}, async (sim) => {
      for (let i = 0; i < 5; i++) {
        expect(await login(sim, b64('wrong-password'))).toMatchObject({ status: 401, body: { code: 'authentication_failed' } });
      }
      const locked = await login(sim, b64(sim.account.password));
      expect(locked).toMatchObject({ status: 429, body: { code: 'email_code_login_limit', status: 429 } });
    });
  });

  it('resets the failure count on success', async () => {
    await withSim({}, async (sim) => {
      for (let i = 0; i < 4; i++) await login(sim, b64('wrong-password'));
      expect((await login(sim, b64(sim.account.password))).status).toBe(200);
      for (let i = 0; i < 4; i++) await login(sim, b64('wrong-password'));
      expect((await login(sim, b64(sim.account.password))).status).toBe(200);
    });
  });

  it('expires access tokens (by TTL and on demand) and refreshes them from the refresh cookie', async () => {
    await withSim({ accessTokenTtlSeconds: 1 }, async (sim) => {
      const jar = cookiesOf((await login(sim, b64(sim.account.password))).setCookies);
      expect((await call(`${sim.consoleApiUrl}/apps`, session(jar))).status).toBe(200);
      // the TTL is one second: ask until it has run out, however slow the machine
      let status = 200;
      while (status === 200) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await call(`${sim.consoleApiUrl}/apps`, session(jar))).status;
      }
      expect(status).toBe(401);
      const refreshed = await call(`${sim.consoleApiUrl}/refresh-token`, { method: 'POST', headers: { Cookie: cookieHeader(jar) } });
      expect(refreshed.body).toEqual({ result: 'success' });
      const fresh = cookiesOf(refreshed.setCookies);
      expect((await call(`${sim.consoleApiUrl}/apps`, session(fresh))).status).toBe(200);
      // refresh tokens rotate
      const replay = await call(`${sim.consoleApiUrl}/refresh-token`, { method: 'POST', headers: { Cookie: cookieHeader(jar) } });
      expect(replay).toMatchObject({ status: 401, body: { result: 'fail' } });
    });
    await withSim({}, async (sim) => {
      const jar = cookiesOf((await login(sim, b64(sim.account.password))).setCookies);
      sim.expireAccessTokens();
      expect((await call(`${sim.consoleApiUrl}/apps`, session(jar))).status).toBe(401);
      const refreshed = await call(`${sim.consoleApiUrl}/refresh-token`, { method: 'POST', headers: { Cookie: cookieHeader(jar) } });
      expect((await call(`${sim.consoleApiUrl}/apps`, session(cookiesOf(refreshed.setCookies)))).status).toBe(200);
    });
  });

  it('disables admin-key auth when adminApiKey is null', async () => {
    await withSim({ adminApiKey: null }, async (sim) => {
      expect(sim.adminApiKey).toBeNull();
      const res = await call(`${sim.consoleApiUrl}/apps`, bearer('sim-admin-key', { 'X-WORKSPACE-ID': sim.workspaceId }));
      expect(res.status).toBe(401);
    });
  });
});
