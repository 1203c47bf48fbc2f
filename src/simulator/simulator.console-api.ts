import {
  appFor,
  CONVERSATION_SORTS,
  messagesNewestFirst,
  pageOf,
  Route,
  SimContext,
  sortConversations,
  sortField,
} from './simulator.context';
import { choiceParam, consoleTimeToUnix, intParam, notFound, ok, SimError, SimRequest, uuidParam } from './simulator.http';
import {
  accountProfile,
  consoleApp,
  consoleChatConversation,
  consoleCompletionConversation,
  consoleConversationDetail,
  consoleMessage,
} from './simulator.render';
import { UUID_SEGMENT, workflowLogsPage } from './simulator.service-api';
import type { AppRecord, ConversationRecord } from './simulator.store';
import type { SimAppMode } from './simulator.types';

/** Dify's console API (`/console/api`): the app-wide view behind the Logs page. Auth runs before these handlers. */

const CHAT: SimAppMode[] = ['chat', 'agent-chat', 'advanced-chat'];
/** the console's message list also serves the new Agent apps (their conversation list does not) */
const MESSAGE_MODES: SimAppMode[] = [...CHAT, 'agent'];
const LIST_MODES = ['all', 'chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'channel'] as const;
const LIST_MODES_WITH_AGENTS = [...LIST_MODES, 'agent', 'rag-pipeline'] as const;

function apps(req: SimRequest, ctx: SimContext) {
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const withAgents = ctx.versionAtLeast(1, 16);
  const mode = choiceParam<string>(req.query, 'mode', withAgents ? LIST_MODES_WITH_AGENTS : LIST_MODES, 'all');
  const name = req.query.name?.toLowerCase();
  const rows = ctx.store
    .liveApps()
    // `mode=all` adds "mode is not agent": Agent apps are listed only with mode=agent
    .filter((a) => (mode === 'all' ? a.mode !== 'agent' : a.mode === mode) && (!name || a.name.toLowerCase().includes(name)))
    .sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id));
  const result = pageOf(rows, page, limit);
  return ok({ ...result, data: result.data.map((a) => consoleApp(ctx.store, a, withAgents)) });
}

function appDetail(req: SimRequest, ctx: SimContext) {
  return ok(consoleApp(ctx.store, appFor(req, ctx), ctx.versionAtLeast(1, 16)));
}

function workspace(_req: SimRequest, ctx: SimContext) {
  return ok({
    id: ctx.store.workspaceId,
    name: ctx.store.workspaceName,
    plan: 'sandbox',
    status: 'normal',
    created_at: ctx.store.account.created_at,
    role: 'owner',
    in_trial: null,
    trial_end_reason: null,
    custom_config: null,
  });
}

/** `start`/`end` in the account's timezone; `end` gets :59 seconds */
function window(req: SimRequest, ctx: SimContext) {
  const tz = ctx.store.account.timezone;
  return {
    start: req.query.start ? consoleTimeToUnix('start', req.query.start, tz, 0) : undefined,
    end: req.query.end ? consoleTimeToUnix('end', req.query.end, tz, 59) : undefined,
  };
}

function matchesKeyword(ctx: SimContext, c: ConversationRecord, keyword: string, withConversationFields: boolean): boolean {
  const k = keyword.toLowerCase();
  if (c.messages.some((m) => m.query.toLowerCase().includes(k) || m.answer.toLowerCase().includes(k))) return true;
  if (!withConversationFields) return false;
  const session = c.from_end_user_id ? ctx.store.endUsers.get(c.from_end_user_id)?.session_id ?? '' : '';
  return [c.name, c.introduction, session].some((s) => s.toLowerCase().includes(k));
}

function annotationFilter(req: SimRequest) {
  const status = choiceParam(req.query, 'annotation_status', ['annotated', 'not_annotated', 'all'] as const, 'all');
  return (c: ConversationRecord) => {
    const annotated = c.messages.some((m) => m.annotation !== null);
    return status === 'all' || (status === 'annotated') === annotated;
  };
}

function chatConversations(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, CHAT);
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const sortBy = choiceParam(req.query, 'sort_by', CONVERSATION_SORTS, '-updated_at');
  const minMessages = req.query.message_count_gte ? intParam(req.query, 'message_count_gte', 1, 1, 99999) : undefined;
  const { start, end } = window(req, ctx);
  const field = sortField(sortBy);
  const keyword = req.query.keyword;
  const annotated = annotationFilter(req);
  const rows = ctx.store.conversations.filter(
    (c) =>
      c.app_id === app.id &&
      !c.deleted &&
      // the Logs page of a chatflow hides debugger runs
      !(app.mode === 'advanced-chat' && c.invoke_from === 'debugger') &&
      (start === undefined || c[field] >= start) &&
      (end === undefined || c[field] <= end) &&
      (!keyword || matchesKeyword(ctx, c, keyword, true)) &&
      annotated(c) &&
      (minMessages === undefined || c.messages.length >= minMessages),
  );
  const result = pageOf(sortConversations(rows, sortBy), page, limit);
  return ok({ ...result, data: result.data.map((c) => consoleChatConversation(ctx.store, c)) });
}

