import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive } from './process-liveness';

export interface FileLockOptions {
  /** how long to wait for another holder before giving up */
  waitMs?: number;
  /** a lock whose file was not touched for this long is left over (its holder refreshes it while it works) */
  staleMs?: number;
}

interface LockContent {
  pid: number;
  hostname: string;
  id: string;
}

const LOCK_WAIT_MS = 20_000;
const LOCK_STALE_MS = 10_000;

/** The ids of the locks this process holds now: a lock naming this pid but none of them is from an earlier process. */
const held = new Set<string>();

/**
 * Runs `work` while holding `lockFile`, so two processes — or two callers in one — on one folder take turns at
 * a read-change-write. The file, created exclusively, names its holder ({pid, hostname, id}); the holder
 * touches it while it works. A lock is left over from a kill when its holder's pid is gone (judged only on the
 * holder's own host: containers sharing LOGS_DIR see each other's pids as strangers) or when it was not touched
 * for `staleMs`. A left-over lock is read again and removed under a second exclusive file, so two waiters that
 * saw the same left-over lock never remove the lock one of them has just taken.
 */
export async function withFileLock<R>(lockFile: string, work: () => Promise<R>, options: FileLockOptions = {}): Promise<R> {
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  const mine: LockContent = { pid: process.pid, hostname: os.hostname(), id: randomUUID() };
  const text = JSON.stringify(mine);
  const until = Date.now() + (options.waitMs ?? LOCK_WAIT_MS);
  // held from before the file exists: the file is on disk before the write's promise settles, and another
  // caller of this process reading it in between must not take it for an earlier process's lock
  held.add(mine.id);
  try {
    for (;;) {
      try {
        await fs.writeFile(lockFile, text, { flag: 'wx', mode: 0o600 });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const seen = await readLock(lockFile);
      if (seen && isLeftOver(seen, staleMs)) {
        await removeLeftOver(lockFile, seen, staleMs);
        continue;
      }
      if (Date.now() > until) {
        const holder = seen?.content ? `pid ${seen.content.pid} on ${seen.content.hostname}` : 'another process';
        throw new Error(`${lockFile} is held by ${holder}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } catch (error) {
    held.delete(mine.id);
    throw error;
  }
  const refresh = setInterval(() => {
    const now = new Date();
    void fs.utimes(lockFile, now, now).catch(() => undefined);
  }, Math.max(50, Math.floor(staleMs / 5)));
  refresh.unref();
  try {
    return await work();
  } finally {
    clearInterval(refresh);
    // still held until the file is gone: a caller reading it meanwhile must not take it for a left-over lock
    const current = await readLock(lockFile).catch(() => null);
    if (current?.content?.id === mine.id) await fs.unlink(lockFile).catch(() => undefined);
    held.delete(mine.id);
  }
}

interface SeenLock {
  text: string;
  content: LockContent | null;
  mtimeMs: number;
}

async function readLock(file: string): Promise<SeenLock | null> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { text, content: parseLock(text), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function parseLock(text: string): LockContent | null {
  try {
    const value = JSON.parse(text) as Partial<LockContent> | null;
    if (value && typeof value.pid === 'number' && typeof value.hostname === 'string' && typeof value.id === 'string') return value as LockContent;
  } catch {
    // an older lock (a bare pid) or one cut short by a crash: judged by its age alone
  }
  return null;
}

function isLeftOver(seen: SeenLock, staleMs: number): boolean {
  if (Date.now() - seen.mtimeMs > staleMs) return true;
  const holder = seen.content;
  if (!holder || holder.hostname !== os.hostname()) return false;
  // this pid with an id none of our callers holds: a lock of an earlier process that had our pid (pid 1 in a container)
  if (holder.pid === process.pid) return !held.has(holder.id);
  return !isProcessAlive(holder.pid);
}

/**
 * Removes a left-over lock under `<lock>.break`, a second exclusive file held only for the few steps of the
 * removal: the lock is read again there and removed only if it is still the one judged left over. Only a
 * holder of `.break` removes a lock, so no other waiter can replace it in between (moving it aside and putting
 * it back when it was not the left-over one would leave a moment without a lock for a third waiter to take).
 */
async function removeLeftOver(lockFile: string, seen: SeenLock, staleMs: number): Promise<void> {
  const breaker = `${lockFile}.break`;
  const mine: LockContent = { pid: process.pid, hostname: os.hostname(), id: randomUUID() };
  held.add(mine.id);
  try {
    await fs.writeFile(breaker, JSON.stringify(mine), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    held.delete(mine.id);
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // another waiter is removing it; a removal cut short by a kill is itself left over
    const other = await readLock(breaker);
    if (other && isLeftOver(other, staleMs)) await fs.unlink(breaker).catch(() => undefined);
    else await new Promise((resolve) => setTimeout(resolve, 5));
    return;
  }
  try {
    const now = await readLock(lockFile);
    if (now && now.text === seen.text && isLeftOver(now, staleMs)) await fs.unlink(lockFile).catch(() => undefined);
  } finally {
    await fs.unlink(breaker).catch(() => undefined);
    held.delete(mine.id);
  }
}
