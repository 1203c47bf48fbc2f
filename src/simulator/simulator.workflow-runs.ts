import { appFor, Route, SimContext } from './simulator.context';
import { choiceParam, intParam, notFound, ok, SimError, SimRequest, uuidParam } from './simulator.http';
import { SeededRandom } from './simulator.random';
import { authApp, UUID_SEGMENT } from './simulator.service-api';
import type { AppRecord, SimulatorStore, WorkflowLogRecord } from './simulator.store';
import type { SimAppMode } from './simulator.types';

/** Workflow runs in full: the console's run list, run detail and node executions, and the Service API's run detail. */

const RUN_MODES: SimAppMode[] = ['workflow', 'advanced-chat'];

/** a chatflow's runs are the runs behind its messages; the editor's runs come from its preview */
function chatflowRuns(store: SimulatorStore, app: AppRecord): WorkflowLogRecord[] {
  const runs: WorkflowLogRecord[] = [];
  for (const c of store.conversations) {
    if (c.app_id !== app.id || c.deleted) continue;
    for (const m of c.messages) {
      if (!m.workflow_run_id) continue;
      const failed = m.status === 'error';
      const elapsed = m.latency + 0.2;
      runs.push({
        id: m.workflow_run_id,
        app_id: app.id,
        run_id: m.workflow_run_id,
        version: '2026-01-05 09:12:44.108231',
        status: failed ? 'failed' : 'succeeded',
        error: m.error,
        elapsed_time: Math.round(elapsed * 1e6) / 1e6,
        total_tokens: m.message_tokens + m.answer_tokens,
        total_steps: 3,
        created_at: m.created_at,
        finished_at: m.created_at + Math.ceil(elapsed),
        exceptions_count: failed ? 1 : 0,
        created_from: c.invoke_from === 'service-api' ? 'service-api' : c.from_source === 'console' ? 'installed-app' : 'web-app',
        created_by_role: c.from_end_user_id ? 'end_user' : 'account',
        created_by_end_user_id: c.from_end_user_id,
        created_by_account_id: c.from_account_id,
        inputs: { ...m.inputs, 'sys.query': m.query, 'sys.conversation_id': c.id },
        outputs: failed ? {} : { answer: m.answer },
        triggered_from: c.invoke_from === 'debugger' ? 'debugging' : 'app-run',
        agent_node: null,
      });
    }
  }
  return runs;
}

/** every run of a workflow or chatflow app, newest first */
export function runsOf(store: SimulatorStore, app: AppRecord): WorkflowLogRecord[] {
  const production = app.mode === 'advanced-chat' ? chatflowRuns(store, app) : store.workflowLogs.filter((r) => r.app_id === app.id);
  const debugging = store.debuggerRuns.filter((r) => r.app_id === app.id);
  return [...production, ...debugging].sort((a, b) => b.created_at - a.created_at || b.run_id.localeCompare(a.run_id));
}

function visibleRun(store: SimulatorStore, app: AppRecord, runId: string): WorkflowLogRecord {
  const run = runsOf(store, app).find((r) => r.run_id === runId.toLowerCase());
  if (!run || store.hiddenRuns.has(run.run_id)) throw notFound('Workflow run not found.');
  return run;
}

