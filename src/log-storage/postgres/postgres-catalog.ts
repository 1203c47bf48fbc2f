import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Pool, PoolClient, QueryResult, types as pgTypes } from 'pg';
import type { Catalog, CatalogDir, CatalogRow, CatalogState, CatalogSummary, ExportRow, JournaledWrite, SearchRow } from '../catalog';
import type { CatalogEntry, CatalogMessage } from '../catalog-entry';
import type { SearchCursor } from '../catalog-query';
import { GroupFigures, p95Position, statsRows, statsTotals } from '../catalog-stats';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from '../log-storage.types';
import { CATALOG_ENTRY_VERSION } from '../sqlite/catalog-schema';
import { redactDatabaseUrl, scrubSecret } from '../../common/database-url';
import { fts5FirstWords, fts5Snippet } from './fts5-snippet';
import { documentFields, searchTerms } from './full-text';
import { runMigrations } from './migration-runner';
import { CATALOG_MIGRATIONS } from './migrations';

export interface PostgresCatalogOptions {
  /** postgres://… (DATABASE_URL) */
  url: string;
  /** the text search configuration (CATALOG_FTS_LANGUAGE) */
  ftsLanguage: string;
  /** connections in the pool */
  poolSize?: number;
}

/** A configuration the database does not know, or another mistake an operator has to fix. */
export class CatalogConfigError extends Error {}

const ENTRY_COLUMNS = [
  'path', 'org_key', 'organization_id', 'app_id', 'conversation_id', 'day', 'dir', 'name', 'size', 'sha256', 'md5',
  'content_hash', 'compressed', 'org_from_path', 'created_at', 'updated_at', 'message_count', 'tokens', 'avg_latency', 'from_source',
  'end_user_id', 'end_user_session', 'likes', 'dislikes', 'errors', 'indexed_at',
] as const;

/**
 * `indexed_at` as the database stamps it: every replica writes with one clock, PostgreSQL's, and the off-site
 * copy reads the same clock when it starts (`clock`), so pending_files never compares two hosts' clocks.
 */
const DB_NOW = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** The value of an entry column's parameter `$n`; `indexed_at` is the database's clock (its parameter is null). */
const entryValue = (col: string, n: number) => (col === 'indexed_at' ? `coalesce($${n}::text, ${DB_NOW})` : `$${n}`);

const ROW_COLUMNS = `f.id, ${ENTRY_COLUMNS.filter((c) => c !== 'indexed_at' && c !== 'org_from_path').map((c) => `f.${c}`).join(', ')}`;

/** One rebuild at a time over all replicas ("dlvrebd" in ASCII). */
const REBUILD_LOCK_KEY = BigInt('0x646c7672656264').toString();

/** Counts and sums arrive as numbers (they stay far below 2^53), not as strings. */
const NUMERIC_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pgTypes.builtins.INT8 || oid === pgTypes.builtins.NUMERIC
      ? (value: string) => Number(value)
      : pgTypes.getTypeParser(oid, format)) as typeof pgTypes.getTypeParser,
};

/** unique violation (two replicas inserting one conversation), serialization failure, deadlock */
const RETRYABLE = new Set(['23505', '40001', '40P01']);

/** Positional parameters collected while a query is built. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const where = (conditions: string[]) => (conditions.length ? `WHERE ${conditions.join(' AND ')}` : '');

/** Whether a search filter holds only what a full-text document carries too: dates and organization. */
function textsAlone(filter: ArchiveFilter): boolean {
  return Object.entries(filter).every(([key, value]) => value === undefined || TEXT_FILTERS.has(key));
}
const TEXT_FILTERS = new Set(['start_date', 'end_date', 'organization_id']);

/**
 * A result's snippet as SQLite's FTS5 makes it (column, window of 16 words, marks) from the stored texts;
 * without a search text, the start of the first query. Null for a row without texts.
 */
function snippetOf(name: string, queries: string | null, answers: string | null, text: string | null): string | null {
  if (queries === null) return null;
  return text === null ? queries : fts5Snippet([name, queries, answers ?? ''], text);
}

/**
 * A text field of a page's row for its snippet, or '' where it cannot hold a hit (fts5Snippet's own test, made
 * where the text lies so the text is not sent): ASCII text in whose lower case no searched word's first token
 * occurs. Such a field is never the one a snippet shows. `words`: the parameter of those tokens.
 */
