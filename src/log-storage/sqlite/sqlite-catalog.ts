import { Logger } from '@nestjs/common';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Catalog, CatalogDir, CatalogRow, CatalogState, CatalogSummary, ExportRow, JournaledWrite, SearchRow } from '../catalog';
import type { CatalogEntry, CatalogMessage } from '../catalog-entry';
import { filterSql, ftsQuery, SearchCursor, whereClause } from '../catalog-query';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from '../log-storage.types';
import { CATALOG_SCHEMA_VERSION, DROP_ALL, INDEXED_AT_INDEX, INDEXES_AND_TRIGGERS, SQLITE_MIGRATIONS, TABLES, WRITE_JOURNAL_TABLE } from './catalog-schema';
import { catalogStats, refreshStaleP95, STATS_FILL, STATS_TABLES, STATS_TRIGGERS } from './catalog-stats';

const ENTRY_COLUMNS = [
  'path', 'org_key', 'organization_id', 'app_id', 'conversation_id', 'day', 'dir', 'name', 'size', 'sha256', 'md5',
  'content_hash', 'compressed', 'org_from_path', 'created_at', 'updated_at', 'message_count', 'tokens', 'avg_latency', 'from_source',
  'end_user_id', 'end_user_session', 'likes', 'dislikes', 'errors', 'indexed_at',
] as const;

const ROW_COLUMNS = `f.id, ${ENTRY_COLUMNS.filter((c) => c !== 'indexed_at' && c !== 'org_from_path').map((c) => `f.${c}`).join(', ')}`;

/** the full-text index's in-memory buffer: SQLite's default, and during a rebuild's bulk load */
const FTS_HASH_BYTES = 1024 * 1024;
const BULK_FTS_HASH_BYTES = 16 * 1024 * 1024;
/** helper threads of SQLite's sorter for a rebuild's index build: one per core beside this one, at most 2 */
const INDEX_BUILD_THREADS = Math.max(0, Math.min(2, os.availableParallelism() - 1));
/** a rebuild's rows per transaction */
const BULK_COMMIT_ROWS = 8192;
/** a rebuild's message stage: `catalog.sqlite.messages-<thread>` beside the catalog, attached as `stage` to be taken in */
const STAGE_SUFFIX = '.messages';
const STAGE_SCHEMA = 'stage';

type Statement = Database.Statement<unknown[], unknown>;

const removedKey = (orgKey: string, day: string) => `${orgKey}/${day}`;

/**
 * The catalog in one SQLite file (better-sqlite3, synchronous: every method finishes before it returns,
 * so the transactions below never interleave). Kept whole: one schema, its triggers and the prepared
 * statements over it, plus the removed-folder bookkeeping every read has to honour; the schema and the
 * statistics queries live beside it.
 */
export class SqliteCatalog implements Catalog {
  private readonly logger = new Logger(SqliteCatalog.name);
  private db: Database.Database | null = null;
  private readonly statements = new Map<string, Statement>();
  /**
   * Day folders removed by retention whose rows are still being purged (`removed_dirs`), as `org_key/day`.
   * Every read leaves their rows out; a day folder is identified by (org_key, day), which messages carry too.
   */
  private readonly removed = new Set<string>();
  /** between startRebuild and finishRebuild: rows are loaded in bulk, indexes and totals come at the end */
  private bulk = false;
  /** rows loaded in the bulk load's open transaction */
  private bulkRows = 0;
  /** ids of staged messages whose file was refused as a second file of its conversation */
  private stagedDuplicates: number[] = [];

  constructor(readonly file: string) {}

