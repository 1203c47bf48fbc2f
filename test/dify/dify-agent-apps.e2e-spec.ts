import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { DifyNotFoundError } from '../../src/dify/dify.errors';
import type { ConversationRef, CrawlWindow, DifyApp, DifyAppClient } from '../../src/dify/dify.types';
import { toArchivedConversation } from '../../src/dify/normalise';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedConversation } from '../../src/simulator/simulator.types';
import { listAll, Mode, sourceFor, testConfig, clientFactory } from './support';

const NOW = new Date('2026-05-01T12:00:00Z');
const UNKNOWN = '7c1d1e5e-0000-4000-8000-000000000000';
/** message origins the demo Agent app gives besides its conversation's own (see the simulator's workspace) */
const NOT_WEBAPP: Record<string, number[]> = { 'Lisbon weekend': [2], 'Visa questions': [1] };
const iso = (s: number) => new Date(s * 1000).toISOString();

describe.each<Mode>(['console-admin', 'console-login'])('Agent apps in %s mode', (mode) => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let agentApp: SimulatedApp;
  let sut: DifyAppClient;
  let app: DifyApp;
  let refs: ConversationRef[];
  let webappConversations: SimulatedConversation[];
  let long: SimulatedConversation;
  let deletedId: string;

  /** conversations with a WebApp/Service API message inside [start, end] (seconds, inclusive) */
  const activeIds = (start: number, end: number) =>
    [...webappConversations.map((c) => ({ id: c.id, name: c.name })), { id: deletedId, name: 'Deleted by its user' }]
      .filter(({ id, name }) =>
        sim.messages(id).some((m, i) => !(NOT_WEBAPP[name] ?? []).includes(i) && (m.created_at as number) >= start && (m.created_at as number) <= end),
      )
      .map((c) => c.id)
      .sort();

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11, agentApp: true, now: NOW });
    const t = testConfig();
    cleanup = t.cleanup;
    agentApp = sim.apps.find((a) => a.mode === 'agent')!;
    webappConversations = sim.conversations(agentApp.id).filter((c) => c.invoke_from === 'web-app' || c.invoke_from === 'service-api');
    long = webappConversations.find((c) => c.message_ids.length === 130)!;
    sut = clientFactory(t.config).create(sourceFor(mode, sim, agentApp));
    app = await sut.getApp();
    refs = await listAll(sut, app);
    deletedId = refs.find((r) => r.raw.title === 'Deleted by its user')!.id;
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it('detects the Agent app through the Agent app listing, never through the roster', () => {
    expect(app).toEqual({ id: agentApp.id, name: 'Travel Concierge', mode: 'agent' });
    const coverage = sut.coverage(app);
    expect(coverage.complete).toBe(true);
    expect(coverage.warnings.join(' ')).toMatch(/debugger .*conversations are not backed up/);
    expect(coverage.warnings.join(' ')).not.toMatch(/roster/);
  });

  it('lists every WebApp and Service API conversation once, with the soft-deleted one; no debugger-only conversation, no workflow row', () => {
    expect(refs.map((r) => r.id).sort()).toEqual([...webappConversations.map((c) => c.id), deletedId].sort());
    expect(new Set(refs.map((r) => r.id)).size).toBe(refs.length);
    const debuggerOnly = sim.conversations(agentApp.id).filter((c) => c.invoke_from === 'debugger');
    expect(debuggerOnly.length).toBeGreaterThan(0);
    for (const c of debuggerOnly) expect(refs.map((r) => r.id)).not.toContain(c.id);
    const nodeExecutions = sim.apps.flatMap((a) => (a.mode === 'workflow' ? sim.workflowRuns(a.id) : [])).map((r) => r.agent_node_execution_id).filter(Boolean);
    expect(nodeExecutions).toHaveLength(3);
    for (const id of nodeExecutions) expect(refs.map((r) => r.id)).not.toContain(id);
  });

  it('archives the conversation of 130 messages over days whole, in full payload, dated by its first message whatever the window', async () => {
    const times = sim.messages(long.id).map((m) => m.created_at as number);
    expect(times[times.length - 1] - times[0]).toBeGreaterThan(2 * 86400);
    const lastDay: CrawlWindow = { start: new Date((times[times.length - 1] - 3600) * 1000), end: NOW };
    const windowed = (await listAll(sut, app, lastDay)).find((r) => r.id === long.id)!;
    // the Agent log row is dated by its latest message in the window, not by the conversation's start
    expect(windowed.raw.created_at).toBe(times[times.length - 1]);

    const archive = async (ref: ConversationRef) =>
      toArchivedConversation(
        { app, accessMode: sut.accessMode, conversation: ref.raw, messages: await sut.getMessages(app, ref) },
        { appId: agentApp.id, organizationId: null, loggedAt: NOW },
      );
    const fromWindow = await archive(windowed);
    const fromAll = await archive(refs.find((r) => r.id === long.id)!);
    expect(fromWindow).toEqual(fromAll);
    expect(fromAll).toMatchObject({
      conversation_id: long.id,
      app_id: agentApp.id,
      app_mode: 'agent',
      app_name: 'Travel Concierge',
      name: 'Round trip through Japan',
      status: 'normal',
      from_source: 'api',
      dialogue_count: 130,
      created_at: iso(times[0]),
      updated_at: iso(times[times.length - 1]),
    });
    expect(fromAll).not.toHaveProperty('message_count');
    expect(fromAll.messages.map((m) => m.id)).toEqual(long.message_ids);
    for (const m of fromAll.messages) expect(m).toEqual(expect.objectContaining({ inputs: expect.any(Object), agent_thoughts: expect.any(Array) }));
  });

  it('lists exactly the conversations with a message inside each window, old conversations included', async () => {
    const times = sim.messages(long.id).map((m) => m.created_at as number);
    const minute = (s: number) => Math.floor(s / 60) * 60;
    const windows: [number, number][] = [
      [minute(times[60]), minute(times[60]) + 59],
      [minute(times[20]), minute(times[40]) + 59],
      [minute(NOW.getTime() / 1000 - 86400), minute(NOW.getTime() / 1000) + 59],
      [minute(times[0]) - 3600, minute(times[0]) - 1],
    ];
    for (const [start, end] of windows) {
      const listed = await listAll(sut, app, { start: new Date(start * 1000), end: new Date(end * 1000 + 999) });
      expect(listed.map((r) => r.id).sort()).toEqual(activeIds(start, end));
    }
    expect(activeIds(windows[0][0], windows[0][1])).toContain(long.id);
    expect(activeIds(windows[2][0], windows[2][1]).length).toBeGreaterThan(1);
    expect(await listAll(sut, app, { from_source: 'console' })).toEqual([]);
  });

  it('reads a soft-deleted conversation from the Agent log messages and says so', async () => {
    sut.takeWarnings?.();
    const messages = await sut.getMessages(app, refs.find((r) => r.id === deletedId)!);
    expect(messages.map((m) => m.id)).toEqual(sim.messages(deletedId).map((m) => m.id));
    expect(messages[0]).toEqual(expect.objectContaining({ query: expect.any(String), provider_response_latency: expect.any(Number) }));
    expect(sut.takeWarnings?.()).toEqual([expect.stringMatching(new RegExp(`${deletedId} is deleted in Dify.*without inputs`))]);
  });

  it('throws, never returns [], for a conversation Dify does not know (the Agent route answers 200 with no data)', async () => {
    const ref: ConversationRef = { id: UNKNOWN, created_at: 0, updated_at: 0, raw: { id: UNKNOWN } };
    await expect(sut.getMessages(app, ref)).rejects.toBeInstanceOf(DifyNotFoundError);
  });

  it('never read the roster, created no debugger conversation and marked nothing read', () => {
    expect(sim.counters).toMatchObject({ agentRosterCalls: 0, agentDebugConversationsCreated: 0 });
    expect(sim.readMarks).toEqual([]);
  });
});

