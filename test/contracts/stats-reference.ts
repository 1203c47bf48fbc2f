import type { CatalogEntry, CatalogMessage } from '../../src/log-storage/catalog-entry';
import type { StatsFigures, StatsQuery, StatsRow } from '../../src/log-storage/log-storage.types';

export interface CatalogItem {
  entry: CatalogEntry;
  messages: CatalogMessage[];
}

/**
 * The statistics of a set of conversations worked out from scratch, the way the catalogs define them:
 * sums per (day, organization, app) in that order (byte order of the keys), distinct end users (id, else
 * session), the average of the latencies in whole microseconds, the p95 by nearest rank.
 */
export function referenceStats(items: CatalogItem[], query: StatsQuery): { rows: StatsRow[]; totals: StatsFigures } {
  const chosen = items.filter(
    ({ entry: e }) =>
      (!query.start_date || e.day >= query.start_date) &&
      (!query.end_date || e.day <= query.end_date) &&
      (!query.organization_id || e.org_key === query.organization_id) &&
      (!query.app_id || e.app_id === query.app_id),
  );
  const groups = new Map<string, CatalogItem[]>();
  for (const item of chosen) {
    const key = `${item.entry.day}\n${item.entry.org_key}\n${item.entry.app_id}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const rows = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, group]) => ({
      day: group[0].entry.day,
      organization_id: group[0].entry.org_key || null,
      app_id: group[0].entry.app_id,
      ...figures(group),
    }));
  return { rows, totals: figures(chosen) };
}

function figures(items: CatalogItem[]): StatsFigures {
  const sum = (pick: (e: CatalogEntry) => number) => items.reduce((total, i) => total + pick(i.entry), 0);
  const users = new Set(items.map((i) => i.entry.end_user_id ?? i.entry.end_user_session).filter((u) => u !== null));
  const latencies = items
    .flatMap((i) => i.messages.map((m) => m.latency))
    .filter((l): l is number => l !== null)
    .sort((a, b) => a - b);
  const micros = latencies.reduce((total, l) => total + Math.floor(l * 1e6 + 0.5), 0);
  return {
    conversations: items.length,
    messages: sum((e) => e.message_count),
    end_users: users.size,
    tokens: sum((e) => e.tokens),
    avg_latency: latencies.length ? micros / latencies.length / 1e6 : null,
    p95_latency: latencies.length ? latencies[Math.ceil((95 * latencies.length) / 100) - 1] : null,
    likes: sum((e) => e.likes),
    dislikes: sum((e) => e.dislikes),
    errors: sum((e) => e.errors),
  };
}
