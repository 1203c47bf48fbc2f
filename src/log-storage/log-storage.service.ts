import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { ArchivedConversation } from '../common/conversation-log';
import { NO_VAULT_EVENTS, VAULT_EVENTS, VaultEvents } from '../common/vault-events';
import { ArchiveAccess } from './archive-access';
import { ArchiveExporter } from './archive-export.service';
import { ArchiveMaintenance } from './archive-maintenance.service';
import { ArchiveReader, ConversationRef } from './archive-reader.service';
import { ARCHIVE_STORE, ArchiveStore } from './archive-store';
import { ArchiveWriter } from './archive-writer.service';
import { CATALOG, Catalog } from './catalog';
import type {
  ArchiveFilter,
  CleanOptions,
  CleanResult,
  CompressResult,
  ConversationResult,
  ExportFormat,
  LogsSummary,
  ReindexResult,
  SaveResult,
  SearchQuery,
  SearchResult,
  StatsQuery,
  StatsResult,
  VerifyResult,
} from './log-storage.types';

export type { ConversationRef } from './archive-reader.service';

/**
 * The archive as the rest of the application sees it: one JSON file per conversation (the source of truth,
 * in an `ArchiveStore`) and a `Catalog` of them for summary, export, search and stats. Each call goes to the
 * service that does that job: reads, exports, writes or maintenance.
 */
@Injectable()
export class LogStorageService implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly access: ArchiveAccess,
    private readonly reader: ArchiveReader,
    private readonly exporter: ArchiveExporter,
    private readonly writer: ArchiveWriter,
    private readonly maintenance: ArchiveMaintenance,
    @Inject(ARCHIVE_STORE) private readonly store: ArchiveStore,
    @Inject(CATALOG) private readonly catalog: Catalog,
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
    await this.maintenance.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.maintenance.stop();
    await this.catalog.close();
    await this.store.close();
  }

  saveConversation(conv: ArchivedConversation): Promise<SaveResult> {
    return this.writer.saveConversation(conv);
  }

  getSummary(organizationId?: string): Promise<LogsSummary> {
    return this.reader.getSummary(organizationId);
  }

  countConversations(filter: ArchiveFilter = {}): Promise<number> {
    return this.reader.countConversations(filter);
  }

  exportStream(filter: ArchiveFilter, format: ExportFormat = 'json'): Readable {
    const stream = this.exporter.exportStream(filter, format);
    this.vaultEvents.recordExport(format);
    return stream;
  }

  async exportToArray(filter: ArchiveFilter): Promise<ArchivedConversation[]> {
    const conversations = await this.exporter.exportToArray(filter);
    this.vaultEvents.recordExport('json');
    return conversations;
  }

  async cleanOldLogs(options: CleanOptions): Promise<CleanResult> {
    const result = await this.maintenance.cleanOldLogs(options);
    if (!result.dry_run) this.vaultEvents.recordRetention(result.deleted_files);
    return result;
  }

  compressOldDays(afterDays?: number | null): Promise<CompressResult> {
    return this.writer.compressOldDays(afterDays);
  }

  search(query: SearchQuery): Promise<SearchResult> {
    return this.reader.search(query);
  }

  stats(query: StatsQuery = {}): Promise<StatsResult> {
    return this.reader.stats(query);
  }

  getConversation(ref: ConversationRef): Promise<ConversationResult> {
    return this.reader.getConversation(ref);
  }

  verify(): Promise<VerifyResult> {
    return this.maintenance.verify();
  }

  reindex(): Promise<ReindexResult> {
    return this.maintenance.reindex();
  }
}
