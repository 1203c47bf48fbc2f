import { pageOf, Route, SimContext } from './simulator.context';
import { choiceParam, consoleTimeToUnix, intParam, invalidParam, ok, SimError, SimRequest } from './simulator.http';
import { UUID_SEGMENT } from './simulator.service-api';
import type { AgentRecord, AppRecord, ConversationRecord, MessageRecord, WorkflowLogRecord } from './simulator.store';
import type { InvokeFrom } from './simulator.types';

/**
 * Dify 1.16's Agent routes under `/console/api/agent`: the roster (which writes a debugger conversation as a
 * side effect) and the Agent logs, whose filters apply to messages rather than conversations.
 */

type SourceKind = 'webapp' | 'debugger' | 'workflow';

const SOURCES: Record<string, SourceKind> = {
  webapp: 'webapp',
  api: 'webapp',
  web: 'webapp',
  debugger: 'debugger',
  console: 'debugger',
  explore: 'debugger',
  workflow: 'workflow',
};

const agentNotFound = () => new SimError(404, 'not_found', 'Agent not found.');

function originKind(origin: InvokeFrom | null): SourceKind | null {
  if (origin === 'web-app' || origin === 'service-api') return 'webapp';
  if (origin === 'debugger' || origin === 'explore') return 'debugger';
  return null;
}

/** the account's "Agent Debugging Conversation": created once per Agent, empty, invisible in the logs */
function ensureDebugConversation(ctx: SimContext, agent: AgentRecord): void {
  ctx.store.counters.agentRosterCalls += 1;
  const existing = agent.debug_conversation_id ? ctx.store.conversationById.get(agent.debug_conversation_id) : undefined;
  if (existing) return;
  const app = ctx.store.app(agent.app_id)!;
  const c = ctx.store.addConversation({
    app,
    from_source: 'console',
    invoke_from: 'debugger',
    user: null,
    name: 'Agent Debugging Conversation',
    created_at: ctx.nowSeconds(),
    message_times: [],
  });
  agent.debug_conversation_id = c.id;
  ctx.store.counters.agentDebugConversationsCreated += 1;
}

function rosterItem(app: AppRecord, agent: AgentRecord) {
  return {
    id: agent.id,
    app_id: app.id,
    name: app.name,
    description: app.description,
    mode: 'agent',
    icon_type: 'emoji',
    icon: app.icon,
    icon_background: app.icon_background,
    created_at: app.created_at,
    updated_at: app.updated_at,
  };
}

function roster(req: SimRequest, ctx: SimContext) {
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const agents = ctx.store.liveAgents().sort((a, b) => ctx.store.app(b.app_id)!.created_at - ctx.store.app(a.app_id)!.created_at);
  for (const agent of agents) ensureDebugConversation(ctx, agent);
  const result = pageOf(agents, page, limit);
  return ok({ ...result, data: result.data.map((a) => rosterItem(ctx.store.app(a.app_id)!, a)) });
}

function agentFor(req: SimRequest, ctx: SimContext): { agent: AgentRecord; app: AppRecord } {
  const agent = ctx.store.agent(req.params[0].toLowerCase());
  if (!agent) throw agentNotFound();
  return { agent, app: ctx.store.app(agent.app_id)! };
}

function agentDetail(req: SimRequest, ctx: SimContext) {
  const { agent, app } = agentFor(req, ctx);
  ensureDebugConversation(ctx, agent);
  return ok({ ...rosterItem(app, agent), model_config: { model: { provider: 'langgenius/openai/openai', name: 'gpt-4o-mini' }, prompt: app.prompt } });
}

/** one message of an Agent log row: a chat message, or the single exchange of a workflow's Agent node */
interface LogMessage {
  id: string;
  conversation_id: string;
  kind: SourceKind | null;
  query: string;
  answer: string;
  status: string;
  error: string | null;
  from_end_user_id: string | null;
  from_account_id: string | null;
  feedbacks: { rating: string; content: string | null; from_source: string }[];
  message_files: Record<string, unknown>[];
  message_tokens: number;
  answer_tokens: number;
  total_price: string;
  currency: string;
  latency: number;
  created_at: number;
  updated_at: number;
  seq: number;
}

