import { SeededRandom } from './simulator.random';
import type { InvokeFrom, SimAppMode, SimulatorCounters } from './simulator.types';

export interface AccountRecord {
  id: string;
  name: string;
  email: string;
  password: string;
  timezone: string;
  created_at: number;
}

export interface AgentRecord {
  id: string;
  app_id: string;
  /** the account's "Agent Debugging Conversation", created by the roster and detail routes */
  debug_conversation_id: string | null;
}

export interface AppRecord {
  id: string;
  name: string;
  mode: SimAppMode;
  apiKey: string;
  /** deleted apps stay here (their data is kept) but every route treats them as gone */
  deleted: boolean;
  /** `agent` apps: the Agent's id */
  agent_id: string | null;
  /** `agent` apps: whether the app listing fills `bound_agent_id` */
  bound_in_listing: boolean;
  /** the system prompt in the app's configuration (and DSL) */
  prompt: string;
  /** a provider key held as a secret environment variable, exported only with include_secret=true */
  secret: string;
  description: string;
  tags: string[];
  icon: string;
  icon_background: string;
  created_at: number;
  updated_at: number;
}

export interface EndUserRecord {
  id: string;
  app_id: string;
  /** Dify keeps Service API and browser (WebApp) end users apart even for one session string */
  type: 'service-api' | 'browser';
  session_id: string;
  is_anonymous: boolean;
  created_at: number;
  updated_at: number;
}

