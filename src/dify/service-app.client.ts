import { Logger } from '@nestjs/common';
import { isChatMode, toAppMode } from './app-mode';
import { isActiveIn, unixSeconds } from './crawl-filter';
import type { DifyHttp, DifyRequest } from './dify-http';
import { DifyBadRequestError, DifyBadResponseError, DifyNotFoundError } from './dify.errors';
import type { ConversationRef, Coverage, CrawlWindow, DifyApp, DifyAppClient, DifySource } from './dify.types';
import { chronological, OffsetPage, PAGE_LIMIT, walkDescending, WalkedPage } from './paging';
import { fullWorkflowMessage, workflowRunRefs } from './workflow-runs';
import { WarningLog } from './warnings';

type Row = Record<string, unknown>;

/**
 * Service API mode (`dify_api_url` + app key). It only sees conversations created through the Service
 * API, one end user at a time, so it backs up the listed `users` (or, with none listed, the users found
 * through app feedback) and says so in coverage().
 */
export class ServiceAppClient implements DifyAppClient {
  readonly accessMode = 'service' as const;
  private readonly logger = new Logger(ServiceAppClient.name);
  private readonly warnings = new WarningLog();

  constructor(
    private readonly source: DifySource,
    private readonly http: DifyHttp,
  ) {}

  private async get<T = Row>(path: string, query?: DifyRequest['query'], extra: Partial<DifyRequest> = {}): Promise<T> {
    const res = await this.http.request<T>({
      path,
      query,
      ...extra,
      headers: { ...extra.headers, Authorization: `Bearer ${this.source.api_key}` },
    });
    if (!res.data || typeof res.data !== 'object') {
      throw new DifyBadResponseError(`Dify answered ${path} with JSON that is not an object`, res.status);
    }
    return res.data;
  }

  async getApp(): Promise<DifyApp> {
    const info = await this.get<Row>('/info', undefined, {
      on404: (code) =>
        new DifyNotFoundError(
          'Dify has no Service API at dify_api_url (404 for /info): the URL usually ends in /v1',
          404,
          code,
          'dify_api_url',
        ),
    });
    const mode = toAppMode(info.mode);
    if (!mode) throw new DifyBadResponseError(`Dify reported an app mode this service cannot back up (${String(info.mode)})`);
    const name = typeof info.name === 'string' ? info.name : (this.source.name ?? this.source.app_id);
    return { id: this.source.app_id, name, mode };
  }

  coverage(app: DifyApp): Coverage {
    if (app.mode === 'completion') {
      return {
        complete: false,
        warnings: [
          'Completion apps have no conversation list in the Service API: nothing can be backed up with an app key. ' +
            'Use console_api_url with admin_api_key + workspace_id, or with email + password.',
        ],
      };
    }
    if (app.mode === 'workflow') return { complete: true, warnings: [] };
    const whose = this.source.users?.length
      ? `the ${this.source.users.length} listed user${this.source.users.length === 1 ? '' : 's'}`
      : 'end users discovered through app feedback (only those who left feedback)';
    return {
      complete: false,
      warnings: [
        `Service API mode sees only conversations created through the Service API by ${whose}; ` +
          'WebApp, Explore and console conversations are not visible. Use a console access mode for a complete backup.',
      ],
    };
  }

  async *listConversations(app: DifyApp, window: CrawlWindow): AsyncGenerator<ConversationRef> {
    if (app.mode === 'workflow') {
      yield* this.listWorkflowRuns(window);
      return;
    }
    // Service API conversations all carry from_source "api"
    if (!isChatMode(app.mode) || window.from_source === 'console') return;
    const users = this.source.users?.length ? [...new Set(this.source.users)] : await this.discoverUsers();
    const stopBelow = window.start ? Math.floor(window.start.getTime() / 1000) : undefined;
    const seen = new Set<string>();
    for (const user of users) {
      const pages = walkDescending({
        fetch: (lastId) =>
          this.get('/conversations', { user, last_id: lastId, limit: PAGE_LIMIT, sort_by: '-updated_at' }),
        key: (row) => unixSeconds(row.updated_at),
        stopBelow,
        onTieOverflow: (second) =>
          this.logger.warn(`More than ${PAGE_LIMIT} conversations share the second ${second}; some may be unreachable`),
      });
      for await (const page of pages) {
        for (const row of page.fresh) {
          const id = String(row.id);
          const created = unixSeconds(row.created_at);
          const updated = unixSeconds(row.updated_at);
          if (seen.has(id) || !isActiveIn(window, created, updated)) continue;
          seen.add(id);
          yield { id, created_at: created, updated_at: updated, raw: row, user };
        }
      }
    }
  }

  async getMessages(app: DifyApp, ref: ConversationRef): Promise<Row[]> {
    if (app.mode === 'workflow') {
      const routes = { detail: (id: string) => this.get<Row>(`/workflows/run/${encodeURIComponent(id)}`), nodeExecutions: null };
      return [await fullWorkflowMessage(ref, routes, { includeNodeExecutions: !!this.source.include_node_executions, warnings: this.warnings })];
    }
    if (!ref.user) {
      throw new DifyBadRequestError(`conversation ${ref.id} has no end user: the Service API needs one to read messages`);
    }
    const pages: WalkedPage[] = [];
    for await (const page of walkDescending({
      fetch: (firstId) =>
        this.get('/messages', { conversation_id: ref.id, user: ref.user, first_id: firstId, limit: PAGE_LIMIT }),
      key: (row) => unixSeconds(row.created_at),
      onTieOverflow: (second) =>
        this.logger.warn(`Conversation ${ref.id}: more than ${PAGE_LIMIT} messages share the second ${second}`),
    })) {
      pages.push(page);
    }
    return chronological(pages);
  }

  /** `user` strings of end users who left feedback: the only app-wide trace the Service API offers. */
  private async discoverUsers(): Promise<string[]> {
    const endUserIds = new Set<string>();
    for (let page = 1; page < 10_000; page++) {
      const res = await this.get<{ data?: Row[] }>('/app/feedbacks', { page, limit: PAGE_LIMIT });
      const rows = Array.isArray(res.data) ? res.data : [];
      for (const row of rows) if (typeof row.from_end_user_id === 'string') endUserIds.add(row.from_end_user_id);
      if (rows.length < PAGE_LIMIT) break;
    }
    const users: string[] = [];
    for (const id of endUserIds) {
      try {
        const endUser = await this.get<Row>(`/end-users/${encodeURIComponent(id)}`);
        if (typeof endUser.session_id === 'string' && endUser.session_id) users.push(endUser.session_id);
      } catch (error) {
        if (!(error instanceof DifyNotFoundError)) throw error;
        this.logger.warn(`End user ${id} from app feedback is gone; skipped`);
      }
    }
    this.logger.log(`Discovered ${users.length} end users through app feedback`);
    return [...new Set(users)];
  }

  private listWorkflowRuns(window: CrawlWindow): AsyncGenerator<ConversationRef> {
    return workflowRunRefs((page) => this.get<OffsetPage>('/workflows/logs', { page, limit: PAGE_LIMIT }), window);
  }

  takeWarnings(): string[] {
    return this.warnings.take();
  }
}

