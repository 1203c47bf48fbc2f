import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { mapConcurrent } from '../common/concurrency';
import type { ArchiveObject, ArchiveStore } from './archive-store';

/** What a replica holds: the conversation files and the app configuration snapshots (not the catalog, not the state). */
export const REPLICATED_FOLDERS = ['conversations/', 'apps/'] as const;

/** Objects compared or copied at the same time, unless told otherwise. */
export const DEFAULT_REPLICATION_CONCURRENCY = 4;

export interface ReplicationOptions {
  /** delete what the target holds and the source does not (default: never delete) */
  delete?: boolean;
  /** objects compared or copied at the same time (each copy holds one object in memory) */
  concurrency?: number;
  /** stops the walk: the objects under way finish, the rest is left for the next run, and `replicate` throws ReplicationAbortedError */
  signal?: AbortSignal;
  onProgress?: (progress: ReplicationResult) => void;
}

export interface ReplicationResult {
  /** objects the source holds */
  checked: number;
  /** new or changed objects written to the target, each read back and compared */
  copied: number;
  copied_bytes: number;
  unchanged: number;
  /** objects of the target missing from the source, deleted with `delete` */
  deleted: number;
  /** objects of the target missing from the source, kept (without `delete`) */
  extra: number;
}

export class ReplicationAbortedError extends Error {
  constructor(readonly progress: ReplicationResult) {
    super(`stopped after ${progress.checked} objects checked, ${progress.copied} copied`);
    this.name = 'ReplicationAbortedError';
  }
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

async function md5Of(stream: Readable): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Pair {
  ours: ArchiveObject;
  existing: ArchiveObject | null;
}

/**
 * Copies one store into another, new and changed objects only (by MD5: an object store's ETag, or the
 * target's bytes read as a stream), reading every written object back to verify it. Both listings are
 * walked side by side in key order and at most `concurrency` objects are under way, so memory stays flat
 * however large the archive is (an unchanged object is hashed as a stream, never held whole).
 */
export async function replicate(source: ArchiveStore, target: ArchiveStore, options: ReplicationOptions = {}): Promise<ReplicationResult> {
  const result: ReplicationResult = { checked: 0, copied: 0, copied_bytes: 0, unchanged: 0, deleted: 0, extra: 0 };
  const concurrency = options.concurrency ?? DEFAULT_REPLICATION_CONCURRENCY;
  const stop = () => options.signal?.aborted === true;
  for (const folder of REPLICATED_FOLDERS) {
    const doomed: string[] = [];
    const dropExtra = async (key: string) => {
      if (options.delete) doomed.push(key);
      else result.extra++;
      if (doomed.length >= 1000) result.deleted += await target.delete(doomed.splice(0));
    };
    await mapConcurrent(
      pairs(source, target, folder, dropExtra),
      concurrency,
      async ({ ours, existing }) => {
        await copyOne(source, target, ours, existing, result);
        result.checked++;
        options.onProgress?.({ ...result });
      },
      { stop },
    );
    if (stop()) throw new ReplicationAbortedError({ ...result });
    if (doomed.length) result.deleted += await target.delete(doomed);
  }
  return result;
}

/** The source's objects, each with the target's object of the same key; the target's others go to `extra` (in key order). */
async function* pairs(source: ArchiveStore, target: ArchiveStore, folder: string, extra: (key: string) => Promise<void>): AsyncGenerator<Pair> {
  const theirs = target.list(folder)[Symbol.asyncIterator]();
  try {
    let next = await theirs.next();
    for await (const ours of source.list(folder)) {
      while (!next.done && next.value.key < ours.key) {
        await extra(next.value.key);
        next = await theirs.next();
      }
      const existing = !next.done && next.value.key === ours.key ? next.value : null;
      if (existing) next = await theirs.next();
      yield { ours, existing };
    }
    for (; !next.done; next = await theirs.next()) await extra(next.value.key);
  } finally {
    await theirs.return?.();
  }
}

async function copyOne(source: ArchiveStore, target: ArchiveStore, object: ArchiveObject, existing: ArchiveObject | null, result: ReplicationResult): Promise<void> {
  if (existing && existing.size === object.size) {
    const theirs = await digestOf(target, existing);
    const stream = theirs ? await source.createReadStream(object.key) : null;
    if (theirs && stream && (await md5Of(stream)) === theirs) {
      result.unchanged++;
      return;
    }
  }
  const bytes = await source.get(object.key);
  if (!bytes) return; // removed since it was listed
  const digest = md5(bytes);
  await target.put(object.key, bytes);
  const written = await target.createReadStream(object.key);
  if (!written || (await md5Of(written)) !== digest) throw new Error(`replica of ${object.key} does not match its source after writing`);
  result.copied++;
  result.copied_bytes += bytes.length;
}

/** The MD5 of an object: its ETag when the store gives one written in a single PUT, else its bytes' (streamed). */
async function digestOf(store: ArchiveStore, object: ArchiveObject): Promise<string | null> {
  if (object.etag && /^[0-9a-f]{32}$/.test(object.etag)) return object.etag;
  const stream = await store.createReadStream(object.key);
  return stream ? md5Of(stream) : null;
}
