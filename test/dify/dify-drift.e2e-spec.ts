import type { DifyAppClient, DifyApp } from '../../src/dify/dify.types';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAll, Mode, serviceUsers, sourceFor, testConfig, visible, clientFactory } from './support';

/** Conversations change while a crawl runs: none that existed before may be skipped. */
describe.each<Mode>(['console-admin', 'service'])('%s listing while Dify changes underneath', (mode) => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let chatApp: SimulatedApp;
  let users: string[];
  let sut: DifyAppClient;
  let app: DifyApp;
  const listPath = mode === 'service' ? '/v1/conversations' : /chat-conversations$/;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 99, conversationsPerApp: 60 });
    const t = testConfig();
    cleanup = t.cleanup;
    chatApp = sim.apps.find((a) => a.mode === 'chat')!;
    const now = Math.floor(Date.now() / 1000);
    // plenty of rows per page, many sharing seconds
    for (let i = 0; i < 250; i++) {
      sim.addConversation({ app_id: chatApp.id, user: 'drift-user', created_at: now - 3 * 86400 + Math.floor(i / 4) * 30, messages: 1 });
    }
    users = serviceUsers(sim, chatApp);
    sut = clientFactory(t.config).create(sourceFor(mode, sim, chatApp, users));
    app = await sut.getApp();
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  function churn(times: number) {
    const now = Math.floor(Date.now() / 1000);
    const existing = visible(mode, sim, chatApp, users);
    // updates move early rows to the end of an updated_at order; new rows appear; one row vanishes
    for (let k = 0; k < times; k++) sim.addMessage(existing[k * 3].id, now);
    for (let k = 0; k < times; k++) sim.addConversation({ app_id: chatApp.id, user: 'drift-user', created_at: now, messages: 1 });
  }

  it.each([
    ['no window', {}],
    ['a window starting 6 days ago', { start: new Date(Date.now() - 6 * 86400_000) }],
    ['a window with both ends', { start: new Date(Date.now() - 6 * 86400_000), end: new Date(Date.now() + 3600_000) }],
  ])('with %s', async (_label, window) => {
    const before = visible(mode, sim, chatApp, users).map((c) => c.id);
    for (const nth of [1, 2, 3]) sim.onRequest(listPath, nth, () => churn(4));
    const refs = await listAll(sut, app, window);
    const listed = new Set(refs.map((r) => r.id));
    expect(before.filter((id) => !listed.has(id))).toEqual([]);
    expect(listed.size).toBe(refs.length);
  });

  it('a naive strict-cursor or offset crawl of the same data would have lost rows (the trap is live)', async () => {
    const headers: Record<string, string> =
      mode === 'service'
        ? { Authorization: `Bearer ${chatApp.apiKey}` }
        : { Authorization: `Bearer ${sim.adminApiKey}`, 'X-WORKSPACE-ID': sim.workspaceId };
    const seen = new Set<string>();
    if (mode === 'service') {
      let lastId: string | undefined;
      for (;;) {
        const q = new URLSearchParams({ user: 'drift-user', limit: '100', sort_by: '-updated_at', ...(lastId ? { last_id: lastId } : {}) });
        const page = (await (await fetch(`${sim.serviceApiUrl}/conversations?${q}`, { headers })).json()) as { data: { id: string }[]; has_more: boolean };
        page.data.forEach((r) => seen.add(r.id));
        if (!page.has_more) break;
        lastId = page.data[page.data.length - 1].id;
      }
      const expected = visible(mode, sim, chatApp, users).filter((c) => c.user === 'drift-user');
      expect(seen.size).toBeLessThan(expected.length);
    } else {
      for (let page = 1; ; page++) {
        const q = new URLSearchParams({ sort_by: 'updated_at', limit: '100', page: String(page) });
        const res = (await (await fetch(`${sim.consoleApiUrl}/apps/${chatApp.id}/chat-conversations?${q}`, { headers })).json()) as {
          data: { id: string }[];
          has_more: boolean;
        };
        res.data.forEach((r) => seen.add(r.id));
        if (page === 1) churn(6);
        if (!res.has_more) break;
      }
      const before = new Set(visible(mode, sim, chatApp, users).map((c) => c.id));
      expect([...before].filter((id) => !seen.has(id)).length).toBeGreaterThan(0);
    }
  });
});
