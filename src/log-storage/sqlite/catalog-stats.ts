import type Database from 'better-sqlite3';
import { SqlFragment, whereClause } from '../catalog-query';
import { LATENCY_BUCKETS_PER_SECOND, nearestRank, p95Position, statsRows, statsTotals } from '../catalog-stats';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from '../log-storage.types';

/**
 * The statistics of the SQLite catalog, kept up to date by triggers in the transaction of every write, so
 * that a query reads totals instead of every file and message:
 * - `stats_groups`: per (day, organization, app) the sums, the distinct end users, the latencies' count and
 *   sum (in microseconds, integers, so that adding and taking away stays exact) and the p95 latency, which
 *   the writer recomputes (`refreshStaleP95`) for the groups whose messages it changed (`p95_stale`);
 * - `stats_users`: per (end user, day, organization, app) the conversations, for the distinct end users of
 *   any choice of groups; `stats_app_users` the same without the day, a third of the rows to count when no
 *   dates are asked for and no removed day folder waits to be purged;
 * - `stats_latency`: per group, how many latencies fall into each bucket of 1/LATENCY_BUCKETS_PER_SECOND
 *   second, keyed by bucket first (the counts of all groups come grouped without a sort), which finds the
 *   bucket holding the p95 of any choice of groups; the exact value is then read by a walk of the latency
 *   index within that bucket (cheap per entry, where every bucket row costs: so the buckets are coarse).
 * Created empty with the tables, filled by one grouped query each after a bulk load (triggers come after).
 */
export const STATS_TABLES = `
CREATE TABLE stats_groups (
  day TEXT NOT NULL,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  conversations INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  end_users INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  likes INTEGER NOT NULL DEFAULT 0,
  dislikes INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  latencies INTEGER NOT NULL DEFAULT 0,
  latency_micros INTEGER NOT NULL DEFAULT 0,
  p95_latency REAL,
  p95_stale INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, org_key, app_id)
) WITHOUT ROWID;
CREATE INDEX stats_groups_stale ON stats_groups (p95_stale) WHERE p95_stale = 1;
CREATE TABLE stats_users (
  end_user TEXT NOT NULL,
  day TEXT NOT NULL,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  conversations INTEGER NOT NULL,
  PRIMARY KEY (end_user, day, org_key, app_id)
) WITHOUT ROWID;
CREATE TABLE stats_app_users (
  end_user TEXT NOT NULL,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  conversations INTEGER NOT NULL,
  PRIMARY KEY (end_user, org_key, app_id)
) WITHOUT ROWID;
CREATE TABLE stats_latency (
  bucket INTEGER NOT NULL,
  day TEXT NOT NULL,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (bucket, day, org_key, app_id)
) WITHOUT ROWID;
`;

export const STATS_DROP = [
  ...['files_stats_insert', 'files_stats_delete', 'files_stats_update', 'messages_stats_insert', 'messages_stats_delete', 'messages_stats_update'].map(
    (t) => `DROP TRIGGER IF EXISTS ${t};`,
  ),
  ...['stats_groups', 'stats_users', 'stats_app_users', 'stats_latency'].map((t) => `DROP TABLE IF EXISTS ${t};`),
].join(' ');

const END_USER = (row: string) => `COALESCE(${row}.end_user_id, ${row}.end_user_session)`;
const MICROS = (latency: string) => `CAST(floor(${latency} * 1000000.0 + 0.5) AS INTEGER)`;
const BUCKET = (latency: string) => `CAST(floor(${latency} * ${LATENCY_BUCKETS_PER_SECOND}) AS INTEGER)`;
const GROUP_OF = (row: string) => `day = ${row}.day AND org_key = ${row}.org_key AND app_id = ${row}.app_id`;

