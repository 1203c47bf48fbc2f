import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CatalogExtract, CatalogSource, MessageStage } from '../catalog-entry';
import type { StoredMode, StoredSegment } from '../stored-framing';
import { RESOLVE_FROM, THREAD_MARKER, type DirTally, type ThreadReply, type ThreadRequest } from './archive-io.thread';

export type { DirTally } from './archive-io.thread';

/** A stored file to stream as it is, when it still has the size the catalog recorded. */
export interface StoredItem {
  /** absolute, or relative to the root given with the request; `.gz` is gunzipped */
  file: string;
  size: number;
  /** added right after the object's `{` (see `organizationMember`) */
  insert?: string;
}

const THREAD_MODULE = path.join(__dirname, 'archive-io.thread');
/** the folder the thread's own imports stay inside */
const SOURCE_ROOT = path.dirname(__dirname);

/**
 * The file a worker thread runs: the compiled `archive-io.thread.js` beside this file (dist/), or, when only
 * the `.ts` sources are there (under ts-jest), those sources transpiled once by the TypeScript compiler (a dev
 * dependency production never reaches) into a cache folder named by their hash.
 */
export function threadEntry(): string {
  if (fs.existsSync(`${THREAD_MODULE}.js`)) return `${THREAD_MODULE}.js`;
  return transpiledThread();
}

function transpiledThread(): string {
  const sources = new Map<string, string>();
  const visit = (file: string) => {
    if (sources.has(file)) return;
    const text = fs.readFileSync(file, 'utf8');
    sources.set(file, text);
    // type-only imports vanish in the output: only the others are part of the thread
    for (const m of text.matchAll(/^(?:import|export) (?!type )[^;]*?from '(\.{1,2}\/[^']+)'/gm)) visit(`${path.resolve(path.dirname(file), m[1])}.ts`);
  };
  visit(`${THREAD_MODULE}.ts`);
  const hash = createHash('sha256');
  for (const [file, text] of sources) hash.update(`${path.relative(SOURCE_ROOT, file)}\0${text}\0`);
  const dir = path.join(os.tmpdir(), `archive-io-thread-${hash.digest('hex').slice(0, 16)}`);
  const entry = path.join(dir, `${path.relative(SOURCE_ROOT, THREAD_MODULE)}.js`);
  if (fs.existsSync(entry)) return entry;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  for (const [file, text] of sources) {
    const relative = path.relative(SOURCE_ROOT, file);
    if (relative.startsWith('..')) throw new Error(`the archive worker thread imports ${file}, outside ${SOURCE_ROOT}`);
    const out = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const target = path.join(staging, relative.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
  }
  try {
    fs.renameSync(staging, dir);
  } catch {
    // another process got there first with the same sources
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return entry;
}

/**
 * Lazily started worker threads for the archive's bulk file work (streaming stored files, removing day
 * folders), so that thousands of small synchronous reads and unlinks never block the event loop. Read
 * requests go round the threads; each keeps the process alive only while a request of its is pending.
 */
export class ArchiveIoWorker {
  private readonly workers: (Worker | null)[];
  private readonly pending = new Map<number, { resolve: (reply: ThreadReply) => void; reject: (error: Error) => void; worker: Worker }>();
  private nextId = 1;
  private turn = 0;

  /**
   * `youngGenerationMb`: the threads' young generation. Small keeps the export's memory small (its threads
   * allocate little); parsing thousands of files for a rebuild makes much short-lived garbage and runs
   * faster with more.
   */
  constructor(
    threads = 1,
    private readonly youngGenerationMb = 2,
  ) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => null);
  }

  /**
   * The items' stored bytes, framed for `mode`; items that fail any check come back as `check`. `reuse`:
   * buffers of earlier `reusable` segments the caller is done with (they move to the thread).
   */
  async readStored(mode: StoredMode, root: string, items: StoredItem[], reuse: ArrayBuffer[] = []): Promise<StoredSegment[]> {
    // one string and one array rather than an object per file: less to clone, less garbage
    const files = items.map((i) => i.file).join('\n');
    const inserts = items.some((i) => i.insert) ? items.map((i) => i.insert ?? '') : undefined;
    const reply = await this.request(
      { op: 'read', mode, root, files, sizes: items.map((i) => i.size), inserts, reuse },
      this.turn++ % this.workers.length,
      reuse,
    );
    return (reply.segments ?? []).map((s) =>
      s.buffer
        ? { kind: 'bytes' as const, data: Buffer.from(s.buffer, s.offset, s.length), items: s.items, reusable: s.reusable ? s.buffer : undefined }
        : { kind: 'check' as const, index: s.index },
    );
  }

  /**
   * The catalog rows of the files (keys relative to `root`), read and parsed on a thread; with a `stage`,
   * the thread writes their messages there (see `MessageStage`).
   */
  async catalogEntries(root: string, sources: CatalogSource[], stage?: MessageStage): Promise<CatalogExtract[]> {
    return (await this.request({ op: 'catalog', root, sources, stage }, this.turn++ % this.workers.length)).extracts ?? [];
  }

  /**
   * Counts the files directly in each folder (sizing them only when the count is not `expected`) and, with
   * `remove`, removes the folder with everything in it. A folder already gone counts 0.
   */
  async tallyDirs(dirs: { dir: string; expected: number }[], remove: boolean): Promise<DirTally[]> {
    // each thread takes every n-th folder: unlinks in different folders run side by side in the kernel (two
    // threads remove a tree about 1.4x faster than one), and neighbouring days are of a like size
    const n = this.workers.length;
    const shares = Array.from({ length: Math.min(n, dirs.length) }, (_, slot) => dirs.flatMap((_d, i) => (i % n === slot ? [i] : [])));
    // every share ends before a failure is reported, so that what the caller finds on disk then stays so
    const replies = await Promise.allSettled(shares.map((share, slot) => this.request({ op: 'tally', dirs: share.map((i) => dirs[i]), remove }, slot)));
    const failed = replies.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const tallies = new Array<DirTally>(dirs.length);
    replies.forEach((reply, slot) => {
      const got = (reply as PromiseFulfilledResult<ThreadReply>).value.tallies ?? [];
      shares[slot].forEach((index, k) => (tallies[index] = got[k]));
    });
    return tallies;
  }

  async close(): Promise<void> {
    const workers = this.workers.filter((w): w is Worker => w !== null);
    this.workers.fill(null);
    for (const worker of workers) this.failAll(worker, new Error('archive worker closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private request(message: DistributiveOmit<ThreadRequest, 'id'>, slot: number, transfer: ArrayBuffer[] = []): Promise<ThreadReply> {
    const worker = this.start(slot);
    const id = this.nextId++;
    return new Promise<ThreadReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.ref();
      worker.postMessage({ ...message, id }, transfer);
    }).then((reply) => {
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
      return reply;
    });
  }

  private start(slot: number): Worker {
    const running = this.workers[slot];
    if (running) return running;
    const worker = new Worker(threadEntry(), {
      workerData: { [THREAD_MARKER]: true, [RESOLVE_FROM]: __dirname },
      resourceLimits: { maxYoungGenerationSizeMb: this.youngGenerationMb, maxOldGenerationSizeMb: 64 },
    });
    worker.unref();
    worker.on('message', (reply: ThreadReply) => {
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

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
