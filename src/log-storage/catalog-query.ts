import type { ArchiveFilter } from './log-storage.types';

/** Pure builders for catalog SQL fragments. */

export interface SqlFragment {
  where: string[];
  params: Record<string, unknown>;
}

/**
 * Turns free text into an FTS5 query: every word must occur (as a word or a word prefix).
 * Returns null when the text holds no word.
 */
export function ftsQuery(text: string): string | null {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (!words.length) return null;
  return words.slice(0, 16).map((w) => `"${w}"*`).join(' ');
}

/** WHERE conditions over `files f` (and named parameters) for an archive filter. */
export function filterSql(filter: ArchiveFilter, alias = 'f'): SqlFragment {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.start_date) {
    where.push(`${alias}.day >= @start_date`);
    params.start_date = filter.start_date;
  }
  if (filter.end_date) {
    where.push(`${alias}.day <= @end_date`);
    params.end_date = filter.end_date;
  }
  if (filter.organization_id) {
    where.push(`${alias}.org_key = @org_key`);
    params.org_key = filter.organization_id;
  }
  if (filter.app_id) {
    where.push(`${alias}.app_id = @app_id`);
    params.app_id = filter.app_id;
  }
  if (filter.from_source) {
    where.push(`${alias}.from_source = @from_source`);
    params.from_source = filter.from_source;
  }
  if (filter.user) {
    where.push(`(${alias}.end_user_id = @user OR ${alias}.end_user_session = @user)`);
    params.user = filter.user;
  }
  if (filter.rating === 'like') where.push(`${alias}.likes > 0`);
  if (filter.rating === 'dislike') where.push(`${alias}.dislikes > 0`);
  if (filter.keyword) {
    const match = ftsQuery(filter.keyword);
    // a keyword without any word matches nothing rather than everything
    where.push(match ? `${alias}.id IN (SELECT rowid FROM fts WHERE fts MATCH @keyword)` : '0');
    if (match) params.keyword = match;
  }
  return { where, params };
}

export function whereClause(fragments: string[]): string {
  return fragments.length ? `WHERE ${fragments.join(' AND ')}` : '';
}

export interface SearchCursor {
  created_at: string;
  id: number;
}

export function encodeCursor(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify([cursor.created_at, cursor.id]), 'utf8').toString('base64url');
}

/** null when the text is not a cursor this service issued. */
export function decodeCursor(text: string): SearchCursor | null {
  if (typeof text !== 'string' || text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      !Number.isNaN(Date.parse(value[0])) &&
      Number.isSafeInteger(value[1]) &&
      value[1] > 0
    ) {
      return { created_at: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  return null;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sortedAscending: number[], p: number): number | null {
  if (!sortedAscending.length) return null;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1];
}
