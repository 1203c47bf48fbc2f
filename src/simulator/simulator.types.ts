import type { DifyAppMode } from '../common/conversation-log';

/** every app mode a Dify 1.16 workspace shows; `channel` and `rag-pipeline` apps hold no conversations */
export type SimAppMode = DifyAppMode | 'agent' | 'channel' | 'rag-pipeline';

/**
 * Public surface of the Dify simulator: a real HTTP server on loopback that behaves like Dify's
 * Service API (`/v1`) and console API (`/console/api`) as described in the project's Dify reference.
 */
export interface SimulatorOptions {
  /** deterministic data generator seed (default 42) */
  seed?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: an ephemeral port */
  port?: number;
  /** reported by `GET /v1/`; < 1.9 login returns bearer tokens, >= 1.9 cookies + CSRF, >= 1.11 Base64 password. Default 1.16.0 */
  serverVersion?: string;
  /** cookies named `__Host-access_token` etc. (as on HTTPS deployments). Default false */
  secureCookies?: boolean;
  /** ADMIN_API_KEY; null disables admin-key auth. Default 'sim-admin-key' */
  adminApiKey?: string | null;
  /** console account; default { email: 'admin@example.com', password: 'sim-password', timezone: 'Asia/Shanghai' } */
  account?: { email: string; password: string; timezone: string };
  /** access token lifetime for login sessions, seconds (default 3600) */
  accessTokenTtlSeconds?: number;
  /** fixed latency added to every request, ms (default 0) */
  latencyMs?: number;
  /** data generation: conversations per chat app (default 30) spread over `days` days (default 5) before `now` */
  conversationsPerApp?: number;
  days?: number;
  /** the clock for generated data (default: Date.now() at start) */
  now?: Date;
  /** when false, no data is generated (tests add their own). Default true */
  generate?: boolean;
  /**
   * adds the demo Agent app ("Travel Concierge", mode `agent`) after the other data, so the rest stays as
   * without it: a conversation of 130 messages over several days, a debugger conversation, a soft-deleted
   * one, mixed origins, and Agent-node runs in the workflow app. Default false (the demo turns it on)
   */
  agentApp?: boolean;
  /** this many more empty apps of every mode (a large workspace for paging). Default 0 */
  extraApps?: number;
}

export interface SimulatedApp {
  id: string;
  name: string;
  mode: SimAppMode;
  /** the app's Service API key, `app-...` */
  apiKey: string;
  /** for `agent` apps, the Agent's id (used by `/console/api/agent/{agent_id}/...`), else null */
  agentId: string | null;
}

export interface AddAppInput {
  name: string;
  mode: SimAppMode;
  /**
   * `agent` apps only: when false the app listing leaves `bound_agent_id` null (the roster still lists
   * the Agent), as for apps whose binding Dify has not filled in. Default true
   */
  boundInListing?: boolean;
}

export interface AddAgentWorkflowRunInput {
  /** the workflow app whose run holds the Agent node */
  workflow_app_id: string;
  /** the Agent app the node runs */
  agent_app_id: string;
  /** Unix seconds (default: now) */
  created_at?: number;
  /** default 'succeeded' */
  status?: 'succeeded' | 'failed';
}

export interface AgentWorkflowRun {
  run_id: string;
  /** the Agent node's execution id: the pseudo conversation id of the workflow row in the Agent logs */
  node_execution_id: string;
}

export interface SimulatedWorkflowRun {
  id: string;
  app_id: string;
  triggered_from: 'app-run' | 'debugging';
  status: string;
  created_at: number;
  /** set when the run holds an Agent node */
  agent_node_execution_id: string | null;
}

/** calls a backup must never make, counted so that tests can prove it did not */
export interface SimulatorCounters {
  /** `GET /console/api/agent` and `GET /console/api/agent/{id}` calls (each may create a debugger conversation) */
  agentRosterCalls: number;
  /** "Agent Debugging Conversation"s those calls created */
  agentDebugConversationsCreated: number;
  /** `GET /console/api/apps/{id}/export` calls */
  dslExports: number;
  /** of which with `include_secret=true` */
  dslExportsWithSecret: number;
}

export interface SimulatedConversation {
  id: string;
  app_id: string;
  name: string;
  status: string;
  from_source: 'api' | 'console';
  /** end user's `user` string (session id); null for console conversations */
  user: string | null;
  end_user_id: string | null;
  /** Unix seconds */
  created_at: number;
  updated_at: number;
  message_ids: string[];
  /** where Dify says the conversation came from; only `service-api` ones are listed by the Service API */
  invoke_from: InvokeFrom;
  /** Unix seconds when the console detail endpoint first marked it read, else null */
  read_at: number | null;
}

