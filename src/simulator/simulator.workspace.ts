import type { AppRecord, NewConversation, SimulatorStore, WorkflowLogRecord } from './simulator.store';
import { SERVICE_USERS } from './simulator.store';
import type { InvokeFrom, SimAppMode } from './simulator.types';

/**
 * The workspace beyond the five classic apps: editor (debugger) runs of workflow apps, the demo Agent app and
 * filler apps. Everything here is drawn after the classic data, so a seed yields the same classic data with or
 * without these additions.
 */
export interface WorkspaceOptions {
  now: number;
  days: number;
  conversationsPerApp: number;
  generate: boolean;
  agentApp: boolean;
  extraApps: number;
}

const EXTRA_MODES: readonly SimAppMode[] = ['chat', 'completion', 'workflow', 'advanced-chat', 'agent-chat', 'channel', 'rag-pipeline', 'agent'];

const AGENT_TOPICS: readonly { query: string; answer: string }[] = [
  { query: 'Find me a flight from Berlin to Lisbon next Friday.', answer: 'The cheapest direct flight leaves BER at 07:10 and lands in LIS at 09:45 for 138 EUR.' },
  { query: 'What will the weather be in Kyoto on Saturday?', answer: 'Kyoto expects 21 °C and light rain in the afternoon on Saturday.' },
  { query: 'Book a hotel near the conference centre for two nights.', answer: 'I found three hotels within 500 m; the Parkside has a room for 112 EUR a night.' },
  { query: 'Do I need a visa for Japan with a German passport?', answer: 'No: German citizens can stay up to 90 days without a visa.' },
  { query: '帮我规划一个三天的上海行程。', answer: '第一天外滩和南京路，第二天豫园和新天地，第三天迪士尼乐园。' },
];

export function extendWorkspace(store: SimulatorStore, options: WorkspaceOptions): void {
  if (options.generate) {
    for (const app of store.apps.filter((a) => a.mode === 'workflow')) addDebuggerRuns(store, app, options);
  }
  if (options.agentApp) addDemoAgentApp(store, options);
  const created = options.now - (options.days + 40) * 86400;
  for (let i = 0; i < options.extraApps; i++) {
    const mode = EXTRA_MODES[i % EXTRA_MODES.length];
    store.addApp(`Workspace App ${String(i + 1).padStart(3, '0')} (${mode})`, mode, created - i * 600);
  }
}

/** a production run of `workflowApp` with one Agent node that runs `agentApp` */
export function addAgentWorkflowRun(
  store: SimulatorStore,
  workflowApp: AppRecord,
  agentApp: AppRecord,
  at: number,
  status: 'succeeded' | 'failed',
): WorkflowLogRecord {
  const rng = store.rng;
  const topic = rng.pick(AGENT_TOPICS);
  const failed = status === 'failed';
  const elapsed = Math.round(rng.float(2, 20) * 1e6) / 1e6;
  const latency = Math.round(rng.float(1, elapsed) * 1e6) / 1e6;
  const messageTokens = rng.int(40, 900);
  const answerTokens = failed ? 0 : rng.int(20, 500);
  const user = store.getOrCreateEndUser(workflowApp.id, rng.pick(SERVICE_USERS), 'service-api', at);
  const nodeAt = at + 1;
  const run: WorkflowLogRecord = {
    id: rng.uuid(),
    app_id: workflowApp.id,
    run_id: rng.uuid(),
    version: '2026-01-05 09:12:44.108231',
    status,
    error: failed ? 'Node Agent run failed: tool flight_search timed out' : null,
    elapsed_time: elapsed,
    total_tokens: messageTokens + answerTokens + rng.int(0, 400),
    total_steps: 3,
    created_at: at,
    finished_at: at + Math.ceil(elapsed),
    exceptions_count: failed ? 1 : 0,
    created_from: 'service-api',
    created_by_role: 'end_user',
    created_by_end_user_id: user.id,
    created_by_account_id: null,
    inputs: { question: topic.query },
    outputs: failed ? {} : { answer: topic.answer },
    triggered_from: 'app-run',
    agent_node: {
      execution_id: rng.uuid(),
      agent_app_id: agentApp.id,
      query: topic.query,
      answer: failed ? '' : topic.answer,
      status,
      error: failed ? 'tool flight_search timed out' : null,
      message_tokens: messageTokens,
      answer_tokens: answerTokens,
      total_price: ((messageTokens * 0.00015 + answerTokens * 0.0006) / 1000).toFixed(7),
      latency,
      created_at: nodeAt,
      finished_at: nodeAt + Math.ceil(latency),
    },
  };
  store.workflowLogs.push(run);
  return run;
}

