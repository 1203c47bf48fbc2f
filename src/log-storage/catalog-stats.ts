import type { StatsFigures, StatsRow } from './log-storage.types';

/**
 * What both catalogs share of their statistics: the figures each keeps per (day, organization, app), and how
 * the answer is made from them. Latencies are added up in whole microseconds (integers: what one write adds,
 * another takes away exactly, in any order), so the average is that of the latencies rounded to the
 * microsecond; the p95 is the nearest rank of the latencies themselves.
 */

/**
 * Buckets per second of the catalogs' latency counts, which find the bucket holding a p95 before its
 * exact value is read: a power of two, so that `floor(latency * k) >= b` is exactly `latency >= b / k`.
 * PostgreSQL migration 7 has it written in.
 */
export const LATENCY_BUCKETS_PER_SECOND = 1;

/** One group's figures as a catalog keeps them. */
export interface GroupFigures extends Omit<StatsRow, 'organization_id' | 'avg_latency' | 'p95_latency'> {
  org_key: string;
  latencies: number;
  latency_micros: number;
  p95_latency: number | null;
}

/** The 1-based rank of the p95 of `n` values by nearest rank, in integers: ceil(0.95 n). */
export function nearestRank(n: number): number {
  return Math.floor((95 * n + 99) / 100);
}

function latencyFigures(latencies: number, micros: number, p95: number | null): Pick<StatsFigures, 'avg_latency' | 'p95_latency'> {
  return latencies > 0 ? { avg_latency: micros / latencies / 1e6, p95_latency: p95 } : { avg_latency: null, p95_latency: null };
}

/** The rows of the groups that hold conversations, in the order given. */
export function statsRows(groups: GroupFigures[]): StatsRow[] {
  return groups
    .filter((g) => g.conversations > 0)
    .map(({ org_key, latencies, latency_micros, p95_latency, ...g }) => ({
      ...g,
      organization_id: org_key || null,
      ...latencyFigures(latencies, latency_micros, p95_latency),
    }));
}

/** The totals of the groups, with their distinct end users and p95 (found over all their latencies). */
export function statsTotals(groups: GroupFigures[], endUsers: number, p95: number | null): StatsFigures {
  const sum = (pick: (g: GroupFigures) => number) => groups.reduce((total, g) => total + pick(g), 0);
  return {
    conversations: sum((g) => g.conversations),
    messages: sum((g) => g.messages),
    end_users: endUsers,
    tokens: sum((g) => g.tokens),
    likes: sum((g) => g.likes),
    dislikes: sum((g) => g.dislikes),
    errors: sum((g) => g.errors),
    ...latencyFigures(sum((g) => g.latencies), sum((g) => g.latency_micros), p95),
  };
}

/**
 * Where the p95 of the latencies counted in `buckets` (ascending) lies: the smallest latency of its bucket,
 * and how many latencies from there (in ascending order) come before it.
 */
export function p95Position(buckets: { bucket: number; n: number }[]): { from: number; offset: number } {
  const rank = nearestRank(buckets.reduce((total, b) => total + b.n, 0));
  let before = 0;
  for (const b of buckets) {
    if (before + b.n >= rank) return { from: b.bucket / LATENCY_BUCKETS_PER_SECOND, offset: rank - 1 - before };
    before += b.n;
  }
  throw new Error('p95Position: no latencies');
}
