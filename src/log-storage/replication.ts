import { createHash } from 'node:crypto';
import type { ArchiveObject, ArchiveStore } from './archive-store';

/** What a replica holds: the conversation files and the app configuration snapshots (not the catalog, not the state). */
export const REPLICATED_FOLDERS = ['conversations/', 'apps/'] as const;

export interface ReplicationOptions {
  /** delete what the target holds and the source does not (default: never delete) */
  delete?: boolean;
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

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/**
 * Copies one store into another, new and changed objects only (by MD5: an object store's ETag, or the
 * target's bytes), reading every written object back to verify it. Both listings are walked side by side
 * in key order, so memory stays flat however large the archive is.
 */
export async function replicate(source: ArchiveStore, target: ArchiveStore, options: ReplicationOptions = {}): Promise<ReplicationResult> {
  const result: ReplicationResult = { checked: 0, copied: 0, copied_bytes: 0, unchanged: 0, deleted: 0, extra: 0 };
  for (const folder of REPLICATED_FOLDERS) {
    const theirs = target.list(folder)[Symbol.asyncIterator]();
    let next = await theirs.next();
    const doomed: string[] = [];
    const dropExtra = async (key: string) => {
      if (options.delete) doomed.push(key);
      else result.extra++;
      if (doomed.length >= 1000) result.deleted += await target.delete(doomed.splice(0));
    };
    for await (const ours of source.list(folder)) {
      while (!next.done && next.value.key < ours.key) {
        await dropExtra(next.value.key);
        next = await theirs.next();
      }
      const existing = !next.done && next.value.key === ours.key ? next.value : null;
      if (existing) next = await theirs.next();
      await copyOne(source, target, ours, existing, result);
      result.checked++;
      options.onProgress?.({ ...result });
    }
    for (; !next.done; next = await theirs.next()) await dropExtra(next.value.key);
    if (doomed.length) result.deleted += await target.delete(doomed);
  }
  return result;
}

async function copyOne(source: ArchiveStore, target: ArchiveStore, object: ArchiveObject, existing: ArchiveObject | null, result: ReplicationResult): Promise<void> {
  const bytes = await source.get(object.key);
  if (!bytes) return; // removed since it was listed
  const digest = md5(bytes);
  if (existing && existing.size === bytes.length && (await digestOf(target, existing)) === digest) {
    result.unchanged++;
    return;
  }
  await target.put(object.key, bytes);
  const written = await target.get(object.key);
  if (!written || md5(written) !== digest) throw new Error(`replica of ${object.key} does not match its source after writing`);
  result.copied++;
  result.copied_bytes += bytes.length;
}

/** The MD5 of an object: its ETag when the store gives one written in a single PUT, else its bytes'. */
async function digestOf(store: ArchiveStore, object: ArchiveObject): Promise<string | null> {
  if (object.etag && /^[0-9a-f]{32}$/.test(object.etag)) return object.etag;
  const bytes = await store.get(object.key);
  return bytes ? md5(bytes) : null;
}
