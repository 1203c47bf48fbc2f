export interface PoolOptions {
  /** asked before each item is pulled; `true` stops new work (calls in flight finish, the listing is closed) */
  stop?: () => boolean;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, pulling items lazily (an async listing is
 * consumed only as fast as the workers finish). Results come back in input order (an item never pulled
 * after a stop has none). The first failure stops new work; calls already running are awaited, then that
 * failure is thrown.
 */
export async function mapConcurrent<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: PoolOptions = {},
): Promise<R[]> {
  const width = Math.max(1, Math.floor(limit) || 1);
  const iterator: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  const results: R[] = [];
  let index = 0;
  let failed: { error: unknown } | null = null;
  let done = false;
  let stopped = false;

  const worker = async (): Promise<void> => {
    while (!failed && !done && !stopped) {
      if (options.stop?.()) {
        stopped = true;
        return;
      }
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (error) {
        failed ??= { error };
        return;
      }
      if (next.done) {
        done = true;
        return;
      }
      const at = index++;
      try {
        results[at] = await fn(next.value, at);
      } catch (error) {
        failed ??= { error };
      }
    }
  };

  await Promise.all(Array.from({ length: width }, worker));
  if (failed || stopped) await iterator.return?.();
  if (failed) throw (failed as { error: unknown }).error;
  return results;
}

/**
 * The items of an async listing, pulled up to `size` ahead of the consumer: a paged listing fetches its
 * next page while the items of the current one are still being worked on, instead of when they are all
 * done. A consumer that stops early closes the listing (once the pulls under way have settled); a
 * failure of the listing reaches the consumer at the item where it happened.
 */
export async function* readAhead<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T> {
  const iterator = items[Symbol.asyncIterator]();
  const ahead: Promise<IteratorResult<T>>[] = [];
  let ended = false;
  const fill = () => {
    while (!ended && ahead.length < Math.max(1, size)) {
      const next = iterator.next();
      next.then(
        (r) => {
          if (r.done) ended = true;
        },
        () => (ended = true),
      );
      ahead.push(next);
    }
  };
  let finished = false;
  try {
    for (;;) {
      fill();
      const next = await ahead.shift()!;
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) {
      await Promise.allSettled(ahead);
      await iterator.return?.();
    }
  }
}
