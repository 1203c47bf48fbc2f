import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** file mode of the new file (default 0o644) */
  mode?: number;
  /** writes the bytes into the open temp file; a seam for simulating a full disk */
  writeBytes?: (handle: fs.promises.FileHandle, data: Buffer) => Promise<void>;
}

/** The temp name beside `target`: `<target>.<pid>.<random>.tmp`, recognised by `isAbandonedTemp`. */
export function tempPathFor(target: string): string {
  return `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * The one atomic write: the bytes go to a temp file beside the target, are fsync'ed, then renamed over the
 * target, so a reader sees the old file or the new one, never half of one. On any failure the temp file is
 * removed and the previous file stays intact.
 */
export async function writeFileAtomic(target: string, data: Buffer | string, options: AtomicWriteOptions = {}): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(tmp, 'wx', options.mode ?? 0o644);
    if (options.writeBytes) await options.writeBytes(handle, bytes);
    else await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw error;
  }
}
