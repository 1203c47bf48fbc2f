import {
  CONVERSATION_SORTS,
  messagesNewestFirst,
  pageOf,
  Route,
  SimContext,
  sortConversations,
  sortField,
  workflowLogsNewestFirst,
} from './simulator.context';
import { choiceParam, intParam, invalidParam, notFound, ok, SimError, SimRequest, unauthorized, uuidParam } from './simulator.http';
import { endUserDetail, serviceConversation, serviceFeedback, serviceMessage, workflowLog } from './simulator.render';
import { AppRecord, EndUserRecord, isChatMode } from './simulator.store';

/** Dify's Service API (`/v1`), authenticated with an app key. */

export function authApp(req: SimRequest, ctx: SimContext): AppRecord {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) throw unauthorized("Authorization header must be provided and start with 'Bearer'");
  const app = ctx.store.appByKey(header.slice(7).trim());
  if (!app) throw unauthorized('Access token is invalid');
  if (app.deleted) throw new SimError(403, 'forbidden', 'The app no longer exists.');
  return app;
}

/** Calls that take `user` create the end user on first sight, as Dify does; no `user` means DEFAULT-USER. */
function endUser(req: SimRequest, ctx: SimContext, app: AppRecord): EndUserRecord {
  const session = req.query.user || 'DEFAULT-USER';
  return ctx.store.getOrCreateEndUser(app.id, session, 'service-api', ctx.nowSeconds());
}

function requireChat(app: AppRecord): void {
  if (!isChatMode(app.mode)) throw new SimError(400, 'not_chat_app', 'Please check if your app mode matches the right API route.');
}

function index(_req: SimRequest, ctx: SimContext) {
  return ok({ welcome: 'Dify OpenAPI', api_version: 'v1', server_version: ctx.serverVersion });
}

function info(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  return ok({ name: app.name, description: app.description, tags: [...app.tags], mode: app.mode, author_name: ctx.store.account.name });
}

function conversations(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  requireChat(app);
  const lastId = uuidParam(req.query, 'last_id');
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const sortBy = choiceParam(req.query, 'sort_by', CONVERSATION_SORTS, '-updated_at');
  const user = endUser(req, ctx, app);
  const visible = ctx.store.conversations.filter(
    (c) => c.app_id === app.id && !c.deleted && c.from_source === 'api' && c.from_end_user_id === user.id && c.invoke_from === 'service-api',
  );
  const field = sortField(sortBy);
  const desc = sortBy.startsWith('-');
  // Dify pages with a strict comparison on the sort field: rows sharing the cursor row's second are skipped
  const after = (value: number) => visible.filter((c) => (desc ? c[field] < value : c[field] > value));
  let rows = visible;
  if (lastId) {
    const cursor = visible.find((c) => c.id === lastId);
    if (!cursor) throw notFound('Last Conversation Not Exists.');
    rows = after(cursor[field]);
  }
  const page = sortConversations(rows, sortBy).slice(0, limit);
  const hasMore = page.length === limit && after(page[page.length - 1][field]).length > 0;
  return ok({ limit, has_more: hasMore, data: page.map(serviceConversation) });
}

function messages(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  requireChat(app);
  const conversationId = uuidParam(req.query, 'conversation_id', true)!;
  const firstId = uuidParam(req.query, 'first_id');
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const user = endUser(req, ctx, app);
  const conversation = ctx.store.conversationById.get(conversationId);
  if (!conversation || conversation.deleted || conversation.app_id !== app.id || conversation.from_source !== 'api' || conversation.from_end_user_id !== user.id) {
    throw notFound('Conversation Not Exists.');
  }
  let rows = conversation.messages;
  if (firstId) {
    const first = rows.find((m) => m.id === firstId);
    if (!first) throw notFound('First Message Not Exists.');
    rows = rows.filter((m) => m.created_at < first.created_at && m.id !== first.id);
  }
  const fetched = messagesNewestFirst(rows).slice(0, limit + 1);
  const hasMore = fetched.length > limit;
  const page = fetched.slice(0, limit).reverse();
  const withNew = ctx.versionAtLeast(1, 9);
  return ok({ limit, has_more: hasMore, data: page.map((m) => serviceMessage(m, withNew)) });
}

function feedbacks(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 101);
  const rows = ctx.store.feedbacks(app.id).sort((a, b) => b.created_at - a.created_at || b.id.localeCompare(a.id));
  return ok({ data: rows.slice((page - 1) * limit, page * limit).map(serviceFeedback) });
}

function endUserById(req: SimRequest, ctx: SimContext) {
  const app = authApp(req, ctx);
  const user = ctx.store.endUsers.get(req.params[0].toLowerCase());
  if (!user || user.app_id !== app.id) throw notFound('End user not found');
  return ok(endUserDetail(ctx.store, user));
}

function parseIso(name: string, value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(ms)) throw invalidParam(`${name}: Invalid isoformat string: '${value}'`);
  return Math.floor(ms / 1000);
}

export function workflowLogsPage(req: SimRequest, ctx: SimContext, app: AppRecord) {
  if (app.mode !== 'workflow') throw new SimError(400, 'not_workflow_app', 'Please check if your app mode matches the right API route.');
  const status = req.query.status ? choiceParam(req.query, 'status', ['succeeded', 'failed', 'stopped', 'partial-succeeded'] as const, 'succeeded') : undefined;
  const before = parseIso('created_at__before', req.query.created_at__before);
  const afterTs = parseIso('created_at__after', req.query.created_at__after);
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const keyword = req.query.keyword?.toLowerCase();
  const session = req.query.created_by_end_user_session_id;
  const accountEmail = req.query.created_by_account;
  const store = ctx.store;
  const rows = store.workflowLogs.filter((l) => {
    if (l.app_id !== app.id) return false;
    if (status && l.status !== status) return false;
    if (before !== undefined && !(l.created_at <= before)) return false;
    if (afterTs !== undefined && !(l.created_at >= afterTs)) return false;
    const user = l.created_by_end_user_id ? store.endUsers.get(l.created_by_end_user_id) : undefined;
    if (session && user?.session_id !== session) return false;
    if (accountEmail && !(l.created_by_account_id && store.account.email === accountEmail)) return false;
    if (keyword) {
      const hay = `${JSON.stringify(l.inputs)} ${JSON.stringify(l.outputs)} ${l.run_id} ${user?.session_id ?? ''}`.toLowerCase();
      if (!hay.includes(keyword)) return false;
    }
    return true;
  });
  const result = pageOf(workflowLogsNewestFirst(rows), page, limit);
  return ok({ ...result, data: result.data.map((l) => workflowLog(store, l)) });
}

function workflowLogs(req: SimRequest, ctx: SimContext) {
  return workflowLogsPage(req, ctx, authApp(req, ctx));
}

const UUID_SEGMENT = '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})';

export const serviceApiRoutes: Route[] = [
  { method: 'GET', pattern: /^\/v1\/?$/, handler: index },
  { method: 'GET', pattern: /^\/v1\/info$/, handler: info },
  { method: 'GET', pattern: /^\/v1\/conversations$/, handler: conversations },
  { method: 'GET', pattern: /^\/v1\/messages$/, handler: messages },
  { method: 'GET', pattern: /^\/v1\/app\/feedbacks$/, handler: feedbacks },
  { method: 'GET', pattern: new RegExp(`^/v1/end-users/${UUID_SEGMENT}$`), handler: endUserById },
  { method: 'GET', pattern: /^\/v1\/workflows\/logs$/, handler: workflowLogs },
];

export { UUID_SEGMENT };
