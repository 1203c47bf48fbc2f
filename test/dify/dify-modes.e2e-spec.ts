import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { mapConcurrent } from '../../src/common/concurrency';
import { toArchivedConversation } from '../../src/dify/normalise';
import type { DifyApp, DifyAppClient } from '../../src/dify/dify.types';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { activeIn, ids, listAll, Mode, serviceUsers, sourceFor, testConfig, visible, clientFactory } from './support';

const DETAIL = /\/(chat|completion)-conversations\/[0-9a-f-]{36}$/;

describe.each<Mode>(['console-admin', 'console-login', 'service'])('%s mode against the simulator', (mode) => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;
  let chatApp: SimulatedApp;
  let users: string[];
  let sut: DifyAppClient;
  let app: DifyApp;
  let tieIds: string[];
  let longId: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
    chatApp = sim.apps.find((a) => a.mode === 'chat')!;
    // more rows sharing seconds, placed so that limit=100 page boundaries fall inside ties in both APIs
    const base = Math.floor(Date.now() / 1000) - 3 * 3600;
    tieIds = Array.from({ length: 130 }, (_, i) =>
      sim.addConversation({ app_id: chatApp.id, user: 'tie-user', created_at: base + Math.floor((i + 3) / 7), messages: 1 }).id,
    );
    const longTimes = Array.from({ length: 230 }, (_, i) => base + 500 + Math.floor(i / 3));
    longId = sim.addConversation({ app_id: chatApp.id, user: 'tie-user', created_at: base + 500, messages: 230, message_created_at: longTimes }).id;
    users = serviceUsers(sim, chatApp);
    sut = factory.create(sourceFor(mode, sim, chatApp, users));
    app = await sut.getApp();
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it('detects the app with the cheapest call', () => {
    expect(app).toEqual({ id: chatApp.id, name: chatApp.name, mode: 'chat' });
    expect(sut.accessMode).toBe(mode);
    expect(sut.coverage(app).complete).toBe(mode !== 'service');
    if (mode === 'service') expect(sut.coverage(app).warnings.join(' ')).toMatch(/WebApp.*console/);
  });

  it('lists every conversation it can see, each once, including ties at page boundaries', async () => {
    const refs = await listAll(sut, app);
    const expected = visible(mode, sim, chatApp, users);
    expect(expected.length).toBeGreaterThan(230);
    expect(refs.map((r) => r.id).sort()).toEqual(ids(expected));
    expect(new Set(refs.map((r) => r.id)).size).toBe(refs.length);
    expect(refs.map((r) => r.id)).toEqual(expect.arrayContaining(tieIds));
    for (const ref of refs) {
      const conv = expected.find((c) => c.id === ref.id)!;
      expect([ref.created_at, ref.updated_at]).toEqual([conv.created_at, conv.updated_at]);
      if (mode === 'service') expect(ref.user).toBe(conv.user);
    }
  });

  it('fetches every message of every conversation, chronological, including one of 230 messages sharing seconds', async () => {
    const refs = await listAll(sut, app);
    const results = await mapConcurrent(refs, 4, async (ref) => ({ ref, messages: await sut.getMessages(app, ref) }));
    for (const { ref, messages } of results) {
      expect(messages.map((m) => m.id)).toEqual(sim.messages(ref.id).map((m) => m.id));
    }
    const long = results.find((r) => r.ref.id === longId)!;
    expect(long.messages).toHaveLength(230);
    const archived = toArchivedConversation(
      { app, accessMode: mode, conversation: long.ref.raw, messages: long.messages, user: long.ref.user },
      { appId: chatApp.id, organizationId: null, loggedAt: new Date() },
    );
    expect(archived).toMatchObject({ conversation_id: longId, dialogue_count: 230, from_source: 'api', from_end_user_session_id: 'tie-user' });
  });

  it('lists what was active inside a window, including an old conversation with a new message in it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = sim.addConversation({ app_id: chatApp.id, user: users[0], created_at: now - 9 * 86400, messages: 2 });
    sim.addMessage(old.id, now - 36 * 3600);
    const before = sim.addConversation({ app_id: chatApp.id, user: users[0], created_at: now - 8 * 86400, messages: 1 });
    const window = { start: new Date((now - 2 * 86400) * 1000 + 321), end: new Date((now - 86400) * 1000 - 17_000) };
    const refs = await listAll(sut, app, window);
    const expected = visible(mode, sim, chatApp, users).filter((c) => activeIn(c, window));
    expect(expected.length).toBeGreaterThan(20);
    expect(refs.map((r) => r.id).sort()).toEqual(ids(expected));
    expect(refs.map((r) => r.id)).toContain(old.id);
    expect(refs.map((r) => r.id)).not.toContain(before.id);
  });

  it('filters on from_source', async () => {
    const consoleRefs = await listAll(sut, app, { from_source: 'console' });
    const apiRefs = await listAll(sut, app, { from_source: 'api' });
    const all = visible(mode, sim, chatApp, users);
    expect(consoleRefs.map((r) => r.id).sort()).toEqual(ids(all.filter((c) => c.from_source === 'console')));
    expect(apiRefs.map((r) => r.id).sort()).toEqual(ids(all.filter((c) => c.from_source === 'api')));
    if (mode !== 'service') expect(consoleRefs.length).toBeGreaterThan(0);
  });

  it('never calls the conversation detail endpoint (it marks conversations read)', () => {
    expect(sim.requests.filter((r) => DETAIL.test(r.path))).toEqual([]);
    expect(sim.readMarks).toEqual([]);
  });

  it('backs up completion and workflow apps, or says why it cannot', async () => {
    const completion = sim.apps.find((a) => a.mode === 'completion')!;
    const cSut = factory.create(sourceFor(mode, sim, completion, ['user-alice']));
    const cApp = await cSut.getApp();
    const cRefs = await listAll(cSut, cApp);
    if (mode === 'service') {
      expect(cSut.coverage(cApp)).toMatchObject({ complete: false });
      expect(cSut.coverage(cApp).warnings[0]).toMatch(/Completion apps/);
      expect(cRefs).toEqual([]);
    } else {
      expect(cRefs.map((r) => r.id).sort()).toEqual(ids(sim.conversations(completion.id)));
      const all = sim.conversations(completion.id);
      const mid = all[Math.floor(all.length / 2)].created_at;
      // ends on second :59 of a minute: the completion list compares its end strictly
      const endSec = Math.floor(mid / 60) * 60 + 59;
      const window = { start: new Date((all[2].created_at - 1) * 1000), end: new Date(endSec * 1000) };
      sim.addConversation({ app_id: completion.id, user: 'edge-user', created_at: endSec, messages: 1 });
      const inWindow = await listAll(cSut, cApp, window);
      expect(inWindow.map((r) => r.id).sort()).toEqual(ids(sim.conversations(completion.id).filter((c) => activeIn(c, window))));
      expect(inWindow.length).toBeGreaterThan(2);
      const messages = await cSut.getMessages(cApp, cRefs[0]);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ id: cRefs[0].id, conversation_id: cRefs[0].id, answer: expect.any(String) });
    }

    const workflow = sim.apps.find((a) => a.mode === 'workflow')!;
    const wSut = factory.create(sourceFor(mode, sim, workflow, ['user-alice']));
    const wApp = await wSut.getApp();
    const wRefs = await listAll(wSut, wApp);
    expect(wSut.coverage(wApp).complete).toBe(true);
    expect(wRefs.length).toBe(30);
    expect(new Set(wRefs.map((r) => r.id)).size).toBe(30);
    const [message] = await wSut.getMessages(wApp, wRefs[0]);
    const archived = toArchivedConversation(
      { app: wApp, accessMode: mode, conversation: wRefs[0].raw, messages: [message] },
      { appId: workflow.id, organizationId: null, loggedAt: new Date() },
    );
    expect(archived).toMatchObject({ conversation_id: wRefs[0].id, dialogue_count: 1, app_mode: 'workflow' });
    expect(archived.messages[0]).toMatchObject({ id: wRefs[0].id, created_at: expect.stringMatching(/Z$/) });
  });
});

describe('service mode without users', () => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5 });
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it('discovers users through app feedback and says the coverage is partial', async () => {
    const chatApp = sim.apps.find((a) => a.mode === 'chat')!;
    const sut = factory.create(sourceFor('service', sim, chatApp));
    const app = await sut.getApp();
    expect(sut.coverage(app).warnings.join(' ')).toMatch(/feedback/);
    const serviceConversations = sim.conversations(chatApp.id).filter((c) => c.invoke_from === 'service-api');
    const withFeedback = new Set(
      serviceConversations
        .filter((c) => sim.messages(c.id).some((m) => (m.feedbacks as { from_source: string }[]).some((f) => f.from_source === 'user')))
        .map((c) => c.user),
    );
    expect(withFeedback.size).toBeGreaterThan(0);
    const refs = await listAll(sut, app);
    expect(refs.map((r) => r.id).sort()).toEqual(ids(serviceConversations.filter((c) => withFeedback.has(c.user))));
  });
});
