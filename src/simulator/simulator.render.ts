import { isoNaive } from './simulator.http';
import type {
  AccountRecord,
  AppRecord,
  ConversationRecord,
  EndUserRecord,
  FeedbackRecord,
  MessageRecord,
  SimulatorStore,
  WorkflowLogRecord,
} from './simulator.store';

/** Response shapes of both APIs, field for field as Dify marshals them. */

const clone = <T>(value: T): T => structuredClone(value);

function usage(m: MessageRecord): Record<string, unknown> {
  const promptPrice = ((m.message_tokens * Number(m.message_unit_price)) / 1000).toFixed(7);
  const completionPrice = ((m.answer_tokens * Number(m.answer_unit_price)) / 1000).toFixed(7);
  return {
    prompt_tokens: m.message_tokens,
    prompt_unit_price: m.message_unit_price,
    prompt_price_unit: '0.001',
    prompt_price: promptPrice,
    completion_tokens: m.answer_tokens,
    completion_unit_price: m.answer_unit_price,
    completion_price_unit: '0.001',
    completion_price: completionPrice,
    total_tokens: m.message_tokens + m.answer_tokens,
    total_price: m.total_price,
    currency: m.currency,
    latency: m.latency,
  };
}

function accountRef(account: AccountRecord) {
  return { id: account.id, name: account.name, email: account.email };
}

/** `GET /console/api/apps/{id}/chat-messages` item */
export function consoleMessage(store: SimulatorStore, m: MessageRecord): Record<string, unknown> {
  return {
    id: m.id,
    conversation_id: m.conversation_id,
    inputs: clone(m.inputs),
    query: m.query,
    message: clone(m.prompt),
    message_tokens: m.message_tokens,
    answer: m.answer,
    answer_tokens: m.answer_tokens,
    provider_response_latency: m.latency,
    from_source: m.from_source,
    from_end_user_id: m.from_end_user_id,
    from_account_id: m.from_account_id,
    feedbacks: m.feedbacks.map((f) => ({
      rating: f.rating,
      content: f.content,
      from_source: f.from_source,
      from_end_user_id: f.from_end_user_id,
      from_account: f.from_account_id ? accountRef(store.account) : null,
    })),
    workflow_run_id: m.workflow_run_id,
    annotation: m.annotation ? clone(m.annotation) : null,
    annotation_hit_history: null,
    created_at: m.created_at,
    agent_thoughts: clone(m.agent_thoughts),
    message_files: clone(m.message_files),
    metadata: { usage: usage(m), retriever_resources: clone(m.retriever_resources) },
    status: m.status,
    error: m.error,
    parent_message_id: m.parent_message_id,
    extra_contents: [],
  };
}

/** `GET /v1/messages` item; the fields after `error` are newer and absent on servers before 1.9 */
export function serviceMessage(m: MessageRecord, withNewFields: boolean): Record<string, unknown> {
  const userFeedback = m.feedbacks.find((f) => f.from_source === 'user');
  const item: Record<string, unknown> = {
    id: m.id,
    conversation_id: m.conversation_id,
    parent_message_id: m.parent_message_id,
    inputs: clone(m.inputs),
    query: m.query,
    answer: m.answer,
    message_files: clone(m.message_files),
    feedback: userFeedback ? { rating: userFeedback.rating } : null,
    retriever_resources: clone(m.retriever_resources),
    created_at: m.created_at,
    agent_thoughts: clone(m.agent_thoughts),
    status: m.status,
    error: m.error,
  };
  if (withNewFields) {
    Object.assign(item, {
      message_tokens: m.message_tokens,
      answer_tokens: m.answer_tokens,
      total_tokens: m.message_tokens + m.answer_tokens,
      provider_response_latency: m.latency,
      total_price: m.total_price,
      currency: m.currency,
      extra_contents: [],
    });
  }
  return item;
}

