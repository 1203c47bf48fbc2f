import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { ArchivedConversation } from '../common/conversation-log';
import { CONVERSATIONS_DIR, isValidDay, parseArchivePath } from './archive-paths';
import { ARCHIVE_STORE, ArchiveStore, ArchiveStoreError, StoredBytes } from './archive-store';
import { CatalogExtract, CatalogSource, conversationProblem, MessageStage, extractCatalogEntry, withPathOrganization } from './catalog-entry';
import { InFlightLimit, readAhead } from './read-ahead';
import { frameStored, StoredMode, StoredSegment } from './stored-framing';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);


export interface FoundFile {
  /** the archive key, e.g. conversations/acme/2024/01/16/conversation_<id>_<stamp>.json */
  path: string;
  size: number;
}

export interface DayFolder {
  /** e.g. conversations/acme/2024/01/16 */
  dir: string;
  organization_id: string | null;
  day: string;
}

/** The files of a day folder: counted, and sized unless the count was the expected one (`bytes` null). */
export interface DirTally {
  files: number;
  bytes: number | null;
}

/** Size and sha256 of stored bytes read back (an MD5 is taken only where bytes are written: it costs twice a sha256). */
export type HashedBytes = Omit<StoredBytes, 'md5'>;

/** A conversation file read and checked; `reason` says why it cannot be used. */
export type LoadedConversation =
  | { ok: true; conversation: ArchivedConversation; size: number; sha256: string; orgFromPath: boolean }
  | { ok: false; reason: string };

/**
 * The conversation files of the archive over whichever `ArchiveStore` is configured: text in and out,
 * gzipped transparently for `.gz` keys, the day-folder layout, and the checks that make a file usable.
 */
@Injectable()
export class ArchiveFiles {
  /** bulk reads object by object (no batch reads in the store) share this many reads in flight */
  private readonly reads: InFlightLimit;

  constructor(@Inject(ARCHIVE_STORE) private readonly store: ArchiveStore) {
    this.reads = new InFlightLimit(this.readsInFlight);
  }

  /** How many reads a bulk read of this store keeps in flight (1: one after another, as on a disk). */
  get readsInFlight(): number {
    return Math.max(1, this.store.readsInFlight ?? 1);
  }

  /** Whether the store frames many objects for an export in one request (see `readStored`). */
  get readsFramed(): boolean {
    return this.store.readFramed !== undefined;
  }