export interface FeedbackRecord {
  id: string;
  app_id: string;
  conversation_id: string;
  message_id: string;
  rating: 'like' | 'dislike';
  content: string | null;
  from_source: 'user' | 'admin';
  from_end_user_id: string | null;
  from_account_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface MessageRecord {
  seq: number;
  id: string;
  app_id: string;
  conversation_id: string;
  created_at: number;
  inputs: Record<string, unknown>;
  query: string;
  answer: string;
  prompt: Record<string, unknown>[];
  message_tokens: number;
  answer_tokens: number;
  /** seconds */
  latency: number;
  message_unit_price: string;
  answer_unit_price: string;
  total_price: string;
  currency: string;
  from_source: 'api' | 'console';
  from_end_user_id: string | null;
  from_account_id: string | null;
  feedbacks: FeedbackRecord[];
  workflow_run_id: string | null;
  annotation: Record<string, unknown> | null;
  status: string;
  error: string | null;
  parent_message_id: string | null;
  agent_thoughts: Record<string, unknown>[];
  message_files: Record<string, unknown>[];
  retriever_resources: Record<string, unknown>[];
  /** where this message was sent from; null when Dify does not know (old rows) */
  origin: InvokeFrom | null;
}

export interface ConversationRecord {
  seq: number;
  id: string;
  app_id: string;
  mode: SimAppMode;
  name: string;
  status: string;
  introduction: string;
  inputs: Record<string, unknown>;
  from_source: 'api' | 'console';
  invoke_from: InvokeFrom;
  from_end_user_id: string | null;
  from_account_id: string | null;
  created_at: number;
  updated_at: number;
  read_at: number | null;
  deleted: boolean;
  messages: MessageRecord[];
}

export interface WorkflowLogRecord {
  id: string;
  app_id: string;
  run_id: string;
  version: string;
  status: 'succeeded' | 'failed' | 'stopped';
  error: string | null;
  elapsed_time: number;
  total_tokens: number;
  total_steps: number;
  created_at: number;
  finished_at: number | null;
  exceptions_count: number;
  created_from: 'service-api' | 'web-app' | 'installed-app';
  created_by_role: 'end_user' | 'account';
  created_by_end_user_id: string | null;
  created_by_account_id: string | null;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** production runs are `app-run`; runs from the editor are `debugging` and never in the workflow logs */
  triggered_from: 'app-run' | 'debugging';
  /** an Agent node inside this run, if any */
  agent_node: AgentNodeRecord | null;
}

/** one execution of an Agent node inside a workflow run: a workflow row in the Agent's logs */
export interface AgentNodeRecord {
  execution_id: string;
  agent_app_id: string;
  query: string;
  answer: string;
  status: 'succeeded' | 'failed';
  error: string | null;
  message_tokens: number;
  answer_tokens: number;
  total_price: string;
  latency: number;
  created_at: number;
  finished_at: number;
}

export interface NewConversation {
  app: AppRecord;
  from_source: 'api' | 'console';
  invoke_from: InvokeFrom;
  user: string | null;
  name?: string;
  created_at: number;
  message_times: number[];
  message_origins?: (InvokeFrom | null)[];
  /** the end user's text of each message (default: a generated question) */
  queries?: string[];
}

const CHAT_MODES: readonly SimAppMode[] = ['chat', 'agent-chat', 'advanced-chat'];

export function isChatMode(mode: SimAppMode): boolean {
  return CHAT_MODES.includes(mode);
}

export const DEFAULT_PROMPT = 'You are a helpful assistant for Sim Corp customers.';

const ICONS: Record<SimAppMode, string> = {
  chat: '🤖',
  'agent-chat': '🔎',
  'advanced-chat': '🧭',
  completion: '✍️',
  workflow: '🧾',
  agent: '🧳',
  channel: '📣',
  'rag-pipeline': '📚',
};

const TOPICS: readonly { query: string; answer: string }[] = [
  { query: 'How do I reset my password?', answer: 'Open Settings > Security, choose "Reset password" and follow the link we e-mail you.' },
  { query: 'What are your opening hours on weekends?', answer: 'We are open from 10:00 to 16:00 on Saturdays and closed on Sundays.' },
  { query: 'Can I change the delivery address after ordering?', answer: 'Yes, as long as the parcel has not shipped: go to Orders, pick the order and edit the address.' },
  { query: 'Summarise the refund policy in two sentences.', answer: 'Unused items can be returned within 30 days for a full refund. Refunds reach your card within 5 business days.' },
  { query: 'Which plan includes SSO?', answer: 'Single sign-on is part of the Business and Enterprise plans.' },
  { query: 'Translate "good morning" into French and German.', answer: 'French: "Bonjour". German: "Guten Morgen".' },
  { query: 'Why was my card declined?', answer: 'Usually because of a billing address mismatch or a daily limit; please check with your bank and retry.' },
  { query: 'Is there an API rate limit?', answer: 'The public API allows 60 requests per minute per key; contact us for higher limits.' },
  { query: 'Give me three ideas for a team offsite.', answer: '1. A cooking class. 2. A half-day hike with a picnic. 3. An escape room followed by dinner.' },
  { query: 'How do I export my invoices?', answer: 'Billing > Invoices > Export lets you download all invoices as a ZIP of PDFs.' },
  { query: '我的订单什么时候发货？', answer: '您的订单预计在 24 小时内发货，发货后会短信通知您。' },
  { query: 'Explain the difference between TCP and UDP briefly.', answer: 'TCP is connection-oriented and reliable with ordering; UDP is connectionless, faster and gives no delivery guarantees.' },
];

const COMPLETION_TOPICS: readonly { product: string; answer: string }[] = [
  { product: 'trail running shoes', answer: 'Lightweight, grippy and ready for mud: these shoes keep you fast on every trail.' },
  { product: 'ceramic pour-over set', answer: 'Slow mornings deserve a slow brew. Hand-glazed ceramic for a cleaner cup.' },
  { product: 'noise-cancelling headphones', answer: 'Silence the commute and keep the music: 30 hours of calm on a single charge.' },
  { product: 'standing desk', answer: 'Sit, stand, repeat. A quiet dual motor lifts your workday in seconds.' },
];

export const SERVICE_USERS = ['user-alice', 'user-bob', 'crm-10042', 'crm-20087', 'kiosk-3'];
export const BULK_USER = 'bulk-importer';
const MODEL = { provider: 'langgenius/openai/openai', name: 'gpt-4o-mini', mode: 'chat', completion_params: { temperature: 0.7 } };

export interface StoreOptions {
  seed: number;
  now: number;
  days: number;
  conversationsPerApp: number;
  generate: boolean;
  account: { email: string; password: string; timezone: string };
}

/** All simulated Dify state: workspace, apps, end users, conversations, messages, feedback, workflow logs. */
export class SimulatorStore {
  readonly rng: SeededRandom;
  readonly workspaceId: string;
  readonly workspaceName = 'Sim Workspace';
  readonly account: AccountRecord;
  readonly apps: AppRecord[] = [];
  readonly endUsers = new Map<string, EndUserRecord>();
  readonly conversations: ConversationRecord[] = [];
  readonly conversationById = new Map<string, ConversationRecord>();
  /** production runs of workflow apps: what the workflow logs list */
  readonly workflowLogs: WorkflowLogRecord[] = [];
  /** runs started from the workflow editor */
  readonly debuggerRuns: WorkflowLogRecord[] = [];
  readonly agents: AgentRecord[] = [];
  /** runs whose detail answers 404 */
  readonly hiddenRuns = new Set<string>();
  readonly counters: SimulatorCounters = { agentRosterCalls: 0, agentDebugConversationsCreated: 0, dslExports: 0, dslExportsWithSecret: 0 };
  private seq = 0;
  private userCounter = 0;

