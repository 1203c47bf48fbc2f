import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Readable } from 'node:stream';
import type { ArchivedConversation } from '../common/conversation-log';
import { KeyedLock } from '../common/keyed-lock';
import { AppConfig } from '../config/app-config';
import { conversationPath, gzPathOf, parseArchivePath, retentionCutoff } from './archive-paths';
import { checkFilter, checkFormat, checkInteger, checkName, checkRange } from './archive-validation';
import { catalogEntryOf, CatalogEntry, CatalogMessage, contentHash, conversationProblem } from './catalog-entry';
import { decodeCursor, encodeCursor, ftsQuery } from './catalog-query';
import { CatalogRepository, CatalogRow, ExportRow } from './catalog.repository';
import type { StoredSegment } from './archive-io-worker';
import { EXPORT_WRITERS, ExportWriter } from './export-format';
import { LogFilesRepository } from './log-files.repository';
import { SharedExclusive } from './shared-exclusive';
import { ArchiveNotFoundError, ArchiveQueryError } from './log-storage.errors';
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
  SkippedFile,
  StatsQuery,
  StatsResult,
  VerifyResult,
} from './log-storage.types';

const PAGE = 200;
const INSERT_BATCH = 500;
/** export: catalog rows per page, stored bytes per read request (gzipped files weigh 8x), requests in flight */
const EXPORT_PAGE = 512;
const EXPORT_BATCH_BYTES = 512 * 1024;
const EXPORT_READS_IN_FLIGHT = 3;
/** rows of removed day folders purged per step, and the pause between steps */
const PURGE_BATCH = 250;
const PURGE_PAUSE_MS = 2;

export type ConversationRef = { path: string } | { conversation_id: string; organization_id?: string };

type Loaded = { ok: true; conversation: ArchivedConversation; size: number; sha256: string } | { ok: false; reason: string };