function markRead(req: SimRequest, ctx: SimContext, app: AppRecord, conversationId: string, markers: ReadMarker): ConversationRecord {
  const c = ctx.store.conversationById.get(conversationId.toLowerCase());
  if (!c || c.app_id !== app.id) throw notFound('Conversation Not Exists.');
  const now = ctx.nowSeconds();
  if (!c.read_at) c.read_at = now;
  markers({ app_id: app.id, conversation_id: c.id, at: now });
  return c;
}

type ReadMarker = (mark: { app_id: string; conversation_id: string; at: number }) => void;

function chatMessages(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, MESSAGE_MODES);
  const conversationId = uuidParam(req.query, 'conversation_id', true)!;
  const firstId = uuidParam(req.query, 'first_id');
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const c = ctx.store.conversationById.get(conversationId);
  if (!c || c.app_id !== app.id || c.deleted) throw notFound('Conversation Not Exists.');
  let rows = c.messages;
  if (firstId) {
    const first = rows.find((m) => m.id === firstId);
    if (!first) throw notFound('First message not found');
    rows = rows.filter((m) => m.created_at < first.created_at && m.id !== first.id);
  }
  const page = messagesNewestFirst(rows).slice(0, limit);
  // like the console: "more" only if something is strictly older than the oldest row of this page
  const oldest = page[page.length - 1];
  const hasMore = page.length === limit && c.messages.some((m) => m.created_at < oldest.created_at && m.id !== oldest.id);
  return ok({ limit, has_more: hasMore, data: page.reverse().map((m) => consoleMessage(ctx.store, m)) });
}

function completionConversations(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, ['completion']);
  const page = intParam(req.query, 'page', 1, 1, 99999);
  const limit = intParam(req.query, 'limit', 20, 1, 100);
  const { start, end } = window(req, ctx);
  const keyword = req.query.keyword;
  const annotated = annotationFilter(req);
  const rows = ctx.store.conversations.filter(
    (c) =>
      c.app_id === app.id &&
      !c.deleted &&
      (start === undefined || c.created_at >= start) &&
      // this endpoint compares the end strictly, unlike chat-conversations
      (end === undefined || c.created_at < end) &&
      (!keyword || matchesKeyword(ctx, c, keyword, false)) &&
      annotated(c),
  );
  const result = pageOf(sortConversations(rows, '-created_at'), page, limit);
  return ok({ ...result, data: result.data.map((c) => consoleCompletionConversation(ctx.store, c)) });
}

function workflowAppLogs(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx, ['workflow']);
  return workflowLogsPage(req, ctx, app);
}

export function consoleRoutes(onRead: ReadMarker): Route[] {
  const app = `^/console/api/apps/${UUID_SEGMENT}`;
  return [
    { method: 'GET', pattern: /^\/console\/api\/apps$/, handler: apps },
    { method: 'GET', pattern: new RegExp(`${app}$`), handler: appDetail },
    { method: 'GET', pattern: /^\/console\/api\/account\/profile$/, handler: (_req, ctx) => ok(accountProfile(ctx.store)) },
    { method: 'GET', pattern: /^\/console\/api\/workspaces\/current$/, handler: workspace },
    { method: 'GET', pattern: new RegExp(`${app}/chat-conversations$`), handler: chatConversations },
    {
      method: 'GET',
      pattern: new RegExp(`${app}/chat-conversations/${UUID_SEGMENT}$`),
      handler: (req, ctx) => {
        const a = appFor(req, ctx, CHAT);
        return ok(consoleConversationDetail(ctx.store, markRead(req, ctx, a, req.params[1], onRead)));
      },
    },
    { method: 'GET', pattern: new RegExp(`${app}/chat-messages$`), handler: chatMessages },
    { method: 'GET', pattern: new RegExp(`${app}/completion-conversations$`), handler: completionConversations },
    {
      method: 'GET',
      pattern: new RegExp(`${app}/completion-conversations/${UUID_SEGMENT}$`),
      handler: (req, ctx) => {
        const a = appFor(req, ctx, ['completion']);
        const c = markRead(req, ctx, a, req.params[1], onRead);
        const first = c.messages[0];
        return ok({
          id: c.id,
          status: c.status,
          from_source: c.from_source,
          from_end_user_id: c.from_end_user_id,
          from_account_id: c.from_account_id,
          created_at: c.created_at,
          model_config: consoleConversationDetail(ctx.store, c).model_config,
          message: first ? consoleMessage(ctx.store, first) : null,
        });
      },
    },
    { method: 'GET', pattern: new RegExp(`${app}/workflow-app-logs$`), handler: workflowAppLogs },
  ];
}
