import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSimulator } from '../src/simulator/simulator';
import { createBucket, deleteBucket, S3Instance, s3Client } from '../test/support/ceph-rgw';
import { countKeys, s3ArchiveEnv } from '../test/support/s3-bucket';
import type { GeneratedArchive } from './archive-generator';
import { median, runWorker } from './measure';
import type { Row } from './report';
import type { BenchServices } from './services';
import { serviceConfig } from './worker';

/**
 * The archive in an S3 bucket (a real Ceph RADOS Gateway on loopback, memstore), each scenario against a
 * plain @aws-sdk/client-s3 loop, or the same work on the filesystem, in the same run.
 */

export const S3_SCENARIOS = ['s3-backup', 's3-export', 's3-retention', 's3-reindex'] as const;
export type S3Scenario = (typeof S3_SCENARIOS)[number];

/** keys per DeleteObjects request, the most S3 takes; the baseline sends them one request after another */
const DELETE_BATCH = 1000;
/** PUTs in flight while loading a generated tree into the bucket (set-up, not measured against anything) */
const UPLOADS_IN_FLIGHT = 32;

export interface S3BenchOptions {
  quick: boolean;
  dataDir: string;
  /** runs of the export and of its SDK loop (the reindex and the retention run once) */
  runs: number;
  backup: { conversations: number; messages: number; latencyMs: number; concurrency: number; runs: number };
}