  constructor(private readonly options: StoreOptions) {
    this.rng = new SeededRandom(options.seed);
    this.workspaceId = this.rng.uuid();
    this.account = {
      id: this.rng.uuid(),
      name: 'Sim Admin',
      ...options.account,
      created_at: options.now - (options.days + 30) * 86400,
    };
    this.createApps();
    if (options.generate) this.generate();
  }

  /** a live (not deleted) app */
  app(id: string): AppRecord | undefined {
    return this.apps.find((a) => a.id === id && !a.deleted);
  }

  /** live or deleted: the caller decides how a deleted app answers */
  appByKey(key: string): AppRecord | undefined {
    return this.apps.find((a) => a.apiKey === key);
  }

  liveApps(): AppRecord[] {
    return this.apps.filter((a) => !a.deleted);
  }

  /** the Agent of a live `agent` app */
  agent(id: string): AgentRecord | undefined {
    const agent = this.agents.find((a) => a.id === id);
    return agent && this.app(agent.app_id) ? agent : undefined;
  }

  liveAgents(): AgentRecord[] {
    return this.agents.filter((a) => this.app(a.app_id));
  }

  addApp(name: string, mode: SimAppMode, at: number, boundInListing = true): AppRecord {
    const app: AppRecord = {
      id: this.rng.uuid(),
      name,
      mode,
      apiKey: `app-${this.rng.token(24)}`,
      deleted: false,
      agent_id: null,
      bound_in_listing: boundInListing,
      prompt: DEFAULT_PROMPT,
      secret: '',
      description: '',
      tags: [],
      icon: ICONS[mode],
      icon_background: '#FFEAD5',
      created_at: at,
      updated_at: at,
    };
    app.secret = secretFor(app.apiKey);
    if (mode === 'agent') {
      app.agent_id = this.rng.uuid();
      this.agents.push({ id: app.agent_id, app_id: app.id, debug_conversation_id: null });
    }
    this.apps.push(app);
    return app;
  }

  endUserBySession(appId: string, sessionId: string, type: EndUserRecord['type']): EndUserRecord | undefined {
    for (const u of this.endUsers.values()) {
      if (u.app_id === appId && u.session_id === sessionId && u.type === type) return u;
    }
    return undefined;
  }

