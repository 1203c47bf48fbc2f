import { floorToMinute } from './console-time';
import { DifyNotFoundError } from './dify.errors';

/**
 * Paging strategies that survive Dify's traps (dify-api.md section 4). All of them dedupe by id.
 */

export const PAGE_LIMIT = 100;

type Row = Record<string, unknown>;

export interface CursorPage {
  data?: Row[];
  has_more?: boolean;
}

export interface CursorWalk {
  /** one request; `cursor` is the `last_id` / `first_id` to send, undefined for the first page */
  fetch: (cursor: string | undefined) => Promise<CursorPage>;
  /** the sort field of the descending order, Unix seconds */
  key: (row: Row) => number;
  limit?: number;
  /** stop once every row still to come has a key below this */
  stopBelow?: number;
  /** called when more than a page of rows share one second: some of them may be unreachable */
  onTieOverflow?: (second: number) => void;
}

export interface WalkedPage {
  /** the page as Dify returned it */
  rows: Row[];
  /** rows not seen on an earlier page */
  fresh: Row[];
}

const idOf = (row: Row) => String(row.id);

/**
 * Walks a strict-cursor listing in descending key order (Service API conversations, and messages of
 * both APIs). Dify returns rows whose key is strictly below the cursor row's key, so rows sharing the
 * last row's second would be skipped, and `has_more` is computed the same way. The cursor is therefore
 * the oldest row of a LATER second: the next page re-reads the whole boundary second, and a full page
 * is always followed by one more request whatever `has_more` says.
 */
export async function* walkDescending(walk: CursorWalk): AsyncGenerator<WalkedPage> {
  const limit = walk.limit ?? PAGE_LIMIT;
  const seen = new Map<string, number>();
  const rejected = new Set<string>();
  let floorKey = Number.POSITIVE_INFINITY;
  let strictAt: number | undefined;
  let cursor: string | undefined;

  const pickCursor = (strict: boolean): string | undefined => {
    let best: string | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const [id, key] of seen) {
      if (rejected.has(id)) continue;
      if (strict ? key === floorKey : key > floorKey && key < bestKey) {
        best = id;
        bestKey = key;
        if (strict) break;
      }
    }
    return best;
  };

  for (;;) {
    let page: CursorPage;
    try {
      page = await walk.fetch(cursor);
    } catch (error) {
      // the cursor row vanished (deleted meanwhile): continue from another one
      if (cursor !== undefined && error instanceof DifyNotFoundError && rejected.size < 10) {
        rejected.add(cursor);
        cursor = pickCursor(false) ?? pickCursor(true);
        if (cursor !== undefined) continue;
      }
      throw error;
    }
    const rows = Array.isArray(page.data) ? page.data : [];
    const fresh = rows.filter((r) => !seen.has(idOf(r)));
    for (const r of fresh) seen.set(idOf(r), walk.key(r));
    yield { rows, fresh };

    if (rows.length === 0) return;
    if (rows.length < limit && !page.has_more) return;
    const pageMin = Math.min(...rows.map(walk.key));
    const progressed = pageMin < floorKey;
    floorKey = Math.min(floorKey, pageMin);
    if (walk.stopBelow !== undefined && floorKey < walk.stopBelow) return;

    if (!progressed && fresh.length === 0) {
      // a full page inside one second we already hold: only a strict cursor moves past it
      if (strictAt === floorKey) return;
      strictAt = floorKey;
      walk.onTieOverflow?.(floorKey);
      cursor = pickCursor(true);
      continue;
    }
    const next = pickCursor(false);
    if (next === undefined) {
      // every row so far shares one second: nothing later to anchor on
      if (strictAt === floorKey) return;
      strictAt = floorKey;
      if (rows.length >= limit) walk.onTieOverflow?.(floorKey);
      cursor = pickCursor(true);
    } else {
      cursor = next;
    }
  }
}

/** Messages in chronological order from backwards pages (newest page first), tie order as Dify gave it. */
export function chronological(pages: WalkedPage[]): Row[] {
  const out: Row[] = [];
  const ids = new Set<string>();
  for (let i = pages.length - 1; i >= 0; i--) {
    const asc = [...pages[i].rows].sort((a, b) => numberOr(a.created_at) - numberOr(b.created_at));
    for (const row of asc) {
      if (ids.has(idOf(row))) continue;
      ids.add(idOf(row));
      out.push(row);
    }
  }
  return out;
}

