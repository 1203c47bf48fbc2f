import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { isAbandonedTemp } from '../common/process-liveness';
import { AppConfig } from '../config/app-config';
import { absoluteInside, CONVERSATIONS_DIR, isValidDay } from './archive-paths';
import { ArchiveIoWorker, DirTally, StoredMode, StoredSegment } from './archive-io-worker';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export interface WrittenFile {
  size: number;
  sha256: string;
}

export interface FoundFile {
  /** relative to LOGS_DIR, `/` separators */
  path: string;
  size: number;
}

export interface DayFolder {
  /** relative, e.g. conversations/acme/2024/01/16 */
  dir: string;
  organization_id: string | null;
  day: string;
}

const TMP_SUFFIX = '.tmp';
/** under conversations/, no segment starting with a dot (so neither `.` nor `..`) */
const PLAIN_PATH = new RegExp(`^${CONVERSATIONS_DIR}(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$`);

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The archive's files: the only place that touches node:fs for conversation files. */
@Injectable()
export class LogFilesRepository implements OnModuleDestroy {
  readonly root: string;
  private readonly io = new ArchiveIoWorker(Math.min(2, os.availableParallelism()));

  constructor(config: AppConfig) {
    this.root = path.resolve(config.logsDir);
  }

  absolute(relative: string): string {
    return absoluteInside(this.root, relative);
  }

