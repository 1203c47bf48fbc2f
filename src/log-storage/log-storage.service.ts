import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import type { Readable, Writable } from 'node:stream';
import type { ArchivedConversation } from '../common/conversation-log';
import { ConfigError } from '../config/app-config';
import { isLocalProcessGone } from '../common/process-liveness';
import { NO_VAULT_EVENTS, VAULT_EVENTS, VaultEvents } from '../common/vault-events';
import { AppConfigSnapshots } from './app-config-snapshots';
import { ArchiveAccess } from './archive-access';
import { ArchiveExporter } from './archive-export.service';
import { ArchiveMaintenance } from './archive-maintenance.service';
import { gzPathOf, plainPathOf } from './archive-paths';
import { ArchiveReader, ConversationRef } from './archive-reader.service';
import { ARCHIVE_STORE, ArchiveStore } from './archive-store';
import { ArchiveWriter } from './archive-writer.service';
import { CATALOG, Catalog, JournaledWrite } from './catalog';
import { CatalogRebuildingError } from './log-storage.errors';
import { AuditActor, AuditLog } from './privacy/audit-log';
import { ErasureRegistry } from './privacy/erasure-registry';
import type {
  ArchiveFilter,
  EraseOptions,
  EraseResult,
  CleanOptions,
  CleanResult,
  CompressResult,
  ConversationResult,
  ExportFormat,
  LogsSummary,
  RebuildProgress,
  ReindexOptions,
  ReindexResult,
  SaveResult,
  SearchQuery,
  SearchResult,
  StatsQuery,
  StatsResult,
  VerifyOptions,
  VerifyResult,
} from './log-storage.types';
import { JournalReplay, WriteJournal } from './write-journal';

export type { ConversationRef } from './archive-reader.service';

/**
 * The archive as the rest of the application sees it: one JSON file per conversation (the source of truth,
 * in an `ArchiveStore`) and a `Catalog` of them for summary, export, search and stats. Each call goes to the
 * service that does that job: reads, exports, writes or maintenance. While the catalog is being rebuilt,
 * the answers that come from it fail with `CatalogRebuildingError` rather than being partial; saves wait.
 */