  getOrCreateEndUser(appId: string, sessionId: string, type: EndUserRecord['type'], at: number): EndUserRecord {
    const existing = this.endUserBySession(appId, sessionId, type);
    if (existing) return existing;
    const user: EndUserRecord = {
      id: this.rng.uuid(),
      app_id: appId,
      type,
      session_id: sessionId,
      is_anonymous: sessionId === 'DEFAULT-USER',
      created_at: at,
      updated_at: at,
    };
    this.endUsers.set(user.id, user);
    return user;
  }

  liveConversations(appId: string): ConversationRecord[] {
    return this.conversations
      .filter((c) => c.app_id === appId && !c.deleted)
      .sort((a, b) => a.created_at - b.created_at || a.seq - b.seq);
  }

  feedbacks(appId: string): FeedbackRecord[] {
    const out: FeedbackRecord[] = [];
    for (const c of this.conversations) {
      if (c.app_id !== appId || c.deleted) continue;
      for (const m of c.messages) out.push(...m.feedbacks);
    }
    return out;
  }

  nextUserName(): string {
    this.userCounter += 1;
    return `sim-user-${this.userCounter}`;
  }

  addConversation(input: NewConversation): ConversationRecord {
    const { app } = input;
    let endUser: EndUserRecord | null = null;
    if (input.from_source === 'api') {
      const session = input.user ?? this.nextUserName();
      endUser = this.getOrCreateEndUser(app.id, session, input.invoke_from === 'service-api' ? 'service-api' : 'browser', input.created_at);
    }
    const origins = input.message_origins;
    const conversation: ConversationRecord = {
      seq: ++this.seq,
      id: this.rng.uuid(),
      app_id: app.id,
      mode: app.mode,
      name: input.name ?? '',
      status: 'normal',
      introduction: app.mode === 'completion' ? '' : 'Hi! Ask me anything about your account or our products.',
      inputs: app.mode === 'completion' ? {} : { language: this.rng.pick(['en', 'en', 'de', 'zh']) },
      from_source: input.from_source,
      invoke_from: input.invoke_from,
      from_end_user_id: endUser?.id ?? null,
      from_account_id: input.from_source === 'console' ? this.account.id : null,
      created_at: input.created_at,
      updated_at: input.created_at,
      read_at: null,
      deleted: false,
      messages: [],
    };
    this.conversations.push(conversation);
    this.conversationById.set(conversation.id, conversation);
    input.message_times.forEach((at, i) =>
      this.addMessage(conversation, at, origins && i < origins.length ? origins[i] : conversation.invoke_from, input.queries?.[i]),
    );
    if (!conversation.name) {
      const first = conversation.messages[0]?.query ?? 'New conversation';
      conversation.name = app.mode === 'completion' ? '' : first.length > 40 ? `${first.slice(0, 37)}...` : first;
    }
    return conversation;
  }

