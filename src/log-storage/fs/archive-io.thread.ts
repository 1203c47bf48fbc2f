import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import type Database from 'better-sqlite3';
import { extractCatalogEntry, type CatalogExtract, type CatalogSource, type MessageStage } from '../catalog-entry';
import { stageMessages } from '../sqlite/message-stage';
import { flatten, looksWhole, prepend, type StoredMode } from '../stored-framing';

/**
 * The worker thread of `ArchiveIoWorker`: bulk file work with synchronous calls, off the main event loop.
 * Loaded from the compiled `.js` in production and from this `.ts` under the tests (see `ArchiveIoWorker`).
 */

/** `reusable`: the buffer is one of the thread's read buffers, which the caller may hand back for reuse */
export type WireSegment =
  | { buffer: ArrayBuffer; offset: number; length: number; items: number; reusable: boolean }
  | { buffer?: undefined; index: number };

/** read buffers are at least this big, so that one serves any later request of the usual size */
const READ_BUFFER_BYTES = 1024 * 1024;
const SPARE_BUFFERS = 8;
/** read buffers handed back by the caller once it was done with them */
const spare: ArrayBuffer[] = [];

export function takeBack(buffers: ArrayBuffer[] | undefined): void {
  for (const b of buffers ?? []) if (spare.length < SPARE_BUFFERS && b.byteLength >= READ_BUFFER_BYTES) spare.push(b);
}

/**
 * A buffer of at least `capacity` bytes: a spare one if one is big enough, else a new one sized to the next
 * power of two. Requests of one kind vary by a few percent (a batch's files differ in size); an exact size
 * would leave every spare buffer a little too small half the time, and the new ones would pile up as
 * garbage outside the heap until a collection came round to them.
 */
function readBuffer(capacity: number): ArrayBuffer {
  const i = spare.findIndex((b) => b.byteLength >= capacity);
  if (i >= 0) return spare.splice(i, 1)[0];
  return new ArrayBuffer(Math.max(2 ** Math.ceil(Math.log2(capacity)), READ_BUFFER_BYTES));
}

/** The files directly in a day folder; `bytes` is null when their number was the expected one (not sized then). */
export interface DirTally {
  files: number;
  bytes: number | null;
}

export type ThreadRequest =
  | { id: number; op: 'read'; mode: StoredMode; root: string; files: string; sizes: number[]; inserts?: string[]; reuse?: ArrayBuffer[] }
  | { id: number; op: 'tally'; dirs: { dir: string; expected: number }[]; remove: boolean }
  | { id: number; op: 'catalog'; root: string; sources: CatalogSource[]; stage?: MessageStage };

export type ThreadReply = {
  id: number;
  error?: { message: string; code?: string };
  segments?: WireSegment[];
  tallies?: DirTally[];
  extracts?: CatalogExtract[];
};

/** The catalog rows of many files (paths relative to `root`), read and parsed here, off the main thread. */
export function catalogEntries(root: string, sources: CatalogSource[]): CatalogExtract[] {
  return sources.map((source) => {
    let stored: Buffer;
    try {
      stored = fs.readFileSync(root + path.sep + source.path);
    } catch (error) {
      return { ok: false, reason: errorCode(error) === 'ENOENT' ? 'vanished while reading' : `unreadable (${errorCode(error) ?? String(error)})` };
    }
    let text: Buffer = stored;
    if (source.info.compressed) {
      try {
        text = zlib.gunzipSync(stored);
      } catch (error) {
        return { ok: false, reason: `unreadable (${errorCode(error) ?? 'not gzip'})` };
      }
    }
    return extractCatalogEntry(source, stored, text);
  });
}

const COMMA = 44;
const NEWLINE = 10;

/**
 * Reads many files into one buffer framed for the mode. `files` are newline-separated, absolute or relative
 * to `root`. A file passes only with the expected size and one JSON object inside; otherwise it comes back
 * as its index.
 */
