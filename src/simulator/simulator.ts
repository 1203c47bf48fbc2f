import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { agentRoutes } from './simulator.agent-api';
import { ConsoleAuth } from './simulator.console-auth';
import { consoleRoutes } from './simulator.console-api';
import { compareVersions, Route, SimContext } from './simulator.context';
import { parseCookies, SimError, SimRequest, SimResponse } from './simulator.http';
import { dslRoutes } from './simulator.dsl';
import { consoleMessage } from './simulator.render';
import { serviceApiRoutes } from './simulator.service-api';
import { AppRecord, ConversationRecord, isChatMode, SimulatorStore } from './simulator.store';
import { runsOf, workflowRunConsoleRoutes, workflowRunServiceRoutes } from './simulator.workflow-runs';
import { addAgentWorkflowRun, extendWorkspace } from './simulator.workspace';
import type {
  AddAgentWorkflowRunInput,
  AddAppInput,
  AddConversationInput,
  AgentWorkflowRun,
  DifySimulator,
  FaultRule,
  ReadMark,
  RecordedRequest,
  SimulatedApp,
  SimulatedConversation,
  SimulatedWorkflowRun,
  SimulatorCounters,
  SimulatorOptions,
} from './simulator.types';

export const DEFAULT_ACCOUNT = { email: 'admin@example.com', password: 'sim-password', timezone: 'Asia/Shanghai' } as const;
export const DEFAULT_ADMIN_API_KEY = 'sim-admin-key';
export const DEFAULT_SERVER_VERSION = '1.16.0';

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-csrf-token', 'x-api-key']);
const MAX_BODY_BYTES = 1024 * 1024;

interface ActiveFault {
  rule: FaultRule;
  seen: number;
  fired: number;
}

interface Hook {
  path: string | RegExp;
  nth: number;
  seen: number;
  fn: () => void;
}

const matchesPath = (pattern: string | RegExp | undefined, path: string) =>
  pattern === undefined || (typeof pattern === 'string' ? pattern === path : new RegExp(pattern.source, pattern.flags.replace('g', '')).test(path));

function toSimulatedApp(a: AppRecord): SimulatedApp {
  return { id: a.id, name: a.name, mode: a.mode, apiKey: a.apiKey, agentId: a.agent_id };
}

function toSimulated(c: ConversationRecord, store: SimulatorStore): SimulatedConversation {
  return {
    id: c.id,
    app_id: c.app_id,
    name: c.name,
    status: c.status,
    from_source: c.from_source,
    user: c.from_end_user_id ? store.endUsers.get(c.from_end_user_id)?.session_id ?? null : null,
    end_user_id: c.from_end_user_id,
    created_at: c.created_at,
    updated_at: c.updated_at,
    message_ids: c.messages.map((m) => m.id),
    invoke_from: c.invoke_from,
    read_at: c.read_at,
  };
}

class Simulator implements DifySimulator {
  url = '';
  serviceApiUrl = '';
  consoleApiUrl = '';
  readonly adminApiKey: string | null;
  readonly workspaceId: string;
  readonly account: { email: string; password: string; timezone: string };
  readonly requests: RecordedRequest[] = [];
  readonly readMarks: ReadMark[] = [];

  private readonly store: SimulatorStore;
  private readonly auth: ConsoleAuth;
  private readonly ctx: SimContext;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly routes: { route: Route; console: boolean; open: boolean }[];
  private faults: ActiveFault[] = [];
  private hooks: Hook[] = [];
  private latencyMs: number;

