import { Logger } from '@nestjs/common';
import { isChatMode, toAppMode } from './app-mode';
import type { ConsoleAuth } from './console-auth';
import { isValidTimeZone } from '../common/time-zone';
import { consoleEndParam, consoleStartParam } from './console-time';
import { isActiveIn, matchesSource, unixSeconds } from './crawl-filter';
import type { DifyRequest } from './dify-http';
import { DifyBadResponseError, DifyNotFoundError } from './dify.errors';
import type {
  ConversationRef,
  Coverage,
  CrawlWindow,
  DifyAccessMode,
  DifyApp,
  DifyAppClient,
  DifySource,
} from './dify.types';
import { chronological, crawlByMinute, crawlPages, OffsetPage, PAGE_LIMIT, walkDescending, WalkedPage } from './paging';
import { fullWorkflowMessage, workflowRunRefs } from './workflow-runs';
import { WarningLog } from './warnings';

type Row = Record<string, unknown>;

/**
 * Console API mode (admin key or login session): sees every conversation the Logs page shows.
 * Never calls a conversation's detail endpoint, which marks the conversation as read.
 */
export class ConsoleAppClient implements DifyAppClient {
  private readonly logger = new Logger(ConsoleAppClient.name);
  private timeZone: Promise<string> | null = null;
  private readonly warnings = new WarningLog();

  constructor(
    readonly accessMode: Exclude<DifyAccessMode, 'service'>,
    private readonly source: DifySource,
    private readonly auth: ConsoleAuth,
  ) {}

  private async get<T = Row>(path: string, query?: DifyRequest['query'], extra: Partial<DifyRequest> = {}): Promise<T> {
    const res = await this.auth.request<T>({ path, query, ...extra });
    if (!res.data || typeof res.data !== 'object') {
      throw new DifyBadResponseError(`Dify answered ${path.split('?')[0]} with JSON that is not an object`, res.status);
    }
    return res.data;
  }

  private appPath(suffix: string): string {
    return `/apps/${encodeURIComponent(this.source.app_id)}${suffix}`;
  }

  async getApp(): Promise<DifyApp> {
    for (let page = 1; page < 10_000; page++) {
      const res = await this.get<OffsetPage>('/apps', { page, limit: PAGE_LIMIT });
      const rows = Array.isArray(res.data) ? res.data : [];
      const found = rows.find((row) => row.id === this.source.app_id);
      if (found) {
        const mode = toAppMode(found.mode);
        if (!mode) {
          throw new DifyBadResponseError(`Dify reported an app mode this service cannot back up (${String(found.mode)})`);
        }
        return { id: this.source.app_id, name: typeof found.name === 'string' ? found.name : this.source.app_id, mode };
      }
      if (!res.has_more || rows.length === 0) break;
    }
    throw new DifyNotFoundError(
      `Dify has no app with app_id ${this.source.app_id} in this workspace`,
      404,
      'not_found',
      'app_id',
    );
  }

  coverage(app: DifyApp): Coverage {
    const warnings: string[] = [];
    if (app.mode === 'advanced-chat') {
      warnings.push("Dify's console leaves out debugger conversations of advanced-chat apps; they cannot be backed up.");
    }
    return { complete: true, warnings };
  }

  /** The account's IANA timezone, in which the console reads `start`/`end`. */
  private accountTimeZone(): Promise<string> {
    this.timeZone ??= this.get<Row>('/account/profile').then(
      (profile) => {
        if (isValidTimeZone(profile.timezone)) return profile.timezone;
        this.logger.warn('The console account has no valid timezone; assuming UTC');
        return 'UTC';
      },
      (error: unknown) => {
        this.timeZone = null;
        throw error;
      },
    );
    return this.timeZone;
  }

