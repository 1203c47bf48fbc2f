import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { mapConcurrent } from '../common/concurrency';
import { PROCESS_ID } from '../common/process-liveness';
import { ArchiveAccess } from './archive-access';
import { ArchiveFiles } from './archive-files';
import { parseArchivePath, plainPathOf } from './archive-paths';
import { CATALOG, Catalog, JournaledWrite } from './catalog';

/**
 * What a replay did: objects indexed; entries dropped (no object, or not a usable conversation); entries
 * left to a writer or another replay that recorded or settled them meanwhile; entries that failed (a store
 * or catalog error: they stay for the next replay).
 */
export interface JournalReplay {
  indexed: number;
  dropped: number;
  superseded: number;
  failed: number;
}

interface Queued {
  write: JournaledWrite;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The in-flight write journal. A save records its key in the catalog's journal before the object is stored,
 * and the catalog row that indexes the object removes the entry in its own transaction. A process killed in
 * between (a PUT takes a round trip: the bucket may hold the object before the answer comes) leaves the entry
 * behind, and a replay settles it: the object is indexed when it is there and holds its conversation, the
 * entry dropped otherwise. So the catalog never misses an object a backup stored, and the next run finds
 * the conversation unchanged instead of storing it again.
 *
 * Entries recorded while one statement is being written go together in the next (a group commit): however
 * many saves are in flight, the journal costs at most one catalog write at a time.
 */
@Injectable()
export class WriteJournal {
  private readonly logger = new Logger(WriteJournal.name);
  /** paths this process is storing now, and how many times: a replay never settles them under its feet */
  private readonly inFlight = new Map<string, number>();
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly files: ArchiveFiles,
    private readonly access: ArchiveAccess,
  ) {}

  /**
   * Records the path (of a conversation of that organization and app) before its object is stored, and
   * returns the entry: the row that indexes the object removes that entry only (`Catalog.upsert`).
   */
  async record(path: string, source: { org_key: string; app_id: string }): Promise<JournaledWrite> {
    this.inFlight.set(path, (this.inFlight.get(path) ?? 0) + 1);
    const write: JournaledWrite = { path, org_key: source.org_key, app_id: source.app_id, writer: PROCESS_ID, since: Date.now() };
    try {
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ write, resolve, reject });
        this.flushing ??= this.flush();
      });
      return write;
    } catch (error) {
      this.settle(path);
      throw error;
    }
  }

  /**
   * This process is done with the path: indexed (the entry went with the row), or failed (the entry stays,
   * for a replay to settle: a PUT whose answer was lost may have stored the object).
   */
  settle(path: string): void {
    const n = this.inFlight.get(path) ?? 0;
    if (n > 1) this.inFlight.set(path, n - 1);
    else this.inFlight.delete(path);
  }

  /**
   * Settles the entries `which` selects, except the writes this process has in flight: each under its
   * conversation's lock, the store's reads in flight at a time. `which` must leave out the writes of other
   * processes still running (their objects may not be stored yet).
   */
  async replay(which: (write: JournaledWrite) => boolean, why: string): Promise<JournalReplay> {
    const writes = (await this.catalog.journaledWrites()).filter((w) => !this.inFlight.has(w.path) && which(w));
    const result: JournalReplay = { indexed: 0, dropped: 0, superseded: 0, failed: 0 };
    if (!writes.length) return result;
    // one entry failing leaves it for the next replay, never the others
    const outcomes = await mapConcurrent(writes, this.files.readsInFlight, (write) =>
      this.replayOne(write).catch((error: unknown): keyof JournalReplay => {
        this.logger.warn(`Failed write journal replay of ${write.path}: ${(error as Error).message}`);
        return 'failed';
      }),
    );
    for (const outcome of outcomes) result[outcome]++;
    this.logger.log(
      `Finished write journal replay (${why}): indexed=${result.indexed} dropped=${result.dropped} superseded=${result.superseded} failed=${result.failed}`,
    );
    return result;
  }

  /**
   * The object is read whole, then indexed only if the entry is still the one listed (`settleJournaled`):
   * a writer of the path records it again before storing, so bytes read before that are never indexed after
   * it. The conversation lock keeps out this process's own saves only; the check covers other processes'.
   */
  private async replayOne(write: JournaledWrite): Promise<keyof JournalReplay> {
    const info = parseArchivePath(write.path);
    if (!info) {
      await this.catalog.dropJournaled([write]);
      return 'dropped';
    }
    return this.access.forConversation(info.conversation_id, async () => {
      const extract = await this.files.catalogEntryOfStored({ path: write.path, info });
      if (!extract?.ok) {
        if (extract) this.logger.warn(`Journaled write ${write.path} is not indexed: ${extract.reason}`);
        await this.catalog.dropJournaled([write]);
        return 'dropped';
      }
      // a gzipped file journaled while its plain file still has the row: a compression cut short before the
      // row moved. It is finished only when the gzipped file holds the bytes the row describes; when a save
      // has rewritten the plain file since, that file stays the conversation's and the next compression
      // writes the gzipped one again, over this one.
      const plain = plainPathOf(write.path);
      const plainRow = plain !== null ? await this.catalog.findByPath(plain) : undefined;
      if (plainRow && !(await this.holdsBytesOf(write.path, plainRow.sha256))) {
        await this.catalog.dropJournaled([write]);
        return 'dropped';
      }
      if (!(await this.catalog.settleJournaled(write, extract.entry, extract.messages))) return 'superseded';
      // a compression cut short: the gzipped file is the conversation's now, the plain one it was made from goes
      if (plain !== null && (await this.files.exists(plain))) await this.files.remove(plain);
      return 'indexed';
    });
  }

  /** Whether the gzipped file unpacks to the bytes of that SHA-256 (those of the plain file it was made from). */
  private async holdsBytesOf(gzPath: string, sha256: string): Promise<boolean> {
    const unpacked = await this.files.read(gzPath);
    return unpacked !== null && createHash('sha256').update(unpacked.text, 'utf8').digest('hex') === sha256;
  }

  /** Writes the queued entries, those queued meanwhile in the next statement, until none is left. */
  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      // one entry per path in a statement (the same path twice would be refused by PostgreSQL)
      const writes = [...new Map(batch.map((q) => [q.write.path, q.write])).values()];
      try {
        await this.catalog.journalWrites(writes);
        for (const q of batch) q.resolve();
      } catch (error) {
        for (const q of batch) q.reject(error);
      }
    }
    this.flushing = null;
  }
}
