import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { bearer, call } from './sim-http';

const BULK_USER = 'bulk-importer';

describe(`${startSimulator.name}: Service API behaviour`, () => {
  let sut: DifySimulator;
  let chat: SimulatedApp;
  let completion: SimulatedApp;
  let workflow: SimulatedApp;
  const svc = (path: string, app = chat) => call(`${sut.serviceApiUrl}${path}`, bearer(app.apiKey));

  beforeAll(async () => {
    sut = await startSimulator({ seed: 3 });
    chat = sut.apps.find((a) => a.mode === 'chat')!;
    completion = sut.apps.find((a) => a.mode === 'completion')!;
    workflow = sut.apps.find((a) => a.mode === 'workflow')!;
  });
  afterAll(() => sut.close());

  it('generates every app mode with app- keys and all three conversation origins', () => {
    expect(sut.apps.map((a) => a.mode).sort()).toEqual(['advanced-chat', 'agent-chat', 'chat', 'completion', 'workflow']);
    for (const app of sut.apps) expect(app.apiKey).toMatch(/^app-[A-Za-z0-9]{24}$/);
    const convs = sut.conversations(chat.id);
    expect(new Set(convs.map((c) => c.invoke_from))).toEqual(new Set(['service-api', 'web-app', 'explore', 'debugger']));
    expect(convs.filter((c) => c.from_source === 'console').every((c) => c.user === null)).toBe(true);
    expect(new Set(convs.filter((c) => c.invoke_from === 'service-api').map((c) => c.user)).size).toBeGreaterThan(3);
    expect(Math.max(...convs.map((c) => c.message_ids.length))).toBe(130);
    for (const c of sut.conversations(completion.id)) expect(c.message_ids).toHaveLength(1);
  });

  it('lists only the Service API conversations of the given user', async () => {
    const all = sut.conversations(chat.id);
    const user = all.find((c) => c.invoke_from === 'service-api' && c.user !== BULK_USER)!.user!;
    const res = await svc(`/conversations?user=${user}&limit=100`);
    const expected = all.filter((c) => c.user === user && c.invoke_from === 'service-api').map((c) => c.id);
    expect(res.body.data.map((c: { id: string }) => c.id).sort()).toEqual([...expected].sort());

    const webApp = all.find((c) => c.invoke_from === 'web-app')!;
    const asWeb = await svc(`/conversations?user=${webApp.user}&limit=100`);
    expect(asWeb.body).toEqual({ limit: 100, has_more: false, data: [] });
    const webMessages = await svc(`/messages?user=${webApp.user}&conversation_id=${webApp.id}`);
    expect(webMessages.status).toBe(404);
  });

  it('uses DEFAULT-USER without user and creates end users for unknown ids', async () => {
    expect((await svc('/conversations')).body).toEqual({ limit: 20, has_more: false, data: [] });
    await svc('/conversations?user=brand-new-user');
    const conv = sut.addConversation({ app_id: chat.id, user: 'brand-new-user' });
    expect((await svc('/conversations?user=brand-new-user')).body.data.map((c: { id: string }) => c.id)).toEqual([conv.id]);
    const endUser = await svc(`/end-users/${conv.end_user_id}`);
    expect(endUser.body).toMatchObject({ session_id: 'brand-new-user', is_anonymous: false });
  });

  it.each(['-updated_at', 'created_at'])('skips rows that share the cursor row second at the limit=100 boundary (sort_by=%s)', async (sortBy) => {
    const expected = sut.conversations(chat.id).filter((c) => c.user === BULK_USER);
    expect(expected).toHaveLength(105);
    const first = await svc(`/conversations?user=${BULK_USER}&limit=100&sort_by=${sortBy}`);
    expect(first.body.has_more).toBe(true);
    const last = first.body.data[99];
    const second = await svc(`/conversations?user=${BULK_USER}&limit=100&sort_by=${sortBy}&last_id=${last.id}`);
    const field = sortBy.replace('-', '') as 'created_at' | 'updated_at';
    const tiedAfterCursor = expected.filter((c) => c[field] === last[field] && !first.body.data.some((d: { id: string }) => d.id === c.id));
    expect(tiedAfterCursor.length).toBeGreaterThan(0);
    const seen = new Set([...first.body.data, ...second.body.data].map((c: { id: string }) => c.id));
    expect(seen.size).toBe(105 - tiedAfterCursor.length);
    for (const c of tiedAfterCursor) expect(seen.has(c.id)).toBe(false);
    expect(second.body.has_more).toBe(false);
  });

  it('pages messages backwards with first_id, ascending inside a page, and skips the tie at the boundary', async () => {
    const long = sut.conversations(chat.id).find((c) => c.message_ids.length === 130)!;
    const newest = await svc(`/messages?user=${long.user}&conversation_id=${long.id}&limit=100`);
    expect(newest.body.has_more).toBe(true);
    expect(newest.body.data.map((m: { id: string }) => m.id)).toEqual(long.message_ids.slice(30));
    const times = newest.body.data.map((m: { created_at: number }) => m.created_at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const older = await svc(`/messages?user=${long.user}&conversation_id=${long.id}&limit=100&first_id=${newest.body.data[0].id}`);
    expect(older.body.has_more).toBe(false);
    // message 29 shares message 30's second: a strict cursor loses it
    expect(older.body.data.map((m: { id: string }) => m.id)).toEqual(long.message_ids.slice(0, 29));
  });

  it('answers errors with the envelope and the documented statuses', async () => {
    const user = sut.conversations(chat.id).find((c) => c.invoke_from === 'service-api')!;
    const cases: [Promise<{ status: number; body: unknown }>, number, string][] = [
      [call(`${sut.serviceApiUrl}/info`), 401, 'unauthorized'],
      [call(`${sut.serviceApiUrl}/info`, bearer('app-not-a-real-key')), 401, 'unauthorized'],
      [svc(`/conversations?user=${user.user}&last_id=7c1d1e5e-0000-4000-8000-000000000000`), 404, 'not_found'],
      [svc(`/messages?user=${user.user}&conversation_id=${user.id}&first_id=7c1d1e5e-0000-4000-8000-000000000000`), 404, 'not_found'],
      [svc(`/messages?user=someone-else&conversation_id=${user.id}`), 404, 'not_found'],
      [svc(`/conversations?limit=101`), 400, 'invalid_param'],
      [svc(`/conversations?limit=0`), 400, 'invalid_param'],
      [svc(`/conversations?last_id=not-a-uuid`), 400, 'invalid_param'],
      [svc(`/messages?conversation_id=xyz`), 400, 'invalid_param'],
      [svc('/conversations', completion), 400, 'not_chat_app'],
      [svc('/messages?conversation_id=7c1d1e5e-0000-4000-8000-000000000000', workflow), 400, 'not_chat_app'],
      [svc('/workflows/logs', chat), 400, 'not_workflow_app'],
      [svc('/end-users/7c1d1e5e-0000-4000-8000-000000000000'), 404, 'not_found'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect(res).toMatchObject({ status, body: { status, code, message: expect.any(String) } });
    }
    const invalid = await call(`${sut.serviceApiUrl}/info`, bearer('app-not-a-real-key'));
    expect(invalid.body.message).toBe('Access token is invalid');
  });

  it('hides a deleted conversation and answers 404 on its messages', async () => {
    const conv = sut.addConversation({ app_id: chat.id, user: 'deleting-user', messages: 3 });
    expect((await svc(`/messages?user=deleting-user&conversation_id=${conv.id}`)).body.data).toHaveLength(3);
    sut.deleteConversation(conv.id);
    expect((await svc(`/messages?user=deleting-user&conversation_id=${conv.id}`)).status).toBe(404);
    expect((await svc('/conversations?user=deleting-user')).body.data).toEqual([]);
    expect(sut.conversations(chat.id).some((c) => c.id === conv.id)).toBe(false);
  });

  it('moves updated_at when a message is added, so the conversation leads the -updated_at order', async () => {
    const convs = sut.conversations(chat.id).filter((c) => c.user === 'user-bob' && c.invoke_from === 'service-api');
    const oldest = convs[0];
    const at = Math.floor(Date.now() / 1000);
    const message = sut.addMessage(oldest.id, at);
    const res = await svc('/conversations?user=user-bob&limit=1');
    expect(res.body.data[0]).toMatchObject({ id: oldest.id, updated_at: at });
    const page = await svc(`/messages?user=user-bob&conversation_id=${oldest.id}&limit=1`);
    expect(page.body.data[0].id).toBe(message.id);
  });

  it('omits the newer message fields on servers before 1.9', async () => {
    const old = await startSimulator({ seed: 3, serverVersion: '1.8.1' });
    try {
      const app = old.apps.find((a) => a.mode === 'chat')!;
      const conv = old.conversations(app.id).find((c) => c.invoke_from === 'service-api')!;
      const res = await call(`${old.serviceApiUrl}/messages?user=${conv.user}&conversation_id=${conv.id}`, bearer(app.apiKey));
      expect(res.body.data[0]).not.toHaveProperty('total_price');
      expect(res.body.data[0]).not.toHaveProperty('message_tokens');
      expect((await call(`${old.serviceApiUrl}/`)).body.server_version).toBe('1.8.1');
    } finally {
      await old.close();
    }
  });

  it('pages workflow logs app-wide with page/limit/total', async () => {
    const p1 = await svc('/workflows/logs?limit=20', workflow);
    const p2 = await svc('/workflows/logs?limit=20&page=2', workflow);
    expect(p1.body).toMatchObject({ page: 1, limit: 20, total: 30, has_more: true });
    expect(p2.body).toMatchObject({ page: 2, total: 30, has_more: false });
    expect(p2.body.data).toHaveLength(10);
    const failed = await svc('/workflows/logs?status=failed&limit=100', workflow);
    expect(failed.body.data.every((l: { workflow_run: { status: string } }) => l.workflow_run.status === 'failed')).toBe(true);
  });
});
