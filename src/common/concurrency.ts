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