const snippetField = (column: string, words: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} ~ '[^[:ascii:]]'
     OR EXISTS (SELECT 1 FROM unnest(${words}::text[]) w WHERE strpos(lower(${column} COLLATE "C"), w) > 0) THEN ${column} ELSE '' END`;

/** Postgres text holds no NUL character; a conversation might. */
const clean = <T>(value: T): T => (typeof value === 'string' ? (value.replace(/\u0000/g, '') as T) : value);

/**
 * The catalog in PostgreSQL, shared by every replica of the service: the SQLite catalog's tables and
 * answers (same counts, order, pages), with a tsvector + GIN index for search. Nothing is cached in the
 * process, so what one replica writes the others read at once; removed day folders live in
 * `removed_dirs` only. The schema comes from versioned migrations applied under an advisory lock.
 */
export class PostgresCatalog implements Catalog {
  private readonly logger = new Logger(PostgresCatalog.name);
  private pool: Pool | null = null;
  /** the connection holding the rebuild lock between startRebuild and finishRebuild */
  private rebuilding: PoolClient | null = null;

  constructor(private readonly options: PostgresCatalogOptions) {}

  /** Connects, applies pending migrations and reports whether the catalog has to be rebuilt from the files. */
  async open(): Promise<CatalogState> {
    await this.close();
    const pool = new Pool({
      connectionString: this.options.url,
      max: this.options.poolSize ?? 10,
      types: NUMERIC_TYPES,
      application_name: 'dify-log-vault',
    });
    // an idle connection the server drops must not take the process down
    pool.on('error', (error) => this.logger.warn(`An idle PostgreSQL connection failed: ${this.scrub(error)}`));
    this.pool = pool;
    try {
      const applied = await runMigrations(pool, CATALOG_MIGRATIONS);
      if (applied.length) this.logger.log(`Applied catalog migrations ${applied.join(', ')} to ${redactDatabaseUrl(this.options.url)}`);
      await this.checkLanguage();
      const meta = await this.meta();
      if (meta.complete === undefined) return { needsRebuild: true, reason: 'catalog is missing' };
      if (meta.entry_version !== String(CATALOG_ENTRY_VERSION)) {
        return { needsRebuild: true, reason: `catalog entry version ${meta.entry_version ?? 'none'} is not ${CATALOG_ENTRY_VERSION}` };
      }
      if (meta.fts_language !== this.options.ftsLanguage) {
        return { needsRebuild: true, reason: `the full-text language changed from ${meta.fts_language ?? 'none'} to ${this.options.ftsLanguage}` };
      }
      if (meta.complete !== '1') return { needsRebuild: true, reason: 'the last rebuild did not finish' };
      return { needsRebuild: false, reason: null };
    } catch (error) {
      await this.close();
      if (error instanceof CatalogConfigError) throw error;
      throw new Error(`The PostgreSQL catalog at ${redactDatabaseUrl(this.options.url)} cannot be opened: ${this.scrub(error)}`);
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (this.rebuilding) {
      this.rebuilding.release(true);
      this.rebuilding = null;
    }
    await pool?.end();
  }

  /** Empties every table, marked unfinished until `finishRebuild`; replicas rebuild one after another. */
  async startRebuild(): Promise<void> {
    if (!this.rebuilding) {
      const client = await this.conn().connect();
      try {
        await client.query('SELECT pg_advisory_lock($1::bigint)', [REBUILD_LOCK_KEY]);
      } catch (error) {
        client.release(true);
        throw error;
      }
      this.rebuilding = client;
    }
    const c = this.rebuilding;
    await c.query('BEGIN');
    try {
      await c.query('TRUNCATE files, messages, file_texts, file_documents, dirs, removed_dirs, stats_groups, stats_users, stats_app_users, stats_archive_users, stats_latency RESTART IDENTITY');
      await this.setMeta(c, { complete: '0', entry_version: String(CATALOG_ENTRY_VERSION), fts_language: this.options.ftsLanguage });
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * Fills the statistics the load left out from the rows, with writers of other replicas held off meanwhile
   * (they kept the statistics of their own writes, which the fill replaces), and marks the catalog complete.
   * The load's tables are vacuumed first: their estimates are right for the fill, and the walks of the
   * latency index read the index alone.
   */
  async finishRebuild(): Promise<void> {
    const c = this.rebuilding ?? (await this.conn().connect());
    try {
      // VACUUM, not only ANALYZE: it also merges the full-text index's pending list, which every search
      // would otherwise scan, and marks the freshly written pages all-visible (the latency walks read the index alone)
      await c.query('VACUUM (ANALYZE) files, messages, file_texts, file_documents, dirs');
      await c.query('BEGIN');
      try {
        await c.query('LOCK TABLE files, messages IN SHARE MODE');
        await c.query('SELECT stats_fill()');
        await this.setMeta(c, { complete: '1' });
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      await c.query('VACUUM (ANALYZE) stats_groups, stats_users, stats_app_users, stats_archive_users, stats_latency');
      if (this.rebuilding) await c.query('SELECT pg_advisory_unlock($1::bigint)', [REBUILD_LOCK_KEY]);
    } finally {
      this.rebuilding = null;
      c.release();
    }
  }

  async insertMany(items: { entry: CatalogEntry; messages: CatalogMessage[] }[]): Promise<{ path: string; duplicateOf: string }[]> {
    if (!items.length) return [];
    return this.transaction(async (c) => {
      // a rebuild's load: the statistics are filled from the rows at the end (finishRebuild)
      if (this.rebuilding) await c.query("SET LOCAL vault.stats_deferred = 'on'");
      const anyRemoved = await this.anyRemoved(c);
      const duplicates: { path: string; duplicateOf: string }[] = [];
      for (const item of items) {
        const { rows } = await c.query<{ path: string }>(
          `SELECT f.path FROM files f ${where(['f.org_key = $1', 'f.conversation_id = $2', ...this.live()])}`,
          [item.entry.org_key, item.entry.conversation_id],
        );
        if (rows[0] && rows[0].path !== item.entry.path) {
          duplicates.push({ path: item.entry.path, duplicateOf: rows[0].path });
          continue;
        }
        // a rebuild's row leaves the path's journal entry alone (a replay settles it), as on SQLite
        await this.upsertOne(c, item.entry, item.messages, anyRemoved, null);
      }
      return duplicates;
    });
  }

  async upsert(entry: CatalogEntry, messages: CatalogMessage[], journaled?: Pick<JournaledWrite, 'writer' | 'since'>): Promise<number> {
    const journal = { path: entry.path, writer: journaled?.writer ?? null, since: journaled?.since ?? null };
    return this.transaction(async (c) => this.upsertOne(c, entry, messages, await this.anyRemoved(c), journal));
  }

  async settleJournaled(write: JournaledWrite, entry: CatalogEntry, messages: CatalogMessage[]): Promise<boolean> {
    return this.transaction(async (c) => {
      const listed = await c.query('DELETE FROM write_journal WHERE path = $1 AND writer = $2 AND since = $3 RETURNING path', [write.path, write.writer, write.since]);
      if (!listed.rowCount) return false;
      await this.upsertOne(c, entry, messages, await this.anyRemoved(c), null);
      return true;
    });
  }

  async journalWrites(writes: JournaledWrite[]): Promise<void> {
    if (!writes.length) return;
    await this.conn().query(
      `INSERT INTO write_journal (path, org_key, app_id, writer, since)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
       ON CONFLICT (path) DO UPDATE SET org_key = excluded.org_key, app_id = excluded.app_id, writer = excluded.writer, since = excluded.since`,
      [writes.map((w) => w.path), writes.map((w) => w.org_key), writes.map((w) => w.app_id), writes.map((w) => w.writer), writes.map((w) => w.since)],
    );
  }

  async journaledWrites(): Promise<JournaledWrite[]> {
    const { rows } = await this.conn().query<JournaledWrite>('SELECT path, org_key, app_id, writer, since FROM write_journal ORDER BY path');
    return rows.map((r) => ({ ...r, since: Number(r.since) }));
  }

  async dropJournaled(writes: JournaledWrite[]): Promise<void> {
    if (!writes.length) return;
    await this.conn().query(
      `DELETE FROM write_journal j USING unnest($1::text[], $2::text[], $3::bigint[]) AS d (path, writer, since)
        WHERE j.path = d.path AND j.writer = d.writer AND j.since = d.since`,
      [writes.map((w) => w.path), writes.map((w) => w.writer), writes.map((w) => w.since)],
    );
  }

  async moveFile(id: number, file: { path: string; size: number; sha256: string; md5: string; compressed: boolean }): Promise<void> {
    // a new file: the off-site copy has it to copy (countWrittenSince)
    await this.statement(`UPDATE files SET path = $1, size = $2, sha256 = $3, md5 = $4, compressed = $5, indexed_at = ${DB_NOW} WHERE id = $6`, [
      file.path,
      file.size,
      file.sha256,
      file.md5,
      file.compressed ? 1 : 0,
      id,
    ]);
  }

  async deleteByPath(path: string): Promise<number> {
    return (await this.statement('DELETE FROM files WHERE path = $1', [path])).rowCount ?? 0;
  }

  async erase(paths: string[]): Promise<number> {
    // messages, texts and documents go with their file (ON DELETE CASCADE), the end user's statistics with the last of
    // their conversations in a group; VACUUM makes the dead rows' space reusable
    const erased = (await this.statement('DELETE FROM files WHERE path = ANY($1::text[])', [paths])).rowCount ?? 0;
    await this.conn().query('VACUUM files, messages, file_texts, file_documents, stats_users, stats_app_users, stats_archive_users');
    return erased;
  }

  async deleteByDir(dir: string): Promise<number> {
    return (await this.statement('DELETE FROM files WHERE dir = $1', [dir])).rowCount ?? 0;
  }

  async findConversation(organizationId: string | null, conversationId: string): Promise<CatalogRow | undefined> {
    return this.one(`SELECT ${ROW_COLUMNS} FROM files f ${where(['f.org_key = $1', 'f.conversation_id = $2', ...this.live()])}`, [
      organizationId ?? '',
      conversationId,
    ]);
  }

  async findByConversationId(conversationId: string, organizationId?: string): Promise<CatalogRow | undefined> {
    if (organizationId !== undefined) return this.findConversation(organizationId, conversationId);
    return this.one(
      `SELECT ${ROW_COLUMNS} FROM files f ${where(['f.conversation_id = $1', ...this.live()])} ORDER BY f.updated_at DESC, f.id DESC LIMIT 1`,
      [conversationId],
    );
  }

  async findByPath(path: string): Promise<CatalogRow | undefined> {
    return this.one(`SELECT ${ROW_COLUMNS} FROM files f ${where(['f.path = $1', ...this.live()])}`, [path]);
  }

  async hasPath(path: string): Promise<boolean> {
    return (await this.one<{ id: number }>(`SELECT f.id FROM files f ${where(['f.path = $1', ...this.live()])}`, [path])) !== undefined;
  }

  /**
   * From the per-folder totals the triggers keep, added up and listed by the database in one row: a
   * prepared statement, and one JSON value instead of a row per folder for the driver to take apart.
   */
  async summary(organizationId?: string): Promise<CatalogSummary> {
    const org = organizationId !== undefined;
    const { rows } = await this.conn().query<CatalogSummary>({
      name: org ? 'catalog_summary_org' : 'catalog_summary',
      text: `SELECT COALESCE(SUM(files), 0) AS files, COALESCE(SUM(bytes), 0) AS bytes, COALESCE(json_agg(dir ORDER BY dir), '[]') AS directories
             FROM dirs ${org ? 'WHERE org_key = $1' : ''}`,
      values: org ? [organizationId] : [],
    });
    return rows[0];
  }

  async count(filter: ArchiveFilter = {}): Promise<number> {
    const p = new Params();
    const conditions = this.filter(filter, p);
    return (await this.one<{ n: number }>(`SELECT COUNT(*) AS n FROM files f ${where(conditions)}`, p.values))!.n;
  }

  async clock(): Promise<string> {
    return (await this.one<{ now: string }>(`SELECT ${DB_NOW} AS now`, []))!.now;
  }

  async countWrittenSince(since: string): Promise<number> {
    return (await this.one<{ n: number }>(`SELECT COUNT(*) AS n FROM files f ${where(['f.indexed_at COLLATE "C" > $1', ...this.live()])}`, [since]))!.n;
  }

  async exportPage(filter: ArchiveFilter, after: { day: string; path: string } | null, limit: number): Promise<ExportRow[]> {
    const p = new Params();
    const conditions = this.filter(filter, p);
    if (after) {
      const day = p.add(after.day);
      conditions.push(`(f.day > ${day} OR (f.day = ${day} AND f.path > ${p.add(after.path)}))`);
    }
    const { rows } = await this.conn().query<ExportRow>(
      `SELECT f.id, f.conversation_id, f.organization_id, f.day, f.path, f.size, f.compressed, f.org_from_path FROM files f ${where(conditions)} ORDER BY f.day, f.path LIMIT ${p.add(Math.trunc(limit))}`,
      p.values,
    );
    return rows;
  }

  async page(afterId: number, limit: number): Promise<CatalogRow[]> {
    const { rows } = await this.conn().query<CatalogRow>(
      `SELECT ${ROW_COLUMNS} FROM files f ${where(['f.id > $1', ...this.live()])} ORDER BY f.id LIMIT $2`,
      [afterId, limit],
    );
    return rows;
  }

  /** `path` is COLLATE "C": byte order, as an object store lists keys. */
  async pageByPath(afterPath: string | null, limit: number): Promise<CatalogRow[]> {
    const { rows } = await this.conn().query<CatalogRow>(
      `SELECT ${ROW_COLUMNS} FROM files f ${where(['f.path > $1', ...this.live()])} ORDER BY f.path LIMIT $2`,
      [afterPath ?? '', limit],
    );
    return rows;
  }

  async uncompressedBefore(beforeDay: string, afterId: number, limit: number): Promise<CatalogRow[]> {
    const { rows } = await this.conn().query<CatalogRow>(
      `SELECT ${ROW_COLUMNS} FROM files f ${where(['f.compressed = 0', 'f.day < $1', 'f.id > $2', ...this.live()])} ORDER BY f.id LIMIT $3`,
      [beforeDay, afterId, limit],
    );
    return rows;
  }

  async search(filter: ArchiveFilter, text: string | null, cursor: SearchCursor | null, limit: number): Promise<SearchRow[]> {
    const terms = text === null ? null : searchTerms(text);
    // a text without any word matches nothing rather than everything
    if (text !== null && !terms) return [];
    const p = new Params();
    const byText = terms !== null && textsAlone(filter);
    const page = byText ? this.pageOfTexts(filter, terms.query, cursor, limit, p) : this.pageOfFiles(filter, terms?.query ?? null, cursor, limit, p);
    // one statement: the page first (only its rows are ordered out of the matches), then the texts of its
    // rows alone, for the snippets: with a search text the stored fields that may hold a hit, without one the
    // start of the first query
    const words = text !== null ? p.add(fts5FirstWords(text)) : null;
    const texts = words !== null ? `${snippetField('t.queries', words)} AS queries, ${snippetField('t.answers', words)} AS answers` : 'substr(t.queries, 1, 160) AS queries, NULL AS answers';
    const sql = `SELECT ${ROW_COLUMNS}, ${texts}
       FROM (${page}) page JOIN files f ON f.id = page.id LEFT JOIN file_texts t ON t.file_id = f.id
       ORDER BY f.created_at DESC, f.id DESC`;
    // a page chosen among the documents has one plan whatever the words (the full-text index), so it is
    // prepared once per connection; a page chosen in files is planned for its filters and words each time
    const { rows } = await this.conn().query<CatalogRow & { queries: string | null; answers: string | null }>({
      ...(byText ? { name: `catalog_search_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}` } : {}),
      text: sql,
      values: p.values,
    });
    return rows.map(({ queries, answers, ...row }) => ({ ...row, snippet: snippetOf(row.name, queries, answers, text) }));
  }

  /**
   * The ids of a search page chosen among the full-text documents alone: each holds its file's created_at,
   * organization and day, so the matches are ordered without a look-up in `files` per match, and their narrow
   * rows (migration 10) share pages. The removed folders are one hashed set, not a probe per match.
   */
  private pageOfTexts(filter: ArchiveFilter, query: string, cursor: SearchCursor | null, limit: number, p: Params): string {
    const conditions = [`d.document @@ to_tsquery(${p.add(this.options.ftsLanguage)}::regconfig, ${p.add(query)})`];
    if (filter.start_date) conditions.push(`d.day >= ${p.add(filter.start_date)}`);
    if (filter.end_date) conditions.push(`d.day <= ${p.add(filter.end_date)}`);
    if (filter.organization_id) conditions.push(`d.org_key = ${p.add(filter.organization_id)}`);
    if (cursor) {
      const at = p.add(cursor.created_at);
      conditions.push(`(d.created_at < ${at} OR (d.created_at = ${at} AND d.file_id < ${p.add(cursor.id)}))`);
    }
    conditions.push('(d.org_key, d.day) NOT IN (SELECT r.org_key, r.day FROM removed_dirs r)');
    return `SELECT d.file_id AS id FROM file_documents d ${where(conditions)} ORDER BY d.created_at DESC, d.file_id DESC LIMIT ${p.add(Math.trunc(limit))}`;
  }

  /** The ids of a search page chosen in `files`, for filters on what only a file row holds. */
  private pageOfFiles(filter: ArchiveFilter, query: string | null, cursor: SearchCursor | null, limit: number, p: Params): string {
    const conditions = this.filter({ ...filter, keyword: undefined }, p);
    if (cursor) {
      const at = p.add(cursor.created_at);
      conditions.push(`(f.created_at < ${at} OR (f.created_at = ${at} AND f.id < ${p.add(cursor.id)}))`);
    }
    if (query !== null) {
      conditions.push(`f.id IN (SELECT d.file_id FROM file_documents d WHERE d.document @@ to_tsquery(${p.add(this.options.ftsLanguage)}::regconfig, ${p.add(query)}))`);
    }
    return `SELECT f.id FROM files f ${where(conditions)} ORDER BY f.created_at DESC, f.id DESC LIMIT ${p.add(Math.trunc(limit))}`;
  }

  /**
   * Per (day, organization, app) and in total, from the statistics the triggers of migration 7 keep, read in
   * one snapshot: the groups' figures, the distinct end users of the chosen groups, and their p95 (nearest
   * rank), whose bucket comes from the per-group bucket counts and whose value from a walk of the latency
   * index within it. Removed day folders are left out by a join only while one waits to be purged.
   */
  async stats(query: StatsQuery): Promise<{ rows: StatsRow[]; totals: StatsFigures }> {
    return this.snapshot(async (c) => {
      const removed = await this.anyRemoved(c);
      const gp = new Params();
      const groups = await c.query<GroupFigures>(
        `SELECT g.day, g.org_key, g.app_id, g.conversations, g.messages, g.end_users, g.tokens, g.likes, g.dislikes, g.errors,
           g.latencies, g.latency_micros, g.p95_latency
         FROM stats_groups g ${where(this.filter(query, gp, 'g', removed))} ORDER BY g.day, g.org_key, g.app_id`,
        gp.values,
      );
      const users = await this.endUsers(c, query, removed);
      const p95 = groups.rows.some((g) => g.latencies > 0) ? await this.totalP95(c, query, removed) : null;
      return { rows: statsRows(groups.rows), totals: statsTotals(groups.rows, users, p95) };
    });
  }

  /**
   * The distinct end users of the chosen groups. DISTINCT ON in the key's order rather than COUNT(DISTINCT),
   * which always sorts, or GROUP BY, which the planner hashes: the primary key (end_user first) is walked in
   * order, each user counted once, nothing to build (30,000 rows: 7-9 ms against 15-18 ms for the hash).
   * Without dates (and no removed day folder) the rows without the day serve; without any filter, the whole
   * archive's end users are the rows of migration 11 (15,000 rows: 0.6 ms against 5 ms for the walk).
   */
  private async endUsers(c: PoolClient, query: StatsQuery, removed: boolean): Promise<number> {
    const byDay = Boolean(query.start_date || query.end_date) || removed;
    if (!byDay && !query.organization_id && !query.app_id) return (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM stats_archive_users')).rows[0].n;
    const p = new Params();
    const { rows } = await c.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT DISTINCT ON (u.end_user) u.end_user FROM ${byDay ? 'stats_users' : 'stats_app_users'} u
       ${where(this.filter(query, p, 'u', removed))} ORDER BY u.end_user) d`,
      p.values,
    );
    return rows[0].n;
  }

  private async totalP95(c: PoolClient, query: StatsQuery, removed: boolean): Promise<number> {
    const lp = new Params();
    const buckets = await c.query<{ bucket: number; n: number }>(
      `SELECT l.bucket, SUM(l.n) AS n FROM stats_latency l ${where(this.filter(query, lp, 'l', removed))} GROUP BY l.bucket ORDER BY l.bucket`,
      lp.values,
    );
    const { from, offset } = p95Position(buckets.rows);
    const mp = new Params();
    const conditions = [...this.filter(query, mp, 'm', removed), `m.latency >= ${mp.add(from)}::float8`];
    const row = await c.query<{ latency: number }>(
      `SELECT m.latency FROM messages m ${where(conditions)} ORDER BY m.latency OFFSET ${mp.add(offset)} LIMIT 1`,
      mp.values,
    );
    return row.rows[0].latency;
  }

  async dirsBefore(beforeDay: string, organizationId?: string): Promise<CatalogDir[]> {
    const { rows } = await this.conn().query<CatalogDir>(
      `SELECT dir, org_key, day, files, bytes FROM dirs WHERE day < $1${organizationId !== undefined ? ' AND org_key = $2' : ''} ORDER BY day, dir`,
      organizationId !== undefined ? [beforeDay, organizationId] : [beforeDay],
    );
    return rows;
  }

  /** In one short transaction: from its commit on no read (of any replica) sees the folders' rows. */
  async markRemoved(dirs: Pick<CatalogDir, 'dir' | 'org_key' | 'day'>[]): Promise<void> {
    if (!dirs.length) return;
    await this.transaction(async (c) => {
      await c.query(
        'INSERT INTO removed_dirs (org_key, day, dir) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING',
        [dirs.map((d) => d.org_key), dirs.map((d) => d.day), dirs.map((d) => d.dir)],
      );
      await c.query('DELETE FROM dirs WHERE dir = ANY($1::text[])', [dirs.map((d) => d.dir)]);
    });
  }

  async hasRemoved(): Promise<boolean> {
    return this.anyRemoved(this.conn());
  }

  /** Purges up to `limit` rows of one removed day folder; replicas purging at once take different folders. */
  async purgeRemoved(limit: number): Promise<boolean> {
    await this.transaction(async (c) => {
      const next = (await c.query<{ org_key: string; day: string }>('SELECT org_key, day FROM removed_dirs LIMIT 1 FOR UPDATE SKIP LOCKED')).rows[0];
      if (!next) return;
      const deleted = await c.query('DELETE FROM files WHERE id IN (SELECT id FROM files WHERE org_key = $1 AND day = $2 LIMIT $3)', [
        next.org_key,
        next.day,
        limit,
      ]);
      if ((deleted.rowCount ?? 0) < limit) await c.query('DELETE FROM removed_dirs WHERE org_key = $1 AND day = $2', [next.org_key, next.day]);
    });
    return this.hasRemoved();
  }

  /**
   * `journal`: the journal entry removed with the row, the one of that writer and time only when they are
   * given (none for a rebuild's row or a replay's, settled apart).
   */
  private async upsertOne(
    c: PoolClient,
    raw: CatalogEntry,
    messages: CatalogMessage[],
    anyRemoved: boolean,
    journal: { path: string; writer: string | null; since: number | null } | null,
  ): Promise<number> {
    const entry = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, clean(v)])) as unknown as CatalogEntry;
    if (anyRemoved) {
      // a save into a removed day folder: its old rows go now, so the folder is an ordinary one again
      const revived = await c.query('DELETE FROM removed_dirs WHERE org_key = $1 AND day = $2', [entry.org_key, entry.day]);
      if (revived.rowCount) await c.query('DELETE FROM files WHERE org_key = $1 AND day = $2', [entry.org_key, entry.day]);
    }
    const values = { ...entry, compressed: entry.compressed ? 1 : 0, org_from_path: entry.org_from_path ? 1 : 0, indexed_at: null } as Record<string, unknown>;
    const params = ENTRY_COLUMNS.map((col) => values[col]);
    let existing: { id: number; live: boolean } | undefined = (
      await c.query<{ id: number; live: boolean }>(
        `SELECT f.id, ${anyRemoved ? this.live()[0] : 'true'} AS live FROM files f WHERE f.org_key = $1 AND f.conversation_id = $2 FOR UPDATE`,
        [entry.org_key, entry.conversation_id],
      )
    ).rows[0];
    if (existing && !existing.live) {
      await c.query('DELETE FROM files WHERE id = $1', [existing.id]);
      existing = undefined;
    }
    let id: number;
    if (existing) {
      id = existing.id;
      // another conversation's row cannot hold this path (the path names the conversation), but a stale one might
      await c.query('DELETE FROM files WHERE path = $1 AND id <> $2', [entry.path, id]);
      await c.query(`UPDATE files SET ${ENTRY_COLUMNS.map((col, i) => `${col} = ${entryValue(col, i + 1)}`).join(', ')} WHERE id = $${ENTRY_COLUMNS.length + 1}`, [
        ...params,
        id,
      ]);
      await c.query('DELETE FROM messages WHERE file_id = $1', [id]);
    } else {
      await c.query('DELETE FROM files WHERE path = $1', [entry.path]);
      id = (
        await c.query<{ id: number }>(
          `INSERT INTO files (${ENTRY_COLUMNS.join(', ')}) VALUES (${ENTRY_COLUMNS.map((col, i) => entryValue(col, i + 1)).join(', ')}) RETURNING id`,
          params,
        )
      ).rows[0].id;
    }
    if (messages.length) {
      await c.query(
        `INSERT INTO messages (file_id, day, org_key, app_id, message_id, created_at, tokens, latency, rating, error)
         SELECT $1, $2, $3, $4, m.* FROM unnest($5::text[], $6::text[], $7::bigint[], $8::float8[], $9::text[], $10::smallint[]) AS m`,
        [
          id,
          entry.day,
          entry.org_key,
          entry.app_id,
          messages.map((m) => clean(m.message_id)),
          messages.map((m) => m.created_at),
          messages.map((m) => m.tokens),
          messages.map((m) => m.latency),
          messages.map((m) => m.rating),
          messages.map((m) => (m.error ? 1 : 0)),
        ],
      );
    }
    const [name, queries, answers] = documentFields([entry.name, entry.queries, entry.answers]);
    // the texts, the document and the path's journal entry in one statement (no round trip of their own)
    await c.query(
      `WITH journaled AS (DELETE FROM write_journal WHERE path = $11::text AND ($12::text IS NULL OR (writer = $12::text AND since = $13::bigint))),
       texts AS (
         INSERT INTO file_texts (file_id, queries, answers) VALUES ($1, $2, $3)
         ON CONFLICT (file_id) DO UPDATE SET queries = excluded.queries, answers = excluded.answers)
       INSERT INTO file_documents (file_id, document, created_at, org_key, day)
       VALUES ($1, setweight(to_tsvector($4::regconfig, $5), 'A') || setweight(to_tsvector($4::regconfig, $6), 'B') || setweight(to_tsvector($4::regconfig, $7), 'C'), $8, $9, $10)
       ON CONFLICT (file_id) DO UPDATE SET document = excluded.document, created_at = excluded.created_at, org_key = excluded.org_key, day = excluded.day`,
      [id, entry.queries, entry.answers, this.options.ftsLanguage, name, queries, answers, entry.created_at, entry.org_key, entry.day, journal?.path ?? null, journal?.writer ?? null, journal?.since ?? null],
    );
    return id;
  }

  /** The condition that leaves out rows of removed day folders. */
  private live(alias = 'f'): string[] {
    return [`NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = ${alias}.org_key AND r.day = ${alias}.day)`];
  }

  /**
   * WHERE conditions over `files f` (or `messages m` for the fields messages carry) for an archive filter.
   * `removed`: whether a removed day folder may wait to be purged (known within a snapshot), so its rows are
   * to be left out.
   */
  private filter(filter: ArchiveFilter, p: Params, alias = 'f', removed = true): string[] {
    const conditions: string[] = [];
    if (filter.start_date) conditions.push(`${alias}.day >= ${p.add(filter.start_date)}`);
    if (filter.end_date) conditions.push(`${alias}.day <= ${p.add(filter.end_date)}`);
    if (filter.organization_id) conditions.push(`${alias}.org_key = ${p.add(filter.organization_id)}`);
    if (filter.app_id) conditions.push(`${alias}.app_id = ${p.add(filter.app_id)}`);
    if (filter.from_source) conditions.push(`${alias}.from_source = ${p.add(filter.from_source)}`);
    if (filter.user) {
      const user = p.add(filter.user);
      conditions.push(`(${alias}.end_user_id = ${user} OR ${alias}.end_user_session = ${user})`);
    }
    if (filter.rating === 'like') conditions.push(`${alias}.likes > 0`);
    if (filter.rating === 'dislike') conditions.push(`${alias}.dislikes > 0`);
    if (filter.keyword) {
      const terms = searchTerms(filter.keyword);
      // a keyword without any word matches nothing rather than everything
      conditions.push(
        terms
          ? `${alias}.id IN (SELECT d.file_id FROM file_documents d WHERE d.document @@ to_tsquery(${p.add(this.options.ftsLanguage)}::regconfig, ${p.add(terms.query)}))`
          : 'false',
      );
    }
    if (removed) conditions.push(...this.live(alias));
    return conditions;
  }

  private async anyRemoved(c: Pool | PoolClient): Promise<boolean> {
    return (await c.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM removed_dirs) AS any')).rows[0].any;
  }

  private async checkLanguage(): Promise<void> {
    try {
      await this.conn().query('SELECT $1::regconfig', [this.options.ftsLanguage]);
    } catch (error) {
      if ((error as { code?: string }).code !== '42704') throw error;
      throw new CatalogConfigError(
        `CATALOG_FTS_LANGUAGE ${this.options.ftsLanguage} is not a text search configuration of the catalog database (see SELECT cfgname FROM pg_ts_config)`,
      );
    }
  }

  private async meta(): Promise<Record<string, string | undefined>> {
    const { rows } = await this.conn().query<{ key: string; value: string }>('SELECT key, value FROM catalog_meta');
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  private async setMeta(c: PoolClient, values: Record<string, string>): Promise<void> {
    await c.query(
      'INSERT INTO catalog_meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [Object.keys(values), Object.values(values)],
    );
  }

  private async one<T = CatalogRow>(sql: string, params: unknown[]): Promise<T | undefined> {
    return (await this.conn().query(sql, params)).rows[0] as T | undefined;
  }

  /** `work` in one read-only transaction that sees one snapshot of the catalog. */
  private snapshot<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.inTransaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  /** `work` in one transaction, tried again when another replica's concurrent write got in the way. */
  private transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.retried(() => this.inTransaction('BEGIN', work));
  }

  /**
   * One writing statement on its own (its own transaction), tried again like a transaction: the triggers it
   * fires lock folder totals and statistics rows, so it can deadlock with another replica's writes as well.
   */
  private statement(sql: string, params: unknown[]): Promise<QueryResult> {
    return this.retried(() => this.conn().query(sql, params));
  }

  /**
   * `write` again when another replica's concurrent write got in the way: a deadlock or serialization failure
   * rolled all of it back, so it is repeated whole; a unique violation means another replica inserted the same
   * conversation first, which the repeat finds.
   */
  private async retried<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt < 3 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      }
    }
  }

  /** `work` between `begin` and COMMIT on a client of the pool, rolled back on failure (a client that cannot roll back is not reused). */
  private async inTransaction<T>(begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.conn().connect();
    let broken = false;
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private scrub(error: unknown): string {
    return scrubSecret(error instanceof Error ? error.message : String(error), this.options.url);
  }

  private conn(): Pool {
    if (!this.pool) throw new Error('catalog is not open');
    return this.pool;
  }
}
