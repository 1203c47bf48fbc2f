import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedWorkflowRun } from '../../src/simulator/simulator.types';
import { bearer, call, consoleGet } from './sim-http';

const UNKNOWN = '7c1d1e5e-0000-4000-8000-000000000000';

interface NodeExecution {
  id: string;
  index: number;
  node_type: string;
  status: string;
  error: string | null;
  predecessor_node_id: string | null;
  node_id: string;
}

describe(`${startSimulator.name}: workflow runs in full`, () => {
  let sut: DifySimulator;
  let workflow: SimulatedApp;
  let runs: SimulatedWorkflowRun[];

  beforeAll(async () => {
    sut = await startSimulator({ seed: 11, agentApp: true });
    workflow = sut.apps.find((a) => a.mode === 'workflow')!;
    runs = sut.workflowRuns(workflow.id);
  });
  afterAll(() => sut.close());

  it('lists only debugger runs unless triggered_from=app-run, which holds the runs of the workflow logs', async () => {
    const debugging = runs.filter((r) => r.triggered_from === 'debugging');
    const production = runs.filter((r) => r.triggered_from === 'app-run');
    expect(debugging.length).toBeGreaterThan(0);
    const byDefault = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs`);
    expect(byDefault.body).toMatchObject({ limit: 20, has_more: false });
    expect(byDefault.body.data.map((r: { id: string }) => r.id)).toEqual(debugging.map((r) => r.id));
    const appRuns = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs?triggered_from=app-run&limit=100`);
    expect(appRuns.body.data.map((r: { id: string }) => r.id)).toEqual(production.map((r) => r.id));
    const logs = await consoleGet(sut, `/apps/${workflow.id}/workflow-app-logs?limit=100`);
    expect(logs.body.data.map((l: { workflow_run: { id: string } }) => l.workflow_run.id).sort()).toEqual(production.map((r) => r.id).sort());
    const first = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs?triggered_from=app-run&limit=10`);
    const next = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs?triggered_from=app-run&limit=10&last_id=${first.body.data[9].id}`);
    expect(first.body.has_more).toBe(true);
    expect(next.body.data[0].created_at).toBeLessThan(first.body.data[9].created_at);
  });

  it('answers one run with inputs, outputs, status, error, elapsed_time, total_tokens and created_at', async () => {
    const failed = runs.find((r) => r.triggered_from === 'app-run' && r.status === 'failed')!;
    const res = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${failed.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: failed.id,
      status: 'failed',
      error: expect.any(String),
      inputs: expect.any(Object),
      outputs: {},
      elapsed_time: expect.any(Number),
      total_tokens: expect.any(Number),
      created_at: failed.created_at,
    });
  });

  it('answers node executions not sorted by index; a failed or stopped run ends at that node; an Agent node carries the pseudo conversation id', async () => {
    for (const run of runs.filter((r) => r.triggered_from === 'app-run')) {
      const res = await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${run.id}/node-executions`);
      const nodes = res.body.data as NodeExecution[];
      expect(Object.keys(res.body)).toEqual(['data']);
      const indexes = nodes.map((n) => n.index);
      expect(indexes).not.toEqual([...indexes].sort((a, b) => a - b));
      const ordered = [...nodes].sort((a, b) => a.index - b.index);
      expect(ordered.map((n) => n.index)).toEqual(ordered.map((_, i) => i + 1));
      expect(ordered[0]).toMatchObject({ node_type: 'start', predecessor_node_id: null });
      ordered.slice(1).forEach((n, i) => expect(n.predecessor_node_id).toBe(ordered[i].node_id));
      const last = ordered[ordered.length - 1];
      if (run.status === 'failed') expect(last).toMatchObject({ status: 'failed', error: expect.any(String) });
      else if (run.status === 'stopped') expect(last).toMatchObject({ status: 'stopped' });
      else expect(last).toMatchObject({ node_type: 'end', status: 'succeeded' });
      if (run.agent_node_execution_id) expect(nodes.find((n) => n.node_type === 'agent')!.id).toBe(run.agent_node_execution_id);
      // the same on every call
      expect((await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${run.id}/node-executions`)).body).toEqual(res.body);
    }
    expect(runs.filter((r) => r.agent_node_execution_id)).toHaveLength(3);
  });

  it('serves the run through the Service API, with inputs as a JSON string', async () => {
    const run = runs.find((r) => r.triggered_from === 'app-run' && r.status === 'succeeded')!;
    const console = (await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${run.id}`)).body;
    const res = await call(`${sut.serviceApiUrl}/workflows/run/${run.id}`, bearer(workflow.apiKey));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: run.id, workflow_id: expect.any(String), status: 'succeeded', outputs: console.outputs, total_tokens: console.total_tokens });
    expect(JSON.parse(res.body.inputs)).toEqual(console.inputs);
    const chat = sut.apps.find((a) => a.mode === 'chat')!;
    expect(await call(`${sut.serviceApiUrl}/workflows/run/${run.id}`, bearer(chat.apiKey))).toMatchObject({ status: 400, body: { code: 'not_workflow_app' } });
    expect(await call(`${sut.serviceApiUrl}/workflows/run/${UNKNOWN}`, bearer(workflow.apiKey))).toMatchObject({
      status: 404,
      body: { code: 'not_found', message: 'Workflow run not found.', status: 404 },
    });
  });

  it('makes one run detail unavailable on request while its log row stays', async () => {
    const run = runs.find((r) => r.triggered_from === 'app-run' && r.status === 'succeeded' && !r.agent_node_execution_id)!;
    sut.hideWorkflowRunDetail(run.id);
    for (const res of [
      await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${run.id}`),
      await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${run.id}/node-executions`),
      await call(`${sut.serviceApiUrl}/workflows/run/${run.id}`, bearer(workflow.apiKey)),
    ]) {
      expect(res).toMatchObject({ status: 404, body: { code: 'not_found' } });
    }
    const logs = await consoleGet(sut, `/apps/${workflow.id}/workflow-app-logs?limit=100`);
    expect(logs.body.data.map((l: { workflow_run: { id: string } }) => l.workflow_run.id)).toContain(run.id);
  });

  it('serves the runs behind chatflow messages, and refuses apps without workflows', async () => {
    const chatflow = sut.apps.find((a) => a.mode === 'advanced-chat')!;
    const conv = sut.conversations(chatflow.id).find((c) => c.invoke_from !== 'debugger')!;
    const message = sut.messages(conv.id)[0];
    const res = await consoleGet(sut, `/apps/${chatflow.id}/workflow-runs/${message.workflow_run_id}`);
    expect(res.body).toMatchObject({ id: message.workflow_run_id, created_at: message.created_at });
    const nodes = (await consoleGet(sut, `/apps/${chatflow.id}/workflow-runs/${message.workflow_run_id}/node-executions`)).body.data as NodeExecution[];
    expect(nodes.map((n) => n.node_type).sort()).toEqual(message.status === 'error' ? ['llm', 'start'] : ['answer', 'llm', 'start']);
    const chat = sut.apps.find((a) => a.mode === 'chat')!;
    expect(await consoleGet(sut, `/apps/${chat.id}/workflow-runs`)).toMatchObject({ status: 404, body: { code: 'app_not_found' } });
    expect((await consoleGet(sut, `/apps/${workflow.id}/workflow-runs/${UNKNOWN}`)).status).toBe(404);
  });
});
