import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../../common/atomic-write';
import { isAbandonedTemp } from '../../common/process-liveness';
import { absoluteInside } from '../archive-paths';
import { ArchiveObject, ArchiveStore, ByteRange, checkFolder, FolderTally, ListOptions, StoredBytes } from '../archive-store';
import type { CatalogExtract, CatalogSource, MessageStage } from '../catalog-entry';
import type { FramedItem, StoredMode, StoredSegment } from '../stored-framing';
import { ArchiveIoWorker } from './archive-io-worker';

const TMP_SUFFIX = '.tmp';
/** no segment starting with a dot (so neither `.` nor `..`): safe to hand to the worker relative to the root */
const PLAIN_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const DELETE_BATCH = 64;
const STAT_BATCH = 64;

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The archive in a directory (LOGS_DIR): a key is a file path relative to it. Writes go through a temp file
 * beside the target (`writeFileAtomic`); temp files are invisible to listings. Folders that deletions leave
 * empty are removed, up to the key's first segment. Bulk reads and folder removals run on worker threads.
 */
export class FsArchiveStore implements ArchiveStore {
  readonly root: string;
  private readonly io = new ArchiveIoWorker(Math.min(2, os.availableParallelism()));
  /** threads of their own for rebuilding the catalog (started only by a rebuild) */
  private readonly catalogIo = new ArchiveIoWorker(Math.min(2, os.availableParallelism()), 16);

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(key: string, data: Buffer): Promise<StoredBytes> {
    await writeFileAtomic(this.absolute(key), data, { writeBytes: (handle, bytes) => this.writeBytes(handle, bytes) });
    return { size: data.length, sha256: createHash('sha256').update(data).digest('hex'), md5: createHash('md5').update(data).digest('hex') };
  }

  /** The one place bytes reach the disk (a seam for simulating a full disk). */
  protected async writeBytes(handle: fs.promises.FileHandle, data: Buffer): Promise<void> {
    await handle.writeFile(data);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(this.absolute(key));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async createReadStream(key: string, range?: ByteRange): Promise<Readable | null> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.absolute(key), 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    return handle.createReadStream({ start: range?.start, end: range?.end, autoClose: true });
  }