  addMessage(conversation: ConversationRecord, at: number, origin: InvokeFrom | null = conversation.invoke_from, text?: string): MessageRecord {
    const app = this.apps.find((a) => a.id === conversation.app_id)!;
    const rng = this.rng;
    const previous = conversation.messages[conversation.messages.length - 1];
    const failed = rng.chance(0.03);
    let query: string;
    let answer: string;
    let inputs = { ...conversation.inputs };
    if (app.mode === 'completion') {
      const t = rng.pick(COMPLETION_TOPICS);
      inputs = { product: t.product, tone: rng.pick(['playful', 'formal', 'concise']) };
      query = '';
      answer = t.answer;
    } else {
      const t = rng.pick(TOPICS);
      query = text ?? t.query;
      answer = t.answer;
    }
    if (failed) answer = '';
    const messageTokens = rng.int(12, 900);
    const answerTokens = failed ? 0 : rng.int(8, 600);
    const messageUnit = '0.00015';
    const answerUnit = '0.0006';
    const price = (messageTokens * 0.00015 + answerTokens * 0.0006) / 1000;
    const id = rng.uuid();
    const message: MessageRecord = {
      seq: ++this.seq,
      id,
      app_id: app.id,
      conversation_id: conversation.id,
      created_at: at,
      inputs,
      query,
      answer,
      prompt: [
        { role: 'system', text: DEFAULT_PROMPT, files: [] },
        { role: 'user', text: app.mode === 'completion' ? `Write a product blurb for ${String(inputs.product)}.` : query, files: [] },
        { role: 'assistant', text: answer, files: [] },
      ],
      message_tokens: messageTokens,
      answer_tokens: answerTokens,
      latency: Math.round(rng.float(0.4, 9.5) * 1e6) / 1e6,
      message_unit_price: messageUnit,
      answer_unit_price: answerUnit,
      total_price: price.toFixed(7),
      currency: 'USD',
      from_source: conversation.from_source,
      from_end_user_id: conversation.from_end_user_id,
      from_account_id: conversation.from_account_id,
      feedbacks: [],
      workflow_run_id: app.mode === 'advanced-chat' ? rng.uuid() : null,
      annotation: null,
      status: failed ? 'error' : 'normal',
      error: failed ? "[openai] Rate Limit Error, Error code: 429 - {'error': {'message': 'Rate limit reached'}}" : null,
      parent_message_id: app.mode === 'completion' ? null : previous?.id ?? null,
      agent_thoughts: [],
      message_files: [],
      retriever_resources: [],
      origin,
    };
    if ((app.mode === 'agent-chat' || app.mode === 'agent') && !failed) {
      message.agent_thoughts = [
        {
          id: rng.uuid(),
          chain_id: null,
          message_id: id,
          position: 1,
          thought: 'I should look this up in the knowledge base first.',
          tool: 'knowledge_search',
          tool_labels: { knowledge_search: { en_US: 'Knowledge search', zh_Hans: '知识检索' } },
          tool_input: JSON.stringify({ knowledge_search: { query } }),
          observation: 'Found 2 relevant passages.',
          files: [],
          created_at: at,
        },
        {
          id: rng.uuid(),
          chain_id: null,
          message_id: id,
          position: 2,
          thought: answer,
          tool: '',
          tool_labels: {},
          tool_input: '',
          observation: '',
          files: [],
          created_at: at,
        },
      ];
    }
    if (app.mode !== 'completion' && !failed && rng.chance(0.35)) {
      message.retriever_resources = [
        {
          id: rng.uuid(),
          message_id: id,
          position: 1,
          dataset_id: rng.uuid(),
          dataset_name: 'Help Center',
          document_id: rng.uuid(),
          document_name: 'faq.md',
          data_source_type: 'upload_file',
          segment_id: rng.uuid(),
          score: Math.round(rng.float(0.5, 0.99) * 1000) / 1000,
          hit_count: rng.int(1, 40),
          word_count: rng.int(40, 400),
          segment_position: rng.int(1, 30),
          index_node_hash: rng.token(64, '0123456789abcdef'),
          content: 'Excerpt from the help center that supports the answer.',
          summary: null,
          created_at: at,
        },
      ];
    }
    if (app.mode !== 'completion' && rng.chance(0.1)) {
      const fileId = rng.uuid();
      message.message_files = [
        {
          id: fileId,
          filename: 'screenshot.png',
          type: 'image',
          url: `https://files.example.com/files/${fileId}/file-preview?timestamp=${at}&nonce=${rng.token(8)}&sign=${rng.token(20)}`,
          mime_type: 'image/png',
          size: rng.int(20_000, 900_000),
          transfer_method: 'local_file',
          belongs_to: 'user',
          upload_file_id: fileId,
        },
      ];
    }
    if (!failed && rng.chance(0.18)) {
      const rating = rng.chance(0.7) ? 'like' : 'dislike';
      const endUserId = conversation.from_end_user_id;
      if (endUserId) {
        message.feedbacks.push(
          this.feedback(message, rating, 'user', endUserId, null, rating === 'dislike' && rng.chance(0.5) ? 'Not what I asked for.' : null, at + rng.int(5, 600)),
        );
      }
    }
    if (!failed && rng.chance(0.06)) {
      const rating = rng.chance(0.5) ? 'like' : 'dislike';
      message.feedbacks.push(this.feedback(message, rating, 'admin', null, this.account.id, rating === 'dislike' ? 'Answer needs the current price list.' : null, at + rng.int(600, 7200)));
    }
    if (!failed && rng.chance(0.05)) {
      message.annotation = {
        id: rng.uuid(),
        question: query,
        content: `${answer} (reviewed)`,
        account: { id: this.account.id, name: this.account.name, email: this.account.email },
        created_at: at + 3600,
      };
    }
    conversation.messages.push(message);
    conversation.messages.sort((a, b) => a.created_at - b.created_at || a.seq - b.seq);
    if (at > conversation.updated_at) conversation.updated_at = at;
    return message;
  }