  /**
   * Writes through `<file>.<random>.tmp`, fsync, rename; the tmp file is removed on any failure, so the
   * previous file stays intact. A `.gz` path is stored gzipped.
   */
  async writeAtomic(relative: string, text: string): Promise<WrittenFile> {
    const target = this.absolute(relative);
    const data = relative.endsWith('.gz') ? await gzip(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`;
    let handle: fs.promises.FileHandle | undefined;
    try {
      handle = await fs.promises.open(tmp, 'wx', 0o644);
      await this.writeBytes(handle, data);
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.promises.rename(tmp, target);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await fs.promises.unlink(tmp).catch(() => undefined);
      throw error;
    }
    return { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }

  /** The one place bytes reach the disk (a seam for simulating a full disk). */
  protected async writeBytes(handle: fs.promises.FileHandle, data: Buffer): Promise<void> {
    await handle.writeFile(data);
  }

  /** The file's text (gunzipped when the path ends in `.gz`) with the stored bytes' size and sha256; null when missing. */
  async read(relative: string): Promise<(WrittenFile & { text: string }) | null> {
    let raw: Buffer;
    try {
      raw = await fs.promises.readFile(this.absolute(relative));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    const text = relative.endsWith('.gz') ? (await gunzip(raw)).toString('utf8') : raw.toString('utf8');
    return { text, size: raw.length, sha256: createHash('sha256').update(raw).digest('hex') };
  }

  /**
   * The stored bytes of many files, framed for a JSON array or NDJSON, read off the event loop. A file is
   * passed through only when it still has the given size and holds one JSON object; any other file, and
   * one that is gone, comes back as `check`.
   */
  async readStored(mode: StoredMode, files: { path: string; size: number }[]): Promise<StoredSegment[]> {
    return this.io.readStored(
      mode,
      this.root,
      files.map((f) => ({ file: path.sep === '/' && PLAIN_PATH.test(f.path) ? f.path : this.absolute(f.path), size: f.size })),
    );
  }

  /**
   * Counts the files directly in each folder and, with `remove`, removes the folders with everything in
   * them, all in one request to the worker thread. A folder holding the `expected` number of files is not
   * stat'ed (its `bytes` is null: the caller knows them); otherwise its files are sized.
   */
  async tallyDirs(dirs: { dir: string; expected: number }[], remove: boolean): Promise<DirTally[]> {
    if (!dirs.length) return [];
    return this.io.tallyDirs(dirs.map((d) => ({ dir: this.absolute(d.dir), expected: d.expected })), remove);
  }

  async onModuleDestroy(): Promise<void> {
    await this.io.close();
  }

  /** sha256 and size of the stored bytes; null when missing. */
  async hash(relative: string): Promise<WrittenFile | null> {
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of fs.createReadStream(this.absolute(relative))) {
        size += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    return { size, sha256: hash.digest('hex') };
  }

  async exists(relative: string): Promise<boolean> {
    try {
      return (await fs.promises.stat(this.absolute(relative))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async remove(relative: string): Promise<void> {
    await fs.promises.unlink(this.absolute(relative)).catch((error) => {
      if (!isMissing(error)) throw error;
    });
  }

  /** Every file under conversations/ (leftover tmp files excluded), streamed one directory at a time. */
  async *walk(under: string = CONVERSATIONS_DIR): AsyncGenerator<FoundFile> {
    const start = this.absolute(under);
    const stack: string[] = [start];
    while (stack.length) {
      const dir = stack.pop()!;
      let handle: fs.Dir;
      try {
        handle = await fs.promises.opendir(dir);
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      const subdirs: string[] = [];
      for await (const entry of handle) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) subdirs.push(full);
        else if (entry.isFile() && !entry.name.endsWith(TMP_SUFFIX)) {
          const size = await fs.promises.stat(full).then((s) => s.size, () => null);
          if (size !== null) yield { path: this.relative(full), size };
        }
      }
      stack.push(...subdirs.sort().reverse());
    }
  }

  /** Removes the temp files of writers that died before renaming them (a kill or a crash mid-write); returns their paths. */
  async removeAbandonedTemps(under: string = CONVERSATIONS_DIR): Promise<string[]> {
    const removed: string[] = [];
    const stack = [this.absolute(under)];
    while (stack.length) {
      const dir = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) stack.push(full);
        else if (entry.isFile() && entry.name.endsWith(TMP_SUFFIX)) {
          const mtime = await fs.promises.stat(full).then((s) => s.mtimeMs, () => null);
          if (mtime === null || !isAbandonedTemp(entry.name, mtime)) continue;
          await fs.promises.unlink(full).catch(() => undefined);
          removed.push(this.relative(full));
        }
      }
    }
    return removed;
  }

  /** Files directly in one folder. */
  async listFiles(relativeDir: string): Promise<FoundFile[]> {
    const dir = this.absolute(relativeDir);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const out: FoundFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = path.join(dir, entry.name);
      const size = await fs.promises.stat(full).then((s) => s.size, () => null);
      if (size !== null) out.push({ path: this.relative(full), size });
    }
    return out;
  }

  /**
   * Day folders (`[org/]YYYY/MM/DD`). A first-level folder is a year when its children look like months,
   * otherwise an organization (so an organization may be called "2024").
   */
  async *dayFolders(organizationId?: string): AsyncGenerator<DayFolder> {
    const top = organizationId ? [organizationId] : await this.subdirs(CONVERSATIONS_DIR);
    for (const first of top) {
      const firstRel = `${CONVERSATIONS_DIR}/${first}`;
      const children = await this.subdirs(firstRel);
      const isYear = !organizationId && /^\d{4}$/.test(first) && children.some((c) => /^\d{2}$/.test(c));
      const years = isYear ? [{ org: null as string | null, rel: firstRel, year: first }] : (
        children.filter((c) => /^\d{4}$/.test(c)).map((y) => ({ org: first as string | null, rel: `${firstRel}/${y}`, year: y }))
      );
      for (const y of years) {
        for (const month of (await this.subdirs(y.rel)).filter((m) => /^\d{2}$/.test(m))) {
          for (const d of (await this.subdirs(`${y.rel}/${month}`)).filter((x) => /^\d{2}$/.test(x))) {
            const day = `${y.year}-${month}-${d}`;
            if (isValidDay(day)) yield { dir: `${y.rel}/${month}/${d}`, organization_id: y.org, day };
          }
        }
      }
    }
  }

  /** Removes a folder with everything in it. */
  async removeDir(relativeDir: string): Promise<void> {
    await fs.promises.rm(this.absolute(relativeDir), { recursive: true, force: true });
  }

  /** Removes `relativeDir` and then its parents while they are empty, stopping at conversations/. */
  async pruneEmpty(relativeDir: string): Promise<void> {
    let current = relativeDir;
    while (current.startsWith(`${CONVERSATIONS_DIR}/`)) {
      try {
        await fs.promises.rmdir(this.absolute(current));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') return;
      }
      current = current.slice(0, current.lastIndexOf('/'));
    }
  }

  private async subdirs(relativeDir: string): Promise<string[]> {
    try {
      const entries = await fs.promises.readdir(this.absolute(relativeDir), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (error) {
      if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    }
  }

  private relative(absolute: string): string {
    return path.relative(this.root, absolute).split(path.sep).join('/');
  }
}
