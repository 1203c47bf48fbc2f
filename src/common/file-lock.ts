import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { isProcessAlive } from './process-liveness';

const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 10_000;

/**
 * Runs `work` while holding `lockFile` (created exclusively, holding the pid), so two processes — or two
 * instances in one — on one folder take turns at a read-change-write. A lock of a dead process, or older
 * than a read and a write could take, is left over from a kill and is removed.
 */
export async function withFileLock<R>(lockFile: string, work: () => Promise<R>): Promise<R> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [pidText, mtime] = await Promise.all([fs.readFile(lockFile, 'utf8').catch(() => ''), fs.stat(lockFile).then((st) => st.mtimeMs, () => 0)]);
    if ((pidText && !isProcessAlive(Number(pidText))) || Date.now() - mtime > LOCK_STALE_MS) {
      await fs.unlink(lockFile).catch(() => undefined);
      continue;
    }
    if (Date.now() > until) throw new Error(`${lockFile} is held by pid ${pidText || '?'}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  try {
    return await work();
  } finally {
    await fs.unlink(lockFile).catch(() => undefined);
  }
}
