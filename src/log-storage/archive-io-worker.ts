import { Worker } from 'node:worker_threads';

/** A stored file to stream as it is, when its bytes are still the ones the catalog validated. */
export interface StoredItem {
  /** absolute path */
  file: string;
  size: number;
  sha256: string;
  gz: boolean;
}

/** `json`: each file preceded by a comma; `ndjson`: each file on one line (CR and LF bytes become spaces). */
export type StoredMode = 'json' | 'ndjson';

/**
 * What a batch of items became, in item order: runs of verified files already framed for the mode,
 * or one item that has to be read and checked the slow way (missing, changed, or not gunzippable).
 */
export type StoredSegment = { kind: 'bytes'; data: Buffer; items: number } | { kind: 'check'; index: number };

type WireSegment = { buffer: ArrayBuffer; offset: number; length: number; items: number } | { buffer?: undefined; index: number };
type Reply = { id: number; error?: { message: string; code?: string }; segments?: WireSegment[]; tallies?: DirTally[] };

/** The files directly in a day folder; `bytes` is null when their number was the expected one (not sized then). */
export interface DirTally {
  files: number;
  bytes: number | null;
}

// Plain JavaScript run by the worker thread (eval), so it works the same from ts-jest and from dist/.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { createHash } = require('node:crypto');

function flatten(buf, from, to) {
  for (const byte of [10, 13]) {
    let i = buf.indexOf(byte, from);
    while (i !== -1 && i < to) { buf[i] = 32; i = buf.indexOf(byte, i + 1); }
  }
}

function readStored(mode, items) {
  const segments = [];
  let capacity = 0;
  for (const it of items) if (!it.gz) capacity += it.size + 1;
  let out = Buffer.from(new ArrayBuffer(Math.max(capacity, 1)));
  let start = 0;
  let pos = 0;
  let count = 0;
  const cut = () => {
    if (pos > start) {
      segments.push({ buffer: out.buffer, offset: start, length: pos - start, items: count });
      start = pos;
      count = 0;
    }
  };
  const pre = mode === 'json' ? 1 : 0;
  items.forEach((it, index) => {
    let fd;
    try {
      fd = fs.openSync(it.file, 'r');
    } catch {
      cut();
      segments.push({ index });
      return;
    }
    try {
      if (fs.fstatSync(fd).size !== it.size) throw new Error('size');
      const stored = it.gz ? Buffer.allocUnsafe(it.size) : out.subarray(pos + pre, pos + pre + it.size);
      let got = 0;
      while (got < it.size) {
        const n = fs.readSync(fd, stored, got, it.size - got, got);
        if (n === 0) break;
        got += n;
      }
      if (got !== it.size || createHash('sha256').update(stored).digest('hex') !== it.sha256) throw new Error('changed');
      if (it.gz) {
        const text = zlib.gunzipSync(stored);
        cut();
        const own = Buffer.from(new ArrayBuffer(text.length + 1));
        const at = pre;
        text.copy(own, at);
        if (mode === 'json') own[0] = 44;
        else { flatten(own, 0, text.length); own[text.length] = 10; }
        segments.push({ buffer: own.buffer, offset: 0, length: own.length, items: 1 });
        return;
      }
      if (mode === 'json') out[pos] = 44;
      else { flatten(out, pos, pos + it.size); out[pos + it.size] = 10; }
      pos += it.size + 1;
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

// The files directly in a folder, counted; sized with lstat only when the count is not the expected one.
function tally(dir, expected) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return { entries: [], files: 0, bytes: null };
    throw error;
  }
  const files = entries.filter((e) => e.isFile());
  if (files.length === expected) return { entries, files: files.length, bytes: null };
  let bytes = 0;
  for (const f of files) {
    try { bytes += fs.lstatSync(dir + '/' + f.name).size; } catch (error) { if (error.code !== 'ENOENT') throw error; }
  }
  return { entries, files: files.length, bytes };
}

function removeTree(dir, entries) {
  if (!entries) {
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === 'ENOENT') return;
      throw error;
    }
  }
  for (const entry of entries) {
    const full = dir + '/' + entry.name;
    if (entry.isDirectory()) removeTree(full);
    else {
      try { fs.unlinkSync(full); } catch (error) { if (error.code !== 'ENOENT') throw error; }
    }
  }
  try { fs.rmdirSync(dir); } catch (error) { if (error.code !== 'ENOENT') throw error; }
}

parentPort.on('message', (msg) => {
  try {
    if (msg.op === 'read') {
      const segments = readStored(msg.mode, msg.items);
      const transfer = [...new Set(segments.filter((s) => s.buffer).map((s) => s.buffer))];
      parentPort.postMessage({ id: msg.id, segments }, transfer);
    } else if (msg.op === 'tally') {
      const tallies = msg.dirs.map((d) => {
        const t = tally(d.dir, d.expected);
        if (msg.remove) removeTree(d.dir, t.entries);
        return { files: t.files, bytes: t.bytes };
      });
      parentPort.postMessage({ id: msg.id, tallies });
    }
  } catch (error) {
    parentPort.postMessage({ id: msg.id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

/**
 * One lazily started worker thread for the archive's bulk file work (streaming stored files, removing
 * day folders), so that thousands of small synchronous reads and unlinks never block the event loop.
 * It keeps the process alive only while a request is pending.
 */
export class ArchiveIoWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  /** The items' stored bytes, framed for `mode`; items that fail any check come back as `check`. */
  async readStored(mode: StoredMode, items: StoredItem[]): Promise<StoredSegment[]> {
    const reply = await this.request({ op: 'read', mode, items });
    return (reply.segments ?? []).map((s) =>
      s.buffer
        ? { kind: 'bytes' as const, data: Buffer.from(s.buffer, s.offset, s.length), items: s.items }
        : { kind: 'check' as const, index: s.index },
    );
  }

  /**
   * Counts the files directly in each folder (sizing them only when the count is not `expected`) and, with
   * `remove`, removes the folder with everything in it. A folder already gone counts 0.
   */
  async tallyDirs(dirs: { dir: string; expected: number }[], remove: boolean): Promise<DirTally[]> {
    return (await this.request({ op: 'tally', dirs, remove })).tallies ?? [];
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('archive worker closed'));
    if (worker) await worker.terminate();
  }

  private request(message: Record<string, unknown>): Promise<Reply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...message, id });
    }).then((reply) => {
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
      return reply;
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!this.pending.size) worker.unref();
      waiter?.resolve(reply);
    });
    const gone = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      this.failAll(error);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`archive worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(error);
  }
}
