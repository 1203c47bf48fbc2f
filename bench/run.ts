import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator } from '../src/simulator/simulator';
import { GENERATOR_VERSION, GeneratedArchive, generateArchive, SEARCH_KEYWORD } from './archive-generator';
import { median, runWorker, shell, timeShell, timeStartup } from './measure';
import { CatalogFigures, Check, markdown, plainTable, Report, Row, rowPasses } from './report';
import { BenchUsageError, Options, parseOptions, Scenario, SCENARIOS, USAGE } from './options';
import { failoverScenario, pgQueryScenarios, replicaBackupScenario, ReplicaBenchOptions } from './replica-scenarios';
import { s3ArchiveScenarios, s3BackupScenario, S3BenchOptions } from './s3-scenarios';
import { BenchServices } from './services';
import { WARM_UP_CALLS } from './worker';

/**
 * `npm run bench`: measures the service against the machine (cat, du, find, grep on the same tree)
 * and against the ideal of a backup, in one run, and writes bench/results.md (options: USAGE in options.ts).
 */

/** scenarios that need no generated archive */
const WITHOUT_ARCHIVE: readonly Scenario[] = ['backup', 'workspace', 's3-backup', 'replica-backup', 'failover'];

const PROJECT = path.resolve(__dirname, '..', '..');
const SEED = 20250630;
const MB = 1024;

const log = (line: string) => process.stdout.write(`${line}\n`);
/** A set-up line for the report, in the log at once as well. */
const note = (setup: string[], line: string) => {
  setup.push(line);
  log(`  ${line}`);
};
const count = (n: number) => n.toLocaleString('en-US');
const mb = (kb: number) => kb / MB;

interface Archive {
  dir: string;
  meta: GeneratedArchive;
  /** ms the catalog took to build from the files at set-up; null when it was already there */
  rebuildMs: number | null;
}

const archiveDir = (opts: Options, size: number) => path.join(opts.dataDir, `archive-${size}-seed${SEED}-g${GENERATOR_VERSION}-${opts.format}`);
const isCached = (opts: Options, size: number) => fs.existsSync(path.join(archiveDir(opts, size), 'bench-meta.json'));

/**
 * Disk a generated archive takes, per conversation: the file (~10 KB, in 4 KiB blocks) and its share of
 * the day folder (12 GiB at a million), plus three catalogs of ~7.8 KB per conversation at once (the archive's own, and the copy or the second rebuild of the
 * destructive scenarios, with room for the rebuild's temporary pages).
 */
const DISK_PER_CONVERSATION = 12.5 * 1024 + 3 * 8 * 1024;

/** Says how much disk the archives still to be generated need, and refuses to start without it. */
function checkDisk(opts: Options): void {
  const missing = [opts.small, opts.large].filter((size) => !isCached(opts, size));
  if (!missing.length) return;
  const need = missing.reduce((sum, size) => sum + size * DISK_PER_CONVERSATION, 0);
  const stats = fs.statfsSync(opts.dataDir);
  const free = stats.bavail * stats.bsize;
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  log(`Disk: generating ${missing.map(count).join(' and ')} conversations needs about ${gib(need)} in ${opts.dataDir}; ${gib(free)} free`);
  if (need > free) {
    throw new BenchUsageError(`not enough disk in ${opts.dataDir}: about ${gib(need)} needed, ${gib(free)} free (--data=DIR puts the archives elsewhere)`);
  }
}