  private feedback(
    message: MessageRecord,
    rating: 'like' | 'dislike',
    from: 'user' | 'admin',
    endUserId: string | null,
    accountId: string | null,
    content: string | null,
    at: number,
  ): FeedbackRecord {
    return {
      id: this.rng.uuid(),
      app_id: message.app_id,
      conversation_id: message.conversation_id,
      message_id: message.id,
      rating,
      content,
      from_source: from,
      from_end_user_id: endUserId,
      from_account_id: accountId,
      created_at: at,
      updated_at: at,
    };
  }

  private createApps(): void {
    const specs: [string, SimAppMode, string][] = [
      ['Support Chatbot', 'chat', 'Answers customer questions from the help center.'],
      ['Research Agent', 'agent-chat', 'Looks things up with tools before answering.'],
      ['Onboarding Assistant', 'advanced-chat', 'Chatflow that walks new customers through set-up.'],
      ['Product Blurb Writer', 'completion', 'Writes short product descriptions.'],
      ['Invoice Extractor', 'workflow', 'Extracts fields from uploaded invoices.'],
    ];
    const created = this.options.now - (this.options.days + 20) * 86400;
    specs.forEach(([name, mode, description], i) => {
      const id = this.rng.uuid();
      const apiKey = `app-${this.rng.token(24)}`;
      this.apps.push({
        id,
        name,
        mode,
        apiKey,
        deleted: false,
        agent_id: null,
        bound_in_listing: true,
        prompt: DEFAULT_PROMPT,
        secret: secretFor(apiKey),
        description,
        tags: i % 2 === 0 ? ['production'] : [],
        icon: ['🤖', '🔎', '🧭', '✍️', '🧾'][i],
        icon_background: '#FFEAD5',
        created_at: created + i * 3600,
        updated_at: created + i * 3600 + 86400,
      });
    });
  }

  private generate(): void {
    const { now, days, conversationsPerApp: perApp } = this.options;
    const rng = this.rng;
    const windowStart = now - days * 86400;
    const firstChat = this.apps.find((a) => a.mode === 'chat')!;
    for (const app of this.apps) {
      if (app.mode === 'workflow') {
        this.generateWorkflowLogs(app, perApp, windowStart, now);
        continue;
      }
      const planned: NewConversation[] = [];
      for (let i = 0; i < perApp; i++) {
        const origin = rng.next();
        const long = app === firstChat && i === 0;
        const count = app.mode === 'completion' ? 1 : long ? 130 : rng.int(1, 8);
        const span = long ? 130 * 40 : count * 120;
        const created = rng.int(windowStart, now - span - 120);
        const times: number[] = [];
        let t = created;
        for (let k = 0; k < count; k++) {
          times.push(t);
          t += long ? rng.int(5, 30) : rng.int(5, 110);
        }
        // a tie on the first backwards page boundary of limit=100: message 29 shares message 30's second
        if (long) times[29] = times[30];
        let from_source: 'api' | 'console' = 'api';
        let invoke_from: InvokeFrom = 'service-api';
        let user: string | null = rng.pick(SERVICE_USERS);
        if (!long && origin < 0.3) {
          invoke_from = 'web-app';
          user = rng.uuid();
        } else if (!long && origin < 0.45) {
          from_source = 'console';
          invoke_from = app.mode === 'advanced-chat' || rng.chance(0.5) ? 'explore' : 'debugger';
          user = null;
        }
        planned.push({ app, from_source, invoke_from, user, created_at: created, message_times: times });
      }
      if (app === firstChat && perApp > 0) planned.push(...this.bulkConversations(app, now));
      planned.sort((a, b) => a.created_at - b.created_at);
      for (const p of planned) {
        const c = this.addConversation(p);
        if (rng.chance(0.3)) c.read_at = Math.min(now, c.updated_at + rng.int(60, 86400));
      }
    }
  }