  constructor(private readonly options: SimulatorOptions) {
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    const days = options.days ?? 5;
    const conversationsPerApp = options.conversationsPerApp ?? 30;
    const generate = options.generate ?? true;
    this.account = { ...(options.account ?? DEFAULT_ACCOUNT) };
    this.adminApiKey = options.adminApiKey === undefined ? DEFAULT_ADMIN_API_KEY : options.adminApiKey;
    this.latencyMs = options.latencyMs ?? 0;
    this.store = new SimulatorStore({
      seed: options.seed ?? 42,
      now,
      days,
      conversationsPerApp,
      generate,
      account: this.account,
    });
    extendWorkspace(this.store, { now, days, conversationsPerApp, generate, agentApp: options.agentApp ?? false, extraApps: options.extraApps ?? 0 });
    this.workspaceId = this.store.workspaceId;
    this.auth = new ConsoleAuth({
      adminApiKey: this.adminApiKey,
      secureCookies: options.secureCookies ?? false,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
      workspaceId: this.workspaceId,
      account: this.account,
    });
    const serverVersion = options.serverVersion ?? DEFAULT_SERVER_VERSION;
    this.ctx = {
      store: this.store,
      serverVersion,
      versionAtLeast: (major, minor) => compareVersions(serverVersion, `${major}.${minor}.0`) >= 0,
      nowSeconds: () => Math.floor(Date.now() / 1000),
    };
    const auth = this.auth;
    const openConsole: Route[] = [
      { method: 'POST', pattern: /^\/console\/api\/login$/, handler: (req, ctx) => auth.login(req, ctx) },
      { method: 'POST', pattern: /^\/console\/api\/refresh-token$/, handler: (req, ctx) => auth.refresh(req, ctx) },
      { method: 'POST', pattern: /^\/console\/api\/logout$/, handler: (req) => auth.logout(req) },
      // public in Dify (the sign-in page reads it): a subset of its fields
      {
        method: 'GET',
        pattern: /^\/console\/api\/system-features$/,
        handler: () => ({
          status: 200,
          body: { enable_email_password_login: true, enable_email_code_login: false, enable_social_oauth_login: false, is_allow_register: false, sso_enforced_for_signin: false },
        }),
      },
    ];
    const closedConsole = [
      ...consoleRoutes((mark) => this.readMarks.push(mark)),
      ...dslRoutes,
      ...workflowRunConsoleRoutes,
      // Dify before 1.16 has no /agent routes at all
      ...(this.ctx.versionAtLeast(1, 16) ? agentRoutes : []),
    ];
    this.routes = [
      ...[...serviceApiRoutes, ...workflowRunServiceRoutes].map((route) => ({ route, console: false, open: true })),
      ...openConsole.map((route) => ({ route, console: true, open: true })),
      ...closedConsole.map((route) => ({ route, console: true, open: false })),
    ];
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const printable = host.includes(':') ? `[${host}]` : host;
    this.url = `http://${printable}:${port}`;
    this.serviceApiUrl = `${this.url}/v1`;
    this.consoleApiUrl = `${this.url}/console/api`;
  }

  /** the workspace's live apps (deleted ones leave), Agent apps included */
  get apps(): SimulatedApp[] {
    return this.store.liveApps().map(toSimulatedApp);
  }

  get counters(): SimulatorCounters {
    return { ...this.store.counters };
  }

  conversations(appId: string): SimulatedConversation[] {
    return this.store.liveConversations(appId).map((c) => toSimulated(c, this.store));
  }

  messages(conversationId: string): Record<string, unknown>[] {
    const c = this.store.conversationById.get(conversationId);
    return c ? c.messages.map((m) => consoleMessage(this.store, m)) : [];
  }

  addConversation(input: AddConversationInput): SimulatedConversation {
    const app = this.store.app(input.app_id);
    if (!app) throw new Error(`Unknown app ${input.app_id}`);
    if (app.mode === 'workflow') throw new Error('Workflow apps have no conversations');
    const fromSource = input.from_source ?? 'api';
    const createdAt = input.created_at ?? this.ctx.nowSeconds();
    if (app.mode === 'channel' || app.mode === 'rag-pipeline') throw new Error(`${app.mode} apps have no conversations`);
    const count = input.messages ?? input.message_created_at?.length ?? (isChatMode(app.mode) || app.mode === 'agent' ? 2 : 1);
    const times = Array.from({ length: count }, (_, i) => input.message_created_at?.[i] ?? createdAt + i);
    const c = this.store.addConversation({
      app,
      from_source: fromSource,
      invoke_from: input.invoke_from ?? (fromSource === 'api' ? 'service-api' : 'explore'),
      user: fromSource === 'api' ? input.user ?? null : null,
      name: input.name,
      created_at: createdAt,
      message_times: times,
      message_origins: input.message_origins,
      queries: input.queries,
    });
    return toSimulated(c, this.store);
  }