function numberOr(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

export interface OffsetPage {
  data?: Row[];
  has_more?: boolean;
  total?: number;
}

export interface MinuteCrawl {
  /** `asc`: oldest first (the range's start moves up); `desc`: newest first (its end moves down) */
  direction: 'asc' | 'desc';
  /** the field Dify filters and sorts on, Unix seconds */
  key: (row: Row) => number;
  /** window bounds in ms, inclusive */
  startMs?: number;
  endMs?: number;
  /** one request of page `page` restricted to [startMs, endMs] (minute precision, widened not narrowed) */
  fetch: (range: { startMs?: number; endMs?: number }, page: number) => Promise<OffsetPage>;
  limit?: number;
}

/**
 * Crawls a console list (offset pages filtered by `start`/`end` minutes) without trusting offsets across
 * requests: each request is page 1 of a range that begins (or ends) at the minute of the last row seen,
 * so rows moving or appearing elsewhere cannot shift anything past us. Only when more than a page of rows
 * share one minute are offsets used, inside that minute alone, re-read while its `total` drifts.
 */
export async function* crawlByMinute(crawl: MinuteCrawl): AsyncGenerator<Row> {
  const limit = crawl.limit ?? PAGE_LIMIT;
  const seen = new Set<string>();
  const fresh = (rows: Row[]) => rows.filter((r) => !seen.has(idOf(r)) && seen.add(idOf(r)));
  let lo = crawl.startMs;
  let hi = crawl.endMs;

  const minuteAlone = async function* (minute: number): AsyncGenerator<Row> {
    const range = {
      startMs: Math.max(minute, crawl.startMs ?? minute),
      endMs: Math.min(minute + 59_999, crawl.endMs ?? minute + 59_999),
    };
    for (let attempt = 0; attempt < 4; attempt++) {
      let firstTotal: number | undefined;
      let drifted = false;
      for (let page = 1; ; page++) {
        const res = await crawl.fetch(range, page);
        const rows = Array.isArray(res.data) ? res.data : [];
        yield* fresh(rows);
        if (page === 1) firstTotal = res.total;
        else if (res.total !== firstTotal) drifted = true;
        if (!res.has_more || rows.length < limit) break;
      }
      if (!drifted) return;
    }
  };

  for (;;) {
    if (lo !== undefined && hi !== undefined && lo > hi) return;
    const res = await crawl.fetch({ startMs: lo, endMs: hi }, 1);
    const rows = Array.isArray(res.data) ? res.data : [];
    yield* fresh(rows);
    if (rows.length === 0 || (rows.length < limit && !res.has_more)) return;
    const keys = rows.map(crawl.key).filter(Number.isFinite);
    if (crawl.direction === 'asc') {
      const lastMinute = floorToMinute(Math.max(...keys) * 1000);
      if (lo === undefined || lastMinute > floorToMinute(lo)) {
        lo = lastMinute;
        continue;
      }
      yield* minuteAlone(floorToMinute(lo));
      lo = floorToMinute(lo) + 60_000;
    } else {
      const firstMinute = floorToMinute(Math.min(...keys) * 1000);
      if (hi === undefined || firstMinute < floorToMinute(hi)) {
        hi = firstMinute + 59_999;
        continue;
      }
      yield* minuteAlone(floorToMinute(hi));
      hi = floorToMinute(hi) - 1;
    }
  }
}

/**
 * Page-number listing (newest first) that dedupes by id and starts over when `total` shrinks during the
 * crawl (a deletion shifts later rows onto pages already read).
 */
export async function* crawlPages(
  fetch: (page: number) => Promise<OffsetPage>,
  opts: { stop?: (row: Row) => boolean; idOf?: (row: Row) => string } = {},
): AsyncGenerator<Row> {
  const id = opts.idOf ?? idOf;
  const seen = new Set<string>();
  for (let attempt = 0; attempt < 4; attempt++) {
    let firstTotal: number | undefined;
    let shrank = false;
    for (let page = 1; ; page++) {
      const res = await fetch(page);
      const rows = Array.isArray(res.data) ? res.data : [];
      let stop = false;
      for (const row of rows) {
        if (opts.stop?.(row)) {
          stop = true;
          continue;
        }
        if (seen.has(id(row))) continue;
        seen.add(id(row));
        yield row;
      }
      if (page === 1) firstTotal = res.total;
      else if (typeof res.total === 'number' && typeof firstTotal === 'number' && res.total < firstTotal) shrank = true;
      if (stop || !res.has_more || rows.length === 0) break;
    }
    if (!shrank) return;
  }
}