  /**
   * 105 single-message Service API conversations of one user, with ties of one second that straddle
   * the boundary of the first limit=100 page in both sort directions, so strict cursors skip rows.
   */
  private bulkConversations(app: AppRecord, now: number): NewConversation[] {
    const base = now - 2 * 86400;
    const out: NewConversation[] = [];
    for (let k = 0; k < 105; k++) {
      let at = base + k * 60;
      if (k === 5 || k === 6) at = base + 4 * 60;
      if (k === 100 || k === 101) at = base + 99 * 60;
      out.push({ app, from_source: 'api', invoke_from: 'service-api', user: BULK_USER, created_at: at, message_times: [at] });
    }
    return out;
  }

  private generateWorkflowLogs(app: AppRecord, count: number, from: number, to: number): void {
    const rng = this.rng;
    const logs: WorkflowLogRecord[] = [];
    for (let i = 0; i < count; i++) {
      const created = rng.int(from, to - 600);
      const roll = rng.next();
      const status: WorkflowLogRecord['status'] = roll < 0.8 ? 'succeeded' : roll < 0.93 ? 'failed' : 'stopped';
      const byAccount = rng.chance(0.15);
      const createdFrom: WorkflowLogRecord['created_from'] = byAccount ? 'installed-app' : rng.chance(0.6) ? 'service-api' : 'web-app';
      const endUser = byAccount
        ? null
        : this.getOrCreateEndUser(app.id, createdFrom === 'service-api' ? rng.pick(SERVICE_USERS) : rng.uuid(), createdFrom === 'service-api' ? 'service-api' : 'browser', created);
      const elapsed = Math.round(rng.float(0.8, 45) * 1e6) / 1e6;
      logs.push({
        id: rng.uuid(),
        app_id: app.id,
        run_id: rng.uuid(),
        version: '2026-01-05 09:12:44.108231',
        status,
        error: status === 'failed' ? 'Node LLM run failed: request timed out' : null,
        elapsed_time: elapsed,
        total_tokens: rng.int(100, 5000),
        total_steps: rng.int(3, 9),
        created_at: created,
        finished_at: created + Math.ceil(elapsed),
        exceptions_count: status === 'failed' ? 1 : 0,
        created_from: createdFrom,
        created_by_role: byAccount ? 'account' : 'end_user',
        created_by_end_user_id: endUser?.id ?? null,
        created_by_account_id: byAccount ? this.account.id : null,
        inputs: { invoice_url: `https://files.example.com/invoices/${rng.int(1000, 9999)}.pdf` },
        outputs: status === 'succeeded' ? { total: (rng.int(1000, 999999) / 100).toFixed(2), currency: 'EUR' } : {},
        triggered_from: 'app-run',
        agent_node: null,
      });
    }
    logs.sort((a, b) => a.created_at - b.created_at);
    this.workflowLogs.push(...logs);
  }
}

/** a recognisable provider key derived from the app key (no random draw, so generated data is unchanged) */
function secretFor(apiKey: string): string {
  return `sk-sim-secret-${apiKey.slice(4, 20)}`;
}