  addApp(input: AddAppInput): SimulatedApp {
    return toSimulatedApp(this.store.addApp(input.name, input.mode, this.ctx.nowSeconds(), input.boundInListing ?? true));
  }

  deleteApp(appId: string): void {
    const app = this.store.app(appId);
    if (!app) throw new Error(`Unknown app ${appId}`);
    app.deleted = true;
  }

  setAppPrompt(appId: string, prompt: string): void {
    const app = this.store.app(appId);
    if (!app) throw new Error(`Unknown app ${appId}`);
    app.prompt = prompt;
    app.updated_at = Math.max(app.updated_at + 1, this.ctx.nowSeconds());
  }

  addAgentWorkflowRun(input: AddAgentWorkflowRunInput): AgentWorkflowRun {
    const workflow = this.store.app(input.workflow_app_id);
    const agent = this.store.app(input.agent_app_id);
    if (workflow?.mode !== 'workflow') throw new Error(`${input.workflow_app_id} is not a workflow app`);
    if (agent?.mode !== 'agent') throw new Error(`${input.agent_app_id} is not an Agent app`);
    const run = addAgentWorkflowRun(this.store, workflow, agent, input.created_at ?? this.ctx.nowSeconds(), input.status ?? 'succeeded');
    return { run_id: run.run_id, node_execution_id: run.agent_node!.execution_id };
  }

  workflowRuns(appId: string): SimulatedWorkflowRun[] {
    const app = this.store.app(appId);
    if (!app) throw new Error(`Unknown app ${appId}`);
    return runsOf(this.store, app).map((r) => ({
      id: r.run_id,
      app_id: r.app_id,
      triggered_from: r.triggered_from,
      status: r.status,
      created_at: r.created_at,
      agent_node_execution_id: r.agent_node?.execution_id ?? null,
    }));
  }

  hideWorkflowRunDetail(runId: string): void {
    this.store.hiddenRuns.add(runId.toLowerCase());
  }

  addMessage(conversationId: string, createdAt?: number): Record<string, unknown> {
    const c = this.store.conversationById.get(conversationId);
    if (!c || c.deleted) throw new Error(`Unknown conversation ${conversationId}`);
    const m = this.store.addMessage(c, createdAt ?? this.ctx.nowSeconds());
    return consoleMessage(this.store, m);
  }

  deleteConversation(conversationId: string): void {
    const c = this.store.conversationById.get(conversationId);
    if (!c) throw new Error(`Unknown conversation ${conversationId}`);
    c.deleted = true;
  }

