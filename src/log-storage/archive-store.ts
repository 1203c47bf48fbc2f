import type { Readable } from 'node:stream';
import type { CatalogExtract, CatalogSource, MessageStage } from './catalog-entry';
import type { FramedItem, StoredMode, StoredSegment } from './stored-framing';

/**
 * The archive's bytes, addressed by key: an archive-relative path with `/` separators, e.g.
 * `conversations/<org>/YYYY/MM/DD/conversation_<id>_<stamp>.json[.gz]`. The filesystem is one
 * implementation; an object store (S3) is another. Nothing else touches the archive's bytes.
 *
 * A "folder" argument ends with `/` and stands for every key under it.
 */
export interface ArchiveStore {
  /** Stores the bytes atomically: a reader sees the previous object or the new one, never part of one. */
  put(key: string, data: Buffer): Promise<StoredBytes>;
  /** The object's bytes; null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** The object's bytes (or the inclusive byte range) as a stream; null when there is none. */
  createReadStream(key: string, range?: ByteRange): Promise<Readable | null>;
  stat(key: string): Promise<ArchiveObject | null>;
  /** Every object whose key starts with `prefix`, in key order, fetched a page at a time (memory stays flat). */
  list(prefix: string, options?: ListOptions): AsyncIterable<ArchiveObject>;
  /**
   * Optional: the keys of every object under the folder, in key order, without sizes: cheaper than `list`
   * where sizing an object costs a call of its own (a file's stat). A rebuild reads every object anyway.
   */
  listKeys?(folder: string): AsyncIterable<string>;
  /**
   * Optional: how many objects there are under the folder, cheaper than listing them (no sizes). A rebuild
   * uses it to say "N of M" from its start.
   */
  countObjects?(folder: string): Promise<number>;
  /** The names of the folders directly under a folder, sorted (a delimiter listing in S3 terms). */
  listFolders(folder: string): Promise<string[]>;
  /**
   * Deletes the objects in batches, without looking each one up first; a missing one is fine and counts as
   * deleted (an object store cannot tell the two apart). Returns how many keys are gone; throws, naming the
   * keys, when the store refused to delete some.
   */
  delete(keys: string[]): Promise<number>;
  /** Deletes every object under the folder; returns what was there. */
  deletePrefix(folder: string): Promise<FolderTally>;
  /**
   * Per folder, the objects directly in it, counted and sized, and with `remove` every object under it
   * deleted, in one request. Sizing is skipped (`bytes: null`) when the count equals `expected`.
   */
  tallyFolders(folders: { folder: string; expected: number }[], remove: boolean): Promise<FolderTally[]>;
  /**
   * Optional fast path for exports: many objects framed for a JSON array or NDJSON (see `stored-framing.ts`).
   * A store without it is read object by object. An item's `insert` goes right after the object's `{`.
   * `reuse`: the `reusable` buffers of earlier segments whose bytes the caller has written out and no
   * longer references; the store may fill them again (so an export's memory does not pile up).
   */
  readFramed?(mode: StoredMode, items: FramedItem[], reuse?: ArrayBuffer[]): Promise<StoredSegment[]>;
  /**
   * Optional fast path for rebuilding the catalog: the catalog rows of many objects, read and parsed off
   * the main thread (see `extractCatalogEntry`), in the given order. A store without it is read object by
   * object. With a `stage`, the store may write the messages there (the extract's `id` says it did).
   */
  catalogEntries?(sources: CatalogSource[], stage?: MessageStage): Promise<CatalogExtract[]>;
  /**
   * Optional: proves the store can be used (an S3 bucket exists and takes the credentials), or throws an
   * error whose message says what is wrong, never a secret. A filesystem store has nothing to check here
   * (LOGS_DIR is checked at start-up).
   */
  checkAccess?(): Promise<void>;
  /**
   * Optional: how many reads a bulk read (an export, a compression, a verify by hash, a rebuild) keeps in
   * flight, in order, for a store where each read is a round trip (an object store). Absent: one at a time,
   * or the store's own batch reads (`readFramed`, `catalogEntries`).
   */
  readonly readsInFlight?: number;
  /** Removes what writes interrupted by a crash left under the folder; returns their keys. */
  removeAbandoned(folder: string): Promise<string[]>;
  close(): Promise<void>;
}

export const ARCHIVE_STORE = Symbol('ArchiveStore');

/**
 * The store itself failed (an object store answered an error, after its retries), as opposed to one
 * object being missing or unreadable: whatever was under way stops and says so, instead of skipping
 * the object as if it were damaged.
 */
export class ArchiveStoreError extends Error {}

export interface StoredBytes {
  size: number;
  sha256: string;
  /** hex MD5 of the stored bytes: what an object store's ETag is for an object written in one PUT */
  md5: string;
}

export interface ArchiveObject {
  key: string;
  size: number;
  mtime: Date;
  /** the object store's entity tag (S3: the MD5 of an object written in one PUT); absent on a filesystem */
  etag?: string;
}

/** Inclusive byte offsets, as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface ListOptions {
  /** resume after this key */
  startAfter?: string;
}

export interface FolderTally {
  objects: number;
  bytes: number | null;
}

/** Throws unless `folder` is `''` or ends with `/`. */
export function checkFolder(folder: string): void {
  if (folder !== '' && !folder.endsWith('/')) throw new Error(`a folder key ends with "/": ${folder}`);
}