  async *listConversations(app: DifyApp, window: CrawlWindow): AsyncGenerator<ConversationRef> {
    if (app.mode === 'workflow') {
      yield* this.listWorkflowRuns(window);
      return;
    }
    const timeZone = await this.accountTimeZone();
    const chat = isChatMode(app.mode);
    const path = this.appPath(chat ? '/chat-conversations' : '/completion-conversations');
    const startMs = window.start?.getTime();
    const endMs = window.end?.getTime();

    // "active inside the window" = created OR updated inside it: one pass filtered on each field
    const passes: ('updated_at' | 'created_at')[] = [];
    if (chat && startMs !== undefined) passes.push('updated_at');
    if (!chat || startMs === undefined || endMs !== undefined) passes.push('created_at');

    const seen = new Set<string>();
    for (const field of passes) {
      const rows = crawlByMinute({
        // completion lists are always newest first
        direction: chat ? 'asc' : 'desc',
        key: (row) => unixSeconds(row[field]),
        startMs,
        endMs,
        fetch: (range, page) =>
          this.get<OffsetPage>(path, {
            ...(range.startMs !== undefined ? { start: consoleStartParam(range.startMs, timeZone) } : {}),
            // the completion list compares `end` strictly (< :59): ask one second more
            ...(range.endMs !== undefined ? { end: consoleEndParam(range.endMs + (chat ? 0 : 1000), timeZone) } : {}),
            ...(chat ? { sort_by: field } : {}),
            annotation_status: 'all',
            page,
            limit: PAGE_LIMIT,
          }),
      });
      for await (const row of rows) {
        const id = String(row.id);
        const created = unixSeconds(row.created_at);
        const updated = Number.isFinite(unixSeconds(row.updated_at)) ? unixSeconds(row.updated_at) : created;
        if (seen.has(id) || !isActiveIn(window, created, updated) || !matchesSource(window, row.from_source)) continue;
        seen.add(id);
        yield { id, created_at: created, updated_at: updated, raw: row };
      }
    }
  }

  async getMessages(app: DifyApp, ref: ConversationRef): Promise<Row[]> {
    if (app.mode === 'workflow') {
      const runPath = (runId: string, suffix = '') => this.appPath(`/workflow-runs/${encodeURIComponent(runId)}${suffix}`);
      const routes = { detail: (id: string) => this.get(runPath(id)), nodeExecutions: (id: string) => this.get(runPath(id, '/node-executions')) };
      return [await fullWorkflowMessage(ref, routes, { includeNodeExecutions: !!this.source.include_node_executions, warnings: this.warnings })];
    }
    if (app.mode === 'completion') return [completionMessage(ref.raw)];
    const pages: WalkedPage[] = [];
    for await (const page of walkDescending({
      fetch: (firstId) =>
        this.get(this.appPath('/chat-messages'), { conversation_id: ref.id, first_id: firstId, limit: PAGE_LIMIT }),
      key: (row) => unixSeconds(row.created_at),
      onTieOverflow: (second) =>
        this.logger.warn(`Conversation ${ref.id}: more than ${PAGE_LIMIT} messages share the second ${second}`),
    })) {
      pages.push(page);
    }
    return chronological(pages);
  }

  private listWorkflowRuns(window: CrawlWindow): AsyncGenerator<ConversationRef> {
    return workflowRunRefs((page) => this.get<OffsetPage>(this.appPath('/workflow-app-logs'), { page, limit: PAGE_LIMIT }), window);
  }

  takeWarnings(): string[] {
    return this.warnings.take();
  }
}

/** A completion "conversation" row carries its single message; it becomes that conversation's one message. */
export function completionMessage(row: Row): Row {
  const message = row.message && typeof row.message === 'object' ? (row.message as Row) : {};
  return {
    ...message,
    id: message.id ?? row.id,
    conversation_id: row.id,
    created_at: message.created_at ?? row.created_at,
    from_source: message.from_source ?? row.from_source ?? null,
    from_end_user_id: message.from_end_user_id ?? row.from_end_user_id ?? null,
  };
}