function chatLogMessage(m: MessageRecord): LogMessage {
  const feedbackTimes = m.feedbacks.map((f) => f.updated_at);
  return {
    id: m.id,
    conversation_id: m.conversation_id,
    kind: originKind(m.origin),
    query: m.query,
    answer: m.answer,
    status: m.status,
    error: m.error,
    from_end_user_id: m.from_end_user_id,
    from_account_id: m.from_account_id,
    feedbacks: m.feedbacks.map((f) => ({ rating: f.rating, content: f.content, from_source: f.from_source })),
    message_files: structuredClone(m.message_files),
    message_tokens: m.message_tokens,
    answer_tokens: m.answer_tokens,
    total_price: m.total_price,
    currency: m.currency,
    latency: m.latency,
    created_at: m.created_at,
    updated_at: Math.max(m.created_at + Math.ceil(m.latency), ...feedbackTimes),
    seq: m.seq,
  };
}

function nodeLogMessage(run: WorkflowLogRecord): LogMessage {
  const n = run.agent_node!;
  return {
    id: n.execution_id,
    conversation_id: n.execution_id,
    kind: 'workflow',
    query: n.query,
    answer: n.answer,
    status: n.status === 'failed' ? 'error' : 'normal',
    error: n.error,
    from_end_user_id: run.created_by_end_user_id,
    from_account_id: run.created_by_account_id,
    feedbacks: [],
    message_files: [],
    message_tokens: n.message_tokens,
    answer_tokens: n.answer_tokens,
    total_price: n.total_price,
    currency: 'USD',
    latency: n.latency,
    created_at: n.created_at,
    updated_at: n.finished_at,
    seq: 0,
  };
}

interface LogFilters {
  /** null: the parameter is absent */
  sources: Set<SourceKind> | null;
  start?: number;
  end?: number;
  keyword?: string;
  sortBy: 'created_at' | 'updated_at';
  desc: boolean;
  page: number;
  limit: number;
}

function filters(req: SimRequest, ctx: SimContext): LogFilters {
  const raw = req.queryAll.sources;
  let sources: Set<SourceKind> | null = null;
  if (raw && raw.length > 0) {
    sources = new Set();
    for (const value of raw) {
      const kind = SOURCES[value];
      if (!kind) throw invalidParam(`sources: Input should be ${Object.keys(SOURCES).map((k) => `'${k}'`).join(', ')}; got '${value}'`);
      sources.add(kind);
    }
  }
  const tz = ctx.store.account.timezone;
  return {
    sources,
    start: req.query.start ? consoleTimeToUnix('start', req.query.start, tz, 0) : undefined,
    // `end` is exclusive here, unlike the chat-conversations window
    end: req.query.end ? consoleTimeToUnix('end', req.query.end, tz, 0) : undefined,
    keyword: req.query.keyword ? req.query.keyword.toLowerCase() : undefined,
    sortBy: choiceParam(req.query, 'sort_by', ['created_at', 'updated_at'] as const, 'created_at'),
    desc: choiceParam(req.query, 'sort_order', ['asc', 'desc'] as const, 'desc') === 'desc',
    page: intParam(req.query, 'page', 1, 1, 99999),
    limit: intParam(req.query, 'limit', 20, 1, 100),
  };
}

function windowAndKeyword(f: LogFilters, m: LogMessage): boolean {
  if (f.start !== undefined && m.created_at < f.start) return false;
  if (f.end !== undefined && m.created_at >= f.end) return false;
  if (f.keyword && !m.query.toLowerCase().includes(f.keyword) && !m.answer.toLowerCase().includes(f.keyword)) return false;
  return true;
}

/** the messages of one conversation that the filters keep; without `sources` a row with a debugger or unknown-origin message is dropped whole */
function matchingChatMessages(f: LogFilters, c: ConversationRecord, forRows: boolean): LogMessage[] {
  const all = c.messages.map(chatLogMessage);
  if (f.sources === null) {
    if (forRows && all.some((m) => m.kind !== 'webapp')) return [];
  }
  return all.filter((m) => (f.sources === null || (m.kind !== null && f.sources.has(m.kind))) && windowAndKeyword(f, m));
}

function agentWorkflowRuns(ctx: SimContext, app: AppRecord): WorkflowLogRecord[] {
  return ctx.store.workflowLogs.filter((r) => r.agent_node?.agent_app_id === app.id && ctx.store.app(r.app_id));
}

function order<T extends { created_at: number; updated_at: number; seq: number; id: string }>(rows: T[], f: LogFilters): T[] {
  const sign = f.desc ? -1 : 1;
  return [...rows].sort((a, b) => sign * (a[f.sortBy] - b[f.sortBy] || a.seq - b.seq || a.id.localeCompare(b.id)));
}

function rate(messages: LogMessage[], from: string): string | null {
  for (const m of [...messages].sort((a, b) => b.created_at - a.created_at)) {
    const f = m.feedbacks.find((x) => x.from_source === from);
    if (f) return f.rating;
  }
  return null;
}

