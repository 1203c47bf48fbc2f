import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { DifyBadRequestError } from '../../src/dify/dify.errors';
import type { DifyApp, DifyAppClient } from '../../src/dify/dify.types';
import { toArchivedConversation } from '../../src/dify/normalise';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedWorkflowRun } from '../../src/simulator/simulator.types';
import { consoleGet } from '../simulator/sim-http';
import { listAll, Mode, sourceFor, testConfig, clientFactory } from './support';

type Row = Record<string, unknown>;

describe.each<Mode>(['console-admin', 'service'])('workflow runs in full, %s mode', (mode) => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;
  let workflow: SimulatedApp;
  let production: SimulatedWorkflowRun[];
  let hidden: SimulatedWorkflowRun;

  const fetchAll = async (sut: DifyAppClient, app: DifyApp) => {
    const out = new Map<string, Row>();
    for (const ref of await listAll(sut, app)) {
      const [message] = await sut.getMessages(app, ref);
      out.set(ref.id, message);
      const archived = toArchivedConversation(
        { app, accessMode: sut.accessMode, conversation: ref.raw, messages: [message] },
        { appId: workflow.id, organizationId: null, loggedAt: new Date() },
      );
      expect(archived).toMatchObject({ conversation_id: ref.id, dialogue_count: 1 });
    }
    return out;
  };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11, agentApp: true });
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
    workflow = sim.apps.find((a) => a.mode === 'workflow')!;
    production = sim.workflowRuns(workflow.id).filter((r) => r.triggered_from === 'app-run');
    hidden = production.find((r) => r.status === 'succeeded')!;
    sim.hideWorkflowRunDetail(hidden.id);
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it('archives each run with the inputs and outputs of its detail; a run without detail archives from its log row, with a warning', async () => {
    const sut = factory.create(sourceFor(mode, sim, workflow));
    const app = await sut.getApp();
    const messages = await fetchAll(sut, app);
    expect([...messages.keys()].sort()).toEqual(production.map((r) => r.id).sort());
    for (const run of production) {
      const message = messages.get(run.id)!;
      if (run.id === hidden.id) {
        expect(message).not.toHaveProperty('inputs');
        expect(message).not.toHaveProperty('outputs');
        continue;
      }
      const detail = (await consoleGet(sim, `/apps/${workflow.id}/workflow-runs/${run.id}`)).body;
      // the Service API's JSON-string inputs arrive parsed
      expect(message.inputs).toEqual(detail.inputs);
      expect(message.outputs).toEqual(detail.outputs);
      expect(message).not.toHaveProperty('node_executions');
    }
    expect(sut.takeWarnings?.()).toEqual([expect.stringMatching(new RegExp(`^Workflow run ${hidden.id}: Dify gave no run detail \\(404\\)`))]);
    expect(sut.takeWarnings?.()).toEqual([]);
  });

  it('with include_node_executions archives the node executions sorted by index (console), or says the Service API has none', async () => {
    const sut = factory.create({ ...sourceFor(mode, sim, workflow), include_node_executions: true });
    const app = await sut.getApp();
    const messages = await fetchAll(sut, app);
    const warnings = sut.takeWarnings?.() ?? [];
    if (mode === 'service') {
      for (const m of messages.values()) expect(m).not.toHaveProperty('node_executions');
      expect(warnings.filter((w) => /Service API has no node executions/.test(w))).toHaveLength(1);
      return;
    }
    for (const run of production.filter((r) => r.id !== hidden.id)) {
      const nodes = messages.get(run.id)!.node_executions as { index: number; id: string }[];
      expect(nodes.map((n) => n.index)).toEqual(nodes.map((_, i) => i + 1));
      const served = (await consoleGet(sim, `/apps/${workflow.id}/workflow-runs/${run.id}/node-executions`)).body.data as { id: string }[];
      expect(nodes.map((n) => n.id).sort()).toEqual(served.map((n) => n.id).sort());
    }
    expect(messages.get(hidden.id)).not.toHaveProperty('node_executions');
    expect(warnings).toEqual([expect.stringContaining(hidden.id)]);
  });
});

describe('one app, one identity (service mode)', () => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;
  let chat: SimulatedApp;
  let workflow: SimulatedApp;
  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    workflow = sim.apps.find((a) => a.mode === 'workflow')!;
  });
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
  });

  it("refuses a key of another app than the one the source names, before listing anything", async () => {
    const source = { ...sourceFor('service', sim, chat), name: chat.name, api_key: workflow.apiKey };
    sim.clearRequests();
    const error = await factory.create(source).getApp().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DifyBadRequestError);
    expect(error).toMatchObject({
      field: 'api_key',
      message: `api_key belongs to the Dify app "${workflow.name}", not to "${chat.name}" named by this source (app_id ${chat.id}): refusing to archive one app under another app_id. Fix api_key, or name if the app was renamed in Dify`,
    });
    expect((error as Error).message).not.toContain(workflow.apiKey);
    expect(sim.requests.map((r) => r.path)).toEqual(['/v1/info']);
  });

  it('accepts the key of the app the source names, and (unable to tell) a key when the source names no app', async () => {
    expect(await factory.create({ ...sourceFor('service', sim, chat), name: ` ${chat.name} ` }).getApp()).toEqual({ id: chat.id, name: chat.name, mode: 'chat' });
    expect(await factory.create({ ...sourceFor('service', sim, chat), api_key: workflow.apiKey }).getApp()).toEqual({ id: chat.id, name: workflow.name, mode: 'workflow' });
  });
});
