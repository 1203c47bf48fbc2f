import { Logger } from '@nestjs/common';
import { ConsoleAppClient } from './console-app.client';
import type { ConsoleAuth } from './console-auth';
import { AccountTimeZone, consoleJson } from './console-json';
import { consoleMinuteToUtcMs, consoleStartParam, formatConsoleMinute } from './console-time';
import { unixSeconds } from './crawl-filter';
import { DifyBadRequestError, DifyBadResponseError, DifyError, DifyNotFoundError } from './dify.errors';
import type {
  ConversationRef,
  Coverage,
  CrawlWindow,
  DifyAccessMode,
  DifyApp,
  DifyAppClient,
  DifySource,
} from './dify.types';
import { crawlByMinute, crawlPages, OffsetPage, PAGE_LIMIT } from './paging';
import { WarningLog } from './warnings';

type Row = Record<string, unknown>;
type Get = <T = Row>(path: string, query?: Record<string, string | number | undefined>) => Promise<T>;

const MINUTE_MS = 60_000;

export const ROSTER_WARNING =
  "Dify's Agent roster (GET /agent) was read because the app listing gave no bound_agent_id: that call creates an " +
  'empty "Agent Debugging Conversation" for this console account in Dify (it never shows in the logs)';

/** True when Dify answered as a server without Agent apps (before 1.16): no route, or `mode=agent` unknown. */
export function isNoAgentSupport(error: unknown): boolean {
  return (
    error instanceof DifyNotFoundError ||
    (error instanceof DifyBadRequestError && (error.difyCode === 'invalid_param' || error.difyStatus === 400))
  );
}

/** Every row of a page-numbered console listing (deduped, restarted when rows vanish meanwhile). */
export async function allPages(get: Get, path: string, query: Record<string, string> = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of crawlPages((page) => get<OffsetPage>(path, { ...query, page, limit: PAGE_LIMIT }))) rows.push(row);
  return rows;
}

/**
 * App id -> Agent id from the roster. Has a side effect in Dify (see ROSTER_WARNING): only for Agent apps
 * whose listing row lacks `bound_agent_id`. Null when this Dify has no roster.
 */
export async function rosterAgentIds(get: Get): Promise<Map<string, string> | null> {
  try {
    const rows = await allPages(get, '/agent');
    return new Map(rows.filter((r) => typeof r.app_id === 'string' && typeof r.id === 'string').map((r) => [r.app_id as string, r.id as string]));
  } catch (error) {
    if (isNoAgentSupport(error)) return null;
    throw error;
  }
}

/**
 * `end` of the Agent logs, which Dify reads as EXCLUSIVE (unlike the chat-conversations window): the first
 * wall-clock minute at or after the second that follows `ms`, so that a message in the second of `ms` is kept.
 */
export function agentLogsEndParam(ms: number, timeZone: string): string {
  const firstExcluded = Math.floor(ms / 1000) * 1000 + 1000;
  const ceil = Math.ceil(firstExcluded / MINUTE_MS) * MINUTE_MS;
  for (let step = 0; step <= 4; step++) {
    const text = formatConsoleMinute(ceil + step * 30 * MINUTE_MS, timeZone);
    if (consoleMinuteToUtcMs(text, timeZone) >= firstExcluded) return text;
  }
  return formatConsoleMinute(ceil + 3 * 3_600_000, timeZone);
}

/**
 * Dify 1.16's Agent apps (mode `agent`), through the console's Agent logs. The logs' filters apply to
 * messages: a row lists when any of its messages falls in the window, and its `created_at` is the latest
 * such message, which is exactly "active in the window". Rows are read with `sources=webapp`: every
 * WebApp and Service API conversation, including those with a debugger message among theirs; debugger-only
 * conversations and Agent-node executions inside workflows (which the workflow app's run logs hold) are
 * left out. Messages come in full from the backing app's message route; nothing here marks anything read.
 */
export class AgentAppClient implements DifyAppClient {
  private readonly logger = new Logger(AgentAppClient.name);
  private readonly warnings = new WarningLog();
  private readonly timeZone: AccountTimeZone;
  private readonly get: Get;
  private agentId: string | null;
  private rosterUsed = false;
  private messagesClient: ConsoleAppClient | null = null;

  constructor(
    readonly accessMode: Exclude<DifyAccessMode, 'service'>,
    private readonly source: DifySource,
    private readonly auth: ConsoleAuth,
    /** the Agent id when the caller already knows it (the workspace listing) */
    agentId?: string,
  ) {
    this.agentId = agentId ?? null;
    this.timeZone = new AccountTimeZone(auth);
    this.get = (path, query) => consoleJson(auth, path, query);
  }

  /** The app from the workspace's Agent app listing (no side effect); its Agent id from there or, failing that, the roster. */
  async getApp(): Promise<DifyApp> {
    let rows: Row[];
    try {
      rows = await allPages(this.get, '/apps', { mode: 'agent' });
    } catch (error) {
      if (!isNoAgentSupport(error)) throw error;
      rows = [];
    }
    const row = rows.find((r) => r.id === this.source.app_id);
    if (!row) {
      throw new DifyNotFoundError(`Dify has no app with app_id ${this.source.app_id} in this workspace`, 404, 'not_found', 'app_id');
    }
    if (!this.agentId && typeof row.bound_agent_id === 'string' && row.bound_agent_id) this.agentId = row.bound_agent_id;
    await this.resolveAgentId();
    return { id: this.source.app_id, name: typeof row.name === 'string' ? row.name : this.source.app_id, mode: 'agent' };
  }

