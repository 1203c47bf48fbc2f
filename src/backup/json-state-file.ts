import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-write';
import { withFileLock } from '../common/file-lock';
import { isAbandonedTemp } from '../common/process-liveness';

/**
 * One JSON document on disk, replaced atomically (writeFileAtomic: temp file, fsync, rename) so a crash never
 * leaves half a file. Writes are serialised; a reader sees either the old or the new document.
 */
export class JsonStateFile<T> {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** null when the file does not exist; a corrupt file is moved aside rather than silently lost */
  async read(): Promise<T | null> {
    await this.removeAbandonedTemps();
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      await fs.rename(this.file, `${this.file}.corrupt-${Date.now()}`).catch(() => undefined);
      return null;
    }
  }

  private async removeAbandonedTemps(): Promise<void> {
    const dir = path.dirname(this.file);
    const prefix = `${path.basename(this.file)}.`;
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
      const full = path.join(dir, name);
      const mtime = await fs.stat(full).then((s) => s.mtimeMs, () => null);
      if (mtime !== null && isAbandonedTemp(name, mtime)) await fs.unlink(full).catch(() => undefined);
    }
  }

  /**
   * Read, change, write as one step across processes (a server and a CLI on one LOGS_DIR): under
   * `<file>.lock`, so neither overwrites what the other wrote in between. Resolves with the written value.
   */
  update(change: (current: T | null) => T): Promise<T> {
    const next = this.queue.catch(() => undefined).then(() =>
      withFileLock(`${this.file}.lock`, async () => {
        const value = change(await this.read());
        await this.writeNow(`${JSON.stringify(value, null, 2)}\n`);
        return value;
      }),
    );
    this.queue = next;
    return next;
  }

  write(value: T): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    const next = this.queue.catch(() => undefined).then(() => this.writeNow(text));
    this.queue = next;
    return next;
  }

  private writeNow(text: string): Promise<void> {
    return writeFileAtomic(this.file, text, { mode: 0o600 });
  }
}
