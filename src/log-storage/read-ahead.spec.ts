import { InFlightLimit, readAhead } from './read-ahead';

async function* numbers(n: number, pulled: number[] = []) {
  for (let i = 0; i < n; i++) {
    pulled.push(i);
    yield i;
  }
}

/** A call that finishes when the test says so. */
function gate<T>() {
  let open!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe(readAhead.name, () => {
  it('keeps `limit` calls in flight and yields the results in input order, whatever order they finish in', async () => {
    const gates = Array.from({ length: 6 }, () => gate<number>());
    let running = 0;
    let peak = 0;
    const sut = readAhead(numbers(6), 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      const value = await gates[n].promise;
      running--;
      return value;
    });
    const results = collect(sut);
    // let the first three start, then finish them backwards
    await new Promise((r) => setImmediate(r));
    expect(running).toBe(3);
    gates[2].open(20);
    gates[1].open(10);
    gates[0].open(0);
    for (let i = 3; i < 6; i++) {
      await new Promise((r) => setImmediate(r));
      gates[i].open(i * 10);
    }
    expect(await results).toEqual([0, 10, 20, 30, 40, 50]);
    expect(peak).toBe(3);
  });

  it('pulls items only as fast as results are taken, and stops pulling when the consumer stops', async () => {
    const pulled: number[] = [];
    const sut = readAhead(numbers(100, pulled), 4, async (n) => n);
    const taken: number[] = [];
    for await (const n of sut) {
      taken.push(n);
      if (taken.length === 2) break;
    }
    expect(taken).toEqual([0, 1]);
    // two taken, at most four more read ahead
    expect(pulled.length).toBeLessThanOrEqual(6);
  });

  it('yields the results before a failure, then throws it, and starts nothing after it', async () => {
    const started: number[] = [];
    const sut = readAhead([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('store failed on 2');
      return n;
    });
    const taken: number[] = [];
    await expect(
      (async () => {
        for await (const n of sut) taken.push(n);
      })(),
    ).rejects.toThrow('store failed on 2');
    expect(taken).toEqual([0, 1]);
    expect(Math.max(...started)).toBeLessThanOrEqual(3);
  });

  it('works one at a time with a limit of 1 (or less) and on an empty input', async () => {
    expect(await collect(readAhead(numbers(3), 0, async (n) => n * 2))).toEqual([0, 2, 4]);
    expect(await collect(readAhead([], 8, async (n: number) => n))).toEqual([]);
  });
});

describe(InFlightLimit.name, () => {
  it('runs at most `limit` calls at once over all callers, and every call', async () => {
    const sut = new InFlightLimit(2);
    let running = 0;
    let peak = 0;
    const call = (n: number) =>
      sut.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        if (n === 3) throw new Error('three');
        return n;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5, 6].map(call));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 1, 2, 'three', 4, 5, 6]);
    expect(peak).toBe(2);
  });
});
