import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedConversation } from '../../src/simulator/simulator.types';
import { consoleGet } from './sim-http';

const UNKNOWN = '7c1d1e5e-0000-4000-8000-000000000000';
/** 2026-03-10 08:00 in the account's timezone (Asia/Shanghai, UTC+8) */
const BASE = Date.UTC(2026, 2, 10, 0, 0, 0) / 1000;

const ROW_KEYS = ['conversation_id', 'created_at', 'end_user_id', 'id', 'message_count', 'operation_rate', 'source', 'status', 'title', 'unread', 'updated_at', 'user_rate'];
const MESSAGE_KEYS = [
  'answer',
  'answer_tokens',
  'conversation_id',
  'created_at',
  'currency',
  'error',
  'feedbacks',
  'from_account_id',
  'from_end_user_id',
  'id',
  'latency',
  'message_files',
  'message_id',
  'message_tokens',
  'query',
  'status',
  'total_price',
  'total_tokens',
  'updated_at',
];

interface Row {
  id: string;
  conversation_id: string;
  message_count: number;
  created_at: number;
  updated_at: number;
  source: { type: string; app_id: string };
  [key: string]: unknown;
}

describe(`${startSimulator.name}: Agent logs`, () => {
  let sut: DifySimulator;
  let agentApp: SimulatedApp;
  let workflow: SimulatedApp;
  let webapp: SimulatedConversation;
  let mixed: SimulatedConversation;
  let debuggerOnly: SimulatedConversation;
  let unknownOrigin: SimulatedConversation;
  let serviceApi: SimulatedConversation;
  let deleted: SimulatedConversation;
  let nodeExecutionId: string;

  const logs = (query = '') => consoleGet<{ page: number; limit: number; total: number; has_more: boolean; data: Row[] }>(sut, `/agent/${agentApp.agentId}/logs${query}`);
  const messages = (conversationId: string, query = '') => consoleGet(sut, `/agent/${agentApp.agentId}/logs/${conversationId}/messages${query}`);
  const ids = (rows: Row[]) => rows.map((r) => r.id);

  beforeAll(async () => {
    sut = await startSimulator({ generate: false, agentApp: true });
    agentApp = sut.apps.find((a) => a.mode === 'agent')!;
    workflow = sut.apps.find((a) => a.mode === 'workflow')!;
    const add = (invoke_from: 'web-app' | 'service-api' | 'debugger', times: number[], origins?: ('web-app' | 'debugger' | null)[]) =>
      sut.addConversation({
        app_id: agentApp.id,
        from_source: invoke_from === 'debugger' ? 'console' : 'api',
        invoke_from,
        message_created_at: times,
        message_origins: origins,
      });
    webapp = add('web-app', [BASE, BASE + 3600, BASE + 7200]);
    mixed = add('web-app', [BASE + 100, BASE + 200], ['web-app', 'debugger']);
    debuggerOnly = add('debugger', [BASE + 300, BASE + 400]);
    unknownOrigin = add('web-app', [BASE + 500, BASE + 600], ['web-app', null]);
    serviceApi = add('service-api', [BASE + 86400]);
    deleted = add('web-app', [BASE + 1000, BASE + 1100]);
    sut.deleteConversation(deleted.id);
    nodeExecutionId = sut.addAgentWorkflowRun({ workflow_app_id: workflow.id, agent_app_id: agentApp.id, created_at: BASE + 5000 }).node_execution_id;
  });
  afterAll(() => sut.close());

  it('without sources: web-app rows free of debugger and unknown-origin messages, soft-deleted ones, and workflow rows; newest first', async () => {
    const res = await logs();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ page: 1, limit: 20, total: 4, has_more: false });
    expect(ids(res.body.data)).toEqual([serviceApi.id, webapp.id, nodeExecutionId, deleted.id]);
    expect(ids(res.body.data)).not.toEqual(expect.arrayContaining([mixed.id]));
    for (const row of res.body.data) expect(Object.keys(row).sort()).toEqual(ROW_KEYS);
    const first = res.body.data[1];
    // created_at is the latest matching message, not the conversation's start
    expect(first).toMatchObject({ conversation_id: webapp.id, message_count: 3, created_at: BASE + 7200, unread: true, source: { type: 'webapp', app_id: agentApp.id } });
    expect(res.body.data[2]).toMatchObject({ id: nodeExecutionId, conversation_id: nodeExecutionId, message_count: 1, created_at: BASE + 5001, source: { type: 'workflow', app_id: workflow.id } });
  });

  it('filters messages by the window: start inclusive, end exclusive, minutes in the account timezone', async () => {
    const res = await logs(`?start=${encodeURIComponent('2026-03-10 08:00')}&end=${encodeURIComponent('2026-03-10 09:00')}`);
    expect(ids(res.body.data)).toEqual([deleted.id, webapp.id]);
    const row = res.body.data.find((r) => r.id === webapp.id)!;
    expect(row).toMatchObject({ message_count: 1, created_at: BASE });
    const bad = await logs('?start=2026-03-10T08:00');
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_param', status: 400 } });
  });

  it('reads sources as a repeated key with aliases, counts only matching messages, and refuses unknown values and commas', async () => {
    const debuggerRows = (await logs('?sources=debugger')).body.data;
    expect(ids(debuggerRows)).toEqual([debuggerOnly.id, mixed.id]);
    expect(debuggerRows.map((r) => r.message_count)).toEqual([2, 1]);
    expect(ids((await logs('?sources=console')).body.data)).toEqual(ids(debuggerRows));
    expect(ids((await logs('?sources=explore')).body.data)).toEqual(ids(debuggerRows));

    const both = (await logs('?sources=webapp&sources=debugger&limit=100')).body;
    expect(both.total).toBe(6);
    const count = (id: string) => both.data.find((r) => r.id === id)!.message_count;
    expect([count(webapp.id), count(mixed.id), count(debuggerOnly.id), count(unknownOrigin.id), count(serviceApi.id), count(deleted.id)]).toEqual([3, 2, 2, 1, 1, 2]);

    const web = ids((await logs('?sources=webapp')).body.data);
    expect(web).toEqual(expect.arrayContaining([webapp.id, mixed.id, unknownOrigin.id, serviceApi.id, deleted.id]));
    expect(web).not.toContain(nodeExecutionId);
    expect(ids((await logs('?sources=api')).body.data)).toEqual(web);
    expect(ids((await logs('?sources=web')).body.data)).toEqual(web);
    expect(ids((await logs('?sources=workflow')).body.data)).toEqual([nodeExecutionId]);

    for (const q of ['?sources=webapp,debugger', '?sources=mobile', '?sources=webapp&sources=nope']) {
      expect(await logs(q)).toMatchObject({ status: 400, body: { code: 'invalid_param', status: 400 } });
    }
  });

  it('pages by offset and sorts by created_at or updated_at in either order', async () => {
    const p1 = (await logs('?limit=3&page=1')).body;
    const p2 = (await logs('?limit=3&page=2')).body;
    expect([p1.has_more, p2.has_more, p1.total, p2.total]).toEqual([true, false, 4, 4]);
    const desc = [...ids(p1.data), ...ids(p2.data)];
    expect(ids((await logs('?sort_order=asc')).body.data)).toEqual([...desc].reverse());
    const byUpdated = (await logs('?sort_by=updated_at&sort_order=asc')).body.data;
    expect(byUpdated.map((r) => r.updated_at)).toEqual([...byUpdated.map((r) => r.updated_at)].sort((a, b) => a - b));
    expect((await logs('?sort_by=name')).status).toBe(400);
    expect((await logs('?limit=101')).status).toBe(400);
  });

  it('filters messages by keyword in query or answer', async () => {
    const keyword = String(sut.messages(webapp.id)[0].query);
    const all = [webapp, serviceApi, deleted].flatMap((c) => (c.id === deleted.id ? [] : sut.messages(c.id)));
    const expected = all.filter((m) => `${m.query} ${m.answer}`.toLowerCase().includes(keyword.toLowerCase())).length;
    const rows = (await logs(`?sources=webapp&keyword=${encodeURIComponent(keyword)}&limit=100`)).body.data;
    const counted = rows.filter((r) => r.id === webapp.id || r.id === serviceApi.id).reduce((n, r) => n + r.message_count, 0);
    expect(counted).toBe(expected);
    expect(rows.find((r) => r.id === webapp.id)!.message_count).toBeGreaterThanOrEqual(1);
  });

  it('lists messages newest first by default, ascending on request, offset-paged, with the contract shape', async () => {
    const desc = (await messages(webapp.id)).body;
    expect(desc).toMatchObject({ page: 1, limit: 20, total: 3, has_more: false });
    expect(desc.data.map((m: { created_at: number }) => m.created_at)).toEqual([BASE + 7200, BASE + 3600, BASE]);
    for (const m of desc.data) expect(Object.keys(m).sort()).toEqual(MESSAGE_KEYS);
    expect(desc.data[0]).toMatchObject({ conversation_id: webapp.id, message_id: desc.data[0].id, total_tokens: desc.data[0].message_tokens + desc.data[0].answer_tokens });
    expect(typeof desc.data[0].total_price).toBe('string');
    const asc = (await messages(webapp.id, '?sort_by=created_at&sort_order=asc&limit=2')).body;
    expect(asc).toMatchObject({ total: 3, has_more: true });
    expect(asc.data.map((m: { created_at: number }) => m.created_at)).toEqual([BASE, BASE + 3600]);
    const window = (await messages(webapp.id, `?start=${encodeURIComponent('2026-03-10 08:00')}&end=${encodeURIComponent('2026-03-10 09:00')}`)).body;
    expect(window.total).toBe(1);
  });

  it('answers messages of debugger, deleted and workflow rows, and 200 with no data for an unknown conversation', async () => {
    expect((await messages(mixed.id)).body.total).toBe(2);
    expect((await messages(mixed.id, '?sources=webapp')).body.total).toBe(1);
    expect((await messages(deleted.id)).body.total).toBe(2);
    const node = (await messages(nodeExecutionId)).body;
    expect(node.data).toEqual([expect.objectContaining({ id: nodeExecutionId, conversation_id: nodeExecutionId })]);
    expect(await messages(UNKNOWN)).toMatchObject({ status: 200, body: { total: 0, has_more: false, data: [] } });
  });

  it('marks nothing read', async () => {
    await logs();
    await messages(webapp.id);
    expect(sut.readMarks).toEqual([]);
    expect((await logs()).body.data.find((r) => r.id === webapp.id)!.unread).toBe(true);
  });

  it('answers an unknown agent with Agent not found, and an id that is not a UUID with the plain 404', async () => {
    const expected = { status: 404, body: { code: 'not_found', message: 'Agent not found.', status: 404 } };
    expect(await consoleGet(sut, `/agent/${UNKNOWN}/logs`)).toMatchObject(expected);
    expect(await consoleGet(sut, `/agent/${UNKNOWN}/logs/${webapp.id}/messages`)).toMatchObject(expected);
    // the App id is not the Agent id
    expect(await consoleGet(sut, `/agent/${agentApp.id}/logs`)).toMatchObject(expected);
    const notUuid = await consoleGet(sut, '/agent/travel/logs');
    expect(notUuid.status).toBe(404);
    expect(notUuid.body.message).not.toBe('Agent not found.');
  });

  it('serves the full message payload through the backing app, with first_id back-paging; the app conversation list refuses Agent apps', async () => {
    const page1 = await consoleGet(sut, `/apps/${agentApp.id}/chat-messages?conversation_id=${webapp.id}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.has_more).toBe(true);
    expect(page1.body.data.map((m: { created_at: number }) => m.created_at)).toEqual([BASE + 3600, BASE + 7200]);
    for (const m of page1.body.data) expect(m).toEqual(expect.objectContaining({ inputs: expect.any(Object), agent_thoughts: expect.any(Array), message_files: expect.any(Array), feedbacks: expect.any(Array) }));
    const page2 = await consoleGet(sut, `/apps/${agentApp.id}/chat-messages?conversation_id=${webapp.id}&limit=2&first_id=${page1.body.data[0].id}`);
    expect(page2.body).toMatchObject({ has_more: false, data: [expect.objectContaining({ created_at: BASE })] });
    expect(await consoleGet(sut, `/apps/${agentApp.id}/chat-conversations`)).toMatchObject({ status: 404, body: { code: 'app_not_found' } });
    // a soft-deleted conversation is gone from the app's message route
    expect((await consoleGet(sut, `/apps/${agentApp.id}/chat-messages?conversation_id=${deleted.id}`)).status).toBe(404);
  });
});

describe(`${startSimulator.name}: Agent roster side effect`, () => {
  it('creates one empty "Agent Debugging Conversation" per Agent on the first roster or detail call, and counts every call', async () => {
    const sut = await startSimulator({ generate: false, agentApp: true });
    try {
      const agentApp = sut.apps.find((a) => a.mode === 'agent')!;
      expect(sut.counters).toEqual({ agentRosterCalls: 0, agentDebugConversationsCreated: 0, dslExports: 0, dslExportsWithSecret: 0 });
      expect(sut.conversations(agentApp.id)).toEqual([]);

      const roster = await consoleGet(sut, '/agent?page=1&limit=20');
      expect(roster.body).toMatchObject({ page: 1, limit: 20, total: 1, has_more: false, data: [{ id: agentApp.agentId, app_id: agentApp.id, mode: 'agent', name: 'Travel Concierge' }] });
      expect(sut.conversations(agentApp.id)).toEqual([
        expect.objectContaining({ name: 'Agent Debugging Conversation', invoke_from: 'debugger', from_source: 'console', message_ids: [] }),
      ]);
      await consoleGet(sut, '/agent');
      const detail = await consoleGet(sut, `/agent/${agentApp.agentId}`);
      expect(detail.body).toMatchObject({ id: agentApp.agentId, app_id: agentApp.id });
      expect(sut.counters).toMatchObject({ agentRosterCalls: 3, agentDebugConversationsCreated: 1 });
      expect(sut.conversations(agentApp.id)).toHaveLength(1);
      // empty, so never in the logs
      expect((await consoleGet(sut, `/agent/${agentApp.agentId}/logs?sources=debugger`)).body.total).toBe(0);
      expect((await consoleGet(sut, `/agent/${UNKNOWN}`)).status).toBe(404);
    } finally {
      await sut.close();
    }
  });
});
