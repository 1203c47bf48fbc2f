import 'reflect-metadata';
import { INestApplicationContext, LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import { finished } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { BackupModule } from '../src/backup/backup.module';
import { BackupService } from '../src/backup/backup.service';
import { JobsService } from '../src/backup/jobs.service';
import { AppConfig, loadAppConfig } from '../src/config/app-config';
import { AppConfigModule } from '../src/config/config.module';
import { LogStorageModule } from '../src/log-storage/log-storage.module';
import { LogStorageService } from '../src/log-storage/log-storage.service';

/**
 * One scenario in a process of its own, so its peak RSS is its own. Reads the task from argv[2]
 * (JSON), prints one `BENCH_RESULT <json>` line on stdout.
 */

/** `env`: more service settings (an S3 bucket, a DATABASE_URL) for the kinds that boot the service */
export type WorkerTask = (
  | { kind: 'catalog'; logsDir: string }
  | { kind: 'summary'; logsDir: string; runs: number }
  | { kind: 'stats'; logsDir: string; runs: number }
  | { kind: 'search'; logsDir: string; runs: number; q: string }
  | { kind: 'export'; logsDir: string; format: 'ndjson' | 'json' | 'csv'; out: string }
  | { kind: 'retention'; logsDir: string; daysToKeep: number }
  | { kind: 'reindex'; logsDir: string }
  | { kind: 'read-parse'; logsDir: string }
  | { kind: 'catalog-figures'; logsDir: string }
  | { kind: 'backup'; logsDir: string; env: Record<string, string> }
  | { kind: 'workspace-backup'; logsDir: string; env: Record<string, string> }
) & { env?: Record<string, string> };

export interface WorkerResult {
  /** milliseconds of each timed run */
  times: number[];
  /** kilobytes, this process's peak resident set */
  maxRssKb: number;
  /** set-up before the timed runs (boot, catalog open or rebuild), ms */
  setupMs: number;
  details: Record<string, unknown>;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

@Module({})
class BenchRootModule {}

/**
 * Untimed calls before a query is timed: a service answers queries warm, and the first calls of a fresh
 * process measure the JIT compiling the code on their path (a database driver's row parsing, the snippets),
 * not the query. The same for every catalog, so the ratios compare steady states.
 */
export const WARM_UP_CALLS = 10;

/** `call` run WARM_UP_CALLS times untimed; the last answer. */
async function warmedUp<T>(call: () => Promise<T>): Promise<T> {
  let answer = await call();
  for (let i = 1; i < WARM_UP_CALLS; i++) answer = await call();
  return answer;
}

/** The configuration a worker boots the service with, `env` laid over the bench's fixed settings. */
export function serviceConfig(env: Record<string, string>): AppConfig {
  return loadAppConfig({ NODE_ENV: 'production', ENABLE_AUTO_LOGGING: 'false', LOG_TIMEZONE: 'UTC', ...env });
}

async function boot(env: Record<string, string>, withBackup: boolean, logger: LogLevel[]): Promise<INestApplicationContext> {
  const config = serviceConfig(env);
  return NestFactory.createApplicationContext(
    { module: BenchRootModule, imports: [AppConfigModule.forRoot(config), withBackup ? BackupModule : LogStorageModule] },
    { logger },
  );
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: ms(start), value };
}

/** The reindex baseline: every file read and JSON.parse'd, one after the other, nothing else. */
function readAndParse(logsDir: string): WorkerResult {
  const start = process.hrtime.bigint();
  let files = 0;
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.json')) {
        JSON.parse(fs.readFileSync(full, 'utf8'));
        files++;
      }
    }
  };
  visit(`${logsDir}/conversations`);
  return { times: [ms(start)], maxRssKb: process.resourceUsage().maxRSS, setupMs: 0, details: { files } };
}

/**
 * The SQLite catalog's size on disk (file, write-ahead log and shared memory), the full-text index's share
 * of it, and the time to build that index again from the rows' text (FTS5 `rebuild`, under the pragmas of a
 * catalog rebuild). The catalog stays complete and equivalent.
 */
function catalogFigures(logsDir: string): WorkerResult {
  const file = `${logsDir}/catalog.sqlite`;
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = size(file) + size(`${file}-wal`) + size(`${file}-shm`);
    const pages = db.prepare("SELECT name LIKE 'fts%' AS fts, SUM(pgsize) AS bytes FROM dbstat GROUP BY 1").all() as { fts: number; bytes: number }[];
    const ftsBytes = pages.find((p) => p.fts === 1)?.bytes ?? 0;
    const rows = (db.prepare('SELECT COUNT(*) AS n FROM files').get() as { n: number }).n;
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -32768');
    const start = process.hrtime.bigint();
    db.exec("INSERT INTO fts (fts) VALUES ('rebuild')");
    const took = ms(start);
    db.pragma('journal_mode = WAL');
    return { times: [took], maxRssKb: process.resourceUsage().maxRSS, setupMs: 0, details: { bytes, ftsBytes, rows } };
  } finally {
    db.close();
  }
}

