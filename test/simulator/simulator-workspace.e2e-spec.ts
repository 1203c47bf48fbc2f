import { DEMO_SIMULATOR_OPTIONS } from '../../src/simulator/main';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { bearer, call, consoleGet } from './sim-http';

interface AppRow {
  id: string;
  mode: string;
  bound_agent_id?: string | null;
}

async function allApps(sim: DifySimulator, mode: string, limit: number): Promise<{ rows: AppRow[]; pages: { total: number; has_more: boolean }[] }> {
  const rows: AppRow[] = [];
  const pages = [];
  for (let page = 1; ; page++) {
    const res = await consoleGet(sim, `/apps?page=${page}&limit=${limit}&mode=${mode}`);
    expect(res.status).toBe(200);
    rows.push(...res.body.data);
    pages.push({ total: res.body.total, has_more: res.body.has_more });
    if (!res.body.has_more) return { rows, pages };
  }
}

describe(`${startSimulator.name}: the workspace app listing`, () => {
  let sut: DifySimulator;

  beforeAll(async () => {
    sut = await startSimulator({ seed: 5, conversationsPerApp: 2, agentApp: true, extraApps: 50 });
  });
  afterAll(() => sut.close());

  it('leaves Agent apps out of mode=all (and the default), over pages of a 50+ app workspace', async () => {
    const nonAgent = sut.apps.filter((a) => a.mode !== 'agent');
    expect(sut.apps.length).toBeGreaterThanOrEqual(56);
    const { rows, pages } = await allApps(sut, 'all', 20);
    expect(pages.map((p) => p.has_more)).toEqual([true, true, false]);
    expect(pages.every((p) => p.total === nonAgent.length)).toBe(true);
    expect(rows.map((r) => r.id).sort()).toEqual(nonAgent.map((a) => a.id).sort());
    expect(rows.some((r) => r.mode === 'agent')).toBe(false);
    const byDefault = await consoleGet(sut, '/apps?limit=100');
    expect(byDefault.body).toMatchObject({ total: nonAgent.length, has_more: false });
    expect(byDefault.body.data.every((r: AppRow) => r.bound_agent_id === null)).toBe(true);
  });

  it('lists Agent apps with mode=agent, the App id as id and the Agent id as bound_agent_id', async () => {
    const agents = sut.apps.filter((a) => a.mode === 'agent');
    const res = await consoleGet(sut, '/apps?mode=agent&limit=100');
    expect(res.body.total).toBe(agents.length);
    expect(res.body.data.map((r: AppRow) => [r.id, r.bound_agent_id]).sort()).toEqual(agents.map((a) => [a.id, a.agentId]).sort());
    expect(res.body.data.find((r: AppRow) => r.id === agents.find((a) => a.name === 'Travel Concierge')!.id)).toMatchObject({ mode: 'agent' });
  });

  it('filters every mode, including channel and rag-pipeline apps that hold no conversations', async () => {
    for (const mode of ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'channel', 'rag-pipeline']) {
      const res = await consoleGet(sut, `/apps?mode=${mode}&limit=100`);
      expect(res.body.total).toBe(sut.apps.filter((a) => a.mode === mode).length);
      expect(res.body.data.every((r: AppRow) => r.mode === mode)).toBe(true);
    }
    const channel = sut.apps.find((a) => a.mode === 'channel')!;
    expect((await consoleGet(sut, `/apps/${channel.id}/chat-conversations`)).status).toBe(404);
    expect((await consoleGet(sut, '/apps?mode=robot')).status).toBe(400);
    expect((await consoleGet(sut, '/apps?limit=101')).status).toBe(400);
  });
});