/** A file's figures added to its group (`row` new) or taken away (`row` old, `sign` -1). */
function fileFigures(row: 'new' | 'old', sign: 1 | -1): string {
  const user = END_USER(row);
  const s = sign === 1 ? '+' : '-';
  const group = `
  INSERT INTO stats_groups (day, org_key, app_id, conversations, messages, tokens, likes, dislikes, errors)
    VALUES (${row}.day, ${row}.org_key, ${row}.app_id, ${sign}, ${s}${row}.message_count, ${s}${row}.tokens, ${s}${row}.likes, ${s}${row}.dislikes, ${s}${row}.errors)
    ON CONFLICT DO UPDATE SET conversations = conversations + excluded.conversations, messages = messages + excluded.messages,
      tokens = tokens + excluded.tokens, likes = likes + excluded.likes, dislikes = dislikes + excluded.dislikes, errors = errors + excluded.errors;`;
  const userRow = `end_user = ${user} AND ${GROUP_OF(row)}`;
  const appUserRow = `end_user = ${user} AND org_key = ${row}.org_key AND app_id = ${row}.app_id`;
  if (sign === 1) {
    return `${group}
  UPDATE stats_groups SET end_users = end_users + 1
    WHERE ${GROUP_OF(row)} AND ${user} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stats_users WHERE ${userRow});
  INSERT INTO stats_users (end_user, day, org_key, app_id, conversations) SELECT ${user}, ${row}.day, ${row}.org_key, ${row}.app_id, 1
    WHERE ${user} IS NOT NULL ON CONFLICT DO UPDATE SET conversations = conversations + 1;
  INSERT INTO stats_app_users (end_user, org_key, app_id, conversations) SELECT ${user}, ${row}.org_key, ${row}.app_id, 1
    WHERE ${user} IS NOT NULL ON CONFLICT DO UPDATE SET conversations = conversations + 1;`;
  }
  return `${group}
  UPDATE stats_groups SET end_users = end_users - 1 WHERE ${GROUP_OF(row)} AND EXISTS (SELECT 1 FROM stats_users WHERE ${userRow} AND conversations = 1);
  UPDATE stats_users SET conversations = conversations - 1 WHERE ${userRow};
  DELETE FROM stats_users WHERE ${userRow} AND conversations <= 0;
  UPDATE stats_app_users SET conversations = conversations - 1 WHERE ${appUserRow};
  DELETE FROM stats_app_users WHERE ${appUserRow} AND conversations <= 0;
  DELETE FROM stats_groups WHERE ${GROUP_OF(row)} AND conversations <= 0 AND latencies <= 0;`;
}

/** The triggers that keep the statistics in step with every write; created after a bulk load and its fill. */
export const STATS_TRIGGERS = `
CREATE TRIGGER files_stats_insert AFTER INSERT ON files BEGIN${fileFigures('new', 1)}
END;
CREATE TRIGGER files_stats_delete AFTER DELETE ON files BEGIN${fileFigures('old', -1)}
END;
CREATE TRIGGER files_stats_update
  AFTER UPDATE OF day, org_key, app_id, message_count, tokens, likes, dislikes, errors, end_user_id, end_user_session ON files
BEGIN${fileFigures('old', -1)}${fileFigures('new', 1)}
END;
CREATE TRIGGER messages_stats_insert AFTER INSERT ON messages WHEN new.latency IS NOT NULL BEGIN
  INSERT INTO stats_groups (day, org_key, app_id, latencies, latency_micros, p95_stale) VALUES (new.day, new.org_key, new.app_id, 1, ${MICROS('new.latency')}, 1)
    ON CONFLICT DO UPDATE SET latencies = latencies + 1, latency_micros = latency_micros + excluded.latency_micros, p95_stale = 1;
  INSERT INTO stats_latency (bucket, day, org_key, app_id, n) VALUES (${BUCKET('new.latency')}, new.day, new.org_key, new.app_id, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER messages_stats_delete AFTER DELETE ON messages WHEN old.latency IS NOT NULL BEGIN
  UPDATE stats_groups SET latencies = latencies - 1, latency_micros = latency_micros - ${MICROS('old.latency')}, p95_stale = 1 WHERE ${GROUP_OF('old')};
  DELETE FROM stats_groups WHERE ${GROUP_OF('old')} AND conversations <= 0 AND latencies <= 0;
  UPDATE stats_latency SET n = n - 1 WHERE ${GROUP_OF('old')} AND bucket = ${BUCKET('old.latency')};
  DELETE FROM stats_latency WHERE ${GROUP_OF('old')} AND bucket = ${BUCKET('old.latency')} AND n <= 0;
END;
CREATE TRIGGER messages_stats_update AFTER UPDATE OF day, org_key, app_id, latency ON messages BEGIN
  SELECT RAISE(ABORT, 'messages are replaced, not updated: the statistics count them as inserted and deleted');
END;
`;

/**
 * Fills the statistics from the rows (after a bulk load, or in the migration to them), every group's
 * p95 marked to be computed by `refreshStaleP95`.
 */
export const STATS_FILL = `
DELETE FROM stats_groups; DELETE FROM stats_users; DELETE FROM stats_app_users; DELETE FROM stats_latency;
INSERT INTO stats_groups (day, org_key, app_id, conversations, messages, end_users, tokens, likes, dislikes, errors)
  SELECT day, org_key, app_id, COUNT(*), SUM(message_count), COUNT(DISTINCT ${END_USER('files')}), SUM(tokens), SUM(likes), SUM(dislikes), SUM(errors)
  FROM files GROUP BY day, org_key, app_id;
INSERT INTO stats_users (end_user, day, org_key, app_id, conversations)
  SELECT ${END_USER('files')} AS end_user, day, org_key, app_id, COUNT(*) FROM files WHERE end_user IS NOT NULL GROUP BY end_user, day, org_key, app_id;
INSERT INTO stats_app_users (end_user, org_key, app_id, conversations)
  SELECT end_user, org_key, app_id, SUM(conversations) FROM stats_users GROUP BY end_user, org_key, app_id;
INSERT INTO stats_groups (day, org_key, app_id, latencies, latency_micros, p95_stale)
  SELECT day, org_key, app_id, COUNT(*), SUM(${MICROS('latency')}), 1 FROM messages WHERE latency IS NOT NULL GROUP BY day, org_key, app_id
  ON CONFLICT DO UPDATE SET latencies = excluded.latencies, latency_micros = excluded.latency_micros, p95_stale = 1;
INSERT INTO stats_latency (bucket, day, org_key, app_id, n)
  SELECT ${BUCKET('latency')} AS bucket, day, org_key, app_id, COUNT(*) FROM messages WHERE latency IS NOT NULL GROUP BY bucket, day, org_key, app_id;
`;

