import { Logger } from '@nestjs/common';
import { Pool, PoolClient, types as pgTypes } from 'pg';
import type { Catalog, CatalogDir, CatalogRow, CatalogState, CatalogSummary, ExportRow, SearchRow } from '../catalog';
import type { CatalogEntry, CatalogMessage } from '../catalog-entry';
import type { SearchCursor } from '../catalog-query';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from '../log-storage.types';
import { CATALOG_ENTRY_VERSION } from '../sqlite/catalog-schema';
import { redactDatabaseUrl, scrubSecret } from '../../common/database-url';
import { fts5Snippet } from './fts5-snippet';
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
      await c.query('TRUNCATE files, messages, file_texts, dirs, removed_dirs RESTART IDENTITY');
      await this.setMeta(c, { complete: '0', entry_version: String(CATALOG_ENTRY_VERSION), fts_language: this.options.ftsLanguage });
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  async finishRebuild(): Promise<void> {
    const c = this.rebuilding ?? (await this.conn().connect());
    try {
      await this.setMeta(c, { complete: '1' });
      await c.query('ANALYZE files, messages, file_texts, dirs');
      if (this.rebuilding) await c.query('SELECT pg_advisory_unlock($1::bigint)', [REBUILD_LOCK_KEY]);
    } finally {
      this.rebuilding = null;
      c.release();
    }
  }

  async insertMany(items: { entry: CatalogEntry; messages: CatalogMessage[] }[]): Promise<{ path: string; duplicateOf: string }[]> {
    if (!items.length) return [];
    return this.transaction(async (c) => {
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
        await this.upsertOne(c, item.entry, item.messages, anyRemoved);
      }
      return duplicates;
    });
  }

  async upsert(entry: CatalogEntry, messages: CatalogMessage[]): Promise<number> {
    return this.transaction(async (c) => this.upsertOne(c, entry, messages, await this.anyRemoved(c)));
  }

  async moveFile(id: number, file: { path: string; size: number; sha256: string; md5: string; compressed: boolean }): Promise<void> {
    // a new file: the off-site copy has it to copy (countWrittenSince)
    await this.conn().query(`UPDATE files SET path = $1, size = $2, sha256 = $3, md5 = $4, compressed = $5, indexed_at = ${DB_NOW} WHERE id = $6`, [
      file.path,
      file.size,
      file.sha256,
      file.md5,
      file.compressed ? 1 : 0,
      id,
    ]);
  }

  async deleteByPath(path: string): Promise<number> {
    return (await this.conn().query('DELETE FROM files WHERE path = $1', [path])).rowCount ?? 0;
  }

  async erase(paths: string[]): Promise<number> {
    // messages and texts go with their file (ON DELETE CASCADE); VACUUM makes the dead rows' space reusable
    const erased = (await this.conn().query('DELETE FROM files WHERE path = ANY($1::text[])', [paths])).rowCount ?? 0;
    await this.conn().query('VACUUM files, messages, file_texts');
    return erased;
  }

  async deleteByDir(dir: string): Promise<number> {
    return (await this.conn().query('DELETE FROM files WHERE dir = $1', [dir])).rowCount ?? 0;
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

  /** From the per-folder totals the triggers keep. */
  async summary(organizationId?: string): Promise<CatalogSummary> {
    const { rows } = await this.conn().query<Pick<CatalogDir, 'dir' | 'files' | 'bytes'>>(
      `SELECT dir, files, bytes FROM dirs ${organizationId !== undefined ? 'WHERE org_key = $1' : ''} ORDER BY dir`,
      organizationId !== undefined ? [organizationId] : [],
    );
    let files = 0;
    let bytes = 0;
    for (const r of rows) {
      files += r.files;
      bytes += r.bytes;
    }
    return { files, bytes, directories: rows.map((r) => r.dir) };
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
    const conditions = this.filter({ ...filter, keyword: undefined }, p);
    if (cursor) {
      const at = p.add(cursor.created_at);
      conditions.push(`(f.created_at < ${at} OR (f.created_at = ${at} AND f.id < ${p.add(cursor.id)}))`);
    }
    if (terms) {
      conditions.push(`f.id IN (SELECT t.file_id FROM file_texts t WHERE t.document @@ to_tsquery(${p.add(this.options.ftsLanguage)}::regconfig, ${p.add(terms.query)}))`);
    }
    const { rows } = await this.conn().query<CatalogRow>(
      `SELECT ${ROW_COLUMNS} FROM files f ${where(conditions)} ORDER BY f.created_at DESC, f.id DESC LIMIT ${p.add(Math.trunc(limit))}`,
      p.values,
    );
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const snippets = text !== null ? await this.snippets(ids, text) : await this.firstQueries(ids);
    return rows.map((r) => ({ ...r, snippet: snippets.get(r.id) ?? null }));
  }

  /** Snippets as SQLite's FTS5 makes them (column, window of 16 words, marks), from the stored texts. */
  private async snippets(ids: number[], text: string): Promise<Map<number, string>> {
    const { rows } = await this.conn().query<{ id: number; name: string; queries: string; answers: string }>(
      'SELECT f.id, f.name, t.queries, t.answers FROM files f JOIN file_texts t ON t.file_id = f.id WHERE f.id = ANY($1::bigint[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, fts5Snippet([r.name, r.queries, r.answers], text)]));
  }

  /** Without a search text: the start of the first query. */
  private async firstQueries(ids: number[]): Promise<Map<number, string>> {
    const { rows } = await this.conn().query<{ id: number; snippet: string }>(
      'SELECT file_id AS id, substr(queries, 1, 160) AS snippet FROM file_texts WHERE file_id = ANY($1::bigint[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.snippet]));
  }

  /** Per (day, organization, app) and in total; p95 is the nearest rank (`percentile_disc`). */
  async stats(query: StatsQuery): Promise<{ rows: StatsRow[]; totals: StatsFigures }> {
    const fp = new Params();
    const fileWhere = where(this.filter(query, fp));
    const mp = new Params();
    const latencyWhere = where([...this.filter(query, mp, 'm'), 'm.latency IS NOT NULL']);
    const figures = `COUNT(*) AS conversations, COALESCE(SUM(f.message_count), 0) AS messages,
         COUNT(DISTINCT COALESCE(f.end_user_id, f.end_user_session)) AS end_users, COALESCE(SUM(f.tokens), 0) AS tokens,
         COALESCE(SUM(f.likes), 0) AS likes, COALESCE(SUM(f.dislikes), 0) AS dislikes, COALESCE(SUM(f.errors), 0) AS errors`;
    const latency = 'AVG(m.latency) AS avg_latency, percentile_disc(0.95) WITHIN GROUP (ORDER BY m.latency) AS p95_latency';
    const db = this.conn();
    const [groups, groupLatency, totals, overall] = await Promise.all([
      db.query<Omit<StatsRow, 'organization_id' | 'avg_latency' | 'p95_latency'> & { org_key: string }>(
        `SELECT f.day, f.org_key, f.app_id, ${figures} FROM files f ${fileWhere} GROUP BY f.day, f.org_key, f.app_id ORDER BY f.day, f.org_key, f.app_id`,
        fp.values,
      ),
      db.query<{ day: string; org_key: string; app_id: string; avg_latency: number; p95_latency: number }>(
        `SELECT m.day, m.org_key, m.app_id, ${latency} FROM messages m ${latencyWhere} GROUP BY m.day, m.org_key, m.app_id`,
        mp.values,
      ),
      db.query<Omit<StatsFigures, 'avg_latency' | 'p95_latency'>>(`SELECT ${figures} FROM files f ${fileWhere}`, fp.values),
      db.query<{ avg_latency: number | null; p95_latency: number | null }>(`SELECT ${latency} FROM messages m ${latencyWhere}`, mp.values),
    ]);
    const byKey = new Map(groupLatency.rows.map((l) => [`${l.day}\n${l.org_key}\n${l.app_id}`, l]));
    const rows: StatsRow[] = groups.rows.map(({ org_key, ...g }) => {
      const l = byKey.get(`${g.day}\n${org_key}\n${g.app_id}`);
      return { ...g, organization_id: org_key || null, avg_latency: l?.avg_latency ?? null, p95_latency: l?.p95_latency ?? null };
    });
    return { rows, totals: { ...totals.rows[0], avg_latency: overall.rows[0].avg_latency, p95_latency: overall.rows[0].p95_latency } };
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

  private async upsertOne(c: PoolClient, raw: CatalogEntry, messages: CatalogMessage[], anyRemoved: boolean): Promise<number> {
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
    await c.query(
      `INSERT INTO file_texts (file_id, queries, answers, document)
       VALUES ($1, $2, $3, setweight(to_tsvector($4::regconfig, $5), 'A') || setweight(to_tsvector($4::regconfig, $6), 'B') || setweight(to_tsvector($4::regconfig, $7), 'C'))
       ON CONFLICT (file_id) DO UPDATE SET queries = excluded.queries, answers = excluded.answers, document = excluded.document`,
      [id, entry.queries, entry.answers, this.options.ftsLanguage, name, queries, answers],
    );
    return id;
  }

  /** The condition that leaves out rows of removed day folders. */
  private live(alias = 'f'): string[] {
    return [`NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = ${alias}.org_key AND r.day = ${alias}.day)`];
  }

  /** WHERE conditions over `files f` (or `messages m` for the fields messages carry) for an archive filter. */
  private filter(filter: ArchiveFilter, p: Params, alias = 'f'): string[] {
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
          ? `${alias}.id IN (SELECT t.file_id FROM file_texts t WHERE t.document @@ to_tsquery(${p.add(this.options.ftsLanguage)}::regconfig, ${p.add(terms.query)}))`
          : 'false',
      );
    }
    conditions.push(...this.live(alias));
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

  /** `work` in one transaction, tried again when another replica's concurrent write got in the way. */
  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.conn().connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (attempt < 3 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.release(broken);
      }
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
