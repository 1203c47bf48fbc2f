import type { CatalogEntry, CatalogMessage } from './catalog-entry';
import type { SearchCursor } from './catalog-query';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from './log-storage.types';

/**
 * The index of the archive: one row per stored conversation file, built from the files and rebuildable
 * from them at any time. SQLite is one implementation; PostgreSQL is another. Day folders (`dir`,
 * `conversations/[<org>/]YYYY/MM/DD`) are the unit of retention: removing one hides its rows at once and
 * purges them later, a batch at a time.
 */
export interface Catalog {
  /** Opens (creating when absent) and says whether the catalog has to be rebuilt from the files. */
  open(): Promise<CatalogState>;
  close(): Promise<void>;

  /**
   * Empties the catalog, marked unfinished until `finishRebuild`. In between, only `insertMany` is called
   * (an implementation may load in bulk and build its indexes at the end).
   */
  startRebuild(): Promise<void>;
  finishRebuild(): Promise<void>;
  /**
   * Optional: after a rebuild that failed between `startRebuild` and `finishRebuild`, ends the bulk load
   * (the catalog stays unfinished, so it is rebuilt at the next start) and lets ordinary writes go on.
   */
  abortRebuild?(): Promise<void>;
  /**
   * Optional: between `startRebuild` and `finishRebuild`, the file the store's threads may write messages
   * into (see `MessageStage`); `finishRebuild` takes them in. Null or absent: messages come with the rows.
   */
  messageStage?(): string | null;
  /**
   * Inserts many new rows in one transaction. A conversation that already has a row keeps it and is
   * returned with the path that holds it. `id` (a rebuild only): the row's id, under which its messages
   * were staged (`messageStage`); the item's `messages` are empty then.
   */
  insertMany(items: { entry: CatalogEntry; messages: CatalogMessage[]; id?: number }[]): Promise<{ path: string; duplicateOf: string }[]>;

  /**
   * Inserts or replaces the row of a conversation (by organization + conversation id); returns its id. The
   * journal entry of its path goes in the same transaction (see `journalWrites`): with `journaled`, only the
   * entry this save recorded (another live writer's newer entry of the path stays, for its own row or a
   * replay); without it, whichever entry the path has.
   */
  upsert(entry: CatalogEntry, messages: CatalogMessage[], journaled?: Pick<JournaledWrite, 'writer' | 'since'>): Promise<number>;

  /**
   * The write journal: a key is recorded here before its object is stored and leaves with the catalog row
   * that indexes it (`upsert`), so an object stored by a process killed before its row was written is found
   * again (see `WriteJournal`). Kept apart from the catalog's rows: a rebuild leaves it alone. Recording a
   * path again replaces its entry.
   */
  journalWrites(writes: JournaledWrite[]): Promise<void>;
  /** Every journal entry, in path order (there are few: the writes in flight, and those a crash cut short). */
  journaledWrites(): Promise<JournaledWrite[]>;
  /** Removes these entries; an entry recorded again since (another writer, another time) stays. */
  dropJournaled(writes: JournaledWrite[]): Promise<void>;
  /**
   * Settles an entry as listed by a replay, with the row of the object it read: in one transaction the entry
   * is removed only as it was listed (same writer and time), and the row upserted only when that removed it.
   * False when it was recorded again or removed meanwhile: a writer or another replay got there, and the
   * bytes read may be older than the object now stored (the row is theirs to write).
   */
  settleJournaled(write: JournaledWrite, entry: CatalogEntry, messages: CatalogMessage[]): Promise<boolean>;
  /** Points a row at another file (compression), keeping everything else. */
  moveFile(id: number, file: { path: string; size: number; sha256: string; md5: string; compressed: boolean }): Promise<void>;
  deleteByPath(path: string): Promise<number>;
  /** Removes every row of one day folder; returns how many. */
  deleteByDir(dir: string): Promise<number>;
  /**
   * Removes the rows of these files for good (an erasure): rows, messages and full-text entries go, and
   * the space they held is overwritten or compacted, so the catalog's own files keep no copy of their
   * text or ids. Returns how many rows there were.
   */
  erase(paths: string[]): Promise<number>;

  findConversation(organizationId: string | null, conversationId: string): Promise<CatalogRow | undefined>;
  /** The most recently updated row of a conversation id (over all organizations unless one is given). */
  findByConversationId(conversationId: string, organizationId?: string): Promise<CatalogRow | undefined>;
  findByPath(path: string): Promise<CatalogRow | undefined>;
  hasPath(path: string): Promise<boolean>;

