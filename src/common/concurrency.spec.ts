import { mapConcurrent } from './concurrency';

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
