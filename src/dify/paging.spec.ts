import { chronological, crawlByMinute, walkDescending, WalkedPage } from './paging';
import { DifyNotFoundError } from './dify.errors';

type Row = { id: string; created_at: number };

/** Dify's cursor query: rows strictly older than the cursor row's second, newest first; has_more likewise. */
function difyCursor(rows: Row[], limit = 100) {
  const requests: (string | undefined)[] = [];
  const fetch = async (cursor: string | undefined) => {
    requests.push(cursor);
    const desc = [...rows].sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id));
    let candidates = desc;
    if (cursor !== undefined) {
      const at = rows.find((r) => r.id === cursor);
      if (!at) throw new DifyNotFoundError('gone', 404);
      candidates = desc.filter((r) => r.created_at < at.created_at && r.id !== cursor);
    }
    const page = candidates.slice(0, limit);
    const last = page[page.length - 1];
    const hasMore = page.length === limit && desc.some((r) => r.created_at < last.created_at);
    return { data: [...page].reverse(), has_more: hasMore, limit };
  };
  return { fetch, requests };
}

async function collect(rows: Row[], limit = 100): Promise<{ pages: WalkedPage[]; requests: number }> {
  const dify = difyCursor(rows, limit);
  const pages: WalkedPage[] = [];
  for await (const p of walkDescending({ fetch: dify.fetch, key: (r) => r.created_at as number, limit })) pages.push(p);
  return { pages, requests: dify.requests.length };
}

describe(walkDescending.name, () => {
  it('loses nothing when rows share a second across every page boundary', async () => {
    // 130 rows, 10 per second: the strict cursor alone would skip rows at each boundary
    const rows = Array.from({ length: 130 }, (_, i) => ({ id: `r${String(i).padStart(3, '0')}`, created_at: 1000 + Math.floor((i + 5) / 10) }));
    const naive = difyCursor(rows, 100);
    const first = await naive.fetch(undefined);
    const second = await naive.fetch(first.data[0].id);
    expect(first.data.length + second.data.length).toBeLessThan(130);

    const sut = await collect(rows);
    const ids = new Set(sut.pages.flatMap((p) => p.fresh.map((r) => r.id)));
    expect(ids.size).toBe(130);
  });

  it('does not trust has_more=false on a full page whose last second continues', async () => {
    const rows = Array.from({ length: 104 }, (_, i) => ({ id: `m${String(i).padStart(3, '0')}`, created_at: i < 8 ? 500 : 500 + i }));
    const sut = await collect(rows);
    expect(new Set(sut.pages.flatMap((p) => p.fresh.map((r) => r.id))).size).toBe(104);
  });

  it('returns messages chronologically, each once, with one extra request at most per page', async () => {
    const times = Array.from({ length: 130 }, (_, i) => 2000 + (i >= 28 && i <= 31 ? 28 : i));
    const rows = times.map((t, i) => ({ id: `x${String(i).padStart(3, '0')}`, created_at: t }));
    const { pages, requests } = await collect(rows);
    const out = chronological(pages) as Row[];
    expect(out).toHaveLength(130);
    expect(out.map((r) => r.created_at)).toEqual([...times].sort((a, b) => a - b));
    expect(requests).toBeLessThanOrEqual(3);
  });

  it('moves on when the cursor row was deleted meanwhile', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, created_at: 10 + i }));
    const dify = difyCursor(rows);
    const seen = new Set<string>();
    let pageNo = 0;
    for await (const p of walkDescending({ fetch: dify.fetch, key: (r) => r.created_at as number })) {
      p.fresh.forEach((r) => seen.add(r.id as string));
      // the row the next cursor will name disappears
      if (++pageNo === 1) rows.splice(rows.findIndex((r) => r.created_at === 161), 1);
    }
    expect(seen.size).toBe(250);
    expect(dify.requests.length).toBeGreaterThan(3);
  });

  it('stops early below the window start', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}`, created_at: i }));
    const dify = difyCursor(rows);
    for await (const _ of walkDescending({ fetch: dify.fetch, key: (r) => r.created_at as number, stopBelow: 420 })) void _;
    expect(dify.requests).toHaveLength(1);
  });
});

describe(crawlByMinute.name, () => {
  /** A console list: [start minute, end minute + 59 s] on `t`, ascending, offset pages. */
  function consoleList(rows: { id: string; t: number }[]) {
    let calls = 0;
    const fetch = async (range: { startMs?: number; endMs?: number }, page: number) => {
      calls++;
      const lo = range.startMs === undefined ? -Infinity : Math.floor(range.startMs / 60_000) * 60;
      const hi = range.endMs === undefined ? Infinity : Math.floor(range.endMs / 60_000) * 60 + 59;
      const matching = rows.filter((r) => r.t >= lo && r.t <= hi).sort((a, b) => a.t - b.t);
      const data = matching.slice((page - 1) * 100, page * 100).map((r) => ({ ...r }));
      return { data, total: matching.length, has_more: page * 100 < matching.length };
    };
    return { fetch, calls: () => calls };
  }

  it('lists every row even with rows moving to the end and 250 rows in one minute', async () => {
    const rows = [
      ...Array.from({ length: 150 }, (_, i) => ({ id: `a${i}`, t: 6000 + i * 7 })),
      ...Array.from({ length: 250 }, (_, i) => ({ id: `b${i}`, t: 60_000 + (i % 50) })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, t: 70_000 + i })),
    ];
    const list = consoleList(rows);
    const seen = new Set<string>();
    let n = 0;
    for await (const row of crawlByMinute({ direction: 'asc', key: (r) => r.t as number, fetch: list.fetch })) {
      seen.add(row.id as string);
      // a row already passed is updated: it moves to the end, which must not shift anything past us
      if (++n === 50) rows[3].t = 80_000;
    }
    expect(seen.size).toBe(rows.length);
  });

  it('walks newest first by moving the end', async () => {
    const rows = Array.from({ length: 330 }, (_, i) => ({ id: `z${i}`, t: 1_000_000 - i * 11 }));
    const seen: string[] = [];
    const desc = async (range: { startMs?: number; endMs?: number }, page: number) => {
      const lo = range.startMs === undefined ? -Infinity : Math.floor(range.startMs / 60_000) * 60;
      const hi = range.endMs === undefined ? Infinity : Math.floor(range.endMs / 60_000) * 60 + 59;
      const matching = rows.filter((r) => r.t >= lo && r.t <= hi).sort((a, b) => b.t - a.t);
      return { data: matching.slice((page - 1) * 100, page * 100), total: matching.length, has_more: page * 100 < matching.length };
    };
    for await (const row of crawlByMinute({ direction: 'desc', key: (r) => r.t as number, fetch: desc })) seen.push(row.id as string);
    expect(new Set(seen).size).toBe(330);
  });
});