function addDebuggerRuns(store: SimulatorStore, app: AppRecord, options: WorkspaceOptions): void {
  const rng = store.rng;
  for (let i = 0; i < 3; i++) {
    const at = rng.int(options.now - options.days * 86400, options.now - 600);
    const elapsed = Math.round(rng.float(0.8, 30) * 1e6) / 1e6;
    const failed = i === 2;
    store.debuggerRuns.push({
      id: rng.uuid(),
      app_id: app.id,
      run_id: rng.uuid(),
      version: 'draft',
      status: failed ? 'failed' : 'succeeded',
      error: failed ? 'Node Code run failed: KeyError: total' : null,
      elapsed_time: elapsed,
      total_tokens: rng.int(100, 3000),
      total_steps: 3,
      created_at: at,
      finished_at: at + Math.ceil(elapsed),
      exceptions_count: failed ? 1 : 0,
      created_from: 'installed-app',
      created_by_role: 'account',
      created_by_end_user_id: null,
      created_by_account_id: store.account.id,
      inputs: { invoice_url: 'https://files.example.com/invoices/test.pdf' },
      outputs: failed ? {} : { total: '12.50', currency: 'EUR' },
      triggered_from: 'debugging',
      agent_node: null,
    });
  }
}

function times(rngInt: (min: number, max: number) => number, start: number, count: number, minStep: number, maxStep: number): number[] {
  const out: number[] = [];
  let t = start;
  for (let k = 0; k < count; k++) {
    out.push(t);
    t += rngInt(minStep, maxStep);
  }
  return out;
}

/**
 * "Travel Concierge": the demo Agent app. Besides ordinary WebApp and Service API conversations it holds every
 * case the Agent logs treat specially.
 */
function addDemoAgentApp(store: SimulatorStore, options: WorkspaceOptions): void {
  const { now, days, conversationsPerApp: perApp } = options;
  const rng = store.rng;
  const int = (min: number, max: number) => rng.int(min, max);
  const app = store.addApp('Travel Concierge', 'agent', now - (days + 10) * 86400);
  app.description = 'Plans trips with flight, hotel and weather tools.';
  app.tags = ['production'];
  app.prompt = 'You are a travel concierge. Use the flight, hotel and weather tools before you answer.';
  if (!options.generate || perApp <= 0) return;
  const windowStart = now - days * 86400;
  const planned: NewConversation[] = [];
  const plan = (invoke_from: InvokeFrom, created: number, messageTimes: number[], extra: Partial<NewConversation> = {}) =>
    planned.push({
      app,
      from_source: invoke_from === 'debugger' || invoke_from === 'explore' ? 'console' : 'api',
      invoke_from,
      user: invoke_from === 'service-api' ? rng.pick(SERVICE_USERS) : invoke_from === 'web-app' ? rng.uuid() : null,
      created_at: created,
      message_times: messageTimes,
      ...extra,
    });
  for (let i = 0; i < perApp; i++) {
    const count = int(1, 6);
    const created = int(windowStart, now - count * 120 - 120);
    plan(rng.chance(0.7) ? 'web-app' : 'service-api', created, times(int, created, count, 5, 110));
  }
  // 130 messages, about one every 40 minutes, over (up to) four days: longer than one page, older than one day
  const spanDays = Math.max(1, Math.min(4, days - 1));
  const longStart = now - spanDays * 86400 + 600;
  const step = Math.floor((spanDays * 86400 - 1800) / 130);
  plan('web-app', longStart, times(int, longStart, 130, step - 60, step), { name: 'Round trip through Japan' });
  const at = () => int(windowStart, now - 3600);
  const debuggerAt = at();
  plan('debugger', debuggerAt, times(int, debuggerAt, 4, 20, 90), { name: 'Testing the hotel tool' });
  const mixedAt = at();
  plan('web-app', mixedAt, times(int, mixedAt, 4, 20, 90), { name: 'Lisbon weekend', message_origins: ['web-app', 'web-app', 'explore', 'web-app'] });
  const unknownAt = at();
  plan('web-app', unknownAt, times(int, unknownAt, 3, 20, 90), { name: 'Visa questions', message_origins: ['web-app', null, 'web-app'] });
  const deletedAt = at();
  plan('web-app', deletedAt, times(int, deletedAt, 3, 20, 90), { name: 'Deleted by its user' });
  planned.sort((a, b) => a.created_at - b.created_at);
  for (const p of planned) {
    const c = store.addConversation(p);
    if (p.name === 'Deleted by its user') c.deleted = true;
    if (rng.chance(0.3)) c.read_at = Math.min(now, c.updated_at + int(60, 86400));
  }
  const workflowApp = store.apps.find((a) => a.mode === 'workflow' && !a.deleted);
  if (workflowApp) {
    for (let i = 0; i < 3; i++) addAgentWorkflowRun(store, workflowApp, app, at(), i === 2 ? 'failed' : 'succeeded');
  }
}