  coverage(_app: DifyApp): Coverage {
    const warnings = [
      'Agent app: console debugger (and Explore) conversations are not backed up; conversations whose messages all have an ' +
        "unknown origin are not in Dify's Agent logs; Agent steps inside workflows are archived with the workflow app's runs.",
    ];
    if (this.rosterUsed) warnings.push(ROSTER_WARNING);
    return { complete: true, warnings };
  }

  async *listConversations(app: DifyApp, window: CrawlWindow): AsyncGenerator<ConversationRef> {
    // every row read here is a WebApp/Service API conversation (from_source "api")
    if (window.from_source === 'console') return;
    const agentId = await this.resolveAgentId();
    const timeZone = await this.timeZone.get();
    const rows = crawlByMinute({
      direction: 'desc',
      key: (row) => unixSeconds(row.created_at),
      startMs: window.start?.getTime(),
      endMs: window.end?.getTime(),
      fetch: (range, page) =>
        this.get<OffsetPage>(this.logsPath(agentId), {
          sources: 'webapp',
          sort_by: 'created_at',
          sort_order: 'desc',
          ...(range.startMs !== undefined ? { start: consoleStartParam(range.startMs, timeZone) } : {}),
          ...(range.endMs !== undefined ? { end: agentLogsEndParam(range.endMs, timeZone) } : {}),
          page,
          limit: PAGE_LIMIT,
        }),
    });
    for await (const row of rows) {
      const source = row.source && typeof row.source === 'object' ? (row.source as Row) : {};
      if (source.type === 'workflow') continue;
      const created = unixSeconds(row.created_at);
      const updated = unixSeconds(row.updated_at);
      yield {
        id: String(row.conversation_id ?? row.id),
        created_at: created,
        updated_at: Number.isFinite(updated) ? Math.max(updated, created) : created,
        raw: row,
      };
    }
  }

  /**
   * Every message in full through the backing app's `chat-messages` (first_id back-paging), checked against
   * the Agent log's own count. A conversation its user deleted (still in the Agent logs, 404 on the app
   * route) is read from the Agent log messages instead, with a warning.
   */
  async getMessages(app: DifyApp, ref: ConversationRef): Promise<Row[]> {
    const agentId = await this.resolveAgentId();
    const counted = await this.get<OffsetPage>(this.messagesPath(agentId, ref.id), { page: 1, limit: 1 });
    const total = typeof counted.total === 'number' ? counted.total : undefined;
    let messages: Row[];
    try {
      messages = await this.fullMessages(app).getMessages(app, ref);
    } catch (error) {
      if (!(error instanceof DifyNotFoundError)) throw error;
      return this.deletedConversationMessages(agentId, ref, error);
    }
    if (messages.length === 0) {
      throw new DifyBadResponseError(`Agent conversation ${ref.id}: Dify returned no messages for it`);
    }
    if (total !== undefined && messages.length < total) {
      throw new DifyBadResponseError(
        `Agent conversation ${ref.id}: Dify's message route returned ${messages.length} of the ${total} messages its Agent log counts`,
      );
    }
    return messages;
  }

  takeWarnings(): string[] {
    return this.warnings.take();
  }

  private fullMessages(app: DifyApp): ConsoleAppClient {
    this.messagesClient ??= new ConsoleAppClient(this.accessMode, { ...this.source, app_id: app.id }, this.auth);
    return this.messagesClient;
  }

  private async deletedConversationMessages(agentId: string, ref: ConversationRef, cause: DifyError): Promise<Row[]> {
    const rows = await allPages(this.get, this.messagesPath(agentId, ref.id), { sort_by: 'created_at', sort_order: 'asc' });
    // an unknown conversation answers 200 with no data here: never archive that as an empty conversation
    if (rows.length === 0) {
      throw new DifyNotFoundError(
        `Agent conversation ${ref.id}: Dify has no messages for it (${cause.message}; the Agent log has none either)`,
        404,
        cause.difyCode,
      );
    }
    this.warnings.add(
      `Agent conversation ${ref.id} is deleted in Dify's app but kept in its Agent logs: archived from the Agent log ` +
        'messages, without inputs, agent_thoughts and metadata',
    );
    return rows
      .map((m): Row => ({ ...m, provider_response_latency: typeof m.latency === 'number' ? m.latency : null }))
      .sort((a, b) => unixSeconds(a.created_at) - unixSeconds(b.created_at));
  }

  private async resolveAgentId(): Promise<string> {
    if (this.agentId) return this.agentId;
    const roster = await rosterAgentIds(this.get);
    this.rosterUsed = roster !== null;
    if (this.rosterUsed) this.logger.warn(`App ${this.source.app_id}: ${ROSTER_WARNING}`);
    const found = roster?.get(this.source.app_id);
    if (!found) {
      throw new DifyNotFoundError(`Dify has no Agent for the Agent app ${this.source.app_id}`, 404, 'not_found', 'app_id');
    }
    this.agentId = found;
    return found;
  }

  private logsPath(agentId: string): string {
    return `/agent/${encodeURIComponent(agentId)}/logs`;
  }

  private messagesPath(agentId: string, conversationId: string): string {
    return `${this.logsPath(agentId)}/${encodeURIComponent(conversationId)}/messages`;
  }
}
