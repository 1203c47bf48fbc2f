import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { NO_VAULT_EVENTS, VAULT_EVENTS, VaultEvents } from '../common/vault-events';
import { AppConfig } from '../config/app-config';
import { ArchiveAccess } from './archive-access';
import { ArchiveFiles, type FoundFile } from './archive-files';
import { parseArchivePath, retentionCutoff } from './archive-paths';
import { checkInteger, checkName } from './archive-validation';
import { CATALOG, Catalog, CatalogRow } from './catalog';
import { MD5_ETAG, type CatalogEntry, type CatalogExtract, type CatalogMessage, type CatalogSource } from './catalog-entry';
import type {
  CleanOptions,
  CleanResult,
  RebuildProgress,
  ReindexOptions,
  ReindexResult,
  SkippedFile,
  VerifyOptions,
  VerifyResult,
} from './log-storage.types';

const PAGE = 200;
/**
 * rebuild: rows per insert call (the catalog groups calls into bigger transactions), files per read request,
 * read requests in flight. Rows handed over one request's worth at a time die young; at 1,024 they outlived
 * the nursery and the main heap grew with the length of the rebuild (130 MB against 72 MB at 100,000 files).
 */
const INSERT_BATCH = 256;
const READ_BATCH = 256;
const READS_AHEAD = 4;
/** rows of removed day folders purged per step, and the pause between steps */
const PURGE_BATCH = 250;
const PURGE_PAUSE_MS = 2;

/** One step of a verification: a catalog row and the stored object of the same path, or either alone. */
type VerifyCheck =
  | { kind: 'both'; row: CatalogRow; file: FoundFile & { etag?: string } }
  | { kind: 'missing'; row: CatalogRow }
  | { kind: 'unindexed'; file: FoundFile };

/** What one step found: nothing wrong, or the list its path goes into; `by` says how the bytes were compared. */
interface VerifyFinding {
  path: string;
  problem: 'missing' | 'changed' | 'unindexed' | 'corrupt' | null;
  by: 'etag' | 'sha256' | null;
  fallback: boolean;
}