function row(
  base: { id: string; title: string; end_user_id: string | null; unread: boolean; source: Record<string, unknown>; seq: number },
  messages: LogMessage[],
) {
  const latest = messages.reduce((a, b) => (b.created_at > a.created_at || (b.created_at === a.created_at && b.seq > a.seq) ? b : a));
  return {
    id: base.id,
    conversation_id: base.id,
    title: base.title,
    end_user_id: base.end_user_id,
    message_count: messages.length,
    user_rate: rate(messages, 'user'),
    operation_rate: rate(messages, 'admin'),
    unread: base.unread,
    source: base.source,
    status: latest.status === 'error' ? 'failed' : latest.status === 'paused' ? 'paused' : 'success',
    created_at: latest.created_at,
    updated_at: Math.max(...messages.map((m) => m.updated_at)),
    seq: base.seq,
  };
}

function logs(req: SimRequest, ctx: SimContext) {
  const { app } = agentFor(req, ctx);
  const f = filters(req, ctx);
  const rows: ReturnType<typeof row>[] = [];
  // soft-deleted conversations stay in the Agent logs
  for (const c of ctx.store.conversations.filter((x) => x.app_id === app.id)) {
    const messages = matchingChatMessages(f, c, true);
    if (messages.length === 0) continue;
    rows.push(
      row(
        {
          id: c.id,
          title: c.name,
          end_user_id: c.from_end_user_id,
          unread: c.read_at === null,
          source: { id: app.id, type: 'webapp', app_id: app.id, app_name: app.name },
          seq: c.seq,
        },
        messages,
      ),
    );
  }
  if (f.sources === null || f.sources.has('workflow')) {
    for (const run of agentWorkflowRuns(ctx, app)) {
      const m = nodeLogMessage(run);
      if (!windowAndKeyword(f, m)) continue;
      const workflowApp = ctx.store.app(run.app_id)!;
      rows.push(
        row(
          {
            id: m.id,
            title: `${workflowApp.name} / Agent`,
            end_user_id: run.created_by_end_user_id,
            unread: false,
            source: { id: run.run_id, type: 'workflow', app_id: workflowApp.id, app_name: workflowApp.name, workflow_run_id: run.run_id, node_execution_id: m.id },
            seq: 0,
          },
          [m],
        ),
      );
    }
  }
  const result = pageOf(order(rows, f), f.page, f.limit);
  return ok({ ...result, data: result.data.map(({ seq: _seq, ...rest }) => rest) });
}

function logMessages(req: SimRequest, ctx: SimContext) {
  const { app } = agentFor(req, ctx);
  const f = filters(req, ctx);
  const conversationId = req.params[1].toLowerCase();
  let messages: LogMessage[] = [];
  const c = ctx.store.conversationById.get(conversationId);
  if (c && c.app_id === app.id) {
    messages = matchingChatMessages(f, c, false);
  } else {
    const run = agentWorkflowRuns(ctx, app).find((r) => r.agent_node!.execution_id === conversationId);
    if (run && (f.sources === null || f.sources.has('workflow'))) messages = [nodeLogMessage(run)].filter((m) => windowAndKeyword(f, m));
  }
  const result = pageOf(order(messages, f), f.page, f.limit);
  return ok({
    ...result,
    data: result.data.map((m) => ({
      id: m.id,
      message_id: m.id,
      conversation_id: m.conversation_id,
      query: m.query,
      answer: m.answer,
      status: m.status,
      error: m.error,
      from_end_user_id: m.from_end_user_id,
      from_account_id: m.from_account_id,
      feedbacks: m.feedbacks,
      message_files: m.message_files,
      message_tokens: m.message_tokens,
      answer_tokens: m.answer_tokens,
      total_tokens: m.message_tokens + m.answer_tokens,
      total_price: m.total_price,
      currency: m.currency,
      latency: m.latency,
      created_at: m.created_at,
      updated_at: m.updated_at,
    })),
  });
}

/** Flask's `<uuid:...>` converter: another id shape matches no route at all */
export const agentRoutes: Route[] = [
  { method: 'GET', pattern: /^\/console\/api\/agent$/, handler: roster },
  { method: 'GET', pattern: new RegExp(`^/console/api/agent/${UUID_SEGMENT}$`), handler: agentDetail },
  { method: 'GET', pattern: new RegExp(`^/console/api/agent/${UUID_SEGMENT}/logs$`), handler: logs },
  { method: 'GET', pattern: new RegExp(`^/console/api/agent/${UUID_SEGMENT}/logs/${UUID_SEGMENT}/messages$`), handler: logMessages },
];