  /** Stores the text atomically (gzipped when the path ends in `.gz`); size and hashes are the stored bytes'. */
  async writeAtomic(relative: string, text: string): Promise<StoredBytes> {
    const data = relative.endsWith('.gz') ? await gzip(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
    return this.store.put(relative, data);
  }

  /** The file's text (gunzipped when the path ends in `.gz`) with the stored bytes' size and sha256; null when missing. */
  async read(relative: string): Promise<(HashedBytes & { text: string }) | null> {
    const raw = await this.store.get(relative);
    if (!raw) return null;
    const text = relative.endsWith('.gz') ? (await gunzip(raw)).toString('utf8') : raw.toString('utf8');
    return { text, size: raw.length, sha256: createHash('sha256').update(raw).digest('hex') };
  }

  /**
   * The stored bytes of a file, as they are (no gunzip); null when missing. A failure of the store itself
   * is thrown; any other read error gives null too (the caller then loads the file to say why).
   */
  async readStoredBytes(relative: string): Promise<Buffer | null> {
    try {
      return await this.store.get(relative);
    } catch (error) {
      if (error instanceof ArchiveStoreError) throw error;
      return null;
    }
  }

  /**
   * `fn` over many items, `readsInFlight` at a time, the results in input order (see `readAhead`): the
   * object-by-object bulk reads of a store whose every read is a round trip.
   */
  readAhead<T, R>(items: AsyncIterable<T> | Iterable<T>, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
    return readAhead(items, this.readsInFlight, fn);
  }

  /**
   * The conversation in a file, checked; null when the file does not exist. A file in the seed's format
   * (no `organization_id`) gets the organization its path names (`orgFromPath`).
   */
  async load(relative: string): Promise<LoadedConversation | null> {
    let read;
    try {
      read = await this.read(relative);
    } catch (error) {
      if (error instanceof ArchiveStoreError) throw error;
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
    const { conversation, orgFromPath } = withPathOrganization(value as ArchivedConversation, parseArchivePath(relative)?.organization_id ?? null);
    return { ok: true, conversation, size: read.size, sha256: read.sha256, orgFromPath };
  }

  /** sha256 and size of the stored bytes, streamed; null when missing. */
  async hash(relative: string): Promise<HashedBytes | null> {
    const stream = await this.store.createReadStream(relative);
    if (!stream) return null;
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    return { size, sha256: hash.digest('hex') };
  }

  /**
   * The catalog entry of a stored file, its MD5 computed from the very bytes read (an ETag from another
   * request may be another version's); null when missing.
   */
  async catalogEntryOfStored(source: Omit<CatalogSource, 'etag'>): Promise<CatalogExtract | null> {
    const stored = await this.store.get(source.path);
    if (!stored) return null;
    let text: Buffer;
    try {
      text = source.info.compressed ? await gunzip(stored) : stored;
    } catch (error) {
      return { ok: false, reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    return extractCatalogEntry({ ...source, etag: createHash('md5').update(stored).digest('hex') }, stored, text);
  }

  async exists(relative: string): Promise<boolean> {
    return (await this.store.stat(relative)) !== null;
  }

  async remove(relative: string): Promise<void> {
    await this.store.delete([relative]);
  }

  /** Every file under conversations/, in key order, with the store's ETag when its listing has one. */
  async *walk(): AsyncGenerator<FoundFile & { etag?: string }> {
    for await (const object of this.store.list(`${CONVERSATIONS_DIR}/`)) yield { path: object.key, size: object.size, etag: object.etag };
  }

  /**
   * The path of every file under conversations/, in key order, without sizes when the store can list keys
   * alone (no stat per file); with the ETag when the store's listing has one.
   */
  async *walkPaths(): AsyncGenerator<{ path: string; etag?: string }> {
    if (this.store.listKeys) {
      for await (const key of this.store.listKeys(`${CONVERSATIONS_DIR}/`)) yield { path: key };
      return;
    }
    for await (const object of this.store.list(`${CONVERSATIONS_DIR}/`)) yield { path: object.key, etag: object.etag };
  }

  /**
   * The stored bytes of many files, framed for a JSON array or NDJSON. A file is passed through only when it
   * still has the given size and holds one JSON object; any other file, and one that is gone, comes back as
   * `check`. A file's `insert` (see `organizationMember`) is added right after its `{`. `reuse`: see
   * `ArchiveStore.readFramed`.
   */
  async readStored(mode: StoredMode, files: { path: string; size: number; insert?: string }[], reuse?: ArrayBuffer[]): Promise<StoredSegment[]> {
    const items = files.map((f) => ({ key: f.path, size: f.size, insert: f.insert }));
    if (this.store.readFramed) return this.store.readFramed(mode, items, reuse);
    const stored = await Promise.all(items.map((item) => this.reads.run(() => this.readStoredBytes(item.key))));
    return frameStored(mode, items, stored);
  }

  /**
   * The catalog rows of many files, in order (on the store's threads when it has them, which may write the
   * messages to `stage`: see `MessageStage`).
   */
  async catalogEntries(sources: CatalogSource[], stage?: MessageStage): Promise<CatalogExtract[]> {
    if (this.store.catalogEntries) return this.store.catalogEntries(sources, stage);
    // the requests a rebuild sends ahead share the store's reads in flight
    return Promise.all(sources.map((source) => this.reads.run(() => this.extractOne(source))));
  }

  private async extractOne(source: CatalogSource): Promise<CatalogExtract> {
    let stored: Buffer | null;
    let text: Buffer;
    try {
      stored = await this.store.get(source.path);
      if (!stored) return { ok: false, reason: 'vanished while reading' };
      text = source.info.compressed ? await gunzip(stored) : stored;
    } catch (error) {
      if (error instanceof ArchiveStoreError) throw error;
      return { ok: false, reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    return extractCatalogEntry(source, stored, text);
  }

  /**
   * Counts the files directly in each day folder and, with `remove`, removes the folders with everything in
   * them (and parents left empty), in one request. A folder holding the `expected` number of files is not
   * sized (its `bytes` is null: the caller knows them).
   */
  async tallyDirs(dirs: { dir: string; expected: number }[], remove: boolean): Promise<DirTally[]> {
    if (!dirs.length) return [];
    const tallies = await this.store.tallyFolders(
      dirs.map((d) => ({ folder: `${d.dir}/`, expected: d.expected })),
      remove,
    );
    return tallies.map((t) => ({ files: t.objects, bytes: t.bytes }));
  }

  /** How many files conversations/ holds, when the store can tell without listing them; else null. */
  async count(): Promise<number | null> {
    return this.store.countObjects ? this.store.countObjects(`${CONVERSATIONS_DIR}/`) : null;
  }

  /** Whether conversations/ holds no folder at all (a new archive). */
  async isEmpty(): Promise<boolean> {
    return (await this.store.listFolders(`${CONVERSATIONS_DIR}/`)).length === 0;
  }

  /** Removes what writes cut short by a kill or a crash left behind; returns their paths. */
  async removeAbandonedTemps(): Promise<string[]> {
    return this.store.removeAbandoned(`${CONVERSATIONS_DIR}/`);
  }

  /**
   * Day folders (`[org/]YYYY/MM/DD`). A first-level folder is a year when its children look like months,
   * otherwise an organization (so an organization may be called "2024").
   */
  async *dayFolders(organizationId?: string): AsyncGenerator<DayFolder> {
    const folders = (key: string) => this.store.listFolders(`${key}/`);
    const top = organizationId ? [organizationId] : await folders(CONVERSATIONS_DIR);
    for (const first of top) {
      const firstRel = `${CONVERSATIONS_DIR}/${first}`;
      const children = await folders(firstRel);
      const isYear = !organizationId && /^\d{4}$/.test(first) && children.some((c) => /^\d{2}$/.test(c));
      const years = isYear
        ? [{ org: null as string | null, rel: firstRel, year: first }]
        : children.filter((c) => /^\d{4}$/.test(c)).map((y) => ({ org: first as string | null, rel: `${firstRel}/${y}`, year: y }));
      for (const y of years) {
        for (const month of (await folders(y.rel)).filter((m) => /^\d{2}$/.test(m))) {
          for (const d of (await folders(`${y.rel}/${month}`)).filter((x) => /^\d{2}$/.test(x))) {
            const day = `${y.year}-${month}-${d}`;
            if (isValidDay(day)) yield { dir: `${y.rel}/${month}/${d}`, organization_id: y.org, day };
          }
        }
      }
    }
  }
}
