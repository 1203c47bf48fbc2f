import { mapConcurrent, readAhead } from './concurrency';

async function* numbers(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

describe(mapConcurrent.name, () => {
  it('keeps at most `limit` calls in flight and returns results in input order', async () => {
    let running = 0;
    let peak = 0;
    const sut = await mapConcurrent(numbers(20), 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, (n * 7) % 5));
      running--;
      return n * 2;
    });
    expect(sut).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(peak).toBe(3);
  });

  it('stops taking work after a failure and rethrows it', async () => {
    const started: number[] = [];
    await expect(
      mapConcurrent([1, 2, 3, 4, 5, 6], 2, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('boom');
        return n;
      }),
    ).rejects.toThrow('boom');
    expect(started.length).toBeLessThan(6);
  });

  it('stops pulling when `stop` says so, lets calls in flight finish and closes the listing', async () => {
    let closed = false;
    async function* listing() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const started: number[] = [];
    const sut = await mapConcurrent(listing(), 1, async (n) => {
      started.push(n);
      return n;
    }, { stop: () => started.length >= 5 });
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(sut).toEqual([0, 1, 2, 3, 4]);
    expect(closed).toBe(true);
  });
});

describe(readAhead.name, () => {
  /** A paged listing: each page is fetched when the generator is asked for its first item. */
  function pagedListing(pages: number, perPage: number, log: string[]) {
    return (async function* () {
      for (let p = 0; p < pages; p++) {
        log.push(`fetch ${p}`);
        await new Promise((r) => setImmediate(r));
        for (let i = 0; i < perPage; i++) yield p * perPage + i;
      }
    })();
  }

  it('yields every item in order and fetches the next page before the current one is used up', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const n of readAhead(pagedListing(3, 4, log), 4)) {
      log.push(`use ${n}`);
      seen.push(n);
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // page 1 is asked for while the items of page 0 are still being used
    expect(log.indexOf('fetch 1')).toBeLessThan(log.indexOf('use 3'));
    expect(log.indexOf('fetch 2')).toBeLessThan(log.indexOf('use 7'));
  });

  it('closes the listing when the consumer stops early', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const seen: number[] = [];
    for await (const n of readAhead(endless(), 5)) {
      seen.push(n);
      if (n === 2) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(closed).toBe(true);
  });

  it('hands over the items before a failure, then the failure', async () => {
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('listing failed');
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const n of readAhead(failing(), 10)) seen.push(n);
      })(),
    ).rejects.toThrow('listing failed');
    expect(seen).toEqual([1, 2]);
  });

  it('under mapConcurrent, closes the listing on a stop', async () => {
    let closed = false;
    async function* listing() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const started: number[] = [];
    await mapConcurrent(readAhead(listing(), 8), 2, async (n) => void started.push(n), { stop: () => started.length >= 5 });
    expect(started.length).toBeGreaterThanOrEqual(5);
    expect(closed).toBe(true);
  });
});
