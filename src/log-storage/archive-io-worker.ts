import { Worker } from 'node:worker_threads';

/** A stored file to stream as it is, when it still has the size the catalog recorded. */
export interface StoredItem {
  /** absolute, or relative to the root given with the request; `.gz` is gunzipped */
  file: string;
  size: number;
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
const path = require('node:path');

function flatten(buf, from, to) {
  for (const byte of [10, 13]) {
    let i = buf.indexOf(byte, from);
    while (i !== -1 && i < to) { buf[i] = 32; i = buf.indexOf(byte, i + 1); }
  }
}

// A stored conversation is JSON.stringify(conversation, null, 2): an object, no white space around it.
function looksWhole(buf, from, to) {
  return to - from >= 2 && buf[from] === 123 && buf[to - 1] === 125;
}

function readStored(mode, root, files, sizes) {
  const items = files.split('\\n').map((file, i) => ({
    file: path.isAbsolute(file) ? file : root + path.sep + file,
    size: sizes[i],
    gz: file.endsWith('.gz'),
  }));
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
      if (got !== it.size) throw new Error('changed');
      if (it.gz) {
        const text = zlib.gunzipSync(stored);
        if (!looksWhole(text, 0, text.length)) throw new Error('not an object');
        cut();
        const own = Buffer.from(new ArrayBuffer(text.length + 1));
        const at = pre;
        text.copy(own, at);
        if (mode === 'json') own[0] = 44;
        else { flatten(own, 0, text.length); own[text.length] = 10; }
        segments.push({ buffer: own.buffer, offset: 0, length: own.length, items: 1 });
        return;
      }
      if (!looksWhole(stored, 0, stored.length)) throw new Error('not an object');
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
      const segments = readStored(msg.mode, msg.root, msg.files, msg.sizes);
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
 * Lazily started worker threads for the archive's bulk file work (streaming stored files, removing day
 * folders), so that thousands of small synchronous reads and unlinks never block the event loop. Read
 * requests go round the threads; each keeps the process alive only while a request of its is pending.
 */
export class ArchiveIoWorker {
  private readonly workers: (Worker | null)[];
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void; worker: Worker }>();
  private nextId = 1;
  private turn = 0;

  constructor(threads = 1) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => null);
  }

  /** The items' stored bytes, framed for `mode`; items that fail any check come back as `check`. */
  async readStored(mode: StoredMode, root: string, items: StoredItem[]): Promise<StoredSegment[]> {
    // one string and one array rather than an object per file: less to clone, less garbage
    const message = { op: 'read', mode, root, files: items.map((i) => i.file).join('\n'), sizes: items.map((i) => i.size) };
    const reply = await this.request(message, this.turn++ % this.workers.length);
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
    return (await this.request({ op: 'tally', dirs, remove }, 0)).tallies ?? [];
  }

  async close(): Promise<void> {
    const workers = this.workers.filter((w): w is Worker => w !== null);
    this.workers.fill(null);
    for (const worker of workers) this.failAll(worker, new Error('archive worker closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private request(message: Record<string, unknown>, slot: number): Promise<Reply> {
    const worker = this.start(slot);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.ref();
      worker.postMessage({ ...message, id });
    }).then((reply) => {
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
      return reply;
    });
  }

  private start(slot: number): Worker {
    const running = this.workers[slot];
    if (running) return running;
    // the threads hold no more than a few batches: a small young generation keeps their memory small
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (![...this.pending.values()].some((p) => p.worker === worker)) worker.unref();
      waiter?.resolve(reply);
    });
    const gone = (error: Error) => {
      if (this.workers[slot] === worker) this.workers[slot] = null;
      this.failAll(worker, error);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`archive worker exited with code ${code}`)));
    this.workers[slot] = worker;
    return worker;
  }

  private failAll(worker: Worker, error: Error): void {
    for (const [id, waiter] of this.pending) {
      if (waiter.worker !== worker) continue;
      this.pending.delete(id);
      waiter.reject(error);
    }
  }
}