export function readStored(mode: StoredMode, root: string, files: string, sizes: number[], inserts?: string[]): WireSegment[] {
  const items = files.split('\n').map((file, i) => ({
    file: path.isAbsolute(file) ? file : root + path.sep + file,
    size: sizes[i],
    gz: file.endsWith('.gz'),
    insert: inserts?.[i] ?? '',
    extra: inserts?.[i] ? Buffer.byteLength(inserts[i]) : 0,
  }));
  const segments: WireSegment[] = [];
  let capacity = 0;
  for (const it of items) if (!it.gz) capacity += it.size + it.extra + 1;
  const out = Buffer.from(readBuffer(Math.max(capacity, 1)));
  let start = 0;
  let pos = 0;
  let count = 0;
  const cut = () => {
    if (pos > start) {
      segments.push({ buffer: out.buffer as ArrayBuffer, offset: start, length: pos - start, items: count, reusable: true });
      start = pos;
      count = 0;
    }
  };
  const pre = mode === 'json' ? 1 : 0;
  items.forEach((it, index) => {
    let fd: number;
    try {
      fd = fs.openSync(it.file, 'r');
    } catch {
      cut();
      segments.push({ index });
      return;
    }
    try {
      if (fs.fstatSync(fd).size !== it.size) throw new Error('size');
      // read after room for the insert, which then takes the place of the object's `{`
      const stored = it.gz ? Buffer.allocUnsafe(it.size) : out.subarray(pos + pre + it.extra, pos + pre + it.extra + it.size);
      let got = 0;
      while (got < it.size) {
        const n = fs.readSync(fd, stored, got, it.size - got, got);
        if (n === 0) break;
        got += n;
      }
      if (got !== it.size) throw new Error('changed');
      if (it.gz) {
        const text = zlib.gunzipSync(stored);
        if (!looksWhole(text, 0, text.length)) throw new Error('not an object');
        cut();
        const extra = Buffer.byteLength(it.insert);
        const own = Buffer.from(new ArrayBuffer(text.length + extra + 1));
        text.copy(own, pre + extra);
        prepend(own, pre, it.insert);
        if (mode === 'json') own[0] = COMMA;
        else {
          flatten(own, 0, text.length + extra);
          own[text.length + extra] = NEWLINE;
        }
        segments.push({ buffer: own.buffer as ArrayBuffer, offset: 0, length: own.length, items: 1, reusable: false });
        return;
      }
      if (!looksWhole(stored, 0, stored.length)) throw new Error('not an object');
      prepend(out, pos + pre, it.insert);
      const length = it.size + it.extra;
      if (mode === 'json') out[pos] = COMMA;
      else {
        flatten(out, pos, pos + length);
        out[pos + length] = NEWLINE;
      }
      pos += length + 1;
      count++;
    } catch {
      cut();
      segments.push({ index });
    } finally {
      fs.closeSync(fd);
    }
  });
  cut();
  return segments;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** The files directly in a folder, counted; sized with lstat only when the count is not the expected one. */
function tally(dir: string, expected: number): DirTally & { entries: fs.Dirent[] } {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { entries: [], files: 0, bytes: null };
    throw error;
  }
  const files = entries.filter((e) => e.isFile());
  if (files.length === expected) return { entries, files: files.length, bytes: null };
  let bytes = 0;
  for (const f of files) {
    try {
      bytes += fs.lstatSync(`${dir}/${f.name}`).size;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  return { entries, files: files.length, bytes };
}

function removeTree(dir: string, known?: fs.Dirent[]): void {
  let entries = known;
  if (!entries) {
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
  }
  for (const entry of entries) {
    const full = `${dir}/${entry.name}`;
    if (entry.isDirectory()) removeTree(full);
    else {
      try {
        fs.unlinkSync(full);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
  }
  try {
    fs.rmdirSync(dir);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

export function handle(msg: ThreadRequest): { reply: ThreadReply; transfer: ArrayBuffer[] } {
  try {
    if (msg.op === 'read') {
      takeBack(msg.reuse);
      const segments = readStored(msg.mode, msg.root, msg.files, msg.sizes, msg.inserts);
      const transfer = [...new Set(segments.flatMap((s) => (s.buffer ? [s.buffer] : [])))];
      return { reply: { id: msg.id, segments }, transfer };
    }
    if (msg.op === 'catalog') {
      const extracts = catalogEntries(msg.root, msg.sources);
      return { reply: { id: msg.id, extracts: msg.stage ? stageMessages(openDatabase, msg.stage, threadId, extracts) : extracts }, transfer: [] };
    }
    const tallies = msg.dirs.map((d) => {
      const t = tally(d.dir, d.expected);
      if (msg.remove) removeTree(d.dir, t.entries);
      return { files: t.files, bytes: t.bytes };
    });
    return { reply: { id: msg.id, tallies }, transfer: [] };
  } catch (error) {
    const e = error as NodeJS.ErrnoException | null;
    return { reply: { id: msg.id, error: { message: String(e?.message), code: e?.code } }, transfer: [] };
  }
}

/** set by `ArchiveIoWorker`, so that importing this module elsewhere (tests) starts nothing */
export const THREAD_MARKER = 'archiveIoThread';
/**
 * set by `ArchiveIoWorker` to its own folder: packages are found from there, since under the tests this
 * file runs transpiled in a cache folder outside the project
 */
export const RESOLVE_FROM = 'archiveIoResolveFrom';

function openDatabase(file: string): Database.Database {
  const from = ((workerData as Record<string, unknown> | null)?.[RESOLVE_FROM] as string | undefined) ?? __dirname;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Driver = require(require.resolve('better-sqlite3', { paths: [from] })) as typeof Database;
  return new Driver(file);
}

const port = parentPort;
if (port && (workerData as Record<string, unknown> | null)?.[THREAD_MARKER] === true) {
  port.on('message', (msg: ThreadRequest) => {
    const { reply, transfer } = handle(msg);
    port.postMessage(reply, transfer);
  });
}