export type InvokeFrom = 'service-api' | 'web-app' | 'explore' | 'debugger';

export type FaultKind =
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: unknown }
  | { kind: 'timeout' } /** never answers */
  | { kind: 'reset' } /** destroys the socket */
  | { kind: 'malformed' } /** 200 with a body that is not JSON */
  | { kind: 'truncated' } /** 200 with a JSON body cut half way */;

export interface FaultRule {
  /** matched against the request path without query, e.g. /v1/messages or /console/api/apps/<id>/chat-messages */
  path?: string | RegExp;
  method?: string;
  /** how many matching requests fail (default: all, until cleared) */
  times?: number;
  /** skip this many matching requests before failing (default 0) */
  after?: number;
  fault: FaultKind;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** header names only, lower-case, plus the values of non-secret headers */
  headers: Record<string, string>;
  status: number;
}

export interface AddConversationInput {
  app_id: string;
  from_source?: 'api' | 'console';
  user?: string | null;
  name?: string;
  /** Unix seconds (default: now) */
  created_at?: number;
  /** number of messages to generate (default 2), one second apart unless `message_created_at` is given */
  messages?: number;
  /** explicit creation times (Unix seconds) for each message */
  message_created_at?: number[];
  /**
   * default: `service-api` for `api` conversations, `explore` for console ones. `web-app` conversations
   * belong to a browser end user and are invisible to the Service API even for the same `user` string.
   */
  invoke_from?: InvokeFrom;
  /** where each message came from (default: the conversation's `invoke_from`); null = unknown origin */
  message_origins?: (InvokeFrom | null)[];
  /** the end user's text of each message, chat modes (default: a generated question) */
  queries?: string[];
}

export interface ReadMark {
  app_id: string;
  conversation_id: string;
  /** Unix seconds */
  at: number;
}

export interface DifySimulator {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** `${url}/v1` */
  readonly serviceApiUrl: string;
  /** `${url}/console/api` */
  readonly consoleApiUrl: string;
  readonly adminApiKey: string | null;
  readonly workspaceId: string;
  readonly account: { email: string; password: string; timezone: string };
  readonly apps: SimulatedApp[];

  /** conversations of an app, as stored (newest last) */
  conversations(appId: string): SimulatedConversation[];
  /** raw message objects of a conversation in chronological order, as the console API returns them */
  messages(conversationId: string): Record<string, unknown>[];
  addConversation(input: AddConversationInput): SimulatedConversation;
  /** appends a message now (or at `createdAt`), moving the conversation's updated_at */
  addMessage(conversationId: string, createdAt?: number): Record<string, unknown>;
  /** soft delete: gone from the app logs and message routes, still listed by the Agent logs */
  deleteConversation(conversationId: string): void;
  /** adds an app to the workspace while running; an `agent` app gets its Agent */
  addApp(input: AddAppInput): SimulatedApp;
  /** deletes an app: it leaves the listing and roster, its routes answer 404 and its key 403 */
  deleteApp(appId: string): void;
  /** changes the app's prompt (so its DSL export changes) and moves its updated_at */
  setAppPrompt(appId: string, prompt: string): void;
  /** a run of a workflow app with one Agent node running the Agent app: a workflow row in the Agent logs */
  addAgentWorkflowRun(input: AddAgentWorkflowRunInput): AgentWorkflowRun;
  /** every workflow run of an app (production and debugger), newest first */
  workflowRuns(appId: string): SimulatedWorkflowRun[];
  /** the run's detail and node executions answer 404 from now on (its log row stays) */
  hideWorkflowRunDetail(runId: string): void;
  /** counts of calls with side effects or secrets */
  readonly counters: SimulatorCounters;
  /** runs `fn` once, right after the Nth (1-based) request matching `path` has been answered */
  onRequest(path: string | RegExp, nth: number, fn: () => void): void;

  setLatency(ms: number): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** invalidates every issued console access token (the refresh token still works) */
  expireAccessTokens(): void;
  /** every request answered so far, oldest first */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
  /** every call of a console conversation detail endpoint (which marks the conversation read), oldest first */
  readonly readMarks: ReadMark[];
  close(): Promise<void>;
}