function round(value: number | null, digits = 3): number | null {
  if (value === null) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * The archive: one JSON file per conversation (the source of truth) and a SQLite catalog of them
 * for summary, export, search and stats. All file and SQLite access goes through the two repositories.
 */
@Injectable()
export class LogStorageService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LogStorageService.name);
  private readonly locks = new KeyedLock();
  private readonly access = new SharedExclusive();
  private purgeTimer: NodeJS.Timeout | null = null;
  /** the clock retention and compression measure days against */
  now: () => Date = () => new Date();

  constructor(
    private readonly config: AppConfig,
    private readonly files: LogFilesRepository,
    private readonly catalog: CatalogRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    const abandoned = await this.files.removeAbandonedTemps();
    if (abandoned.length) this.logger.warn(`Removed ${abandoned.length} temp files left by an interrupted write`);
    const state = this.catalog.open();
    if (state.needsRebuild) {
      this.logger.log(`Rebuilding the catalog from the files: ${state.reason}`);
      await this.reindex();
    }
    this.schedulePurge();
  }

  onModuleDestroy(): void {
    if (this.purgeTimer) clearTimeout(this.purgeTimer);
    this.purgeTimer = null;
    this.catalog.close();
  }

  /**
   * Writes the conversation's file atomically and records it in the catalog. Content equal but for
   * `logged_at` leaves the file alone; a known conversation is rewritten where it lies (also gzipped).
   */
  async saveConversation(conv: ArchivedConversation): Promise<SaveResult> {
    const problem = conversationProblem(conv);
    if (problem) throw new Error(`conversation cannot be archived: ${problem}`);
    const freshPath = conversationPath(
      { conversation_id: conv.conversation_id, organization_id: conv.organization_id || null, created_at: conv.created_at },
      this.config.logTimezone,
    );
    return this.access.shared(() => this.locks.run(conv.conversation_id, () => this.saveLocked(conv, freshPath)));
  }

  async getSummary(organizationId?: string): Promise<LogsSummary> {
    checkName('organization_id', organizationId);
    const { files, bytes, directories } = this.catalog.summary(organizationId);
    return { success: true, total_files: files, total_size_bytes: bytes, directories };
  }

  async countConversations(filter: ArchiveFilter = {}): Promise<number> {
    checkFilter(filter);
    return this.catalog.count(filter);
  }

  /**
   * The filter's conversations as a byte stream in the given format. JSON and NDJSON pass the stored
   * bytes through (see `storedChunks`); CSV parses each file. Arguments are checked before the stream
   * exists; destroying it stops reading files.
   */
  exportStream(filter: ArchiveFilter, format: ExportFormat = 'json'): Readable {
    checkFilter(filter);
    const checked = checkFormat(format);
    const writer = EXPORT_WRITERS[checked];
    const chunks = checked === 'csv' ? this.parsedChunks(filter, writer) : this.storedChunks(filter, checked, writer);
    return Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 });
  }

  async exportToArray(filter: ArchiveFilter): Promise<ArchivedConversation[]> {
    checkFilter(filter);
    const out: ArchivedConversation[] = [];
    for await (const conv of this.conversations(filter)) out.push(conv);
    return out;
  }

  /**
   * Removes day folders before today − daysToKeep (in LOG_TIMEZONE), and empty parents; dry runs only count.
   * Files and bytes are the catalog's totals of those folders. Their catalog rows are hidden at once and
   * purged in the background, so the run costs one call per folder, not per file.
   */
  async cleanOldLogs(options: CleanOptions): Promise<CleanResult> {
    const daysToKeep = checkInteger('days_to_keep', options.daysToKeep, 1, 36500);
    checkName('organization_id', options.organizationId);
    const dryRun = options.dryRun === true;
    const cutoff = retentionCutoff(daysToKeep, this.config.logTimezone, this.now());
    const run = async (): Promise<CleanResult> => {
      const onDisk = await this.foldersBefore(cutoff, options.organizationId);
      const catalogued = new Map(this.catalog.dirsBefore(cutoff, options.organizationId).map((d) => [d.dir, d]));
      const dirs = [...onDisk.keys()];
      let tallies;
      try {
        tallies = await this.files.tallyDirs(
          dirs.map((dir) => ({ dir, expected: catalogued.get(dir)?.files ?? 0 })),
          !dryRun,
        );
      } catch (error) {
        if (!dryRun) {
          // hide only the folders that are really gone; the others stay as they are
          const left = await this.foldersBefore(cutoff, options.organizationId);
          this.catalog.markRemoved([...catalogued.values()].filter((d) => !left.has(d.dir)));
        }
        throw error;
      }
      let files = 0;
      let bytes = 0;
      tallies.forEach((t, i) => {
        files += t.files;
        bytes += t.bytes ?? catalogued.get(dirs[i])?.bytes ?? 0;
      });
      if (!dryRun) {
        // folders deleted by hand go from the catalog too
        this.catalog.markRemoved([...catalogued.values()]);
        for (const parent of new Set(dirs.map((dir) => dir.slice(0, dir.lastIndexOf('/'))))) {
          await this.files.pruneEmpty(parent);
        }
        this.schedulePurge();
      }
      const days = [...onDisk.values()].sort();
      const scope = options.organizationId ? ` of ${options.organizationId}` : '';
      const message = days.length
        ? `${dryRun ? 'Would delete' : 'Deleted'} ${files} files in ${days.length} day folders${scope} before ${cutoff}`
        : `No day folders${scope} before ${cutoff}`;
      if (!dryRun) this.logger.log(`Finished retention: ${message}`);
      return {
        success: true,
        message,
        deleted_files: files,
        deleted_size_bytes: bytes,
        dry_run: dryRun,
        first_day: days[0] ?? null,
        last_day: days[days.length - 1] ?? null,
      };
    };
    return dryRun ? run() : this.access.exclusive(run);
  }

  /** Gzips the files of day folders before today − afterDays (default COMPRESS_AFTER_DAYS; off when unset). */
  async compressOldDays(afterDays: number | null = this.config.compressAfterDays): Promise<CompressResult> {
    if (afterDays === null || afterDays === undefined) {
      return { success: true, compressed_files: 0, bytes_before: 0, bytes_after: 0, before_day: null };
    }
    checkInteger('after_days', afterDays, 0, 36500);
    const beforeDay = retentionCutoff(afterDays, this.config.logTimezone, this.now());
    const result: CompressResult = { success: true, compressed_files: 0, bytes_before: 0, bytes_after: 0, before_day: beforeDay };
    let afterId = 0;
    for (;;) {
      const rows = this.catalog.uncompressedBefore(beforeDay, afterId, PAGE);
      if (!rows.length) break;
      afterId = rows[rows.length - 1].id;
      for (const row of rows) {
        const done = await this.access.shared(() => this.locks.run(row.conversation_id, () => this.compressOne(row)));
        if (done) {
          result.compressed_files++;
          result.bytes_before += done.before;
          result.bytes_after += done.after;
        }
      }
    }
    if (result.compressed_files) {
      this.logger.log(`Finished compression: ${result.compressed_files} files before ${beforeDay}, ${result.bytes_before} -> ${result.bytes_after} bytes`);
    }
    return result;
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const { q, limit = 20, cursor, ...filter } = query;
    checkFilter(filter);
    checkInteger('limit', limit, 1, 100);
    let match: string | null = null;
    if (q !== undefined) {
      match = typeof q === 'string' && q.length <= 500 ? ftsQuery(q) : null;
      if (!match) throw new ArchiveQueryError('q', 'q must contain a letter or digit (at most 500 characters)');
    }
    const after = cursor === undefined ? null : decodeCursor(cursor);
    if (cursor !== undefined && !after) throw new ArchiveQueryError('cursor', 'cursor is not a cursor from a previous page');
    const rows = this.catalog.search(filter, match, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      success: true,
      results: page.map((r) => ({
        conversation_id: r.conversation_id,
        path: r.path,
        organization_id: r.organization_id,
        app_id: r.app_id,
        name: r.name,
        created_at: r.created_at,
        updated_at: r.updated_at,
        message_count: r.message_count,
        snippet: r.snippet ?? '',
      })),
      next_cursor: rows.length > limit ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
    };
  }

  /** Per day folder and app, and in total. Latency figures are seconds; p95 is the nearest rank. */
  async stats(query: StatsQuery = {}): Promise<StatsResult> {
    checkRange(query.start_date, query.end_date);
    checkName('organization_id', query.organization_id);
    checkName('app_id', query.app_id);
    const { rows, totals } = this.catalog.stats(query);
    return {
      success: true,
      days: rows.map((r) => ({ ...r, avg_latency: round(r.avg_latency), p95_latency: round(r.p95_latency) })),
      totals: { ...totals, avg_latency: round(totals.avg_latency), p95_latency: round(totals.p95_latency) },
    };
  }

  /** One archived conversation by its relative path, or by conversation id (newest when several organizations hold it). */
  async getConversation(ref: ConversationRef): Promise<ConversationResult> {
    let filePath: string;
    if ('path' in ref) {
      if (!parseArchivePath(ref.path)) {
        throw new ArchiveQueryError('path', 'path must be a conversation file of the archive, e.g. conversations/<org>/YYYY/MM/DD/conversation_<id>_<time>.json');
      }
      filePath = ref.path;
      if (!filePath.endsWith('.gz') && !(await this.files.exists(filePath)) && (await this.files.exists(gzPathOf(filePath)))) {
        filePath = gzPathOf(filePath);
      }
    } else {
      checkName('conversation_id', ref.conversation_id);
      checkName('organization_id', ref.organization_id);
      const row = this.catalog.findByConversationId(ref.conversation_id, ref.organization_id);
      if (!row) throw new ArchiveNotFoundError(`conversation ${ref.conversation_id} is not in the archive`);
      filePath = row.path;
    }
    const loaded = await this.load(filePath);
    if (!loaded) throw new ArchiveNotFoundError(`${filePath} is not in the archive`);
    if (!loaded.ok) throw new Error(`${filePath} cannot be read: ${loaded.reason}`);
    return { success: true, path: filePath, conversation: loaded.conversation };
  }

  /** Re-hashes every catalogued file and looks for files the catalog does not know. */
  async verify(): Promise<VerifyResult> {
    const result: VerifyResult = { success: true, checked: 0, missing: [], changed: [], unindexed: [], corrupt: [] };
    let afterId = 0;
    for (;;) {
      const rows = this.catalog.page(afterId, PAGE);
      if (!rows.length) break;
      afterId = rows[rows.length - 1].id;
      for (const row of rows) {
        result.checked++;
        const hash = await this.files.hash(row.path);
        if (!hash) result.missing.push(row.path);
        else if (hash.sha256 !== row.sha256) {
          const loaded = await this.load(row.path);
          (loaded?.ok ? result.changed : result.corrupt).push(row.path);
        }
      }
    }
    for await (const file of this.files.walk()) {
      if (this.catalog.hasPath(file.path)) continue;
      result.checked++;
      const loaded = parseArchivePath(file.path) ? await this.load(file.path) : { ok: false as const, reason: 'not an archive file name' };
      (loaded?.ok ? result.unindexed : result.corrupt).push(file.path);
    }
    const problems = result.missing.length + result.changed.length + result.unindexed.length + result.corrupt.length;
    const line = `Finished verify: checked=${result.checked} missing=${result.missing.length} changed=${result.changed.length} unindexed=${result.unindexed.length} corrupt=${result.corrupt.length}`;
    if (problems) this.logger.warn(line);
    else this.logger.log(line);
    return result;
  }

  /**
   * Drops the catalog and rebuilds it from the files; unusable files are skipped and reported.
   * `onProgress` hears how many files the walk has reached, once per file.
   */
  async reindex(onProgress?: (filesRead: number) => void): Promise<ReindexResult> {
    return this.access.exclusive(() => this.rebuild(onProgress));
  }

  private async rebuild(onProgress?: (filesRead: number) => void): Promise<ReindexResult> {
    const started = Date.now();
    this.logger.log('Started catalog rebuild');
    this.catalog.startRebuild();
    const skipped: SkippedFile[] = [];
    let batch: { entry: CatalogEntry; messages: CatalogMessage[] }[] = [];
    let indexed = 0;
    let read = 0;
    const flush = () => {
      const duplicates = this.catalog.insertMany(batch);
      indexed += batch.length - duplicates.length;
      for (const d of duplicates) skipped.push({ path: d.path, reason: `a second file of the conversation in ${d.duplicateOf}` });
      batch = [];
    };
    for await (const file of this.files.walk()) {
      onProgress?.(++read);
      const info = parseArchivePath(file.path);
      if (!info) {
        skipped.push({ path: file.path, reason: 'not an archive file name' });
        continue;
      }
      const loaded = await this.load(file.path);
      if (!loaded || !loaded.ok) {
        skipped.push({ path: file.path, reason: loaded ? loaded.reason : 'vanished while reading' });
        continue;
      }
      const conv = loaded.conversation;
      if (conv.conversation_id !== info.conversation_id || (conv.organization_id || null) !== info.organization_id) {
        skipped.push({ path: file.path, reason: 'its conversation_id or organization_id does not match the path' });
        continue;
      }
      batch.push(catalogEntryOf(conv, { path: file.path, size: loaded.size, sha256: loaded.sha256, info }));
      if (batch.length >= INSERT_BATCH) flush();
    }
    flush();
    this.catalog.finishRebuild();
    const result: ReindexResult = { success: true, indexed, skipped, duration_ms: Date.now() - started };
    const line = `Finished catalog rebuild: indexed=${indexed} skipped=${skipped.length} in ${result.duration_ms} ms`;
    if (skipped.length) {
      this.logger.warn(line);
      for (const s of skipped.slice(0, 20)) this.logger.warn(`Skipped ${s.path}: ${s.reason}`);
    } else this.logger.log(line);
    return result;
  }

  private async saveLocked(conv: ArchivedConversation, freshPath: string): Promise<SaveResult> {
    const hash = contentHash(conv);
    const existing = this.catalog.findConversation(conv.organization_id || null, conv.conversation_id);
    const onDisk = existing ? await this.files.exists(existing.path) : false;
    if (existing && onDisk && existing.content_hash === hash) return { outcome: 'unchanged', path: existing.path };
    const target = existing && onDisk && parseArchivePath(existing.path) ? existing.path : freshPath;
    const info = parseArchivePath(target)!;
    const written = await this.files.writeAtomic(target, JSON.stringify(conv, null, 2));
    const { entry, messages } = catalogEntryOf(conv, { path: target, size: written.size, sha256: written.sha256, info });
    this.catalog.upsert(entry, messages);
    return { outcome: existing && onDisk ? 'updated' : 'created', path: target };
  }

  private async compressOne(stale: CatalogRow): Promise<{ before: number; after: number } | null> {
    const row = this.catalog.findByPath(stale.path);
    if (!row || row.compressed) return null;
    const loaded = await this.files.read(row.path);
    if (!loaded) return null;
    const target = gzPathOf(row.path);
    const written = await this.files.writeAtomic(target, loaded.text);
    this.catalog.moveFile(row.id, { path: target, size: written.size, sha256: written.sha256, compressed: true });
    await this.files.remove(row.path);
    return { before: loaded.size, after: written.size };
  }

  /** Day folders on disk before `cutoff`: dir → day. */
  private async foldersBefore(cutoff: string, organizationId?: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const folder of this.files.dayFolders(organizationId)) if (folder.day < cutoff) out.set(folder.dir, folder.day);
    return out;
  }

  /** Purges the rows of removed day folders a small batch at a time, between other work. */
  private schedulePurge(): void {
    if (this.purgeTimer || !this.catalog.hasRemoved()) return;
    const step = () => {
      this.purgeTimer = null;
      let more: boolean;
      try {
        more = this.catalog.purgeRemoved(PURGE_BATCH);
      } catch (error) {
        this.logger.warn(`Purging rows of removed day folders failed: ${(error as Error).message}`);
        return;
      }
      if (more) {
        this.purgeTimer = setTimeout(step, PURGE_PAUSE_MS);
        this.purgeTimer.unref();
      }
    };
    this.purgeTimer = setTimeout(step, PURGE_PAUSE_MS);
    this.purgeTimer.unref();
  }

  private async *parsedChunks(filter: ArchiveFilter, writer: ExportWriter): AsyncGenerator<string> {
    if (writer.head) yield writer.head;
    let count = 0;
    for await (const conv of this.conversations(filter)) {
      const text = writer.item(conv, count++);
      if (text) yield text;
    }
    const tail = writer.tail(count);
    if (tail) yield tail;
  }

  /**
   * JSON and NDJSON straight from the stored bytes: the worker thread passes a file through only when it
   * still has the size the catalog recorded when it was validated (saved or indexed) and still starts with
   * `{` and ends with `}`. The files are pretty-printed JSON, so for NDJSON their line breaks, all between
   * tokens, become spaces. Any other file is read, parsed and checked here as before; gone ones are
   * skipped. Reads run a few batches ahead, in order.
   */
  private async *storedChunks(filter: ArchiveFilter, mode: 'json' | 'ndjson', writer: ExportWriter): AsyncGenerator<Buffer | string> {
    if (writer.head) yield writer.head;
    let count = 0;
    const batches = this.exportBatches(filter);
    const ahead: { rows: ExportRow[]; segments: Promise<StoredSegment[]> }[] = [];
    const fill = () => {
      while (ahead.length < EXPORT_READS_IN_FLIGHT) {
        const next = batches.next();
        if (next.done) return;
        const segments = this.files.readStored(mode, next.value);
        segments.catch(() => undefined);
        ahead.push({ rows: next.value, segments });
      }
    };
    fill();
    while (ahead.length) {
      const batch = ahead.shift()!;
      fill();
      for (const segment of await batch.segments) {
        if (segment.kind === 'bytes') {
          // every stored item starts with its comma in JSON: the export's first one does not
          yield mode === 'json' && count === 0 ? segment.data.subarray(1) : segment.data;
          count += segment.items;
          continue;
        }
        const row = batch.rows[segment.index];
        const loaded = await this.load(row.path);
        if (loaded?.ok) yield writer.item(loaded.conversation, count++);
        else this.logger.warn(`Export skipped ${row.path}: ${loaded ? loaded.reason : 'file is missing'}`);
      }
    }
    const tail = writer.tail(count);
    if (tail) yield tail;
  }

  /** Catalog rows in (day, path) order, cut into read requests of about EXPORT_BATCH_BYTES. */
  private *exportBatches(filter: ArchiveFilter): Generator<ExportRow[]> {
    let after: { day: string; path: string } | null = null;
    for (;;) {
      const rows = this.catalog.exportPage(filter, after, EXPORT_PAGE);
      if (!rows.length) return;
      const last: ExportRow = rows[rows.length - 1];
      after = { day: last.day, path: last.path };
      let batch: ExportRow[] = [];
      let bytes = 0;
      for (const row of rows) {
        const weight = row.compressed ? row.size * 8 : row.size;
        if (batch.length && bytes + weight > EXPORT_BATCH_BYTES) {
          yield batch;
          batch = [];
          bytes = 0;
        }
        batch.push(row);
        bytes += weight;
      }
      if (batch.length) yield batch;
    }
  }

  /** The filter's conversations in (day, path) order; files gone or unreadable since they were catalogued are skipped. */
  private async *conversations(filter: ArchiveFilter): AsyncGenerator<ArchivedConversation> {
    let after: { day: string; path: string } | null = null;
    for (;;) {
      const rows = this.catalog.exportPage(filter, after, PAGE);
      if (!rows.length) return;
      const last: ExportRow = rows[rows.length - 1];
      after = { day: last.day, path: last.path };
      for (const row of rows) {
        const loaded = await this.load(row.path);
        if (loaded?.ok) yield loaded.conversation;
        else this.logger.warn(`Export skipped ${row.path}: ${loaded ? loaded.reason : 'file is missing'}`);
      }
    }
  }

  /** null when the file does not exist. */
  private async load(filePath: string): Promise<Loaded | null> {
    let read;
    try {
      read = await this.files.read(filePath);
    } catch (error) {
      return { ok: false, reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    if (!read) return null;
    let value: unknown;
    try {
      value = JSON.parse(read.text);
    } catch {
      return { ok: false, reason: 'not valid JSON' };
    }
    const problem = conversationProblem(value);
    if (problem) return { ok: false, reason: problem };
    return { ok: true, conversation: value as ArchivedConversation, size: read.size, sha256: read.sha256 };
  }
}