function seedOf(id: string): number {
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

interface NodeSpec {
  node_id: string;
  node_type: string;
  title: string;
  inputs: Record<string, unknown>;
  process_data: Record<string, unknown> | null;
  outputs: Record<string, unknown>;
  id?: string;
}

/**
 * The run's node executions, the same on every call (drawn from the run id, not the shared generator), answered
 * in an order other than their `index`, as Dify does.
 */
export function nodeExecutions(store: SimulatorStore, app: AppRecord, run: WorkflowLogRecord): Record<string, unknown>[] {
  const rng = new SeededRandom(seedOf(run.run_id));
  const failed = run.status !== 'succeeded';
  const chatflow = app.mode === 'advanced-chat';
  const prompt = { role: 'system', text: app.prompt };
  const specs: NodeSpec[] = [
    { node_id: '1736840000001', node_type: 'start', title: 'Start', inputs: run.inputs, process_data: null, outputs: run.inputs },
    {
      node_id: '1736840000002',
      node_type: 'llm',
      title: chatflow ? 'LLM' : 'Extract fields',
      inputs: {},
      process_data: { model_mode: 'chat', prompts: [prompt], model_provider: 'langgenius/openai/openai', model_name: 'gpt-4o-mini' },
      outputs: { text: chatflow ? String(run.outputs.answer ?? '') : JSON.stringify(run.outputs) },
    },
  ];
  if (run.agent_node) {
    const n = run.agent_node;
    specs.push({
      id: n.execution_id,
      node_id: '1736840000003',
      node_type: 'agent',
      title: 'Agent',
      inputs: { query: n.query, agent_app_id: n.agent_app_id },
      process_data: null,
      outputs: n.status === 'failed' ? {} : { text: n.answer },
    });
  }
  specs.push({ node_id: '1736840000009', node_type: chatflow ? 'answer' : 'end', title: chatflow ? 'Answer' : 'End', inputs: {}, process_data: null, outputs: run.outputs });
  // a failed or stopped run ends at the node that failed or was stopped
  if (failed) specs.pop();
  const account = run.created_by_account_id ? { id: store.account.id, name: store.account.name, email: store.account.email } : null;
  const endUser = run.created_by_end_user_id ? store.endUsers.get(run.created_by_end_user_id) : undefined;
  let at = run.created_at;
  const rows = specs.map((spec, i) => {
    const last = i === specs.length - 1;
    const elapsed = Math.round(rng.float(0.01, Math.max(0.02, run.elapsed_time / specs.length)) * 1e6) / 1e6;
    const row = {
      id: spec.id ?? rng.uuid(),
      index: i + 1,
      predecessor_node_id: i === 0 ? null : specs[i - 1].node_id,
      node_id: spec.node_id,
      node_type: spec.node_type,
      title: spec.title,
      inputs: structuredClone(spec.inputs),
      process_data: spec.process_data ? structuredClone(spec.process_data) : null,
      outputs: failed && last ? {} : structuredClone(spec.outputs),
      status: failed && last ? (run.status === 'stopped' ? 'stopped' : 'failed') : 'succeeded',
      error: failed && last ? run.error : null,
      elapsed_time: elapsed,
      execution_metadata: spec.node_type === 'llm' || spec.node_type === 'agent' ? { total_tokens: rng.int(50, Math.max(60, run.total_tokens)), currency: 'USD' } : null,
      extras: {},
      created_at: at,
      created_by_role: run.created_by_role,
      created_by_account: account,
      created_by_end_user: endUser ? { id: endUser.id, type: endUser.type, is_anonymous: endUser.is_anonymous, session_id: endUser.session_id } : null,
      finished_at: at + Math.ceil(elapsed),
      inputs_truncated: false,
      outputs_truncated: false,
      process_data_truncated: false,
    };
    at += Math.ceil(elapsed);
    return row;
  });
  return [...rows.slice(1), rows[0]];
}

function runList(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, RUN_MODES);
  const triggeredFrom = choiceParam(req.query, 'triggered_from', ['debugging', 'app-run'] as const, 'debugging');
  const status = req.query.status ? choiceParam(req.query, 'status', ['running', 'succeeded', 'failed', 'stopped', 'partial-succeeded'] as const, 'succeeded') : undefined;
  const lastId = uuidParam(req.query, 'last_id');
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  let rows = runsOf(ctx.store, app).filter((r) => r.triggered_from === triggeredFrom && (!status || r.status === status));
  if (lastId) {
    const cursor = rows.find((r) => r.run_id === lastId);
    if (!cursor) throw notFound('Last workflow run not exists');
    rows = rows.filter((r) => r.created_at < cursor.created_at);
  }
  const page = rows.slice(0, limit);
  const account = { id: ctx.store.account.id, name: ctx.store.account.name, email: ctx.store.account.email };
  return ok({
    limit,
    has_more: rows.length > limit,
    data: page.map((r) => ({
      id: r.run_id,
      version: r.version,
      status: r.status,
      elapsed_time: r.elapsed_time,
      total_tokens: r.total_tokens,
      total_steps: r.total_steps,
      created_by_account: r.created_by_account_id ? account : null,
      created_at: r.created_at,
      finished_at: r.finished_at,
      exceptions_count: r.exceptions_count,
      retry_index: 0,
    })),
  });
}

function runDetail(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, RUN_MODES);
  const run = visibleRun(ctx.store, app, req.params[1]);
  const store = ctx.store;
  const endUser = run.created_by_end_user_id ? store.endUsers.get(run.created_by_end_user_id) : undefined;
  const nodes = nodeExecutions(store, app, run);
  return ok({
    id: run.run_id,
    version: run.version,
    graph: {
      nodes: [...nodes].sort((a, b) => (a.index as number) - (b.index as number)).map((n) => ({ id: n.node_id, type: 'custom', data: { type: n.node_type, title: n.title } })),
      edges: [],
    },
    inputs: structuredClone(run.inputs),
    status: run.status,
    outputs: structuredClone(run.outputs),
    error: run.error,
    elapsed_time: run.elapsed_time,
    total_tokens: run.total_tokens,
    total_steps: run.total_steps,
    created_by_role: run.created_by_role,
    created_by_account: run.created_by_account_id ? { id: store.account.id, name: store.account.name, email: store.account.email } : null,
    created_by_end_user: endUser ? { id: endUser.id, type: endUser.type, is_anonymous: endUser.is_anonymous, session_id: endUser.session_id } : null,
    created_at: run.created_at,
    finished_at: run.finished_at,
    exceptions_count: run.exceptions_count,
  });
}

function runNodeExecutions(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, RUN_MODES);
  const run = visibleRun(ctx.store, app, req.params[1]);
  return ok({ data: nodeExecutions(ctx.store, app, run) });
}

/** `GET /v1/workflows/run/{id}`: `inputs` is a JSON string here, as the document says */
function serviceRunDetail(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  if (!RUN_MODES.includes(app.mode)) throw new SimError(400, 'not_workflow_app', 'Please check if your app mode matches the right API route.');
  const run = visibleRun(ctx.store, app, req.params[0]);
  return ok({
    id: run.run_id,
    workflow_id: app.id,
    status: run.status,
    inputs: JSON.stringify(run.inputs),
    outputs: structuredClone(run.outputs),
    error: run.error,
    total_steps: run.total_steps,
    total_tokens: run.total_tokens,
    created_at: run.created_at,
    finished_at: run.finished_at,
    elapsed_time: run.elapsed_time,
  });
}

const APP = `^/console/api/apps/${UUID_SEGMENT}`;

export const workflowRunConsoleRoutes: Route[] = [
  { method: 'GET', pattern: new RegExp(`${APP}/workflow-runs$`), handler: runList },
  { method: 'GET', pattern: new RegExp(`${APP}/workflow-runs/${UUID_SEGMENT}$`), handler: runDetail },
  { method: 'GET', pattern: new RegExp(`${APP}/workflow-runs/${UUID_SEGMENT}/node-executions$`), handler: runNodeExecutions },
];

export const workflowRunServiceRoutes: Route[] = [{ method: 'GET', pattern: /^\/v1\/workflows\/run\/([^/]+)$/, handler: serviceRunDetail }];