async function run(task: WorkerTask): Promise<WorkerResult> {
  if (task.kind === 'read-parse') return readAndParse(task.logsDir);
  if (task.kind === 'catalog-figures') return catalogFigures(task.logsDir);
  const started = process.hrtime.bigint();
  const quiet: LogLevel[] = ['error', 'warn'];
  const app = await boot(
    { LOGS_DIR: task.logsDir, ...task.env },
    task.kind === 'backup' || task.kind === 'workspace-backup',
    task.kind === 'catalog' ? ['log', ...quiet] : quiet,
  );
  const storage = app.get(LogStorageService);
  // a missing or outdated catalog is rebuilt in the background: set-up until it is done
  await storage.whenCatalogReady();
  const setupMs = ms(started);
  const times: number[] = [];
  const details: Record<string, unknown> = {};
  try {
    switch (task.kind) {
      case 'catalog': {
        const summary = await storage.getSummary();
        details.files = summary.total_files;
        details.bytes = summary.total_size_bytes;
        break;
      }
      case 'summary': {
        details.files = (await warmedUp(() => storage.getSummary())).total_files;
        for (let i = 0; i < task.runs; i++) times.push((await timed(() => storage.getSummary())).ms);
        break;
      }
      case 'stats': {
        details.total = (await warmedUp(() => storage.stats())).totals;
        for (let i = 0; i < task.runs; i++) times.push((await timed(() => storage.stats())).ms);
        break;
      }
      case 'search': {
        const first = await warmedUp(() => storage.search({ q: task.q, limit: 20 }));
        details.hits = first.results.length;
        details.more = first.next_cursor !== null;
        for (let i = 0; i < task.runs; i++) times.push((await timed(() => storage.search({ q: task.q, limit: 20 }))).ms);
        break;
      }
      case 'export': {
        let bytes = 0;
        const { ms: took } = await timed(async () => {
          // as GET /api/conversation-logs?action=export writes to the response
          const out = fs.createWriteStream(task.out);
          await storage.exportTo({}, task.format, out);
          out.end();
          await finished(out);
          bytes = out.bytesWritten;
        });
        times.push(took);
        details.bytes = bytes;
        break;
      }
      case 'retention': {
        const { ms: took, value } = await timed(() => storage.cleanOldLogs({ daysToKeep: task.daysToKeep }));
        times.push(took);
        details.deleted_files = value.deleted_files;
        details.first_day = value.first_day;
        details.last_day = value.last_day;
        break;
      }
      case 'reindex': {
        let reports = 0;
        let last: [number, number | null] = [0, null];
        const { ms: took, value } = await timed(() =>
          storage.reindex({
            onProgress: (done, total) => {
              reports++;
              last = [done, total];
            },
          }),
        );
        times.push(took);
        details.indexed = value.indexed;
        details.skipped = value.skipped.length;
        details.progressReports = reports;
        details.lastProgress = last;
        break;
      }
      case 'backup': {
        const backup = app.get(BackupService);
        const source = app.get(AppConfig).sources[0];
        const { ms: took, value } = await timed(() => backup.run({ source, window: {} }));
        times.push(took);
        details.success = value.success;
        details.saved = value.saved_count;
        details.failed = value.failed_count;
        details.seen = value.total_conversations;
        if (!value.success) details.errors = value.errors.slice(0, 3);
        break;
      }
      case 'workspace-backup': {
        // the whole workspace as one job, the way every trigger runs it (the app listing included)
        const jobs = app.get(JobsService);
        const sources = app.get(AppConfig).sources;
        const { ms: took, value } = await timed(() => jobs.runBackup({ sources, window: {}, trigger: 'cli' }));
        times.push(took);
        const result = value.sources[0]?.result;
        details.success = value.status === 'succeeded';
        details.saved = result?.saved_count ?? 0;
        details.apps = result?.apps?.length ?? 0;
        details.failed = result?.failed_count ?? 0;
        if (!details.success) details.errors = [value.message, ...(result?.errors.slice(0, 3) ?? [])];
        break;
      }
    }
  } finally {
    await app.close();
  }
  return { times, maxRssKb: process.resourceUsage().maxRSS, setupMs, details };
}

if (require.main === module) {
  const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
  run(task).then(
    (result) => {
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.stack : String(error));
      process.exit(1);
    },
  );
}