/** Keeping the archive in order: start-up recovery, retention, verification and rebuilding the catalog. */
@Injectable()
export class ArchiveMaintenance {
  private readonly logger = new Logger(ArchiveMaintenance.name);
  private purgeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** the rebuild under way, its progress and who wants to hear of it */
  private running: Promise<ReindexResult> | null = null;
  private progress: RebuildProgress | null = null;
  private readonly listeners = new Set<(done: number, total: number | null) => void>();
  /** the start-up removal of temp files left by interrupted writes, running in the background */
  private tempsRemoved: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: AppConfig,
    private readonly access: ArchiveAccess,
    private readonly files: ArchiveFiles,
    @Inject(CATALOG) private readonly catalog: Catalog,
    @Optional() @Inject(VAULT_EVENTS) private readonly vaultEvents: VaultEvents = NO_VAULT_EVENTS,
  ) {}

  /**
   * Removes what interrupted writes left (in the background: `whenTempsRemoved`), opens the catalog and
   * resumes purging. A catalog that has to be rebuilt is rebuilt in the background (catalog-backed answers
   * say so meanwhile: `rebuildProgress`), except for an archive without any file, whose rebuild is done at once.
   */
  async start(): Promise<void> {
    this.stopped = false;
    // temp files are invisible to listings and reads: finding them (a walk over every folder, a second at a
    // million files) need not hold up start-up
    this.tempsRemoved = this.files.removeAbandonedTemps().then(
      (abandoned) => {
        if (abandoned.length) this.logger.warn(`Removed ${abandoned.length} temp files left by an interrupted write`);
      },
      (error: unknown) => {
        if (!this.stopped) this.logger.warn(`Removing temp files left by an interrupted write failed: ${(error as Error).message}`);
      },
    );
    const state = await this.catalog.open();
    if (state.needsRebuild) {
      this.logger.log(`Rebuilding the catalog from the files: ${state.reason}`);
      const rebuild = this.reindex();
      if (await this.files.isEmpty()) await rebuild;
      else rebuild.catch((error: unknown) => this.logger.error(`Failed catalog rebuild: ${(error as Error).message}`));
    }
    await this.schedulePurge();
  }

  /** While the catalog is being rebuilt: files done and the total (null while unknown). */
  rebuildProgress(): RebuildProgress | null {
    return this.progress ? { ...this.progress } : null;
  }

  /** Resolves once the temp files that interrupted writes left (found at start-up) are removed. */
  async whenTempsRemoved(): Promise<void> {
    await this.tempsRemoved;
  }

  /** Resolves once no rebuild is running (at once when none is). */
  async whenCatalogReady(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    if (this.purgeTimer) clearTimeout(this.purgeTimer);
    this.purgeTimer = null;
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
    const cutoff = retentionCutoff(daysToKeep, this.config.logTimezone, this.access.now());
    const run = async (): Promise<CleanResult> => {
      const onDisk = await this.foldersBefore(cutoff, options.organizationId);
      const catalogued = new Map((await this.catalog.dirsBefore(cutoff, options.organizationId)).map((d) => [d.dir, d]));
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
          await this.catalog.markRemoved([...catalogued.values()].filter((d) => !left.has(d.dir)));
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
        await this.catalog.markRemoved([...catalogued.values()]);
        await this.schedulePurge();
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

  /**
   * The store's listing beside the catalog, both in path order: an object without a row is unindexed (or
   * corrupt), a row without an object missing. Where both are there, the listing's size and ETag are
   * compared with the row's size and MD5, with nothing downloaded; the bytes are read and their sha256
   * compared instead with `sha256`, on a store whose listing has no ETags (a disk), and for rows catalogued
   * before the catalog kept MD5s or whose ETag differs at the same size (an ETag that is not an MD5, as with SSE-KMS), counted in `sha256_fallback`. A mismatch is read to tell a changed
   * conversation from a corrupt file. Reads run `readsInFlight` at a time.
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    const result: VerifyResult = {
      success: true,
      method: options.sha256 === true ? 'sha256' : 'etag',
      checked: 0,
      by_etag: 0,
      by_sha256: 0,
      sha256_fallback: 0,
      missing: [],
      changed: [],
      unindexed: [],
      corrupt: [],
    };
    for await (const finding of this.files.readAhead(this.verifyChecks(), (check) => this.verifyOne(check, options.sha256 === true))) {
      result.checked++;
      if (finding.by === 'etag') result.by_etag++;
      if (finding.by === 'sha256') result.by_sha256++;
      if (finding.fallback) result.sha256_fallback++;
      if (finding.problem) result[finding.problem].push(finding.path);
      options.onProgress?.(result.checked);
    }
    const problems = result.missing.length + result.changed.length + result.unindexed.length + result.corrupt.length;
    const line =
      `Finished verify: checked=${result.checked} missing=${result.missing.length} changed=${result.changed.length} ` +
      `unindexed=${result.unindexed.length} corrupt=${result.corrupt.length} by_etag=${result.by_etag} by_sha256=${result.by_sha256}` +
      (result.sha256_fallback ? ` (${result.sha256_fallback} catalogued without an MD5, checked by sha256)` : '');
    if (problems) this.logger.warn(line);
    else this.logger.log(line);
    return result;
  }

  /** The listing and the catalog's rows merged by path (both come in byte order), a page at a time. */
  private async *verifyChecks(): AsyncGenerator<VerifyCheck> {
    const files = this.files.walk();
    const rows = this.rowsByPath();
    let file = await files.next();
    let row = await rows.next();
    while (!file.done || !row.done) {
      if (row.done || (!file.done && file.value.path < row.value.path)) {
        yield { kind: 'unindexed', file: file.value as FoundFile };
        file = await files.next();
      } else if (file.done || row.value.path < file.value.path) {
        yield { kind: 'missing', row: row.value };
        row = await rows.next();
      } else {
        yield { kind: 'both', row: row.value, file: file.value };
        file = await files.next();
        row = await rows.next();
      }
    }
  }

  private async *rowsByPath(): AsyncGenerator<CatalogRow> {
    let after: string | null = null;
    for (;;) {
      const rows = await this.catalog.pageByPath(after, PAGE);
      if (!rows.length) return;
      after = rows[rows.length - 1].path;
      yield* rows;
    }
  }

  private async verifyOne(check: VerifyCheck, sha256: boolean): Promise<VerifyFinding> {
    if (check.kind === 'missing') return { path: check.row.path, problem: 'missing', by: null, fallback: false };
    if (check.kind === 'unindexed') {
      const loaded = parseArchivePath(check.file.path) ? await this.files.load(check.file.path) : { ok: false as const, reason: 'not an archive file name' };
      // gone since it was listed: nothing to report
      if (!loaded) return { path: check.file.path, problem: null, by: null, fallback: false };
      return { path: check.file.path, problem: loaded.ok ? 'unindexed' : 'corrupt', by: null, fallback: false };
    }
    const { row, file } = check;
    const etag = file.etag && MD5_ETAG.test(file.etag) ? file.etag : null;
    if (!sha256 && etag && row.md5) {
      if (file.size === row.size && etag === row.md5) return { path: row.path, problem: null, by: 'etag', fallback: false };
      if (file.size !== row.size) return { path: row.path, problem: await this.mismatch(row.path), by: 'etag', fallback: false };
      // same size, another ETag: changed bytes, or an ETag that is not the MD5 (SSE-KMS): sha256 decides
    }
    // an ETag that could not settle it: the row predates the MD5 column, or the ETag is not the bytes' MD5
    const fallback = !sha256 && etag !== null;
    const hash = await this.files.hash(row.path);
    if (!hash) return { path: row.path, problem: 'missing', by: 'sha256', fallback };
    if (hash.sha256 === row.sha256) return { path: row.path, problem: null, by: 'sha256', fallback };
    return { path: row.path, problem: await this.mismatch(row.path), by: 'sha256', fallback };
  }

  /** Bytes other than catalogued: a conversation still (changed), not one any more (corrupt), or gone. */
  private async mismatch(filePath: string): Promise<'changed' | 'corrupt' | 'missing'> {
    const loaded = await this.files.load(filePath);
    if (!loaded) return 'missing';
    return loaded.ok ? 'changed' : 'corrupt';
  }

  /**
   * Drops the catalog and rebuilds it from the files in one pass; unusable files are skipped and reported.
   * A call while a rebuild is running joins it (one rebuild, one result) and gets its progress from then on.
   */
  async reindex(options: ReindexOptions = {}): Promise<ReindexResult> {
    if (options.onProgress) this.listeners.add(options.onProgress);
    if (!this.running) {
      this.progress = { done: 0, total: null };
      this.running = this.access
        .exclusive(() => this.rebuild())
        .finally(() => {
          this.running = null;
          this.progress = null;
          this.listeners.clear();
        });
    }
    return this.running;
  }

  private report(done: number, total: number | null): void {
    this.progress = { done, total };
    for (const listener of this.listeners) listener(done, total);
  }

  private async rebuild(): Promise<ReindexResult> {
    const started = Date.now();
    this.logger.log('Started catalog rebuild');
    await this.catalog.startRebuild();
    try {
      return await this.load(started);
    } catch (error) {
      await this.catalog.abortRebuild?.();
      throw error;
    }
  }

  /** The rows of every file, between `startRebuild` and `finishRebuild` (see `rebuild`). */
  private async load(started: number): Promise<ReindexResult> {
    const skipped: SkippedFile[] = [];
    let indexed = 0;
    let batch: { entry: CatalogEntry; messages: CatalogMessage[]; id?: number }[] = [];
    const flush = async () => {
      const duplicates = await this.catalog.insertMany(batch);
      indexed += batch.length - duplicates.length;
      for (const d of duplicates) skipped.push({ path: d.path, reason: `a second file of the conversation in ${d.duplicateOf}` });
      batch = [];
    };
    // files are read and parsed on the store's threads, a few requests ahead of the rows inserted here,
    // while the listing goes on; the total is counted first when the store can, and exact once listed
    let listed = 0;
    let done = 0;
    let total: number | null = await this.files.count();
    this.report(0, total);
    let pending: CatalogSource[] = [];
    const ahead: { sources: CatalogSource[]; extracts: Promise<CatalogExtract[]> }[] = [];
    // where the catalog has a message stage, the store's threads may write the messages there themselves,
    // under file ids given here in the order of the sources (the catalog is empty: they start at 1)
    const stage = this.catalog.messageStage?.() ?? null;
    let nextId = 1;
    const send = () => {
      const sources = pending;
      pending = [];
      const extracts = this.files.catalogEntries(sources, stage ? { file: stage, firstId: nextId } : undefined);
      nextId += sources.length;
      extracts.catch(() => undefined);
      ahead.push({ sources, extracts });
    };
    const take = async () => {
      const { sources, extracts } = ahead.shift()!;
      (await extracts).forEach((extract, i) => {
        if (extract.ok) batch.push(extract);
        else skipped.push({ path: sources[i].path, reason: extract.reason });
      });
      done += sources.length;
      if (batch.length >= INSERT_BATCH) await flush();
      this.report(done, total);
    };
    for await (const file of this.files.walkPaths()) {
      listed++;
      const info = parseArchivePath(file.path);
      if (!info) {
        skipped.push({ path: file.path, reason: 'not an archive file name' });
        done++;
        continue;
      }
      // the listing's ETag is the MD5 of the bytes about to be read: saves wait for the rebuild
      pending.push({ path: file.path, info, ...(file.etag ? { etag: file.etag } : {}) });
      if (pending.length >= READ_BATCH) {
        send();
        if (ahead.length >= READS_AHEAD) await take();
      }
    }
    if (pending.length) send();
    total = listed;
    this.report(done, total);
    while (ahead.length) await take();
    await flush();
    await this.catalog.finishRebuild();
    this.vaultEvents.recordCatalogRebuild();
    const result: ReindexResult = { success: true, indexed, skipped, duration_ms: Date.now() - started };
    const line = `Finished catalog rebuild: indexed=${indexed} skipped=${skipped.length} in ${result.duration_ms} ms`;
    if (skipped.length) {
      this.logger.warn(line);
      for (const s of skipped.slice(0, 20)) this.logger.warn(`Skipped ${s.path}: ${s.reason}`);
    } else this.logger.log(line);
    return result;
  }

  /** Day folders in the archive before `cutoff`: dir → day. */
  private async foldersBefore(cutoff: string, organizationId?: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const folder of this.files.dayFolders(organizationId)) if (folder.day < cutoff) out.set(folder.dir, folder.day);
    return out;
  }

  /** Purges the rows of removed day folders a small batch at a time, between other work. */
  private async schedulePurge(): Promise<void> {
    if (this.stopped || this.purgeTimer || !(await this.catalog.hasRemoved())) return;
    const step = () => {
      this.purgeTimer = null;
      this.catalog.purgeRemoved(PURGE_BATCH).then(
        (more) => {
          if (!more || this.stopped) return;
          this.purgeTimer = setTimeout(step, PURGE_PAUSE_MS);
          this.purgeTimer.unref();
        },
        (error: unknown) => this.logger.warn(`Purging rows of removed day folders failed: ${(error as Error).message}`),
      );
    };
    if (this.purgeTimer) return;
    this.purgeTimer = setTimeout(step, PURGE_PAUSE_MS);
    this.purgeTimer.unref();
  }
}
