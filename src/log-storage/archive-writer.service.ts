import { Inject, Injectable, Logger } from '@nestjs/common';
import { mapConcurrent } from '../common/concurrency';
import type { ArchivedConversation } from '../common/conversation-log';
import { AppConfig } from '../config/app-config';
import { ArchiveAccess } from './archive-access';
import { ArchiveFiles } from './archive-files';
import { conversationPath, gzPathOf, parseArchivePath, retentionCutoff } from './archive-paths';
import { checkInteger } from './archive-validation';
import { CATALOG, Catalog, CatalogRow } from './catalog';
import { catalogEntryOf, contentHash, conversationProblem } from './catalog-entry';
import type { CompressResult, SaveResult } from './log-storage.types';
import { WriteJournal } from './write-journal';

const PAGE = 200;

/** Everything that writes a conversation's file: saves, and gzipping old ones in place. */
@Injectable()
export class ArchiveWriter {
  private readonly logger = new Logger(ArchiveWriter.name);

  constructor(
    private readonly config: AppConfig,
    private readonly access: ArchiveAccess,
    private readonly files: ArchiveFiles,
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly journal: WriteJournal,
  ) {}

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
    return this.access.forConversation(conv.conversation_id, () => this.saveLocked(conv, freshPath));
  }

  /** Gzips the files of day folders before today − afterDays (default COMPRESS_AFTER_DAYS; off when unset). */
  async compressOldDays(afterDays: number | null = this.config.compressAfterDays): Promise<CompressResult> {
    if (afterDays === null || afterDays === undefined) {
      return { success: true, compressed_files: 0, bytes_before: 0, bytes_after: 0, before_day: null };
    }
    checkInteger('after_days', afterDays, 0, 36500);
    const beforeDay = retentionCutoff(afterDays, this.config.logTimezone, this.access.now());
    const result: CompressResult = { success: true, compressed_files: 0, bytes_before: 0, bytes_after: 0, before_day: beforeDay };
    let afterId = 0;
    for (;;) {
      const rows = await this.catalog.uncompressedBefore(beforeDay, afterId, PAGE);
      if (!rows.length) break;
      afterId = rows[rows.length - 1].id;
      // a path with a journal entry may hold bytes its row does not describe (a write cut short, or one in
      // flight elsewhere): it is left until the entry is settled, compressed by a later run
      const journaled = new Set((await this.catalog.journaledWrites()).map((w) => w.path));
      const settled = rows.filter((row) => !journaled.has(row.path));
      // the store's reads in flight (one at a time on a disk), each conversation under its own lock
      const page = await mapConcurrent(settled, this.files.readsInFlight, (row) => this.access.forConversation(row.conversation_id, () => this.compressOne(row)));
      for (const done of page) {
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

  private async saveLocked(conv: ArchivedConversation, freshPath: string): Promise<SaveResult> {
    const hash = contentHash(conv);
    const existing = await this.catalog.findConversation(conv.organization_id || null, conv.conversation_id);
    const onDisk = existing ? await this.files.exists(existing.path) : false;
    if (existing && onDisk && (existing.content_hash || (await this.storedContentHash(existing.path))) === hash) {
      return { outcome: 'unchanged', path: existing.path };
    }
    const target = existing && onDisk && parseArchivePath(existing.path) ? existing.path : freshPath;
    const info = parseArchivePath(target)!;
    // journaled before it is stored, the entry leaving with the row: a kill in between is replayed (WriteJournal)
    const journaled = await this.journal.record(target, { org_key: conv.organization_id || '', app_id: conv.app_id });
    try {
      const written = await this.files.writeAtomic(target, JSON.stringify(conv, null, 2));
      const { entry, messages } = catalogEntryOf(conv, { path: target, size: written.size, sha256: written.sha256, md5: written.md5, info, contentHash: hash });
      await this.catalog.upsert(entry, messages, journaled);
    } finally {
      this.journal.settle(target);
    }
    return { outcome: existing && onDisk ? 'updated' : 'created', path: target };
  }

  /** The content hash of the conversation in a file (for a row a rebuild left without one); null when unusable. */
  private async storedContentHash(filePath: string): Promise<string | null> {
    const loaded = await this.files.load(filePath);
    return loaded?.ok ? contentHash(loaded.conversation) : null;
  }

  /**
   * Gzips one file: the gzipped file is journaled before it is stored, and its entry dropped only once the row
   * points at it and the plain file is gone. A kill anywhere in between leaves the entry, whose replay indexes
   * the gzipped file (when it was stored) and removes the plain one, so no conversation is left with two files.
   */
  private async compressOne(stale: CatalogRow): Promise<{ before: number; after: number } | null> {
    const row = await this.catalog.findByPath(stale.path);
    if (!row || row.compressed) return null;
    const loaded = await this.files.read(row.path);
    if (!loaded) return null;
    const target = gzPathOf(row.path);
    const journaled = await this.journal.record(target, { org_key: row.org_key, app_id: row.app_id });
    try {
      const written = await this.files.writeAtomic(target, loaded.text);
      await this.catalog.moveFile(row.id, { path: target, size: written.size, sha256: written.sha256, md5: written.md5, compressed: true });
      await this.files.remove(row.path);
      await this.catalog.dropJournaled([journaled]);
      return { before: loaded.size, after: written.size };
    } finally {
      this.journal.settle(target);
    }
  }
}