export function serviceConversation(c: ConversationRecord): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    inputs: clone(c.inputs),
    status: c.status,
    introduction: c.introduction,
    created_at: c.created_at,
    updated_at: c.updated_at,
  };
}

function feedbackStats(c: ConversationRecord, from: FeedbackRecord['from_source']) {
  let like = 0;
  let dislike = 0;
  for (const m of c.messages) {
    for (const f of m.feedbacks) {
      if (f.from_source !== from) continue;
      if (f.rating === 'like') like++;
      else dislike++;
    }
  }
  return { like, dislike };
}

function simpleModelConfig() {
  return {
    model: { provider: 'langgenius/openai/openai', name: 'gpt-4o-mini', mode: 'chat', completion_params: { temperature: 0.7 } },
    pre_prompt: 'You are a helpful assistant for Sim Corp customers.',
  };
}

function sessionOf(store: SimulatorStore, c: ConversationRecord): string | null {
  return c.from_end_user_id ? store.endUsers.get(c.from_end_user_id)?.session_id ?? null : null;
}

/** `GET /console/api/apps/{id}/chat-conversations` row */
export function consoleChatConversation(store: SimulatorStore, c: ConversationRecord): Record<string, unknown> {
  const statusCount =
    c.mode === 'advanced-chat'
      ? {
          success: c.messages.filter((m) => m.status !== 'error').length,
          failed: c.messages.filter((m) => m.status === 'error').length,
          partial_success: 0,
        }
      : null;
  return {
    id: c.id,
    status: c.status,
    from_source: c.from_source,
    from_end_user_id: c.from_end_user_id,
    from_end_user_session_id: sessionOf(store, c),
    from_account_id: c.from_account_id,
    from_account_name: c.from_account_id ? store.account.name : null,
    name: c.name,
    summary: c.messages[0]?.query ?? '',
    read_at: c.read_at,
    created_at: c.created_at,
    updated_at: c.updated_at,
    annotated: c.messages.some((m) => m.annotation !== null),
    model_config: simpleModelConfig(),
    message_count: c.messages.length,
    user_feedback_stats: feedbackStats(c, 'user'),
    admin_feedback_stats: feedbackStats(c, 'admin'),
    status_count: statusCount,
  };
}

/** `GET /console/api/apps/{id}/completion-conversations` row */
export function consoleCompletionConversation(store: SimulatorStore, c: ConversationRecord): Record<string, unknown> {
  const first = c.messages[0];
  const annotated = c.messages.find((m) => m.annotation)?.annotation ?? null;
  return {
    id: c.id,
    status: c.status,
    from_source: c.from_source,
    from_end_user_id: c.from_end_user_id,
    from_end_user_session_id: sessionOf(store, c),
    from_account_id: c.from_account_id,
    from_account_name: c.from_account_id ? store.account.name : null,
    read_at: c.read_at,
    created_at: c.created_at,
    updated_at: c.updated_at,
    annotation: annotated ? clone(annotated) : null,
    model_config: simpleModelConfig(),
    user_feedback_stats: feedbackStats(c, 'user'),
    admin_feedback_stats: feedbackStats(c, 'admin'),
    message: first
      ? { inputs: clone(first.inputs), query: first.query, message: String(first.prompt[0]?.text ?? ''), answer: first.answer }
      : null,
  };
}

/** console conversation detail (the endpoint that marks a conversation read) */
export function consoleConversationDetail(store: SimulatorStore, c: ConversationRecord): Record<string, unknown> {
  const base = consoleChatConversation(store, c);
  return {
    id: c.id,
    status: c.status,
    from_source: c.from_source,
    from_end_user_id: c.from_end_user_id,
    from_account_id: c.from_account_id,
    created_at: c.created_at,
    updated_at: c.updated_at,
    annotated: base.annotated,
    introduction: c.introduction,
    model_config: { ...simpleModelConfig(), opening_statement: c.introduction, suggested_questions: [], user_input_form: [], agent_mode: null },
    message_count: c.messages.length,
    user_feedback_stats: base.user_feedback_stats,
    admin_feedback_stats: base.admin_feedback_stats,
  };
}