  onRequest(path: string | RegExp, nth: number, fn: () => void): void {
    this.hooks.push({ path, nth, seen: 0, fn });
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  injectFault(rule: FaultRule): void {
    this.faults.push({ rule, seen: 0, fired: 0 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  expireAccessTokens(): void {
    this.auth.expireAccessTokens();
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? '/', 'http://simulator.local');
    const path = parsed.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const query: Record<string, string> = {};
    const queryAll: Record<string, string[]> = {};
    for (const [k, v] of parsed.searchParams) {
      if (!(k in query)) query[k] = v;
      (queryAll[k] ??= []).push(v);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = SECRET_HEADERS.has(name) ? '[present]' : Array.isArray(value) ? value.join(', ') : value;
    }
    const record = (status: number) => this.requests.push({ method, path, query, headers, status });

    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      record(413);
      this.send(res, { status: 413, body: envelope(413, 'request_entity_too_large', 'Request body too large.') }, method, path);
      return;
    }
    if (this.latencyMs > 0) await sleep(this.latencyMs);

    const fault = this.takeFault(method, path);
    if (fault?.kind === 'timeout') {
      record(0);
      return;
    }
    if (fault?.kind === 'reset') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      const headersOut: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headersOut['Retry-After'] = String(fault.retryAfterSeconds);
      const body = fault.body ?? envelope(fault.status, fault.status === 429 ? 'too_many_requests' : fault.status >= 500 ? 'unknown' : 'error', faultMessage(fault.status));
      record(fault.status);
      this.send(res, { status: fault.status, body, headers: headersOut }, method, path);
      return;
    }
    if (fault?.kind === 'malformed') {
      record(200);
      this.send(res, { status: 200, body: '<html><head><title>502 Bad Gateway</title></head><body>upstream returned garbage' }, method, path);
      return;
    }

    const response = this.route(method, path, query, queryAll, req, raw);
    if (fault?.kind === 'truncated') {
      const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
      record(200);
      this.send(res, { status: 200, body: text.slice(0, Math.max(1, Math.floor(text.length / 2))) }, method, path);
      return;
    }
    record(response.status);
    this.send(res, response, method, path);
  }

  private route(method: string, path: string, query: Record<string, string>, queryAll: Record<string, string[]>, req: IncomingMessage, raw: Buffer): SimResponse {
    try {
      const candidates = this.routes.filter((r) => r.route.pattern.test(path));
      if (candidates.length === 0) {
        throw new SimError(404, 'not_found', 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.');
      }
      const entry = candidates.find((r) => r.route.method === method);
      if (!entry) throw new SimError(405, 'method_not_allowed', 'The method is not allowed for the requested URL.');
      let body: unknown = undefined;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new SimError(400, 'bad_request', 'The browser (or proxy) sent a request that this server could not understand.');
        }
      }
      const match = entry.route.pattern.exec(path)!;
      const simReq: SimRequest = {
        method,
        path,
        query,
        queryAll,
        headers: req.headers,
        cookies: parseCookies(req.headers.cookie),
        body,
        params: match.slice(1),
      };
      if (entry.console && !entry.open) this.auth.authenticate(simReq, this.ctx);
      return entry.route.handler(simReq, this.ctx) as SimResponse;
    } catch (error) {
      if (error instanceof SimError) {
        return { status: error.status, body: envelope(error.status, error.code, error.message), headers: error.headers };
      }
      return { status: 500, body: envelope(500, 'unknown', 'Internal Server Error') };
    }
  }

  private send(res: ServerResponse, response: SimResponse, method: string, path: string): void {
    const payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    res.statusCode = response.status;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(payload));
    for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
    if (response.cookies?.length) res.setHeader('Set-Cookie', response.cookies);
    this.runHooks(method, path);
    res.end(payload);
  }

  /** hooks run before the bytes leave, so the change is in place when the client sends its next request */
  private runHooks(_method: string, path: string): void {
    for (const hook of this.hooks) {
      if (!matchesPath(hook.path, path)) continue;
      hook.seen += 1;
      if (hook.seen === hook.nth) hook.fn();
    }
  }

  private takeFault(method: string, path: string) {
    for (const f of this.faults) {
      const { rule } = f;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (!matchesPath(rule.path, path)) continue;
      f.seen += 1;
      if (f.seen <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && f.fired >= rule.times) continue;
      f.fired += 1;
      return rule.fault;
    }
    return undefined;
  }
}

function envelope(status: number, code: string, message: string) {
  return { code, message, status };
}

function faultMessage(status: number): string {
  if (status === 429) return 'Too many requests, please slow down.';
  if (status === 502) return 'Bad Gateway';
  if (status === 503) return 'Service Unavailable';
  if (status === 504) return 'Gateway Timeout';
  return 'Simulated failure.';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a Dify simulator on loopback (an ephemeral port unless `port` is given). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<DifySimulator> {
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}