describe('Agent apps without bound_agent_id, and older Dify', () => {
  let cleanup: () => void;
  let factory: DifyClientFactory;
  beforeAll(() => {
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
  });
  afterAll(() => cleanup());

  it('falls back to the roster only when the listing gives no bound_agent_id, and warns of its side effect', async () => {
    const sim = await startSimulator({ generate: false });
    try {
      const unbound = sim.addApp({ name: 'Unbound Agent', mode: 'agent', boundInListing: false });
      const conv = sim.addConversation({ app_id: unbound.id, invoke_from: 'web-app', from_source: 'api', messages: 3 });
      const sut = factory.create(sourceFor('console-admin', sim, unbound));
      const app = await sut.getApp();
      expect(app).toEqual({ id: unbound.id, name: 'Unbound Agent', mode: 'agent' });
      expect(sut.coverage(app).warnings.join(' ')).toMatch(/roster.*Agent Debugging Conversation/);
      const refs = await listAll(sut, app);
      expect(refs.map((r) => r.id)).toEqual([conv.id]);
      expect((await sut.getMessages(app, refs[0])).map((m) => m.id)).toEqual(conv.message_ids);
      expect(sim.counters.agentRosterCalls).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it('on a Dify without Agent routes: an unknown app is not found (no error from mode=agent), classic apps work, no roster call', async () => {
    const sim = await startSimulator({ generate: false, serverVersion: '1.15.0' });
    try {
      const chat = sim.addApp({ name: 'Old Chat', mode: 'chat' });
      expect(await factory.create(sourceFor('console-admin', sim, chat)).getApp()).toEqual({ id: chat.id, name: 'Old Chat', mode: 'chat' });
      const ghost = { ...chat, id: UNKNOWN };
      await expect(factory.create(sourceFor('console-admin', sim, ghost)).getApp()).rejects.toMatchObject({
        constructor: DifyNotFoundError,
        field: 'app_id',
      });
      expect(sim.counters.agentRosterCalls).toBe(0);
    } finally {
      await sim.close();
    }
  });
});
