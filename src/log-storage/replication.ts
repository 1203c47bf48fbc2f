import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { mapConcurrent } from '../common/concurrency';
import type { ArchiveObject, ArchiveStore } from './archive-store';

/** What a replica holds: the conversation files and the app configuration snapshots (not the catalog, not the state). */
export const REPLICATED_FOLDERS = ['conversations/', 'apps/'] as const;

/** Objects compared or copied at the same time, unless told otherwise. */
export const DEFAULT_REPLICATION_CONCURRENCY = 4;

/** With `delete`, more deletions than this share of the target's objects are refused unless `forceDelete`. */
export const SAFE_DELETE_SHARE = 0.5;

export interface ReplicationOptions {
  /**
   * delete what the target holds and the source does not (default: never delete). Deletions are applied
   * only after the whole source has been walked and copied, and refused (ReplicationDeleteRefusedError,
   * nothing deleted) when the source is empty while the target is not, or when they would remove more than
   * half of the target's objects, unless `forceDelete`.
   */
  delete?: boolean;
  /** with `delete`: apply deletions even above the safe share (never when the source holds nothing) */
  forceDelete?: boolean;
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
  /**
   * objects the target listed and the source lacks, deleted with `delete` after the walk (the store confirmed
   * each deletion; one removed from the target by something else meanwhile is counted too: an object store
   * cannot tell the two apart)
   */
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

/** `delete` refused: nothing was deleted (the copy itself is done); the message says why and how to force it. */
export class ReplicationDeleteRefusedError extends Error {
  constructor(
    message: string,
    readonly progress: ReplicationResult,
  ) {
    super(message);
    this.name = 'ReplicationDeleteRefusedError';
  }
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

async function digestsOf(stream: Readable): Promise<{ md5: string; sha256: string }> {
  const m = createHash('md5');
  const s = createHash('sha256');
  for await (const chunk of stream) {
    m.update(chunk as Buffer);
    s.update(chunk as Buffer);
  }
  return { md5: m.digest('hex'), sha256: s.digest('hex') };
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
  // the target's objects the source lacks, deleted only once the whole source has been walked
  const doomed: string[] = [];
  let targetObjects = 0;
  for (const folder of REPLICATED_FOLDERS) {
    const counted = async function* (): AsyncGenerator<ArchiveObject> {
      for await (const object of target.list(folder)) {
        targetObjects++;
        yield object;
      }
    };
    const dropExtra = async (key: string) => {
      if (options.delete) doomed.push(key);
      else result.extra++;
    };
    await mapConcurrent(
      pairs(source, counted(), folder, dropExtra),
      concurrency,
      async ({ ours, existing }) => {
        await copyOne(source, target, ours, existing, result);
        result.checked++;
        options.onProgress?.({ ...result });
      },
      { stop },
    );
    if (stop()) throw new ReplicationAbortedError({ ...result });
  }
  if (doomed.length) {
    const refusal = deleteRefusal(result.checked, targetObjects, doomed.length, options.forceDelete === true);
    if (refusal) {
      result.extra = doomed.length;
      throw new ReplicationDeleteRefusedError(refusal, { ...result });
    }
    for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
      result.deleted += await target.delete(doomed.slice(i, i + DELETE_BATCH));
      options.onProgress?.({ ...result });
    }
  }
  return result;
}

const DELETE_BATCH = 1000;

/** Why the deletions are not applied (a source that is empty or not the archive must not empty the copy); null: apply them. */
function deleteRefusal(sourceObjects: number, targetObjects: number, deletions: number, force: boolean): string | null {
  if (sourceObjects === 0) {
    return `refused to delete: the source holds no objects while the target holds ${targetObjects}, so deleting would empty the copy (is the archive mounted, is the prefix right?); nothing was deleted`;
  }
  if (!force && deletions > targetObjects * SAFE_DELETE_SHARE) {
    return `refused to delete ${deletions} of the target's ${targetObjects} objects: more than half of it (is the source the right archive?); nothing was deleted, --force-delete deletes them`;
  }
  return null;
}

/** The source's objects, each with the target's object of the same key; the target's others go to `extra` (in key order). */
async function* pairs(source: ArchiveStore, targetListing: AsyncIterable<ArchiveObject>, folder: string, extra: (key: string) => Promise<void>): AsyncGenerator<Pair> {
  const theirs = targetListing[Symbol.asyncIterator]();
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
  if (existing && existing.size === object.size && (await sameBytes(source, target, object, existing))) {
    result.unchanged++;
    return;
  }
  const bytes = await source.get(object.key);
  if (!bytes) return; // removed since it was listed
  const digest = md5(bytes);
  await target.put(object.key, bytes);
  const written = await target.createReadStream(object.key);
  if (!written || (await digestsOf(written)).md5 !== digest) throw new Error(`replica of ${object.key} does not match its source after writing`);
  result.copied++;
  result.copied_bytes += bytes.length;
}

/**
 * The target already holds the source's bytes: its ETag is their MD5 (an object written in a single PUT,
 * without SSE-KMS), else the target's bytes have the same sha256 (an ETag that is not an MD5, e.g. SSE-KMS,
 * or multipart, or a store without ETags): a matching ETag saves reading the target.
 */
async function sameBytes(source: ArchiveStore, target: ArchiveStore, object: ArchiveObject, existing: ArchiveObject): Promise<boolean> {
  const stream = await source.createReadStream(object.key);
  if (!stream) return false;
  const ours = await digestsOf(stream);
  if (existing.etag && /^[0-9a-f]{32}$/.test(existing.etag) && existing.etag === ours.md5) return true;
  const theirs = await target.createReadStream(existing.key);
  return theirs !== null && (await digestsOf(theirs)).sha256 === ours.sha256;
}