  /** Opens (creating when absent) and reports whether the catalog has to be rebuilt from the files. */
  async open(): Promise<CatalogState> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const existed = fs.existsSync(this.file);
    try {
      this.connect();
      let version = this.meta('schema_version');
      if (!existed) return { needsRebuild: true, reason: 'catalog is missing' };
      if (this.meta('complete') === '1') version = this.migrate(version);
      if (version !== String(CATALOG_SCHEMA_VERSION)) {
        return { needsRebuild: true, reason: `catalog schema version ${version ?? 'none'} is not ${CATALOG_SCHEMA_VERSION}` };
      }
      if (this.meta('complete') !== '1') return { needsRebuild: true, reason: 'the last rebuild did not finish' };
      // created when missing rather than by a migration (no new schema version): a catalog of this version
      // made before it gains it here, and a rebuild makes it with the other indexes
      this.conn().exec(INDEXED_AT_INDEX);
      this.loadRemoved();
      return { needsRebuild: false, reason: null };
    } catch (error) {
      // only a file that is not a database, or a damaged one, is started afresh: any other failure (a busy
      // catalog, a failed migration) leaves the file alone, as another process may have it open
      if (!isUnreadableCatalog(error)) {
        this.disconnect();
        throw new Error(`The catalog ${this.file} could not be opened: ${(error as Error).message}`, { cause: error });
      }
      this.logger.warn(`Catalog cannot be read (${(error as Error).message}); starting a new one`);
      this.disconnect();
      for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${this.file}${suffix}`, { force: true });
      this.connect();
      return { needsRebuild: true, reason: 'catalog was unreadable' };
    }
  }

  async close(): Promise<void> {
    this.disconnect();
  }

  /**
   * Takes a finished catalog from its version to the current one through the migrations in between, each
   * in an immediate transaction (the write lock taken first) that reads the version again and skips a step
   * another process has applied meanwhile, keeping its rows. Returns the version it ends at (the one given
   * when no chain of migrations leads from it).
   */
  private migrate(version: string | null): string | null {
    const from = Number(version);
    if (!Number.isInteger(from) || from >= CATALOG_SCHEMA_VERSION) return version;
    const steps = SQLITE_MIGRATIONS.filter((m) => m.to > from).sort((a, b) => a.to - b.to);
    if (steps.length !== CATALOG_SCHEMA_VERSION - from || steps.some((m, i) => m.to !== from + i + 1)) return version;
    const db = this.conn();
    for (const step of steps) {
      const applied = db
        .transaction(() => {
          if (Number(this.meta('schema_version')) >= step.to) return false;
          db.exec(step.sql);
          step.after?.(db);
          this.setMeta('schema_version', String(step.to));
          return true;
        })
        .immediate();
      if (applied) this.logger.log(`Migrated the catalog to schema version ${step.to}: ${step.name}`);
    }
    return this.meta('schema_version');
  }

  private disconnect(): void {
    this.statements.clear();
    this.removed.clear();
    if (this.db?.open) this.db.close();
    this.db = null;
  }

  /**
   * Drops every table and creates the current tables, marked unfinished until `finishRebuild`. Until then
   * the file is written without a write-ahead log or syncs (a crash leaves it unfinished, or unreadable:
   * either way it is rebuilt at the next start) and without the secondary indexes.
   */
  async startRebuild(): Promise<void> {
    const db = this.conn();
    // a rebuild that failed half-way left its last batch open
    if (db.inTransaction) db.exec('ROLLBACK');
    this.statements.clear();
    this.removed.clear();
    // out of the write-ahead log first: the drop frees every page of the old catalog, which the log would
    // otherwise hold once more and copy back
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.exec(DROP_ALL);
    // what a killed rebuild staged
    this.removeStaged();
    this.stagedDuplicates = [];
    // the unique index and the full-text segments of 100,000s of rows stay in memory while they grow
    db.pragma('cache_size = -32768');
    db.exec(TABLES);
    db.exec(STATS_TABLES);
    // the full-text index takes rows into memory up to this size before writing them as a segment: bigger
    // segments, fewer merges of them (the default, 1 MiB, is back at the end)
    db.exec(`INSERT INTO fts (fts, rank) VALUES ('hashsize', ${BULK_FTS_HASH_BYTES})`);
    this.setMeta('schema_version', String(CATALOG_SCHEMA_VERSION));
    this.setMeta('complete', '0');
    this.bulk = true;
    this.bulkRows = 0;
  }

  /**
   * Takes in the staged messages (see `messageStage`), creates the indexes, the per-folder totals and their
   * triggers, and marks the catalog complete.
   */
  async finishRebuild(): Promise<void> {
    const db = this.conn();
    if (db.inTransaction) db.exec('COMMIT');
    this.statements.clear();
    this.takeStaged();
    // the indexes are built once the threads that read the files are done: their sorts may take the cores
    // the threads leave idle (the main thread's part of a 100,000-file build falls from 3.8 s to 1.8 s)
    db.pragma(`threads = ${INDEX_BUILD_THREADS}`);
    try {
      db.transaction(() => {
        db.exec(INDEXES_AND_TRIGGERS);
        this.fillStats();
        db.exec(`INSERT INTO fts (fts, rank) VALUES ('hashsize', ${FTS_HASH_BYTES})`);
        this.setMeta('complete', '1');
      })();
    } finally {
      db.pragma('threads = 0');
    }
    this.bulk = false;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -2000');
  }

  /**
   * The statistics of a bulk load: filled by grouped queries over the loaded rows (their triggers, created
   * after, keep them from here on), every group's p95 computed once.
   */
  private fillStats(): void {
    const db = this.conn();
    db.exec(STATS_FILL);
    db.exec(STATS_TRIGGERS);
    refreshStaleP95(db);
  }

  /** Rolls back the bulk load's open transaction and leaves bulk mode; the catalog stays marked unfinished. */
  async abortRebuild(): Promise<void> {
    const db = this.conn();
    if (db.inTransaction) db.exec('ROLLBACK');
    this.statements.clear();
    this.bulk = false;
    this.removeStaged();
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -2000');
  }

  /**
   * During a rebuild: the stage the store's threads write messages into, files named `catalog.sqlite.messages-<thread>`
   * beside the catalog. Messages are most of a rebuild's rows: written there, on the threads that parse the
   * files, they never cross to this thread, and are taken in at the end by one copy per file.
   */
  messageStage(): string | null {
    return this.bulk ? `${this.file}${STAGE_SUFFIX}` : null;
  }

  /** The stage files there are, beside the catalog. */
  private stagedFiles(): string[] {
    const dir = path.dirname(this.file);
    const prefix = `${path.basename(this.file)}${STAGE_SUFFIX}-`;
    return fs
      .readdirSync(dir)
      .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
      .map((name) => path.join(dir, name));
  }

  private removeStaged(): void {
    for (const file of this.stagedFiles()) fs.rmSync(file, { force: true });
  }

  /**
   * Copies every stage file's messages into the catalog (the tables have one definition, so each is one
   * plain `INSERT .. SELECT *`), drops those of files refused as duplicates, and removes the stage files.
   */
  private takeStaged(): void {
    const db = this.conn();
    for (const file of this.stagedFiles()) {
      db.prepare(`ATTACH DATABASE ? AS ${STAGE_SCHEMA}`).run(file);
      try {
        db.transaction(() => db.exec(`INSERT INTO main.messages SELECT * FROM ${STAGE_SCHEMA}.messages`))();
      } finally {
        db.exec(`DETACH DATABASE ${STAGE_SCHEMA}`);
      }
      fs.rmSync(file, { force: true });
    }
    if (this.stagedDuplicates.length) {
      db.prepare('DELETE FROM messages WHERE file_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(this.stagedDuplicates));
      this.stagedDuplicates = [];
    }
  }

  /** Inserts or replaces the row of a conversation (by organization + conversation id), in one transaction. */
  async upsert(entry: CatalogEntry, messages: CatalogMessage[], journaled?: Pick<JournaledWrite, 'writer' | 'since'>): Promise<number> {
    return this.conn().transaction(() => {
      const id = this.upsertOne(entry, messages);
      if (journaled) this.stmt('DELETE FROM write_journal WHERE path = ? AND writer = ? AND since = ?').run(entry.path, journaled.writer, journaled.since);
      else this.stmt('DELETE FROM write_journal WHERE path = ?').run(entry.path);
      refreshStaleP95(this.conn());
      return id;
    })();
  }

  async settleJournaled(write: JournaledWrite, entry: CatalogEntry, messages: CatalogMessage[]): Promise<boolean> {
    return this.conn().transaction(() => {
      const listed = this.stmt('DELETE FROM write_journal WHERE path = ? AND writer = ? AND since = ?').run(write.path, write.writer, write.since);
      if (!listed.changes) return false;
      this.upsertOne(entry, messages);
      return true;
    })();
  }

  async journalWrites(writes: JournaledWrite[]): Promise<void> {
    const insert = this.stmt(
      `INSERT INTO write_journal (path, org_key, app_id, writer, since) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET org_key = excluded.org_key, app_id = excluded.app_id, writer = excluded.writer, since = excluded.since`,
    );
    this.conn().transaction(() => {
      for (const w of writes) insert.run(w.path, w.org_key, w.app_id, w.writer, w.since);
    })();
  }

  async journaledWrites(): Promise<JournaledWrite[]> {
    return this.stmt('SELECT path, org_key, app_id, writer, since FROM write_journal ORDER BY path').all() as JournaledWrite[];
  }

  async dropJournaled(writes: JournaledWrite[]): Promise<void> {
    const remove = this.stmt('DELETE FROM write_journal WHERE path = ? AND writer = ? AND since = ?');
    this.conn().transaction(() => {
      for (const w of writes) remove.run(w.path, w.writer, w.since);
    })();
  }

  /**
   * Inserts many new rows in one transaction. A conversation that already has a row keeps it and is
   * returned with the path that holds it.
   */
  async insertMany(items: { entry: CatalogEntry; messages: CatalogMessage[]; id?: number }[]): Promise<{ path: string; duplicateOf: string }[]> {
    if (this.bulk) return this.loadMany(items);
    const duplicates: { path: string; duplicateOf: string }[] = [];
    this.conn().transaction(() => {
      for (const item of items) {
        const existing = this.findLive(item.entry.organization_id, item.entry.conversation_id);
        if (existing && existing.path !== item.entry.path) {
          duplicates.push({ path: item.entry.path, duplicateOf: existing.path });
          continue;
        }
        this.upsertOne(item.entry, item.messages);
      }
      refreshStaleP95(this.conn());
    })();
    return duplicates;
  }

  /**
   * A rebuild's rows, positional and without look-ups: the unique (org_key, conversation_id) refuses a second
   * file. The rows of many calls share one transaction, committed every BULK_COMMIT_ROWS rows (and by
   * `finishRebuild`): callers hand over small batches, whose objects are garbage soon, while the full-text
   * index still gets big segments.
   */
  private loadMany(items: { entry: CatalogEntry; messages: CatalogMessage[]; id?: number }[]): { path: string; duplicateOf: string }[] {
    const duplicates: { path: string; duplicateOf: string }[] = [];
    const columns = ENTRY_COLUMNS.join(', ');
    // a null id is the next one; a given one is that of messages already staged
    const insertFile = this.stmt(
      `INSERT INTO files (id, ${columns}) VALUES (?, ${ENTRY_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (org_key, conversation_id) DO NOTHING`,
    );
    const holder = this.stmt('SELECT path FROM files WHERE org_key = ? AND conversation_id = ?');
    const insertMessage = this.stmt(
      'INSERT INTO messages (file_id, day, org_key, app_id, message_id, created_at, tokens, latency, rating, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertText = this.stmt('INSERT INTO fts (rowid, name, queries, answers) VALUES (?, ?, ?, ?)');
    const indexedAt = new Date().toISOString();
    const db = this.conn();
    if (!db.inTransaction) {
      db.exec('BEGIN');
      this.bulkRows = 0;
    }
    // a savepoint: a failure leaves the rows of earlier calls in place, as separate transactions would
    db.transaction(() => {
      for (const { entry: e, messages, id: staged } of items) {
        const done = insertFile.run(
          staged ?? null,
          e.path, e.org_key, e.organization_id, e.app_id, e.conversation_id, e.day, e.dir, e.name, e.size, e.sha256, e.md5,
          e.content_hash, e.compressed ? 1 : 0, e.org_from_path ? 1 : 0, e.created_at, e.updated_at, e.message_count, e.tokens,
          e.avg_latency, e.from_source, e.end_user_id, e.end_user_session, e.likes, e.dislikes, e.errors, indexedAt,
        );
        if (done.changes === 0) {
          duplicates.push({ path: e.path, duplicateOf: (holder.get(e.org_key, e.conversation_id) as { path: string }).path });
          if (staged !== undefined) this.stagedDuplicates.push(staged);
          continue;
        }
        const id = Number(done.lastInsertRowid);
        for (const m of messages) {
          insertMessage.run(id, e.day, e.org_key, e.app_id, m.message_id, m.created_at, m.tokens, m.latency, m.rating, m.error ? 1 : 0);
        }
        insertText.run(id, e.name, e.queries, e.answers);
      }
    })();
    this.bulkRows += items.length;
    if (this.bulkRows >= BULK_COMMIT_ROWS) db.exec('COMMIT');
    return duplicates;
  }

  async findConversation(organizationId: string | null, conversationId: string): Promise<CatalogRow | undefined> {
    return this.findLive(organizationId, conversationId);
  }

  private findLive(organizationId: string | null, conversationId: string): CatalogRow | undefined {
    const row = this.stmt('SELECT ' + ROW_COLUMNS + ' FROM files f WHERE f.org_key = ? AND f.conversation_id = ?').get(
      organizationId ?? '',
      conversationId,
    ) as CatalogRow | undefined;
    return row && this.isLive(row) ? row : undefined;
  }

  /** The most recently updated row of a conversation id (over all organizations unless one is given). */
  async findByConversationId(conversationId: string, organizationId?: string): Promise<CatalogRow | undefined> {
    if (organizationId !== undefined) return this.findLive(organizationId, conversationId);
    return this.stmt(
      `SELECT ${ROW_COLUMNS} FROM files f ${whereClause(['f.conversation_id = ?', ...this.live()])} ORDER BY f.updated_at DESC, f.id DESC LIMIT 1`,
    ).get(conversationId) as CatalogRow | undefined;
  }

  async findByPath(filePath: string): Promise<CatalogRow | undefined> {
    const row = this.stmt(`SELECT ${ROW_COLUMNS} FROM files f WHERE f.path = ?`).get(filePath) as CatalogRow | undefined;
    return row && this.isLive(row) ? row : undefined;
  }

  async hasPath(filePath: string): Promise<boolean> {
    const row = this.stmt('SELECT org_key, day FROM files WHERE path = ?').get(filePath) as { org_key: string; day: string } | undefined;
    return row !== undefined && this.isLive(row);
  }

  /** Points a row at another file (compression), keeping everything else. */
  async moveFile(id: number, file: { path: string; size: number; sha256: string; md5: string; compressed: boolean }): Promise<void> {
    // a new file: the off-site copy has it to copy (countWrittenSince)
    this.stmt('UPDATE files SET path = ?, size = ?, sha256 = ?, md5 = ?, compressed = ?, indexed_at = ? WHERE id = ?').run(
      file.path,
      file.size,
      file.sha256,
      file.md5,
      file.compressed ? 1 : 0,
      new Date().toISOString(),
      id,
    );
  }

  async deleteByPath(filePath: string): Promise<number> {
    const db = this.conn();
    return db.transaction(() => {
      const row = this.stmt('SELECT id FROM files WHERE path = ?').get(filePath) as { id: number } | undefined;
      if (!row) return 0;
      this.deleteIds([row.id]);
      refreshStaleP95(db);
      return 1;
    })();
  }

  async erase(paths: string[]): Promise<number> {
    const db = this.conn();
    // freed pages and cells are zeroed while this is on; the full-text index is merged into new segments
    // (the old ones are freed, so zeroed); VACUUM rewrites every page, and the write-ahead log is copied
    // back and truncated. An erasure is rare; its cost grows with the catalog (a full rewrite).
    db.pragma('secure_delete = ON');
    try {
      const erased = db.transaction(() => {
        const find = this.stmt('SELECT id FROM files WHERE path = ?');
        const ids = paths.map((p) => (find.get(p) as { id: number } | undefined)?.id).filter((id): id is number => id !== undefined);
        this.deleteIds(ids);
        refreshStaleP95(db);
        return ids.length;
      })();
      db.exec("INSERT INTO fts (fts) VALUES ('optimize')");
      // cells moved within b-tree pages leave their old bytes in place: rewrite the whole file
      this.checkpointTruncate();
      db.exec('VACUUM');
      this.checkpointTruncate();
      return erased;
    } finally {
      db.pragma('secure_delete = OFF');
    }
  }

  /** Copies the write-ahead log into the database and empties it; retried while a reader holds it. */
  private checkpointTruncate(): void {
    for (let attempt = 0; attempt < 50; attempt++) {
      const [result] = this.conn().pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (!result || result.busy === 0) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    throw new Error('the catalog write-ahead log could not be emptied: another reader holds it');
  }

  /** Removes every row of one day folder; returns how many. */
  async deleteByDir(dir: string): Promise<number> {
    const db = this.conn();
    return db.transaction(() => {
      const ids = (this.stmt('SELECT id FROM files WHERE dir = ?').all(dir) as { id: number }[]).map((r) => r.id);
      this.deleteIds(ids);
      refreshStaleP95(db);
      return ids.length;
    })();
  }

  /** From the per-folder totals the triggers keep: as fast at a million files as at ten. */
  async summary(organizationId?: string): Promise<CatalogSummary> {
    const where = organizationId !== undefined ? 'WHERE org_key = ?' : '';
    const args = organizationId !== undefined ? [organizationId] : [];
    const rows = this.stmt(`SELECT dir, files, bytes FROM dirs ${where} ORDER BY dir`).all(...args) as Pick<CatalogDir, 'dir' | 'files' | 'bytes'>[];
    let files = 0;
    let bytes = 0;
    for (const r of rows) {
      files += r.files;
      bytes += r.bytes;
    }
    return { files, bytes, directories: rows.map((r) => r.dir) };
  }

  /** The catalog's day folders before `beforeDay` (of one organization when given), with their totals. */
  async dirsBefore(beforeDay: string, organizationId?: string): Promise<CatalogDir[]> {
    const org = organizationId !== undefined ? ' AND org_key = ?' : '';
    return this.stmt(`SELECT dir, org_key, day, files, bytes FROM dirs WHERE day < ?${org} ORDER BY day, dir`).all(
      beforeDay,
      ...(organizationId !== undefined ? [organizationId] : []),
    ) as CatalogDir[];
  }

  /**
   * Marks day folders as removed in one short transaction: from here on no read sees their rows, and their
   * totals are gone. The rows themselves go later, a batch at a time (`purgeRemoved`).
   */
  async markRemoved(dirs: Pick<CatalogDir, 'dir' | 'org_key' | 'day'>[]): Promise<void> {
    if (!dirs.length) return;
    const mark = this.stmt('INSERT OR IGNORE INTO removed_dirs (org_key, day, dir) VALUES (?, ?, ?)');
    const totals = this.stmt('DELETE FROM dirs WHERE dir = ?');
    this.conn().transaction(() => {
      for (const d of dirs) {
        mark.run(d.org_key, d.day, d.dir);
        totals.run(d.dir);
      }
    })();
    for (const d of dirs) this.removed.add(removedKey(d.org_key, d.day));
  }

  /** Whether rows of removed day folders are still waiting to be purged. */
  async hasRemoved(): Promise<boolean> {
    return this.removed.size > 0;
  }

  /** Purges up to `limit` rows of removed day folders in one transaction; false once nothing is left. */
  async purgeRemoved(limit: number): Promise<boolean> {
    const next = this.stmt('SELECT org_key, day FROM removed_dirs LIMIT 1').get() as { org_key: string; day: string } | undefined;
    if (!next) {
      this.removed.clear();
      return false;
    }
    this.conn().transaction(() => {
      const ids = (this.stmt('SELECT id FROM files WHERE org_key = ? AND day = ? LIMIT ?').all(next.org_key, next.day, limit) as { id: number }[]).map(
        (r) => r.id,
      );
      this.deleteIds(ids);
      refreshStaleP95(this.conn());
      if (ids.length < limit) this.unmarkRemoved(next.org_key, next.day);
    })();
    return this.removed.size > 0;
  }

  async count(filter: ArchiveFilter = {}): Promise<number> {
    const { where, params } = this.filter(filter);
    return (this.conn().prepare(`SELECT COUNT(*) AS n FROM files f ${whereClause(where)}`).get(params) as { n: number }).n;
  }

  async countWrittenSince(since: string): Promise<number> {
    return (this.conn().prepare(`SELECT COUNT(*) AS n FROM files f ${whereClause(['f.indexed_at > ?', ...this.live()])}`).get(since) as { n: number }).n;
  }

  /** One page of the filter's rows in (day, path) order, after the given key. */
  async exportPage(filter: ArchiveFilter, after: { day: string; path: string } | null, limit: number): Promise<ExportRow[]> {
    const { where, params } = this.filter(filter);
    if (after) {
      where.push('(f.day > @after_day OR (f.day = @after_day AND f.path > @after_path))');
      Object.assign(params, { after_day: after.day, after_path: after.path });
    }
    return this.conn()
      .prepare(
        `SELECT f.id, f.conversation_id, f.organization_id, f.day, f.path, f.size, f.compressed, f.org_from_path FROM files f ${whereClause(where)} ORDER BY f.day, f.path LIMIT ${Math.trunc(limit)}`,
      )
      .all(params) as ExportRow[];
  }

  /** Rows in id order after `afterId` (for verification). */
  async page(afterId: number, limit: number): Promise<CatalogRow[]> {
    return this.stmt(`SELECT ${ROW_COLUMNS} FROM files f ${whereClause(['f.id > ?', ...this.live()])} ORDER BY f.id LIMIT ?`).all(
      afterId,
      limit,
    ) as CatalogRow[];
  }

  /** Rows in path order after `afterPath` (for verification); SQLite compares text byte by byte. */
  async pageByPath(afterPath: string | null, limit: number): Promise<CatalogRow[]> {
    return this.stmt(`SELECT ${ROW_COLUMNS} FROM files f ${whereClause(['f.path > ?', ...this.live()])} ORDER BY f.path LIMIT ?`).all(
      afterPath ?? '',
      limit,
    ) as CatalogRow[];
  }

  /** Uncompressed rows of day folders before `beforeDay`, after `afterId`. */
  async uncompressedBefore(beforeDay: string, afterId: number, limit: number): Promise<CatalogRow[]> {
    return this.stmt(
      `SELECT ${ROW_COLUMNS} FROM files f ${whereClause(['f.compressed = 0 AND f.day < ? AND f.id > ?', ...this.live()])} ORDER BY f.id LIMIT ?`,
    ).all(beforeDay, afterId, limit) as CatalogRow[];
  }

  async search(filter: ArchiveFilter, text: string | null, cursor: SearchCursor | null, limit: number): Promise<SearchRow[]> {
    const match = text === null ? null : ftsQuery(text);
    // a text without any word matches nothing rather than everything
    if (text !== null && !match) return [];
    const { where, params } = this.filter({ ...filter, keyword: undefined });
    if (cursor) {
      where.push('(f.created_at < @cursor_at OR (f.created_at = @cursor_at AND f.id < @cursor_id))');
      Object.assign(params, { cursor_at: cursor.created_at, cursor_id: cursor.id });
    }
    if (match) {
      // the matching ids are gathered once; the walk down the created_at index then stops at the page's end
      where.push('f.id IN (SELECT rowid FROM fts WHERE fts MATCH @match)');
      params.match = match;
    }
    const rows = this.conn()
      .prepare(`SELECT ${ROW_COLUMNS} FROM files f INDEXED BY files_created ${whereClause(where)} ORDER BY f.created_at DESC, f.id DESC LIMIT ${Math.trunc(limit)}`)
      .all(params) as CatalogRow[];
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const snippets = new Map<number, string>(
      (match
        ? this.conn()
            .prepare(
              `SELECT rowid AS id, snippet(fts, -1, '«', '»', '…', 16) AS snippet FROM fts WHERE fts MATCH ? AND rowid IN (${ids.map(() => '?').join(',')})`,
            )
            .all(match, ...ids)
        : this.conn()
            .prepare(`SELECT rowid AS id, substr(queries, 1, 160) AS snippet FROM fts WHERE rowid IN (${ids.map(() => '?').join(',')})`)
            .all(...ids)
      ).map((r) => [(r as { id: number }).id, (r as { snippet: string }).snippet]),
    );
    return rows.map((r) => ({ ...r, snippet: snippets.get(r.id) ?? null }));
  }

  async stats(query: StatsQuery): Promise<{ rows: StatsRow[]; totals: StatsFigures }> {
    return catalogStats(this.conn(), query, (q, alias) => this.filter(q, alias), this.removed.size > 0);
  }

  private upsertOne(entry: CatalogEntry, messages: CatalogMessage[]): number {
    if (this.removed.size) this.reviveDir(entry.org_key, entry.day);
    const values = {
      ...entry,
      compressed: entry.compressed ? 1 : 0,
      org_from_path: entry.org_from_path ? 1 : 0,
      indexed_at: new Date().toISOString(),
    };
    const params = Object.fromEntries(ENTRY_COLUMNS.map((c) => [c, (values as Record<string, unknown>)[c]]));
    let existing = this.stmt('SELECT id, org_key, day FROM files WHERE org_key = ? AND conversation_id = ?').get(
      entry.org_key,
      entry.conversation_id,
    ) as { id: number; org_key: string; day: string } | undefined;
    if (existing && !this.isLive(existing)) {
      this.deleteIds([existing.id]);
      existing = undefined;
    }
    let id: number;
    if (existing) {
      id = existing.id;
      // another conversation's row cannot hold this path (the path names the conversation), but a stale one might
      this.stmt('DELETE FROM files WHERE path = ? AND id <> ?').run(entry.path, id);
      this.stmt(`UPDATE files SET ${ENTRY_COLUMNS.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`).run({ ...params, id });
      this.deleteDetails([id]);
    } else {
      const stale = this.stmt('SELECT id FROM files WHERE path = ?').get(entry.path) as { id: number } | undefined;
      if (stale) this.deleteIds([stale.id]);
      id = Number(
        this.stmt(`INSERT INTO files (${ENTRY_COLUMNS.join(', ')}) VALUES (${ENTRY_COLUMNS.map((c) => `@${c}`).join(', ')})`).run(params)
          .lastInsertRowid,
      );
    }
    const insertMessage = this.stmt(
      'INSERT INTO messages (file_id, day, org_key, app_id, message_id, created_at, tokens, latency, rating, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const m of messages) {
      insertMessage.run(id, entry.day, entry.org_key, entry.app_id, m.message_id, m.created_at, m.tokens, m.latency, m.rating, m.error ? 1 : 0);
    }
    this.stmt('INSERT INTO fts (rowid, name, queries, answers) VALUES (?, ?, ?, ?)').run(id, entry.name, entry.queries, entry.answers);
    return id;
  }

  /** A save into a removed day folder: its old rows go now, so the folder is an ordinary one again. */
  private reviveDir(orgKey: string, day: string): void {
    if (!this.removed.has(removedKey(orgKey, day))) return;
    const ids = (this.stmt('SELECT id FROM files WHERE org_key = ? AND day = ?').all(orgKey, day) as { id: number }[]).map((r) => r.id);
    this.deleteIds(ids);
    this.unmarkRemoved(orgKey, day);
  }

  private unmarkRemoved(orgKey: string, day: string): void {
    this.stmt('DELETE FROM removed_dirs WHERE org_key = ? AND day = ?').run(orgKey, day);
    this.removed.delete(removedKey(orgKey, day));
  }

  private loadRemoved(): void {
    this.removed.clear();
    for (const r of this.conn().prepare('SELECT org_key, day FROM removed_dirs').all() as { org_key: string; day: string }[]) {
      this.removed.add(removedKey(r.org_key, r.day));
    }
  }

  private isLive(row: { org_key: string; day: string }): boolean {
    return !this.removed.size || !this.removed.has(removedKey(row.org_key, row.day));
  }

  /** The condition that leaves out rows of removed day folders, when there are any. */
  private live(alias = 'f'): string[] {
    return this.removed.size ? [`NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = ${alias}.org_key AND r.day = ${alias}.day)`] : [];
  }

  private filter(filter: ArchiveFilter, alias = 'f'): ReturnType<typeof filterSql> {
    const sql = filterSql(filter, alias);
    sql.where.push(...this.live(alias));
    return sql;
  }

  private deleteIds(ids: number[]): void {
    this.deleteDetails(ids);
    const del = this.stmt('DELETE FROM files WHERE id = ?');
    for (const id of ids) del.run(id);
  }

  private deleteDetails(ids: number[]): void {
    const messages = this.stmt('DELETE FROM messages WHERE file_id = ?');
    const fts = this.stmt('DELETE FROM fts WHERE rowid = ?');
    for (const id of ids) {
      messages.run(id);
      fts.run(id);
    }
  }

  private connect(): void {
    const db = new Database(this.file);
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    db.exec(WRITE_JOURNAL_TABLE);
  }

  private meta(key: string): string | null {
    const row = this.conn().prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.conn().prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.conn().prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private conn(): Database.Database {
    if (!this.db) throw new Error('catalog is not open');
    return this.db;
  }
}

/** A file SQLite cannot read as a database, or a damaged one: the only failures that start a new catalog. */
function isUnreadableCatalog(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB'));
}