/** A generated tree with its catalog, cached by size, seed and generator version. */
async function ensureArchive(opts: Options, size: number, setup: string[]): Promise<Archive> {
  const dir = archiveDir(opts, size);
  const metaFile = path.join(dir, 'bench-meta.json');
  let meta: GeneratedArchive;
  if (fs.existsSync(metaFile)) {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as GeneratedArchive;
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    log(`Generating ${count(size)} conversations (${opts.format} format) in ${dir}`);
    const started = Date.now();
    meta = generateArchive(dir, size, SEED, opts.format, (written) =>
      log(`  ${count(written)} written in ${((Date.now() - started) / 1000).toFixed(0)} s`),
    );
    note(setup, `generated ${count(size)} conversation files in the ${opts.format} format (${(meta.bytes / 1e6).toFixed(0)} MB, ${(meta.bytes / meta.files / 1024).toFixed(1)} KB each on average) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // opening the service rebuilds a missing or outdated catalog (the reindex), which is set-up, not a scenario
  const opened = await runWorker({ kind: 'catalog', logsDir: dir });
  note(setup, `${count(size)}: catalog opened${opened.setupMs > 2000 ? ' and rebuilt (reindex)' : ''} in ${(opened.setupMs / 1000).toFixed(1)} s, peak RSS ${mb(opened.maxRssKb).toFixed(0)} MB`);
  if (opened.details.files !== meta.files) throw new Error(`catalog of ${dir} holds ${String(opened.details.files)} files, expected ${meta.files}`);
  fs.writeFileSync(metaFile, JSON.stringify(meta));
  return { dir, meta, rebuildMs: opened.setupMs > 2000 ? opened.setupMs : null };
}

async function catalogFigures(a: Archive): Promise<CatalogFigures> {
  log(`catalog: size on disk and full-text index build of ${count(a.meta.files)} conversations`);
  const r = await runWorker({ kind: 'catalog-figures', logsDir: a.dir });
  return {
    conversations: a.meta.files,
    bytes: Number(r.details.bytes),
    ftsBytes: Number(r.details.ftsBytes),
    ftsBuildMs: r.times[0],
    rebuildMs: a.rebuildMs,
  };
}

function tmpDir(opts: Options, name: string): string {
  const dir = path.join(opts.dataDir, 'tmp', `${name}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  return dir;
}

async function backupScenario(opts: Options): Promise<Row> {
  const b = opts.backup;
  log(`backup: ${count(b.conversations)} conversations x ${b.messages} messages, ${b.latencyMs} ms per request, concurrency ${b.concurrency}`);
  const sim = await startSimulator({ latencyMs: b.latencyMs, generate: false, seed: 42 });
  try {
    const app = sim.apps.find((a) => a.mode === 'chat')!;
    const users = Array.from({ length: 8 }, (_, i) => `bench-user-${i + 1}`);
    const base = Math.floor(Date.now() / 1000) - b.conversations * 60 - 86_400;
    for (let i = 0; i < b.conversations; i++) {
      sim.addConversation({ app_id: app.id, user: users[i % users.length], messages: b.messages, created_at: base + i * 60 });
    }
    const times: number[] = [];
    const ideals: number[] = [];
    let rss = 0;
    let saved = 0;
    for (let i = 0; i < b.runs; i++) {
      const logsDir = tmpDir(opts, 'backup');
      sim.clearRequests();
      try {
        const result = await runWorker({
          kind: 'backup',
          logsDir,
          env: {
            DIFY_API_URL: sim.serviceApiUrl,
            DIFY_APP_ID: app.id,
            DIFY_API_KEY: app.apiKey,
            DIFY_USERS: users.join(','),
            DIFY_ORGANIZATION_ID: 'bench',
            DIFY_CONCURRENCY: String(b.concurrency),
            DIFY_ALLOWED_HOSTS: '127.0.0.1',
          },
        });
        if (!result.details.success || result.details.saved !== b.conversations) {
          throw new Error(`backup run did not save every conversation: ${JSON.stringify(result.details)}`);
        }
        times.push(result.times[0]);
        ideals.push((sim.requests.length * b.latencyMs) / b.concurrency);
        rss = Math.max(rss, result.maxRssKb);
        saved = Number(result.details.saved);
        log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms for ${sim.requests.length} requests (ideal ${ideals[ideals.length - 1].toFixed(0)} ms), peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
      } finally {
        fs.rmSync(logsDir, { recursive: true, force: true });
      }
    }
    const m = median(times);
    const ideal = median(ideals);
    return {
      scenario: 'backup',
      size: `${count(b.conversations)} conv x ${b.messages} msg, ${b.latencyMs} ms latency, concurrency ${b.concurrency}`,
      median: m,
      baseline: ideal,
      baselineLabel: 'ideal: requests x latency / concurrency',
      peakRss: mb(rss),
      target: '≤ 1.5x ideal; RSS < 200 MB',
      checks: [
        { label: `${(m / ideal).toFixed(2)}x the ideal`, pass: m <= 1.5 * ideal },
        { label: `peak RSS ${mb(rss).toFixed(0)} MB`, pass: mb(rss) < 200 },
      ],
      note: `${saved} conversations saved per run; ${b.runs} runs, each in a fresh process and a fresh LOGS_DIR`,
    };
  } finally {
    await sim.close();
  }
}

/**
 * A whole workspace over one console session: `extraApps` cycles through every app mode, so twice as many
 * apps are created as hold conversations (the rest are listed and crawled empty, as in a real workspace).
 * The ideal is every request the simulator answered, at its latency, over apps x requests per app in flight.
 * The latency is that of a distant, busy Dify (200 ms): with 16 requests in flight and a few ms to save each file,
 * a shorter one makes the run bound by the archive's writes, not by Dify.
 */
async function workspaceScenario(opts: Options): Promise<Row> {
  const w = opts.workspace;
  const width = w.appConcurrency * w.concurrency;
  log(`workspace: ${w.apps} apps x ${w.conversations} conversations, ${w.latencyMs} ms per request, ${w.appConcurrency} apps x ${w.concurrency} requests at once`);
  const conversational = ['chat', 'completion', 'advanced-chat', 'agent-chat'];
  const sim = await startSimulator({ latencyMs: w.latencyMs, generate: false, seed: 43, extraApps: w.apps * 2 });
  // agent, workflow, channel and rag-pipeline apps stay empty: listed, and the first two crawled (a few requests each)
  try {
    const filled = sim.apps.filter((a) => a.name.startsWith('Workspace App') && conversational.includes(a.mode)).slice(0, w.apps);
    const base = Math.floor(Date.now() / 1000) - w.conversations * 60 - 86_400;
    for (const app of filled) {
      for (let i = 0; i < w.conversations; i++) sim.addConversation({ app_id: app.id, messages: 4, created_at: base + i * 60 });
    }
    const expected = filled.length * w.conversations;
    const times: number[] = [];
    const ideals: number[] = [];
    let rss = 0;
    let apps = 0;
    for (let i = 0; i < w.runs; i++) {
      const logsDir = tmpDir(opts, 'workspace');
      sim.clearRequests();
      try {
        const result = await runWorker({
          kind: 'workspace-backup',
          logsDir,
          env: {
            DIFY_CONSOLE_API_URL: sim.consoleApiUrl,
            DIFY_ADMIN_API_KEY: sim.adminApiKey!,
            DIFY_WORKSPACE_ID: sim.workspaceId,
            DIFY_CONCURRENCY: String(w.concurrency),
            WORKSPACE_APP_CONCURRENCY: String(w.appConcurrency),
            DIFY_ALLOWED_HOSTS: '127.0.0.1',
          },
        });
        if (!result.details.success || result.details.saved !== expected) {
          throw new Error(`workspace backup did not save every conversation: ${JSON.stringify(result.details)}`);
        }
        times.push(result.times[0]);
        ideals.push((sim.requests.length * w.latencyMs) / width);
        rss = Math.max(rss, result.maxRssKb);
        apps = Number(result.details.apps);
        log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms for ${sim.requests.length} requests over ${apps} apps (ideal ${ideals[ideals.length - 1].toFixed(0)} ms), peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
      } finally {
        fs.rmSync(logsDir, { recursive: true, force: true });
      }
    }
    const m = median(times);
    const ideal = median(ideals);
    return {
      scenario: 'workspace backup',
      size: `${filled.length} apps x ${w.conversations} conv (${apps} apps listed and crawled), ${w.latencyMs} ms latency, ${w.appConcurrency} apps x ${w.concurrency} requests`,
      median: m,
      baseline: ideal,
      baselineLabel: 'ideal: requests x latency / (apps x requests in flight)',
      peakRss: mb(rss),
      target: '≤ 1.5x ideal; RSS < 200 MB',
      checks: [
        { label: `${(m / ideal).toFixed(2)}x the ideal`, pass: m <= 1.5 * ideal },
        { label: `peak RSS ${mb(rss).toFixed(0)} MB`, pass: mb(rss) < 200 },
      ],
      note: `${expected} conversations and ${apps} configuration snapshots saved per run; ${w.runs} runs, each in a fresh process and LOGS_DIR`,
    };
  } finally {
    await sim.close();
  }
}

async function summaryScenario(opts: Options, a: Archive): Promise<Row> {
  log(`summary: ${count(a.meta.files)} files`);
  const tree = path.join(a.dir, 'conversations');
  const result = await runWorker({ kind: 'summary', logsDir: a.dir, runs: opts.runs.fast });
  const baseline = Array.from({ length: opts.runs.baseline }, () =>
    timeShell(`du -sb '${tree}' > /dev/null && find '${tree}' -type f | wc -l > /dev/null`),
  );
  const m = median(result.times);
  const base = median(baseline);
  return {
    scenario: 'summary',
    size: `${count(a.meta.files)} files`,
    median: m,
    baseline: base,
    baselineLabel: 'du -sb + find -type f | wc -l',
    peakRss: mb(result.maxRssKb),
    target: '< 20 ms and ≥ 20x faster than baseline',
    checks: [
      { label: `median ${m.toFixed(2)} ms`, pass: m < 20 },
      { label: `${(base / m).toFixed(1)}x faster`, pass: m * 20 <= base },
    ],
  };
}

async function exportScenario(opts: Options, a: Archive): Promise<Row> {
  log(`export: ${count(a.meta.files)} conversations as NDJSON to /dev/null`);
  const tree = path.join(a.dir, 'conversations');
  const times: number[] = [];
  let rss = 0;
  let bytes = 0;
  // the baseline first: its runs leave the files in the page cache for the export as for themselves
  const baseline = Array.from({ length: opts.runs.baseline }, () =>
    timeShell(`find '${tree}' -type f -print0 | xargs -0 cat > /dev/null`),
  );
  for (let i = 0; i < opts.runs.slow; i++) {
    const result = await runWorker({ kind: 'export', logsDir: a.dir, format: 'ndjson', out: '/dev/null' });
    times.push(result.times[0]);
    rss = Math.max(rss, result.maxRssKb);
    bytes = Number(result.details.bytes);
    log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
  }
  return {
    scenario: 'export ndjson',
    size: `${count(a.meta.files)} conversations`,
    median: median(times),
    baseline: median(baseline),
    baselineLabel: 'find | xargs cat > /dev/null',
    peakRss: mb(rss),
    target: '≤ 2x cat; RSS < 200 MB, flat in size',
    checks: [],
    note: `${(bytes / 1e6).toFixed(0)} MB of NDJSON from ${(a.meta.bytes / 1e6).toFixed(0)} MB of files; each run in a fresh process`,
  };
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** A copy of the archive for a destructive run: hard links for the files, a real copy of the catalog. */
function copyArchive(opts: Options, a: Archive): string {
  const dir = tmpDir(opts, 'retention');
  fs.mkdirSync(dir, { recursive: true });
  shell(`cp -al '${path.join(a.dir, 'conversations')}' '${dir}/conversations' && cp '${path.join(a.dir, 'catalog.sqlite')}' '${dir}/'`);
  return dir;
}

async function retentionScenario(opts: Options, a: Archive): Promise<Row> {
  // the cut-off is the first day that keeps the newer half of the files
  const days = Object.keys(a.meta.perDay).sort();
  let older = 0;
  let cut = days[days.length - 1];
  for (const day of days) {
    if (older >= a.meta.files / 2) {
      cut = day;
      break;
    }
    older += a.meta.perDay[day];
  }
  const today = new Date().toISOString().slice(0, 10);
  const daysToKeep = daysBetween(cut, today);
  log(`retention: deleting ${count(older)} of ${count(a.meta.files)} files (day folders before ${cut})`);
  const times: number[] = [];
  const baseline: number[] = [];
  let rss = 0;
  for (let i = 0; i < opts.runs.slow; i++) {
    const dir = copyArchive(opts, a);
    try {
      const result = await runWorker({ kind: 'retention', logsDir: dir, daysToKeep });
      if (result.details.deleted_files !== older) throw new Error(`retention deleted ${String(result.details.deleted_files)} files, expected ${older}`);
      times.push(result.times[0]);
      rss = Math.max(rss, result.maxRssKb);
      log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  for (let i = 0; i < opts.runs.baseline; i++) {
    const dir = copyArchive(opts, a);
    try {
      const tree = path.join(dir, 'conversations');
      baseline.push(
        timeShell(`find '${tree}' -type f ! -newermt '${cut} 00:00:00 UTC' -delete && find '${tree}' -mindepth 1 -type d -empty -delete`),
      );
      const left = Number(shell(`find '${tree}' -type f | wc -l`).trim());
      if (left !== a.meta.files - older) throw new Error(`find -delete left ${left} files, expected ${a.meta.files - older}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = median(times);
  const base = median(baseline);
  return {
    scenario: 'retention',
    size: `${count(older)} of ${count(a.meta.files)} files deleted`,
    median: m,
    baseline: base,
    baselineLabel: 'find ! -newermt -delete, then empty folders',
    peakRss: mb(rss),
    target: '≤ 1.5x find',
    checks: [{ label: `${(m / base).toFixed(2)}x find`, pass: m <= 1.5 * base }],
    note: 'every run on a fresh copy (files hard-linked, catalog copied), catalog rows removed as well',
  };
}

async function searchScenario(opts: Options, a: Archive): Promise<Row> {
  log(`search: "${SEARCH_KEYWORD}" over ${count(a.meta.files)} conversations`);
  const tree = path.join(a.dir, 'conversations');
  const result = await runWorker({ kind: 'search', logsDir: a.dir, runs: opts.runs.fast, q: SEARCH_KEYWORD });
  const baseline = Array.from({ length: opts.runs.baseline }, () => timeShell(`grep -rl '${SEARCH_KEYWORD}' '${tree}' > /dev/null`));
  const m = median(result.times);
  const base = median(baseline);
  return {
    scenario: 'search',
    size: `${count(a.meta.files)} conversations`,
    median: m,
    baseline: base,
    baselineLabel: 'grep -rl',
    peakRss: mb(result.maxRssKb),
    target: '< 100 ms and ≥ 50x faster than grep',
    checks: [
      { label: `median ${m.toFixed(1)} ms`, pass: m < 100 },
      { label: `${(base / m).toFixed(1)}x faster`, pass: m * 50 <= base },
    ],
    note: `the keyword occurs in ${count(a.meta.keywordConversations)} conversations (first page of 20, newest first, with snippets)`,
  };
}

async function startupScenario(opts: Options, a: Archive): Promise<Row> {
  log(`start-up: ${path.relative(PROJECT, opts.service)} with ${count(a.meta.files)} files`);
  if (!fs.existsSync(opts.service)) throw new Error(`${opts.service} does not exist: build the service first (npx nest build)`);
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < opts.runs.startup; i++) {
    const r = await timeStartup(opts.service, { LOGS_DIR: a.dir, ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production', LOG_TIMEZONE: 'UTC' }, opts.dataDir);
    times.push(r.ms);
    rss = Math.max(rss, r.rssKb ?? 0);
  }
  const m = median(times);
  return {
    scenario: 'start-up',
    size: `${count(a.meta.files)} files`,
    median: m,
    baseline: null,
    baselineLabel: '',
    peakRss: rss ? mb(rss) : null,
    target: '< 2 s to first answered request',
    checks: [{ label: `${(m / 1000).toFixed(2)} s`, pass: m < 2000 }],
    note: 'spawn of the built service until GET /health answers 200',
  };
}

async function reindexScenario(opts: Options, a: Archive): Promise<Row> {
  log(`reindex: rebuilding the catalog of ${count(a.meta.files)} files`);
  const times: number[] = [];
  let rss = 0;
  let progress = '';
  // the baseline first: its runs leave the files in the page cache for the reindex as for themselves
  const baseline: number[] = [];
  for (let i = 0; i < opts.runs.baseline; i++) baseline.push((await runWorker({ kind: 'read-parse', logsDir: a.dir })).times[0]);
  for (let i = 0; i < opts.runs.slow; i++) {
    const result = await runWorker({ kind: 'reindex', logsDir: a.dir });
    if (result.details.indexed !== a.meta.files) throw new Error(`reindex indexed ${String(result.details.indexed)} files, expected ${a.meta.files}`);
    times.push(result.times[0]);
    rss = Math.max(rss, result.maxRssKb);
    progress = `progress reported ${String(result.details.progressReports)} times, last ${JSON.stringify(result.details.lastProgress)}`;
    log(`  run ${i + 1}: ${result.times[0].toFixed(0)} ms, peak RSS ${mb(result.maxRssKb).toFixed(0)} MB, ${progress}`);
  }
  const m = median(times);
  const base = median(baseline);
  return {
    scenario: 'reindex',
    size: `${count(a.meta.files)} files`,
    median: m,
    baseline: base,
    baselineLabel: 'read + JSON.parse every file (Node, one thread)',
    peakRss: mb(rss),
    target: '≤ 5x read + parse, one pass, progress shown',
    checks: [{ label: `${(m / base).toFixed(2)}x read + parse`, pass: m <= 5 * base }],
    note: `the whole catalog dropped and rebuilt (rows, messages, full text, indexes, folder totals); ${progress}`,
  };
}

async function startupRebuildScenario(opts: Options, a: Archive): Promise<Row> {
  log(`start-up without a catalog: ${path.relative(PROJECT, opts.service)} with ${count(a.meta.files)} files`);
  if (!fs.existsSync(opts.service)) throw new Error(`${opts.service} does not exist: build the service first (npx nest build)`);
  const times: number[] = [];
  const ready: number[] = [];
  let rss = 0;
  let message = '';
  for (let i = 0; i < opts.runs.slow; i++) {
    const dir = tmpDir(opts, 'startup');
    fs.mkdirSync(dir, { recursive: true });
    shell(`cp -al '${path.join(a.dir, 'conversations')}' '${dir}/conversations'`);
    try {
      const r = await timeStartup(
        opts.service,
        { LOGS_DIR: dir, ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production', LOG_TIMEZONE: 'UTC' },
        opts.dataDir,
        // a rebuild of a million files takes minutes more on a loaded machine
        Math.max(600_000, a.meta.files * 5),
        true,
      );
      times.push(r.ms);
      ready.push(r.readyMs ?? NaN);
      rss = Math.max(rss, r.rssKb ?? 0);
      message = r.rebuildMessage ?? message;
      log(`  run ${i + 1}: /health after ${r.ms.toFixed(0)} ms, catalog ready after ${(r.readyMs ?? NaN).toFixed(0)} ms${r.rebuildMessage ? ` (readiness said "${r.rebuildMessage}")` : ''}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = median(times);
  return {
    scenario: 'start-up without catalog',
    size: `${count(a.meta.files)} files`,
    median: m,
    baseline: null,
    baselineLabel: '',
    peakRss: rss ? mb(rss) : null,
    target: '< 2 s to first answered request; rebuild in the background',
    checks: [{ label: `${(m / 1000).toFixed(2)} s`, pass: m < 2000 }],
    note: `catalog deleted: GET /health answers at once, the catalog is rebuilt in the background and ready after ${(median(ready) / 1000).toFixed(1)} s (median)${message ? `; meanwhile /health/ready said "${message}"` : ''}`,
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), PROJECT);
  const started = Date.now();
  const setup: string[] = [];
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const on = (scenario: Scenario) => opts.only.has(scenario);
  const catalogs: CatalogFigures[] = [];
  // the results file holds every row measured so far, so a long run cut short still leaves its figures
  const rows = new PartialRows(() => writeReport(opts, started, setup, rows, catalogs, false));
  // Ceph and PostgreSQL, started on first use, stopped at the end (and on Ctrl-C or an error)
  const services = new BenchServices(log);
  try {
    if (on('backup')) rows.push(await backupScenario(opts));
    if (on('workspace')) rows.push(await workspaceScenario(opts));
    if (on('s3-backup')) rows.push(await s3BackupScenario(services, s3Options(opts)));
    if (on('replica-backup')) rows.push(await replicaBackupScenario(services, replicaOptions(opts)));
    if (on('failover')) rows.push(await failoverScenario(services, replicaOptions(opts)));
    if (SCENARIOS.some((x) => !WITHOUT_ARCHIVE.includes(x) && on(x))) await archiveScenarios(opts, setup, rows, catalogs, on, services);
  } finally {
    await services.stop();
  }
  await writeReport(opts, started, setup, rows, catalogs);
}

/** The rows of the report, written out (as an unfinished report) each time some are added. */
class PartialRows extends Array<Row> {
  constructor(private readonly onAdd: () => void) {
    super();
  }

  static get [Symbol.species]() {
    return Array;
  }

  override push(...rows: Row[]): number {
    const n = super.push(...rows);
    this.onAdd();
    return n;
  }
}

async function archiveScenarios(
  opts: Options,
  setup: string[],
  rows: Row[],
  catalogs: CatalogFigures[],
  on: (scenario: Scenario) => boolean,
  services: BenchServices,
): Promise<void> {
  checkDisk(opts);
  const small = await ensureArchive(opts, opts.small, setup);
  const large = await ensureArchive(opts, opts.large, setup);
  catalogs.push(await catalogFigures(small), await catalogFigures(large));
  rows.push();
  // with --size, each scenario at the smaller size first: the reference for the larger one's peak RSS
  const measure = async (scenario: (o: Options, a: Archive) => Promise<Row>) => {
    if (!opts.both) {
      rows.push(await scenario(opts, large));
      return;
    }
    const reference = await scenario(opts, small);
    rows.push(reference);
    const row = await scenario(opts, large);
    const check = rssAgainst(reference, small, row);
    if (check) row.checks.push(check);
    rows.push(row);
  };
  if (on('summary')) await measure(summaryScenario);
  if (on('export')) rows.push(...(await exportScenarios(opts, small, large)));
  if (on('retention')) await measure(retentionScenario);
  if (on('search')) await measure(searchScenario);
  if (on('reindex')) await measure(reindexScenario);
  if (on('start-up')) await measure(startupScenario);
  if (on('start-up-rebuild')) await measure(startupRebuildScenario);
  if (on('pg-queries')) rows.push(...(await pgQueryScenarios(services, replicaOptions(opts), large, setup)));
  rows.push(...(await s3ArchiveScenarios(services, s3Options(opts), small, large, on, setup)));
}

/** The larger archive's peak RSS within 50 MB of the smaller one's (memory flat in the archive's size). */
function rssAgainst(reference: Row, small: Archive, row: Row): Check | null {
  if (reference.peakRss === null || row.peakRss === null) return null;
  return {
    label: `peak RSS ${row.peakRss.toFixed(0)} MB vs ${reference.peakRss.toFixed(0)} MB at ${count(small.meta.files)}`,
    pass: row.peakRss <= reference.peakRss + 50,
  };
}

const s3Options = (opts: Options): S3BenchOptions => ({
  quick: opts.quick,
  dataDir: opts.dataDir,
  runs: opts.runs.slow,
  backup: opts.backup,
});

const replicaOptions = (opts: Options): ReplicaBenchOptions => ({
  quick: opts.quick,
  dataDir: opts.dataDir,
  service: opts.service,
  fastRuns: opts.runs.fast,
  runs: opts.quick ? 1 : 3,
});

async function exportScenarios(opts: Options, small: Archive, large: Archive): Promise<Row[]> {
  const exportSmall = await exportScenario(opts, small);
  const exportLarge = await exportScenario(opts, large);
  exportLarge.checks = [
    { label: `${(exportLarge.median / exportLarge.baseline!).toFixed(2)}x cat`, pass: exportLarge.median <= 2 * exportLarge.baseline! },
    { label: `peak RSS ${exportLarge.peakRss!.toFixed(0)} MB`, pass: exportLarge.peakRss! < 200 },
    opts.both
      ? rssAgainst(exportSmall, small, exportLarge)!
      : {
          label: `RSS ${exportSmall.peakRss!.toFixed(0)} MB at ${count(small.meta.files)} vs ${exportLarge.peakRss!.toFixed(0)} MB at ${count(large.meta.files)}`,
          pass: exportLarge.peakRss! <= exportSmall.peakRss! * 1.2,
        },
  ];
  if (opts.both) {
    // the smaller archive is a measured size of its own here, with the same targets
    exportSmall.checks = [
      { label: `${(exportSmall.median / exportSmall.baseline!).toFixed(2)}x cat`, pass: exportSmall.median <= 2 * exportSmall.baseline! },
      { label: `peak RSS ${exportSmall.peakRss!.toFixed(0)} MB`, pass: exportSmall.peakRss! < 200 },
    ];
    exportSmall.target = '≤ 2x cat; RSS < 200 MB';
  } else exportSmall.target = 'RSS reference for the row below';
  return [exportSmall, exportLarge];
}

/** whether `--only` named a group, whose scenarios the report then lists */
const expanded = (opts: Options) => opts.selection.replace(/ .*/, '') !== [...opts.only].join(',');

function writeReport(opts: Options, started: number, setup: string[], rows: Row[], catalogs: CatalogFigures[], final = true): void {
  const cpu = os.cpus();
  const report: Report = {
    title: `Benchmark results${opts.quick ? ' (quick run: tiny data set, numbers are not meaningful)' : ''}${final ? '' : ' (unfinished: the run is still under way or was cut short)'}`,
    environment: [
      `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.platform()} ${os.release()}`,
      `archives of ${count(opts.small)} and ${count(opts.large)} generated conversations in the ${opts.format} format (seed ${SEED}); baselines run on the same trees in the same run, page cache warm for both`,
      `median of ${opts.runs.fast} runs (summary, search; after ${WARM_UP_CALLS} untimed calls), ${opts.runs.slow} (export, retention, reindex, start-up without catalog), ${opts.backup.runs} (backup), ${opts.workspace.runs} (workspace backup), ${opts.runs.startup} (start-up); baselines ${opts.runs.baseline} runs`,
      `scenarios: ${opts.selection}${expanded(opts) ? ` (${[...opts.only].join(', ')})` : ''}`,
      `${final ? 'whole run' : 'so far'} ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1 / 5 / 15 min) at the end`,
    ],
    rows,
    catalogs,
    setup,
    notes: [
      'Ratio is the service\'s median divided by the baseline\'s median (below 1: the service is faster). Peak RSS is the scenario process\'s high-water mark.',
    ],
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, markdown(report));
  if (!final) return;
  fs.rmSync(path.join(opts.dataDir, 'tmp'), { recursive: true, force: true });
  log('');
  log(plainTable(report));
  log('');
  const failed = rows.filter((r) => r.checks.length && !rowPasses(r));
  for (const r of failed) log(`MISSED ${r.scenario} (${r.size}): ${r.checks.filter((c) => !c.pass).map((c) => c.label).join('; ')}`);
  log(`${failed.length ? `${failed.length} target(s) missed` : 'every target met'}; written to ${path.relative(process.cwd(), opts.out) || opts.out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (opts.strict && failed.length) process.exitCode = 1;
}

if (process.argv.includes('--help')) {
  process.stdout.write(`${USAGE}\n`);
} else {
  main().catch((error: unknown) => {
    if (error instanceof BenchUsageError) {
      console.error(`${error.message} (npm run bench -- --help lists the options)`);
      process.exit(2);
    }
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  });
}