describe(`${startSimulator.name}: apps added and deleted while running`, () => {
  let sut: DifySimulator;
  beforeAll(async () => {
    sut = await startSimulator({ generate: false });
  });
  afterAll(() => sut.close());

  it('shows an added app at once; a deleted app leaves the listing, its console routes answer 404 and its key 403', async () => {
    const before = (await consoleGet(sut, '/apps')).body.total;
    const late = sut.addApp({ name: 'Late Chat', mode: 'chat' });
    const conv = sut.addConversation({ app_id: late.id, from_source: 'api', user: 'user-late' });
    expect((await consoleGet(sut, '/apps')).body.total).toBe(before + 1);
    expect((await consoleGet(sut, `/apps/${late.id}/chat-conversations`)).body.total).toBe(1);
    expect((await call(`${sut.serviceApiUrl}/info`, bearer(late.apiKey))).body).toMatchObject({ name: 'Late Chat', mode: 'chat' });

    sut.deleteApp(late.id);
    expect((await consoleGet(sut, '/apps')).body.total).toBe(before);
    expect(sut.apps.map((a) => a.id)).not.toContain(late.id);
    for (const path of [`/apps/${late.id}`, `/apps/${late.id}/chat-conversations`, `/apps/${late.id}/chat-messages?conversation_id=${conv.id}`, `/apps/${late.id}/export`]) {
      expect(await consoleGet(sut, path)).toMatchObject({ status: 404, body: { code: 'app_not_found', status: 404 } });
    }
    expect(await call(`${sut.serviceApiUrl}/info`, bearer(late.apiKey))).toMatchObject({ status: 403, body: { code: 'forbidden', status: 403 } });
  });

  it('adds Agent apps, bound in the listing or only in the roster, and forgets a deleted Agent', async () => {
    const bound = sut.addApp({ name: 'Bound Agent', mode: 'agent' });
    const unbound = sut.addApp({ name: 'Unbound Agent', mode: 'agent', boundInListing: false });
    const listing = (await consoleGet(sut, '/apps?mode=agent')).body.data as AppRow[];
    expect(listing.find((r) => r.id === bound.id)!.bound_agent_id).toBe(bound.agentId);
    expect(listing.find((r) => r.id === unbound.id)!.bound_agent_id).toBeNull();
    const roster = (await consoleGet(sut, '/agent')).body.data as { id: string; app_id: string }[];
    expect(roster).toEqual(expect.arrayContaining([expect.objectContaining({ id: unbound.agentId, app_id: unbound.id })]));

    sut.deleteApp(unbound.id);
    expect(await consoleGet(sut, `/agent/${unbound.agentId}/logs`)).toMatchObject({ status: 404, body: { message: 'Agent not found.' } });
    expect(((await consoleGet(sut, '/agent')).body.data as { id: string }[]).map((a) => a.id)).toEqual([bound.agentId]);
    expect((await consoleGet(sut, '/apps?mode=agent')).body.total).toBe(1);
  });
});

describe(`${startSimulator.name}: an older Dify without Agent apps`, () => {
  it('has no /agent routes at all, no mode=agent and no bound_agent_id', async () => {
    const sut = await startSimulator({ generate: false, serverVersion: '1.15.0' });
    try {
      const roster = await consoleGet(sut, '/agent');
      expect(roster.status).toBe(404);
      expect(roster.body.message).not.toBe('Agent not found.');
      expect((await consoleGet(sut, '/agent/7c1d1e5e-0000-4000-8000-000000000000/logs')).status).toBe(404);
      expect(await consoleGet(sut, '/apps?mode=agent')).toMatchObject({ status: 400, body: { code: 'invalid_param' } });
      const apps = await consoleGet(sut, '/apps');
      expect(apps.body.data.length).toBeGreaterThan(0);
      expect(apps.body.data.every((r: AppRow) => !('bound_agent_id' in r))).toBe(true);
      expect(sut.counters.agentRosterCalls).toBe(0);
    } finally {
      await sut.close();
    }
  });
});