/**
 * Computes the p95 latency of the groups whose messages changed since (nearest rank, by a walk of the
 * group's latency index); called at the end of every transaction that writes messages.
 */
export function refreshStaleP95(db: Database.Database): void {
  const stale = db.prepare('SELECT day, org_key, app_id, latencies FROM stats_groups WHERE p95_stale = 1').all() as {
    day: string;
    org_key: string;
    app_id: string;
    latencies: number;
  }[];
  if (!stale.length) return;
  const nth = db.prepare(
    `SELECT latency FROM messages INDEXED BY messages_group
     WHERE day = ? AND org_key = ? AND app_id = ? AND latency IS NOT NULL ORDER BY latency LIMIT 1 OFFSET ?`,
  );
  const set = db.prepare('UPDATE stats_groups SET p95_latency = ?, p95_stale = 0 WHERE day = ? AND org_key = ? AND app_id = ?');
  for (const g of stale) {
    const p95 = g.latencies > 0 ? (nth.get(g.day, g.org_key, g.app_id, nearestRank(g.latencies) - 1) as { latency: number }).latency : null;
    set.run(p95, g.day, g.org_key, g.app_id);
  }
}

type GroupRow = [string, string, string, number, number, number, number, number, number, number, number, number, number | null];

/**
 * The statistics per (day, organization, app) and in total, from the tables above, in one read transaction.
 * `filter` gives the WHERE conditions of the query (dates, organization, app: columns every statistics
 * table and `messages` have), leaving out removed day folders.
 */
export function catalogStats(
  db: Database.Database,
  query: StatsQuery,
  filter: (query: ArchiveFilter, alias: string) => SqlFragment,
  anyRemoved: boolean,
): { rows: StatsRow[]; totals: StatsFigures } {
  return db.transaction(() => {
    const g = filter(query, 'g');
    // rows as arrays: half the time of rows as objects made by the driver, at a thousand groups and more
    const groups = (
      db
        .prepare(
          `SELECT g.day, g.org_key, g.app_id, g.conversations, g.messages, g.end_users, g.tokens, g.likes, g.dislikes, g.errors,
             g.latencies, g.latency_micros, g.p95_latency
           FROM stats_groups g ${whereClause(g.where)} ORDER BY g.day, g.org_key, g.app_id`,
        )
        .raw()
        .all(g.params) as GroupRow[]
    ).map(([day, org_key, app_id, conversations, messages, end_users, tokens, likes, dislikes, errors, latencies, latency_micros, p95_latency]) => ({
      day, org_key, app_id, conversations, messages, end_users, tokens, likes, dislikes, errors, latencies, latency_micros, p95_latency,
    }));
    const byApp = !query.start_date && !query.end_date && !anyRemoved;
    const u = byApp ? filter({ organization_id: query.organization_id, app_id: query.app_id }, 'u') : filter(query, 'u');
    const endUsers = (
      db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${byApp ? 'stats_app_users' : 'stats_users'} u ${whereClause(u.where)} GROUP BY u.end_user)`).get(u.params) as {
        n: number;
      }
    ).n;
    const hasLatencies = groups.some((r) => r.latencies > 0);
    return { rows: statsRows(groups), totals: statsTotals(groups, endUsers, hasLatencies ? totalP95(db, query, filter) : null) };
  })();
}

/**
 * The nearest-rank p95 over every chosen group: the bucket that holds it from the per-group bucket counts,
 * then the value by a walk of the latency index from the start of that bucket.
 */
function totalP95(db: Database.Database, query: StatsQuery, filter: (query: ArchiveFilter, alias: string) => SqlFragment): number {
  const l = filter(query, 'l');
  const buckets = db
    .prepare(`SELECT l.bucket, SUM(l.n) AS n FROM stats_latency l ${whereClause(l.where)} GROUP BY l.bucket ORDER BY l.bucket`)
    .all(l.params) as { bucket: number; n: number }[];
  const { from, offset } = p95Position(buckets);
  const m = filter(query, 'm');
  const row = db
    .prepare(
      `SELECT m.latency FROM messages m INDEXED BY messages_latency ${whereClause([...m.where, 'm.latency >= @p95_from'])}
       ORDER BY m.latency LIMIT 1 OFFSET @p95_offset`,
    )
    .get({ ...m.params, p95_from: from, p95_offset: offset }) as { latency: number };
  return row.latency;
}