  async stat(key: string): Promise<ArchiveObject | null> {
    try {
      const s = await fs.promises.stat(this.absolute(key));
      return s.isFile() ? { key, size: s.size, mtime: s.mtime } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /**
   * Depth first, one directory read at a time, entries sorted as their keys sort (a directory as its name
   * followed by `/`), so the walk yields keys in order.
   */
  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ArchiveObject> {
    const cut = prefix.lastIndexOf('/');
    yield* this.walk(cut < 0 ? '' : prefix.slice(0, cut + 1), prefix, options.startAfter ?? '');
  }

  private async *walk(dirKey: string, prefix: string, startAfter: string): AsyncGenerator<ArchiveObject> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dirKey ? this.absolute(dirKey.slice(0, -1)) : this.root, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const keyed = entries
      .filter((e) => e.isDirectory() || (e.isFile() && !e.name.endsWith(TMP_SUFFIX)))
      .map((e) => ({ key: `${dirKey}${e.name}${e.isDirectory() ? '/' : ''}`, dir: e.isDirectory() }))
      .filter((e) =>
        e.dir
          ? (e.key.startsWith(prefix) || prefix.startsWith(e.key)) && (startAfter < e.key || startAfter.startsWith(e.key))
          : e.key.startsWith(prefix) && e.key > startAfter,
      )
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    // files are stat'ed STAT_BATCH at a time (a day folder holds hundreds), subfolders walked one by one
    for (let i = 0; i < keyed.length; ) {
      if (keyed[i].dir) {
        yield* this.walk(keyed[i].key, prefix, startAfter);
        i++;
        continue;
      }
      let end = i;
      while (end < keyed.length && !keyed[end].dir && end - i < STAT_BATCH) end++;
      const found = await Promise.all(keyed.slice(i, end).map((e) => this.stat(e.key)));
      for (const f of found) if (f) yield f;
      i = end;
    }
  }

  /** Directory reads only, in the order of `list`: no file is stat'ed. */
  async *listKeys(folder: string): AsyncGenerator<string> {
    checkFolder(folder);
    yield* this.walkKeys(folder);
  }

  private async *walkKeys(dirKey: string): AsyncGenerator<string> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dirKey ? this.absolute(dirKey.slice(0, -1)) : this.root, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const keys: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) keys.push(`${dirKey}${e.name}/`);
      else if (e.isFile() && !e.name.endsWith(TMP_SUFFIX)) keys.push(`${dirKey}${e.name}`);
    }
    keys.sort();
    for (const key of keys) {
      if (key.endsWith('/')) yield* this.walkKeys(key);
      else yield key;
    }
  }

  /** Directory reads only: no file is stat'ed. */
  async countObjects(folder: string): Promise<number> {
    checkFolder(folder);
    let count = 0;
    for await (const { entry } of this.walkFiles(folder)) if (!entry.name.endsWith(TMP_SUFFIX)) count++;
    return count;
  }

  /** Every regular file below a folder with its key, depth first; folders that vanish meanwhile are passed over. */
  private async *walkFiles(folder: string): AsyncGenerator<{ key: string; entry: fs.Dirent }> {
    const stack = [folder];
    while (stack.length) {
      const dirKey = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dirKey ? this.absolute(dirKey.slice(0, -1)) : this.root, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      for (const entry of entries) {
        const key = `${dirKey}${entry.name}`;
        if (entry.isDirectory()) stack.push(`${key}/`);
        else if (entry.isFile()) yield { key, entry };
      }
    }
  }

  async listFolders(folder: string): Promise<string[]> {
    checkFolder(folder);
    try {
      const entries = await fs.promises.readdir(folder ? this.absolute(folder.slice(0, -1)) : this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  }

  async delete(keys: string[]): Promise<number> {
    for (const key of keys) this.absolute(key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      await Promise.all(
        keys.slice(i, i + DELETE_BATCH).map((key) =>
          fs.promises.unlink(this.absolute(key)).catch((error) => {
            if (!isMissing(error)) throw error;
          }),
        ),
      );
    }
    return keys.length;
  }

  async deletePrefix(folder: string): Promise<FolderTally> {
    const [tally] = await this.tallyFolders([{ folder, expected: -1 }], true);
    return tally;
  }

  async tallyFolders(folders: { folder: string; expected: number }[], remove: boolean): Promise<FolderTally[]> {
    if (!folders.length) return [];
    for (const f of folders) checkFolder(f.folder);
    const tallies = await this.io.tallyDirs(
      folders.map((f) => ({ dir: this.absolute(f.folder.slice(0, -1)), expected: f.expected })),
      remove,
    );
    if (remove) {
      for (const parent of new Set(folders.map((f) => parentOf(f.folder.slice(0, -1))))) await this.pruneEmpty(parent);
    }
    return tallies.map((t) => ({ objects: t.files, bytes: t.bytes }));
  }

  async readFramed(mode: StoredMode, items: FramedItem[], reuse?: ArrayBuffer[]): Promise<StoredSegment[]> {
    return this.io.readStored(
      mode,
      this.root,
      items.map((i) => ({ file: path.sep === '/' && PLAIN_KEY.test(i.key) ? i.key : this.absolute(i.key), size: i.size, insert: i.insert })),
      reuse,
    );
  }

  async catalogEntries(sources: CatalogSource[], stage?: MessageStage): Promise<CatalogExtract[]> {
    // the guard throws on a key that would leave the root; the thread then reads root/key
    for (const s of sources) this.absolute(s.path);
    return this.catalogIo.catalogEntries(this.root, sources, stage);
  }

  /** Removes the temp files of writers that died before renaming them (a kill or a crash mid-write). */
  async removeAbandoned(folder: string): Promise<string[]> {
    checkFolder(folder);
    const removed: string[] = [];
    for await (const { key, entry } of this.walkFiles(folder)) {
      if (!entry.name.endsWith(TMP_SUFFIX)) continue;
      const full = this.absolute(key);
      const mtime = await fs.promises.stat(full).then((st) => st.mtimeMs, () => null);
      if (mtime === null || !isAbandonedTemp(entry.name, mtime)) continue;
      await fs.promises.unlink(full).catch(() => undefined);
      removed.push(key);
    }
    return removed;
  }

  async close(): Promise<void> {
    await Promise.all([this.io.close(), this.catalogIo.close()]);
  }

  /** A key turned into a path inside the root; throws when it would leave it. */
  absolute(key: string): string {
    return absoluteInside(this.root, key);
  }

  /** Removes `dirKey` and then its parents while they are empty, keeping the first segment. */
  private async pruneEmpty(dirKey: string): Promise<void> {
    let current = dirKey;
    while (current.includes('/')) {
      try {
        await fs.promises.rmdir(this.absolute(current));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
      }
      current = parentOf(current);
    }
  }
}

function parentOf(key: string): string {
  const cut = key.lastIndexOf('/');
  return cut < 0 ? '' : key.slice(0, cut);
}
