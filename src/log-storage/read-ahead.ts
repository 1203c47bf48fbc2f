/**
 * `fn` over `items` with at most `limit` calls in flight, the results yielded in input order: the reads of
 * an export or a rebuild from a store where each read is a round trip (an object store), so that N of them
 * overlap while memory holds at most N results. Items are pulled lazily. A failure is thrown where its
 * item's result would have been yielded (the results before it are yielded first); stopping early (a
 * `break`, a failure) starts no more calls, and those already running settle unobserved.
 */
export async function* readAhead<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const width = Math.max(1, Math.floor(limit) || 1);
  const iterator: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  const ahead: Promise<R>[] = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && ahead.length < width) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const call = fn(next.value);
        // observed when its turn comes; until then a rejection must not count as unhandled
        call.catch(() => undefined);
        ahead.push(call);
      }
      const first = ahead.shift();
      if (!first) return;
      yield await first;
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}

/** At most `limit` calls of `run` at once across all callers; the others wait their turn, first come first served. */
export class InFlightLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.running >= Math.max(1, this.limit)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // the slot passes straight to the next caller, so `running` never goes over the limit
      if (next) next();
      else this.running--;
    }
  }
}