  summary(organizationId?: string): Promise<CatalogSummary>;
  count(filter?: ArchiveFilter): Promise<number>;
  /**
   * Rows whose file was written after `since` (ISO time): saved, rewritten with new content, or moved into
   * a compressed file. A rebuild writes every row anew, so after one every row counts.
   */
  countWrittenSince(since: string): Promise<number>;
  /**
   * The clock rows are stamped with (`indexed_at`), as an ISO time: the database's for a catalog many hosts
   * write (PostgreSQL), so one compared with the stamps never mixes two hosts' clocks; absent, this process's.
   */
  clock?(): Promise<string>;
  /** One page of the filter's rows in (day, path) order, after the given key. */
  exportPage(filter: ArchiveFilter, after: { day: string; path: string } | null, limit: number): Promise<ExportRow[]>;
  /** Rows in id order after `afterId`. */
  page(afterId: number, limit: number): Promise<CatalogRow[]>;
  /**
   * Rows in path order (byte order, as an object store lists keys) after `afterPath` (null: from the
   * start); verification walks them beside the store's listing.
   */
  pageByPath(afterPath: string | null, limit: number): Promise<CatalogRow[]>;
  /** Uncompressed rows of day folders before `beforeDay`, after `afterId`. */
  uncompressedBefore(beforeDay: string, afterId: number, limit: number): Promise<CatalogRow[]>;
  /**
   * Newest first, keyset-paged on (created_at, id). `text`: every word must occur in the name, a query or
   * an answer (as a word or a word prefix); null for no full-text condition.
   */
  search(filter: ArchiveFilter, text: string | null, cursor: SearchCursor | null, limit: number): Promise<SearchRow[]>;
  /**
   * Per (day, organization, app) and in total; latencies in seconds, the average of the latencies rounded to
   * the microsecond, p95 by nearest rank (see catalog-stats.ts).
   */
  stats(query: StatsQuery): Promise<{ rows: StatsRow[]; totals: StatsFigures }>;

  /** The day folders before `beforeDay` (of one organization when given), with their totals. */
  dirsBefore(beforeDay: string, organizationId?: string): Promise<CatalogDir[]>;
  /** From now on no read sees the folders' rows and their totals are gone; the rows go in `purgeRemoved`. */
  markRemoved(dirs: Pick<CatalogDir, 'dir' | 'org_key' | 'day'>[]): Promise<void>;
  /** Whether rows of removed day folders are still waiting to be purged. */
  hasRemoved(): Promise<boolean>;
  /** Purges up to `limit` rows of removed day folders; false once nothing is left. */
  purgeRemoved(limit: number): Promise<boolean>;
}

export const CATALOG = Symbol('Catalog');

/** A write in the journal: the key about to be stored, whose source it belongs to, and who writes it when. */
export interface JournaledWrite {
  path: string;
  /** the conversation's organization ('' for none) and app: the source whose backup wrote it */
  org_key: string;
  app_id: string;
  /** the writing process, `<host name>:<pid>` */
  writer: string;
  /** when it was recorded, epoch ms */
  since: number;
}

/** A catalog row (without the full-text fields). */
export type CatalogRow = Omit<CatalogEntry, 'compressed' | 'org_from_path' | 'queries' | 'answers'> & {
  id: number;
  /** 0 or 1 */
  compressed: number;
};

/** What an export needs of a row; `org_from_path` (0 or 1): the file has no organization_id, the export adds it. */
export type ExportRow = Pick<CatalogRow, 'id' | 'conversation_id' | 'organization_id' | 'day' | 'path' | 'size' | 'compressed'> & {
  org_from_path: number;
};

export interface SearchRow extends CatalogRow {
  /** the matched text with hits between « and »; without a text, the start of the first query */
  snippet: string | null;
}

export interface CatalogState {
  /** the catalog did not exist, could not be opened, has another schema version or an unfinished rebuild */
  needsRebuild: boolean;
  reason: string | null;
}

export interface CatalogSummary {
  files: number;
  bytes: number;
  /** day folders, in order */
  directories: string[];
}

/** A day folder as the catalog counts it. */
export interface CatalogDir {
  dir: string;
  org_key: string;
  day: string;
  files: number;
  bytes: number;
}