@Injectable()
export class LogStorageService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LogStorageService.name);
  private startUpReplay: Promise<void> | null = null;

  constructor(
    private readonly access: ArchiveAccess,
    private readonly reader: ArchiveReader,
    private readonly exporter: ArchiveExporter,
    private readonly writer: ArchiveWriter,
    private readonly maintenance: ArchiveMaintenance,
    private readonly journal: WriteJournal,
    @Inject(ARCHIVE_STORE) private readonly store: ArchiveStore,
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly appConfigs: AppConfigSnapshots,
    private readonly erasures: ErasureRegistry,
    private readonly audit: AuditLog,
    @Optional() @Inject(VAULT_EVENTS) private readonly vaultEvents: VaultEvents = NO_VAULT_EVENTS,
  ) {}

  /** the clock retention and compression measure days against */
  get now(): () => Date {
    return this.access.now;
  }

  set now(clock: () => Date) {
    this.access.now = clock;
  }

  async onModuleInit(): Promise<void> {
    // a missing bucket or refused credentials stop start-up with one line, as a configuration error does
    try {
      await this.store.checkAccess?.();
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    await this.maintenance.start();
  }

  /**
   * Settles, in the background, the writes a killed process of this host left unindexed (see `WriteJournal`),
   * once the catalog is ready: started by the server and by the commands that write, never awaited by a
   * start-up (a store that retries would hold it up). Other hosts' are settled by the backup side. Resolves
   * when done; a failure is logged, and the next job of the entries' sources or the leader's tick settles them.
   */
  replayAtStartUp(): Promise<void> {
    this.startUpReplay ??= this.maintenance
      .whenCatalogReady()
      .then(() => this.journal.replay((w) => isLocalProcessGone(w.writer, w.since), 'start-up'))
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn(`Failed write journal replay at start-up: ${(error as Error).message}`),
      );
    return this.startUpReplay;
  }

  /**
   * Settles the write journal's entries `which` selects (see `WriteJournal`): their objects indexed when
   * stored, the entries dropped when not. `which` must leave out the writes of processes still running.
   */
  replayWrites(which: (write: JournaledWrite) => boolean, why: string): Promise<JournalReplay> {
    return this.journal.replay(which, why);
  }

  /** Throws when the archive's store cannot be used (readiness). */
  async checkArchive(): Promise<void> {
    await this.store.checkAccess?.();
  }

  async onModuleDestroy(): Promise<void> {
    this.maintenance.stop();
    await this.catalog.close();
    await this.store.close();
  }

  saveConversation(conv: ArchivedConversation): Promise<SaveResult> {
    return this.writer.saveConversation(conv);
  }

  /** While the catalog is being rebuilt: how far it has got; null otherwise. */
  rebuildProgress(): RebuildProgress | null {
    return this.maintenance.rebuildProgress();
  }

  /** Resolves once no catalog rebuild is running. */
  whenCatalogReady(): Promise<void> {
    return this.maintenance.whenCatalogReady();
  }

  async getSummary(organizationId?: string): Promise<LogsSummary> {
    this.catalogReady();
    return this.reader.getSummary(organizationId);
  }

  async countConversations(filter: ArchiveFilter = {}): Promise<number> {
    this.catalogReady();
    return this.reader.countConversations(filter);
  }

  /** The clock the catalog stamps written files with (see Catalog.clock), to compare with countWrittenSince. */
  async catalogClock(): Promise<string> {
    return this.catalog.clock ? this.catalog.clock() : new Date().toISOString();
  }

  /** Conversation files written after `since` (ISO time): saved, rewritten with new content, or compressed. */
  async countWrittenSince(since: string): Promise<number> {
    this.catalogReady();
    return this.reader.countWrittenSince(since);
  }

  exportStream(filter: ArchiveFilter, format: ExportFormat = 'json'): Readable {
    this.catalogReady();
    const stream = this.exporter.exportStream(filter, format);
    this.vaultEvents.recordExport(format);
    return stream;
  }

  /**
   * The export written to `out` (not ended) with back-pressure; its read buffers are reused once `out`
   * has taken their bytes, so memory stays flat. Arguments are checked before anything is written.
   */
  exportTo(filter: ArchiveFilter, format: ExportFormat, out: Writable): Promise<void> {
    this.catalogReady();
    const done = this.exporter.exportTo(filter, format, out);
    this.vaultEvents.recordExport(format);
    return done;
  }

  async exportToArray(filter: ArchiveFilter): Promise<ArchivedConversation[]> {
    this.catalogReady();
    const conversations = await this.exporter.exportToArray(filter);
    this.vaultEvents.recordExport('json');
    return conversations;
  }

  async cleanOldLogs({ actor = { route: 'service' }, ...options }: CleanOptions): Promise<CleanResult> {
    this.catalogReady();
    const result = await this.maintenance.cleanOldLogs(options);
    if (!result.dry_run) {
      this.vaultEvents.recordRetention(result.deleted_files);
      if (result.deleted_files > 0) {
        await this.audit.record({
          action: 'retention-clean',
          ...actor,
          scope: { days_to_keep: options.daysToKeep, organization_id: options.organizationId ?? null, first_day: result.first_day, last_day: result.last_day },
          counts: { files: result.deleted_files, bytes: result.deleted_size_bytes },
        });
      }
    }
    return result;
  }

  /**
   * Removes every conversation of one end user (Dify end-user id or session id): the files, compressed ones
   * too, and their catalog rows, full-text entries and statistics, for good; remembers the end user (as a
   * salted hash) so that later backups skip them; records it in the audit log. Answers counts, never content.
   */
  async eraseEndUser(endUser: string, { organizationId, appId, dryRun = false, actor, forgetPaths }: EraseOptions): Promise<EraseResult> {
    this.catalogReady();
    const filter: ArchiveFilter = { user: endUser, ...(organizationId !== undefined ? { organization_id: organizationId } : {}), ...(appId ? { app_id: appId } : {}) };
    const run = async (): Promise<EraseResult> => {
      const paths: string[] = [];
      const days = new Set<string>();
      const organizations = new Set<string>();
      for (let after: { day: string; path: string } | null = null; ; ) {
        const page = await this.catalog.exportPage(filter, after, 500);
        for (const row of page) {
          paths.push(row.path);
          days.add(row.day);
          organizations.add(row.organization_id ?? '');
        }
        if (page.length < 500) break;
        after = { day: page[page.length - 1].day, path: page[page.length - 1].path };
      }
      const result: EraseResult = {
        success: true,
        message: '',
        dry_run: dryRun,
        conversations: paths.length,
        days: [...days].sort(),
        organizations: [...organizations].sort(),
        remembered: !dryRun,
      };
      if (dryRun) {
        result.message = `Would erase ${paths.length} conversation${paths.length === 1 ? '' : 's'} of this end user`;
        return result;
      }
      // remembered first (idempotent): should that fail, nothing is deleted and a later backup cannot
      // archive again what was erased without a record
      try {
        await this.erasures.remember(endUser, { organizationId: organizationId ?? null, appId: appId ?? null });
      } catch (error) {
        throw new Error('The erasure could not be recorded, so nothing was deleted; try again when the erasure registry is reachable', { cause: error });
      }
      // the files before the rows: a failure leaves catalog rows that verify reports, never text without a row;
      // each with its other form (plain or gzipped), which a compression cut short may have left beside it
      await this.store.delete(paths.flatMap((p) => [p, plainPathOf(p) ?? gzPathOf(p)]));
      await this.catalog.erase(paths);
      await forgetPaths?.(paths);
      result.message = `Erased ${paths.length} conversation${paths.length === 1 ? '' : 's'} of this end user; later backups skip them`;
      await this.audit.record({
        action: 'erase-end-user',
        ...actor,
        scope: { end_user_hash: await this.erasures.hashOf(endUser), organization_id: organizationId ?? null, app_id: appId ?? null },
        counts: { conversations: paths.length, days: days.size },
      });
      return result;
    };
    return dryRun ? run() : this.access.exclusive(run);
  }

  /** Lets later backups archive an erased end user again; returns how many erasures were lifted. */
  async liftErasure(endUser: string, organizationId: string | undefined, actor: AuditActor): Promise<number> {
    const lifted = await this.erasures.forget(endUser, organizationId);
    if (lifted > 0) {
      await this.audit.record({
        action: 'lift-erasure',
        ...actor,
        scope: { end_user_hash: await this.erasures.hashOf(endUser), organization_id: organizationId ?? null },
        counts: { erasures: lifted },
      });
    }
    return lifted;
  }

  async compressOldDays(afterDays?: number | null): Promise<CompressResult> {
    this.catalogReady();
    return this.writer.compressOldDays(afterDays);
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    this.catalogReady();
    return this.reader.search(query);
  }

  async stats(query: StatsQuery = {}): Promise<StatsResult> {
    this.catalogReady();
    return this.reader.stats(query);
  }

  async getConversation(ref: ConversationRef): Promise<ConversationResult> {
    this.catalogReady();
    return this.reader.getConversation(ref);
  }

  /**
   * The conversation files against the catalog, and the app configuration snapshots against their hashes.
   * Under shared access from start to end, for every caller (API, CLI, admin page): a rebuild or retention
   * run started meanwhile waits, instead of making files look missing or unindexed halfway through the check.
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    this.catalogReady();
    return this.access.shared(async () => {
      // a rebuild asked for before this check (waiting for the saves under way) goes first
      this.catalogReady();
      const result = await this.maintenance.verify(options);
      return { ...result, app_configs: await this.appConfigs.verify() };
    });
  }

  /** Rebuilds the catalog from the files; joins the rebuild already running, if any. */
  reindex(options?: ReindexOptions): Promise<ReindexResult> {
    return this.maintenance.reindex(options);
  }

  private catalogReady(): void {
    const progress = this.maintenance.rebuildProgress();
    if (progress) throw new CatalogRebuildingError(progress);
  }
}