export function serviceFeedback(f: FeedbackRecord): Record<string, unknown> {
  return {
    id: f.id,
    app_id: f.app_id,
    conversation_id: f.conversation_id,
    message_id: f.message_id,
    rating: f.rating,
    content: f.content,
    from_source: f.from_source,
    from_end_user_id: f.from_end_user_id,
    from_account_id: f.from_account_id,
    created_at: isoNaive(f.created_at),
    updated_at: isoNaive(f.updated_at),
  };
}

export function endUserDetail(store: SimulatorStore, u: EndUserRecord): Record<string, unknown> {
  return {
    id: u.id,
    tenant_id: store.workspaceId,
    app_id: u.app_id,
    type: u.type,
    external_user_id: u.session_id,
    name: null,
    is_anonymous: u.is_anonymous,
    session_id: u.session_id,
    created_at: isoNaive(u.created_at),
    updated_at: isoNaive(u.updated_at),
  };
}

export function workflowLog(store: SimulatorStore, l: WorkflowLogRecord): Record<string, unknown> {
  const endUser = l.created_by_end_user_id ? store.endUsers.get(l.created_by_end_user_id) : undefined;
  return {
    id: l.id,
    workflow_run: {
      id: l.run_id,
      version: l.version,
      status: l.status,
      error: l.error,
      elapsed_time: l.elapsed_time,
      total_tokens: l.total_tokens,
      total_steps: l.total_steps,
      created_at: l.created_at,
      finished_at: l.finished_at,
      exceptions_count: l.exceptions_count,
      triggered_from: 'app-run',
    },
    created_from: l.created_from,
    created_by_role: l.created_by_role,
    created_by_account: l.created_by_account_id ? accountRef(store.account) : null,
    created_by_end_user: endUser ? { id: endUser.id, type: endUser.type, is_anonymous: endUser.is_anonymous, session_id: endUser.session_id } : null,
    created_at: l.created_at,
    details: null,
  };
}

/** `bound_agent_id` is a 1.16 field: null for other modes and for Agent apps whose binding is not filled */
export function consoleApp(store: SimulatorStore, a: AppRecord, withAgentField = true): Record<string, unknown> {
  const app: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    description: a.description,
    mode: a.mode,
    icon_type: 'emoji',
    icon: a.icon,
    icon_background: a.icon_background,
    icon_url: null,
    model_config: ['chat', 'agent-chat', 'completion'].includes(a.mode) ? { model: simpleModelConfig().model, pre_prompt: a.prompt } : null,
    workflow: a.mode === 'workflow' || a.mode === 'advanced-chat' ? { id: a.id, created_by: store.account.id, created_at: a.created_at, updated_by: store.account.id, updated_at: a.updated_at } : null,
    use_icon_as_answer_icon: false,
    created_by: store.account.id,
    created_at: a.created_at,
    updated_by: store.account.id,
    updated_at: a.updated_at,
    tags: a.tags.map((name, i) => ({ id: `${a.id.slice(0, 24)}${String(i).padStart(12, '0')}`, name, type: 'app' })),
    access_mode: 'public',
    author_name: store.account.name,
    enable_site: true,
    enable_api: true,
  };
  if (withAgentField) app.bound_agent_id = a.bound_in_listing ? a.agent_id : null;
  return app;
}

export function accountProfile(store: SimulatorStore): Record<string, unknown> {
  const a = store.account;
  return {
    id: a.id,
    name: a.name,
    avatar: null,
    avatar_url: null,
    email: a.email,
    is_password_set: true,
    interface_language: 'en-US',
    interface_theme: 'light',
    timezone: a.timezone,
    last_login_at: a.created_at + 86400,
    last_login_ip: '127.0.0.1',
    created_at: a.created_at,
  };
}
