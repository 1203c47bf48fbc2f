import type Database from 'better-sqlite3';
import { SqlFragment, whereClause } from '../catalog-query';
import type { ArchiveFilter, StatsFigures, StatsQuery, StatsRow } from '../log-storage.types';

/**
 * The statistics of the SQLite catalog: per (day, organization, app) and in total. `filter` gives the WHERE
 * conditions of a query over `files f` or `messages m`, leaving out removed day folders.
 */
export function catalogStats(
  db: Database.Database,
  query: StatsQuery,
  filter: (query: ArchiveFilter, alias?: string) => SqlFragment,
): { rows: StatsRow[]; totals: StatsFigures } {
  const { where, params } = filter(query);
  const clause = whereClause(where);
  const groups = db
    .prepare(
      `SELECT f.day, f.org_key, f.app_id, COUNT(*) AS conversations, SUM(f.message_count) AS messages,
         COUNT(DISTINCT COALESCE(f.end_user_id, f.end_user_session)) AS end_users, SUM(f.tokens) AS tokens,
         SUM(f.likes) AS likes, SUM(f.dislikes) AS dislikes, SUM(f.errors) AS errors
       FROM files f ${clause} GROUP BY f.day, f.org_key, f.app_id ORDER BY f.day, f.org_key, f.app_id`,
    )
    .all(params) as (Omit<StatsRow, 'organization_id' | 'avg_latency' | 'p95_latency'> & { org_key: string })[];
  // messages carry their file's day, organization and app, so percentiles walk an index instead of sorting
  const m = filter(query, 'm');
  const latencyWhere = whereClause([...m.where, 'm.latency IS NOT NULL']);
  const groupLatency = db
    .prepare(
      `SELECT m.day, m.org_key, m.app_id, COUNT(*) AS n, AVG(m.latency) AS avg_latency
       FROM messages m ${latencyWhere} GROUP BY m.day, m.org_key, m.app_id`,
    )
    .all(m.params) as { day: string; org_key: string; app_id: string; n: number; avg_latency: number }[];
  const nth = db.prepare(
    `SELECT latency FROM messages INDEXED BY messages_group
     WHERE day = ? AND org_key = ? AND app_id = ? AND latency IS NOT NULL ORDER BY latency LIMIT 1 OFFSET ?`,
  );
  const latencies = groupLatency.map((g) => ({
    ...g,
    p95_latency: (nth.get(g.day, g.org_key, g.app_id, Math.ceil(0.95 * g.n) - 1) as { latency: number }).latency,
  }));
  const byKey = new Map(latencies.map((l) => [`${l.day}\n${l.org_key}\n${l.app_id}`, l]));
  const rows: StatsRow[] = groups.map(({ org_key, ...g }) => {
    const l = byKey.get(`${g.day}\n${org_key}\n${g.app_id}`);
    return { ...g, organization_id: org_key || null, avg_latency: l?.avg_latency ?? null, p95_latency: l?.p95_latency ?? null };
  });
  const totals = db
    .prepare(
      `SELECT COUNT(*) AS conversations, COALESCE(SUM(f.message_count), 0) AS messages,
         COUNT(DISTINCT COALESCE(f.end_user_id, f.end_user_session)) AS end_users, COALESCE(SUM(f.tokens), 0) AS tokens,
         COALESCE(SUM(f.likes), 0) AS likes, COALESCE(SUM(f.dislikes), 0) AS dislikes, COALESCE(SUM(f.errors), 0) AS errors
       FROM files f ${clause}`,
    )
    .get(params) as Omit<StatsFigures, 'avg_latency' | 'p95_latency'>;
  const overall = db
    .prepare(`SELECT COUNT(*) AS n, AVG(m.latency) AS avg_latency FROM messages m ${latencyWhere}`)
    .get(m.params) as { n: number; avg_latency: number | null };
  const p95 = overall.n
    ? (db
        .prepare(`SELECT m.latency FROM messages m INDEXED BY messages_latency ${latencyWhere} ORDER BY m.latency LIMIT 1 OFFSET @p95_offset`)
        .get({ ...m.params, p95_offset: Math.ceil(0.95 * overall.n) - 1 }) as { latency: number }).latency
    : null;
  const totalLatency = overall.n ? { avg_latency: overall.avg_latency, p95_latency: p95 } : undefined;
  return {
    rows,
    totals: { ...totals, avg_latency: totalLatency?.avg_latency ?? null, p95_latency: totalLatency?.p95_latency ?? null },
  };
}