describe(`${startSimulator.name}: DSL export`, () => {
  let sut: DifySimulator;
  let workflow: SimulatedApp;
  let chat: SimulatedApp;
  const dsl = async (app: SimulatedApp, query = '?include_secret=false') => {
    const res = await consoleGet(sut, `/apps/${app.id}/export${query}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['data']);
    return res.body.data as string;
  };

  beforeAll(async () => {
    sut = await startSimulator({ generate: false, agentApp: true });
    workflow = sut.apps.find((a) => a.mode === 'workflow')!;
    chat = sut.apps.find((a) => a.mode === 'chat')!;
  });
  afterAll(() => sut.close());

  it('answers the app DSL as YAML, the secret left empty unless include_secret=true, and counts each kind of request', async () => {
    const plain = await dsl(workflow);
    expect(plain).toMatch(/^app:\n/);
    expect(plain).toContain('\nkind: app\n');
    expect(plain).toContain('  mode: workflow\n');
    expect(plain).toContain('name: PROVIDER_API_KEY');
    expect(plain).toContain('value: ""');
    expect(plain).not.toContain('sk-sim-secret-');
    expect(await dsl(workflow, '')).toBe(plain);
    expect(sut.counters).toMatchObject({ dslExports: 2, dslExportsWithSecret: 0 });

    const secret = await dsl(workflow, '?include_secret=true');
    expect(secret).toMatch(/value: sk-sim-secret-\w+/);
    expect(sut.counters).toMatchObject({ dslExports: 3, dslExportsWithSecret: 1 });
    const agent = sut.apps.find((a) => a.mode === 'agent')!;
    expect(await dsl(agent)).toContain('  mode: agent\n');
    expect(await dsl(agent, '?include_secret=1')).toContain('sk-sim-secret-');
    expect(await consoleGet(sut, `/apps/${workflow.id}/export?include_secret=maybe`)).toMatchObject({ status: 400, body: { code: 'invalid_param' } });
  });

  it('changes when the app prompt changes', async () => {
    const before = await dsl(chat);
    expect(before).toContain('pre_prompt: You are a helpful assistant for Sim Corp customers.');
    sut.setAppPrompt(chat.id, 'Answer in French: "bonjour" first.');
    const after = await dsl(chat);
    expect(after).not.toEqual(before);
    expect(after).toContain('pre_prompt: "Answer in French: \\"bonjour\\" first."');
    sut.setAppPrompt(workflow.id, 'Extract the VAT number too.');
    expect(await dsl(workflow)).toContain('text: Extract the VAT number too.');
  });
});

describe(`${startSimulator.name}: the demo workspace`, () => {
  it('adds the Agent app with a 130-message conversation over several days, a debugger and a soft-deleted conversation, and workflow rows', async () => {
    const now = new Date('2026-05-01T12:00:00Z');
    const [plain, demo] = await Promise.all([startSimulator({ seed: 11, now }), startSimulator({ ...DEMO_SIMULATOR_OPTIONS, seed: 11, now })]);
    try {
      // the classic apps keep the very same data
      const dump = (sim: DifySimulator) =>
        JSON.stringify(sim.apps.filter((a) => a.mode !== 'agent').map((a) => sim.conversations(a.id).map((c) => ({ ...c, messages: sim.messages(c.id) }))));
      expect(dump(demo)).toEqual(dump(plain));

      const agent = demo.apps.find((a) => a.mode === 'agent')!;
      expect(agent).toMatchObject({ name: 'Travel Concierge', agentId: expect.any(String) });
      const conversations = demo.conversations(agent.id);
      const long = conversations.find((c) => c.message_ids.length > 100)!;
      const times = demo.messages(long.id).map((m) => m.created_at as number);
      expect(long.message_ids).toHaveLength(130);
      expect(times[times.length - 1] - times[0]).toBeGreaterThan(2 * 86400);
      expect(conversations.some((c) => c.invoke_from === 'debugger' && c.message_ids.length > 0)).toBe(true);

      const all = (await consoleGet(demo, `/agent/${agent.agentId}/logs?sources=webapp&sources=debugger&limit=100`)).body;
      expect(all.total).toBe(conversations.length + 1);
      expect(all.data.map((r: { title: string }) => r.title)).toContain('Deleted by its user');
      expect(conversations.map((c) => c.name)).not.toContain('Deleted by its user');
      const workflowRows = (await consoleGet(demo, `/agent/${agent.agentId}/logs?sources=workflow`)).body;
      expect(workflowRows.total).toBe(3);
      // the default leaves out the debugger, mixed and unknown-origin conversations
      expect((await consoleGet(demo, `/agent/${agent.agentId}/logs?limit=100`)).body.total).toBe(conversations.length + 1 - 3 + 3);
    } finally {
      await Promise.all([plain.close(), demo.close()]);
    }
  });
});