/** A generated tree with its SQLite catalog (see run.ts). */
export interface BenchArchive {
  dir: string;
  meta: GeneratedArchive;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const count = (n: number) => n.toLocaleString('en-US');
const mb = (kb: number) => kb / 1024;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A row saying a scenario could not run, and what to install. */
export function skippedRow(scenario: string, reason: string): Row {
  return { scenario, size: 'skipped', median: NaN, baseline: null, baselineLabel: '', peakRss: null, target: '—', checks: [], note: `skipped: ${reason}` };
}

function serviceEnv(s3: S3Instance, bucket: string): Record<string, string> {
  return s3ArchiveEnv(s3, bucket, { S3_ADDRESS_STYLE: 'path' });
}

/**
 * GETs the service's export keeps in flight from the bucket: S3_READ_CONCURRENCY as the export worker's
 * configuration resolves it (the product's default unless the bench sets it), so the baseline runs as wide.
 */
function exportReadsInFlight(s3: S3Instance, b: LoadedBucket): number {
  const { archive } = serviceConfig({ LOGS_DIR: b.logsDir, ...serviceEnv(s3, b.bucket) });
  if (archive.storage !== 's3') throw new Error('the S3 export scenario boots the service without ARCHIVE_STORAGE=s3');
  return archive.s3.readConcurrency;
}

function tmpDir(opts: S3BenchOptions, name: string): string {
  const dir = path.join(opts.dataDir, 'tmp', `${name}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** `fn` over `items`, `width` at a time: the plain loop the baselines are made of. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Every conversation file of a generated tree, as its key (the path under the archive's root). */
function archiveKeys(a: BenchArchive): string[] {
  const keys: string[] = [];
  const visit = (dir: string, prefix: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) visit(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      else keys.push(`${prefix}${entry.name}`);
    }
  };
  visit(path.join(a.dir, 'conversations'), 'conversations/');
  return keys.sort();
}

async function upload(client: S3Client, bucket: string, a: BenchArchive, keys: string[]): Promise<number> {
  const started = Date.now();
  await pool(keys, UPLOADS_IN_FLIGHT, async (key) => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.readFileSync(path.join(a.dir, key)), ContentType: 'application/json' }));
  });
  return Date.now() - started;
}

const elapsed = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** s3-backup: the backup scenario's conversations saved into a fresh bucket, and into a fresh LOGS_DIR, alternately. */
export async function s3BackupScenario(services: BenchServices, opts: S3BenchOptions): Promise<Row> {
  const s3 = await services.s3();
  if (typeof s3 === 'string') return skippedRow('s3 backup', s3);
  const b = opts.backup;
  log(`s3 backup: ${count(b.conversations)} conversations x ${b.messages} messages, ${b.latencyMs} ms per request, concurrency ${b.concurrency}, to S3 and to the filesystem`);
  const client = s3Client(s3);
  const sim = await startSimulator({ latencyMs: b.latencyMs, generate: false, seed: 42 });
  try {
    const app = sim.apps.find((a) => a.mode === 'chat')!;
    const users = Array.from({ length: 8 }, (_, i) => `bench-user-${i + 1}`);
    const from = Math.floor(Date.now() / 1000) - b.conversations * 60 - 86_400;
    for (let i = 0; i < b.conversations; i++) {
      sim.addConversation({ app_id: app.id, user: users[i % users.length], messages: b.messages, created_at: from + i * 60 });
    }
    const env = {
      DIFY_API_URL: sim.serviceApiUrl,
      DIFY_APP_ID: app.id,
      DIFY_API_KEY: app.apiKey,
      DIFY_USERS: users.join(','),
      DIFY_ORGANIZATION_ID: 'bench',
      DIFY_CONCURRENCY: String(b.concurrency),
      DIFY_ALLOWED_HOSTS: '127.0.0.1',
    };
    const runBackup = async (extra: Record<string, string>) => {
      const logsDir = tmpDir(opts, 's3-backup');
      try {
        const result = await runWorker({ kind: 'backup', logsDir, env: { ...env, ...extra } });
        if (!result.details.success || result.details.saved !== b.conversations) {
          throw new Error(`backup run did not save every conversation: ${JSON.stringify(result.details)}`);
        }
        return result;
      } finally {
        fs.rmSync(logsDir, { recursive: true, force: true });
      }
    };
    const toS3: number[] = [];
    const toFs: number[] = [];
    let rss = 0;
    for (let i = 0; i < b.runs; i++) {
      const onDisk = await runBackup({});
      toFs.push(onDisk.times[0]);
      const bucket = await createBucket(client, 'bench-backup');
      try {
        const inBucket = await runBackup(serviceEnv(s3, bucket));
        const objects = await countKeys(client, bucket);
        if (objects < b.conversations) throw new Error(`the bucket holds ${objects} objects after the backup, expected at least ${b.conversations}`);
        toS3.push(inBucket.times[0]);
        rss = Math.max(rss, inBucket.maxRssKb);
        log(`  run ${i + 1}: ${inBucket.times[0].toFixed(0)} ms to S3 (${objects} objects), ${onDisk.times[0].toFixed(0)} ms to the filesystem, peak RSS ${mb(inBucket.maxRssKb).toFixed(0)} MB`);
      } finally {
        await deleteBucket(client, bucket);
      }
    }
    const m = median(toS3);
    const base = median(toFs);
    return {
      scenario: 's3 backup',
      size: `${count(b.conversations)} conv x ${b.messages} msg, ${b.latencyMs} ms latency, concurrency ${b.concurrency}`,
      median: m,
      baseline: base,
      baselineLabel: 'the same backup to the filesystem',
      peakRss: mb(rss),
      target: '≤ 1.5x the filesystem',
      checks: [{ label: `${(m / base).toFixed(2)}x the filesystem`, pass: m <= 1.5 * base }],
      note: `${b.runs} runs of each, alternating, each in a fresh process, a fresh LOGS_DIR and (S3) a fresh bucket on a Ceph RADOS Gateway (memstore) on loopback`,
    };
  } finally {
    await sim.close();
    client.destroy();
  }
}

interface LoadedBucket {
  bucket: string;
  keys: string[];
  /** holds the catalog of the bucket (LOGS_DIR of the service) */
  logsDir: string;
}

/**
 * s3-reindex, s3-export and s3-retention on the generated trees loaded into buckets once (set-up), in that
 * order: the reindex builds the catalog the export reads, and the retention deletes half of the large bucket.
 */
export async function s3ArchiveScenarios(
  services: BenchServices,
  opts: S3BenchOptions,
  small: BenchArchive,
  large: BenchArchive,
  on: (scenario: S3Scenario) => boolean,
  setup: string[],
): Promise<Row[]> {
  const wanted = (['s3-reindex', 's3-export', 's3-retention'] as const).filter(on);
  if (!wanted.length) return [];
  const s3 = await services.s3();
  if (typeof s3 === 'string') {
    log(`S3 scenarios skipped: ${s3}`);
    const names: Record<(typeof wanted)[number], string> = { 's3-reindex': 's3 reindex', 's3-export': 's3 export ndjson', 's3-retention': 's3 retention' };
    return wanted.map((s) => skippedRow(names[s], s3));
  }
  const client = s3Client(s3);
  const loaded: LoadedBucket[] = [];
  const load = async (a: BenchArchive): Promise<LoadedBucket> => {
    const keys = archiveKeys(a);
    const bucket = await createBucket(client, `bench-${a.meta.files}`);
    const logsDir = tmpDir(opts, `s3-${a.meta.files}`);
    const entry = { bucket, keys, logsDir };
    loaded.push(entry);
    log(`  loading ${count(keys.length)} objects into bucket ${bucket} (${UPLOADS_IN_FLIGHT} PUTs in flight)`);
    const ms = await upload(client, bucket, a, keys);
    setup.push(`S3: ${count(keys.length)} objects (${(a.meta.bytes / 1e6).toFixed(0)} MB) uploaded into a bucket in ${seconds(ms)} (${UPLOADS_IN_FLIGHT} PUTs in flight, ${(keys.length / (ms / 1000)).toFixed(0)} objects/s)`);
    // the tree's own catalog holds the same keys and sizes: the bucket's catalog without a rebuild at boot
    for (const f of ['catalog.sqlite', 'catalog.sqlite-wal']) {
      if (fs.existsSync(path.join(a.dir, f))) fs.copyFileSync(path.join(a.dir, f), path.join(logsDir, f));
    }
    return entry;
  };
  const rows: Row[] = [];
  try {
    const big = await load(large);
    if (on('s3-reindex')) rows.push(await reindexScenario(s3, big, large));
    if (on('s3-export')) {
      const little = await load(small);
      const exportSmall = await exportScenario(opts, client, s3, little, small);
      await deleteBucket(client, little.bucket);
      const exportLarge = await exportScenario(opts, client, s3, big, large);
      exportLarge.checks = [
        { label: `${(exportLarge.median / exportLarge.baseline!).toFixed(2)}x the SDK loop`, pass: exportLarge.median <= 2 * exportLarge.baseline! },
        { label: `peak RSS ${exportLarge.peakRss!.toFixed(0)} MB`, pass: exportLarge.peakRss! < 250 },
        {
          label: `RSS ${exportSmall.peakRss!.toFixed(0)} MB at ${count(small.meta.files)} vs ${exportLarge.peakRss!.toFixed(0)} MB at ${count(large.meta.files)}`,
          pass: exportLarge.peakRss! <= exportSmall.peakRss! * 1.2,
        },
      ];
      exportSmall.target = 'RSS reference for the row below';
      rows.push(exportSmall, exportLarge);
    }
    if (on('s3-retention')) rows.push(await retentionScenario(client, s3, big, large, setup));
  } finally {
    for (const b of loaded) {
      await deleteBucket(client, b.bucket).catch(() => undefined);
      fs.rmSync(b.logsDir, { recursive: true, force: true });
    }
    client.destroy();
  }
  return rows;
}

async function reindexScenario(s3: S3Instance, b: LoadedBucket, a: BenchArchive): Promise<Row> {
  log(`s3 reindex: rebuilding the catalog from ${count(b.keys.length)} objects in the bucket`);
  const result = await runWorker({ kind: 'reindex', logsDir: b.logsDir, env: serviceEnv(s3, b.bucket) });
  const took = result.times[0];
  const indexed = Number(result.details.indexed);
  const rate = indexed / (took / 1000);
  log(`  ${took.toFixed(0)} ms, ${rate.toFixed(0)} objects/s, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
  return {
    scenario: 's3 reindex',
    size: `${count(b.keys.length)} objects`,
    median: took,
    baseline: null,
    baselineLabel: '',
    peakRss: mb(result.maxRssKb),
    target: 'report time and rate; every object indexed',
    checks: [{ label: `${count(indexed)} of ${count(a.meta.files)} indexed`, pass: indexed === a.meta.files }],
    note: `${rate.toFixed(0)} objects/s; the catalog dropped and rebuilt from a paged listing of the bucket and a GET of every object; one run (it is also the catalog the export reads)`,
  };
}

async function exportScenario(opts: S3BenchOptions, client: S3Client, s3: S3Instance, b: LoadedBucket, a: BenchArchive): Promise<Row> {
  log(`s3 export: ${count(a.meta.files)} conversations from the bucket as NDJSON to /dev/null`);
  const times: number[] = [];
  let rss = 0;
  let bytes = 0;
  for (let i = 0; i < opts.runs; i++) {
    const result = await runWorker({ kind: 'export', logsDir: b.logsDir, format: 'ndjson', out: '/dev/null', env: serviceEnv(s3, b.bucket) });
    times.push(result.times[0]);
    rss = Math.max(rss, result.maxRssKb);
    bytes = Number(result.details.bytes);
    log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
  }
  if (bytes < a.meta.bytes / 2) throw new Error(`the S3 export wrote ${bytes} bytes for ${a.meta.bytes} bytes of objects`);
  const width = exportReadsInFlight(s3, b);
  const baseline: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    let got = 0;
    const start = process.hrtime.bigint();
    await pool(b.keys, width, async (key) => {
      const res = await client.send(new GetObjectCommand({ Bucket: b.bucket, Key: key }));
      const body = await res.Body!.transformToByteArray();
      got += body.length;
    });
    baseline.push(elapsed(start));
    if (got !== a.meta.bytes) throw new Error(`the SDK loop read ${got} bytes, expected ${a.meta.bytes}`);
    log(`  SDK loop run ${i + 1}: ${baseline[i].toFixed(0)} ms`);
  }
  return {
    scenario: 's3 export ndjson',
    size: `${count(a.meta.files)} conversations`,
    median: median(times),
    baseline: median(baseline),
    baselineLabel: `SDK loop: GetObject of every key, ${width} in flight (S3_READ_CONCURRENCY, as the export)`,
    peakRss: mb(rss),
    target: '≤ 2x the SDK loop; RSS < 250 MB, flat in size',
    checks: [],
    note: `${(bytes / 1e6).toFixed(0)} MB of NDJSON from ${(a.meta.bytes / 1e6).toFixed(0)} MB of objects; ${opts.runs} run(s) of each (--slow), the export in a fresh process, the SDK loop in the bench process`,
  };
}

/** The first day that keeps the newer half of the files, and the number of files before it. */
function halfCut(meta: GeneratedArchive): { cut: string; older: number } {
  const days = Object.keys(meta.perDay).sort();
  let older = 0;
  for (const day of days) {
    if (older >= meta.files / 2) return { cut: day, older };
    older += meta.perDay[day];
  }
  return { cut: days[days.length - 1], older };
}

async function retentionScenario(client: S3Client, s3: S3Instance, b: LoadedBucket, a: BenchArchive, setup: string[]): Promise<Row> {
  const { cut, older } = halfCut(a.meta);
  const daysToKeep = Math.round((Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`) - Date.parse(`${cut}T00:00:00Z`)) / 86_400_000);
  // keys hold the day: conversations/<org>/<YYYY>/<MM>/<DD>/...
  const doomed = b.keys.filter((k) => k.split('/').slice(2, 5).join('-') < cut);
  if (doomed.length !== older) throw new Error(`${doomed.length} keys before ${cut}, expected ${older}`);
  log(`s3 retention: deleting ${count(older)} of ${count(a.meta.files)} objects (days before ${cut})`);
  const result = await runWorker({ kind: 'retention', logsDir: b.logsDir, daysToKeep, env: serviceEnv(s3, b.bucket) });
  if (result.details.deleted_files !== older) throw new Error(`retention deleted ${String(result.details.deleted_files)} objects, expected ${older}`);
  const left = await countKeys(client, b.bucket);
  if (left !== a.meta.files - older) throw new Error(`${left} objects left after the retention, expected ${a.meta.files - older}`);
  log(`  ${result.times[0].toFixed(0)} ms, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);

  // the same objects again, for the baseline
  const reload = await upload(client, b.bucket, a, doomed);
  setup.push(`S3 retention: the ${count(older)} deleted objects uploaded again for the DeleteObjects loop in ${seconds(reload)}`);
  const start = process.hrtime.bigint();
  for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
    const res = await client.send(
      new DeleteObjectsCommand({ Bucket: b.bucket, Delete: { Objects: doomed.slice(i, i + DELETE_BATCH).map((Key) => ({ Key })), Quiet: true } }),
    );
    if (res.Errors?.length) throw new Error(`DeleteObjects failed for ${res.Errors.length} keys (${res.Errors[0].Code})`);
  }
  const base = elapsed(start);
  const leftAfterLoop = await countKeys(client, b.bucket);
  if (leftAfterLoop !== a.meta.files - older) throw new Error(`${leftAfterLoop} objects left after the DeleteObjects loop, expected ${a.meta.files - older}`);
  log(`  DeleteObjects loop: ${base.toFixed(0)} ms`);
  const m = result.times[0];
  return {
    scenario: 's3 retention',
    size: `${count(older)} of ${count(a.meta.files)} objects deleted`,
    median: m,
    baseline: base,
    baselineLabel: `DeleteObjects loop, ${DELETE_BATCH} keys per request, one at a time`,
    peakRss: mb(result.maxRssKb),
    target: '≤ 2x the DeleteObjects loop',
    checks: [{ label: `${(m / base).toFixed(2)}x the loop`, pass: m <= 2 * base }],
    note: 'one run of each (the objects must be uploaded again for every run: see set-up); catalog rows removed as well',
  };
}
