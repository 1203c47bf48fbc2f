import { createHash } from 'node:crypto';
import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { DifyBadRequestError, DifyNotFoundError } from '../../src/dify/dify.errors';
import type { DifyWorkspaceSource } from '../../src/dify/dify.types';
import type { WorkspaceClient } from '../../src/dify/workspace.client';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAll, Mode, sourceFor, testConfig, clientFactory } from './support';

const SKIPPED_MODES = ['channel', 'rag-pipeline'];

function workspaceSource(mode: Mode, sim: DifySimulator): DifyWorkspaceSource {
  const { app_id: _appId, ...source } = sourceFor(mode, sim, sim.apps[0]);
  return source;
}

describe.each<Mode>(['console-admin', 'console-login'])('the workspace in %s mode', (mode) => {
  let cleanup: () => void;
  let factory: DifyClientFactory;
  beforeAll(() => {
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
  });
  afterAll(() => cleanup());

  it.each([55, 210])('lists every app of a workspace with %i extra apps, Agent apps with their Agent id, and skips apps without conversations', async (extraApps) => {
    const sim = await startSimulator({ seed: 5, conversationsPerApp: 2, agentApp: true, extraApps });
    try {
      const sut = factory.createWorkspace(workspaceSource(mode, sim));
      const listing = await sut.listApps();
      const expected = sim.apps.filter((a) => !SKIPPED_MODES.includes(a.mode));
      expect(listing.apps.map((a) => a.id).sort()).toEqual(expected.map((a) => a.id).sort());
      for (const a of listing.apps) {
        const simApp = sim.apps.find((s) => s.id === a.id)!;
        expect(a).toEqual({ id: simApp.id, name: simApp.name, mode: simApp.mode, ...(simApp.mode === 'agent' ? { agent_id: simApp.agentId } : {}) });
      }
      expect(listing.apps.filter((a) => a.mode === 'agent').length).toBeGreaterThan(1);
      expect(listing.skipped.map((s) => s.id).sort()).toEqual(sim.apps.filter((a) => SKIPPED_MODES.includes(a.mode)).map((a) => a.id).sort());
      expect(listing.skipped.every((s) => /hold no conversations/.test(s.reason))).toBe(true);
      expect(listing.warnings).toEqual([]);
      const pages = (m: string) => sim.requests.filter((r) => r.path === '/console/api/apps' && r.query.mode === m).map((r) => Number(r.query.page));
      const nonAgent = sim.apps.filter((a) => a.mode !== 'agent').length;
      expect(pages('all')).toEqual(Array.from({ length: Math.ceil(nonAgent / 100) }, (_, i) => i + 1));
      if (extraApps > 100) expect(pages('all').length).toBeGreaterThan(1);
      expect(pages('agent')).toEqual([1]);
      expect(sim.counters.agentRosterCalls).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it('hands out clients that share one session, for classic and Agent apps alike', async () => {
    const sim = await startSimulator({ seed: 5, conversationsPerApp: 3, agentApp: true });
    try {
      const sut = factory.createWorkspace(workspaceSource(mode, sim));
      const { apps } = await sut.listApps();
      for (const listed of apps.filter((a) => a.mode === 'chat' || a.mode === 'agent')) {
        const client = sut.clientFor(listed);
        const app = await client.getApp();
        expect(app).toEqual({ id: listed.id, name: listed.name, mode: listed.mode });
        const refs = await listAll(client, app);
        expect(refs.length).toBeGreaterThan(0);
        expect((await client.getMessages(app, refs[0])).length).toBeGreaterThan(0);
      }
      const logins = sim.requests.filter((r) => r.path === '/console/api/login').length;
      expect(logins).toBe(mode === 'console-login' ? 1 : 0);
    } finally {
      await sim.close();
    }
  });

  it('reads the roster only for an Agent app without bound_agent_id, and says so', async () => {
    const sim = await startSimulator({ generate: false, agentApp: true });
    try {
      const unbound = sim.addApp({ name: 'Unbound Agent', mode: 'agent', boundInListing: false });
      const listing = await factory.createWorkspace(workspaceSource(mode, sim)).listApps();
      expect(listing.apps.find((a) => a.id === unbound.id)).toEqual({ id: unbound.id, name: 'Unbound Agent', mode: 'agent', agent_id: unbound.agentId });
      expect(listing.warnings).toEqual([expect.stringMatching(/^1 Agent app\(s\) without bound_agent_id: .*creates an empty "Agent Debugging Conversation"/)]);
      expect(sim.requests.filter((r) => r.path === '/console/api/agent')).toHaveLength(1);
    } finally {
      await sim.close();
    }
  });

  it('on a Dify without Agent routes lists the classic apps, no Agent app and no error', async () => {
    const sim = await startSimulator({ seed: 5, conversationsPerApp: 1, serverVersion: '1.15.0' });
    try {
      const listing = await factory.createWorkspace(workspaceSource(mode, sim)).listApps();
      expect(listing.apps.map((a) => a.id).sort()).toEqual(sim.apps.map((a) => a.id).sort());
      expect(listing.apps.some((a) => a.mode === 'agent')).toBe(false);
      expect(listing.warnings).toEqual([]);
      expect(sim.counters.agentRosterCalls).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it('forgets a deleted app: gone from the listing, its client and its DSL export answer not found', async () => {
    const sim = await startSimulator({ seed: 5, conversationsPerApp: 2, agentApp: true });
    try {
      const sut = factory.createWorkspace(workspaceSource(mode, sim));
      const { apps } = await sut.listApps();
      const chat = apps.find((a) => a.mode === 'chat')!;
      const agent = apps.find((a) => a.mode === 'agent')!;
      const agentClient = sut.clientFor(agent);
      const agentApp = await agentClient.getApp();
      sim.deleteApp(chat.id);
      sim.deleteApp(agent.id);
      const after = (await sut.listApps()).apps.map((a) => a.id);
      expect(after).not.toContain(chat.id);
      expect(after).not.toContain(agent.id);
      await expect(sut.clientFor(chat).getApp()).rejects.toBeInstanceOf(DifyNotFoundError);
      await expect(sut.clientFor(agent).getApp()).rejects.toBeInstanceOf(DifyNotFoundError);
      await expect(listAll(agentClient, agentApp)).rejects.toBeInstanceOf(DifyNotFoundError);
      await expect(sut.getAppConfig(chat.id)).rejects.toMatchObject({ constructor: DifyNotFoundError, field: 'app_id' });
    } finally {
      await sim.close();
    }
  });
});

describe('DSL export', () => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let sut: WorkspaceClient;
  beforeAll(async () => {
    sim = await startSimulator({ generate: false, agentApp: true });
    const t = testConfig();
    cleanup = t.cleanup;
    sut = clientFactory(t.config).createWorkspace(workspaceSource('console-admin', sim));
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it('exports every app configuration with its SHA-256, never asking for secrets; a changed prompt changes the hash', async () => {
    const byMode = (m: string) => sim.apps.find((a) => a.mode === m) as SimulatedApp;
    const hashes: Record<string, string> = {};
    for (const m of ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'agent']) {
      const config = await sut.getAppConfig(byMode(m).id);
      expect(config.yaml).toContain(`  mode: ${m}\n`);
      expect(config.yaml).not.toMatch(/sk-sim-secret-/);
      expect(config.sha256).toBe(createHash('sha256').update(config.yaml, 'utf8').digest('hex'));
      hashes[m] = config.sha256;
    }
    expect((await sut.getAppConfig(byMode('chat').id)).sha256).toBe(hashes.chat);
    sim.setAppPrompt(byMode('chat').id, 'Answer in French.');
    expect((await sut.getAppConfig(byMode('chat').id)).sha256).not.toBe(hashes.chat);
    expect(sim.counters).toMatchObject({ dslExports: 8, dslExportsWithSecret: 0 });
    expect(sim.requests.filter((r) => r.path.endsWith('/export')).every((r) => r.query.include_secret === 'false')).toBe(true);
  });

  it('needs a console source', () => {
    const t = testConfig();
    try {
      const factory = clientFactory(t.config);
      const service = { dify_api_url: sim.serviceApiUrl, api_key: sim.apps[0].apiKey } as unknown as DifyWorkspaceSource;
      expect(() => factory.createWorkspace(service)).toThrow(DifyBadRequestError);
    } finally {
      t.cleanup();
    }
  });
});
