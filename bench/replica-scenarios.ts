import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { startSimulator } from '../src/simulator/simulator';
import type { DifySimulator } from '../src/simulator/simulator.types';
import { createDatabaseOn as createDatabase, dropDatabaseOn as dropDatabase, PostgresInstance } from '../test/support/postgres';
import { Daemon, freePort, killPids, run, spawnDaemon } from '../test/support/processes';
import { SEARCH_KEYWORD } from './archive-generator';
import { median, runWorker } from './measure';
import { WARM_UP_CALLS } from './worker';
import type { Row } from './report';
import { BenchArchive, skippedRow } from './s3-scenarios';
import type { BenchServices } from './services';

/**
 * The catalog in PostgreSQL against the SQLite one, and replicas of the built service sharing one
 * PostgreSQL (DATABASE_URL): a backup with a second replica present, and the scheduler's fail-over.
 */

export const REPLICA_SCENARIOS = ['pg-queries', 'replica-backup', 'failover'] as const;
export type ReplicaScenario = (typeof REPLICA_SCENARIOS)[number];

export interface ReplicaBenchOptions {
  quick: boolean;
  dataDir: string;
  /** the built service entry (dist/main.js); its cli.js lies next to it */
  service: string;
  /** runs of the fast queries */
  fastRuns: number;
  /** runs of each replica backup and fail-over */
  runs: number;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const count = (n: number) => n.toLocaleString('en-US');
const mb = (kb: number) => kb / 1024;

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function tmpDir(opts: ReplicaBenchOptions, name: string): string {
  const dir = path.join(opts.dataDir, 'tmp', `${name}-${process.pid}-${Date.now()}-${randomBytes(3).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function requireService(opts: ReplicaBenchOptions): void {
  if (!fs.existsSync(opts.service)) throw new Error(`${opts.service} does not exist: build the service first (npx nest build)`);
}

const BASE_ENV = { NODE_ENV: 'production', LOG_TIMEZONE: 'UTC', LOG_LEVEL: 'warn' };

/** pg-queries: summary, search and stats on PostgreSQL and on SQLite, same archive, same run. */
export async function pgQueryScenarios(services: BenchServices, opts: ReplicaBenchOptions, a: BenchArchive, setup: string[]): Promise<Row[]> {
  const names = ['pg summary', 'pg search', 'pg stats'];
  const pg = await services.postgres();
  if (typeof pg === 'string') {
    log(`PostgreSQL scenarios skipped: ${pg}`);
    return names.map((n) => skippedRow(n, pg));
  }
  requireService(opts);
  const url = await createDatabase(pg, 'bench_catalog');
  try {
    log(`pg queries: copying the catalog of ${count(a.meta.files)} conversations into PostgreSQL (migrate-catalog)`);
    const started = Date.now();
    await run(process.execPath, [path.join(path.dirname(opts.service), 'cli.js'), 'migrate-catalog', '--to', 'postgres'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...BASE_ENV, LOGS_DIR: a.dir, DATABASE_URL: url },
      cwd: opts.dataDir,
      timeoutMs: 3_600_000,
    });
    setup.push(`PostgreSQL: catalog of ${count(a.meta.files)} conversations copied from SQLite by migrate-catalog in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const pgEnv = { DATABASE_URL: url };
    const kinds = [
      { name: 'pg summary', kind: 'summary' as const, what: 'GET summary' },
      { name: 'pg search', kind: 'search' as const, what: `search "${SEARCH_KEYWORD}", first page of 20` },
      { name: 'pg stats', kind: 'stats' as const, what: 'stats of the whole archive' },
    ];
    const rows: Row[] = [];
    for (const k of kinds) {
      log(`${k.name}: ${k.what} over ${count(a.meta.files)} conversations, PostgreSQL then SQLite`);
      const task = (env: Record<string, string>) =>
        k.kind === 'search'
          ? runWorker({ kind: 'search', logsDir: a.dir, runs: opts.fastRuns, q: SEARCH_KEYWORD, env })
          : runWorker({ kind: k.kind, logsDir: a.dir, runs: opts.fastRuns, env });
      const onPg = await task(pgEnv);
      const onSqlite = await task({});
      const same = JSON.stringify(onPg.details) === JSON.stringify(onSqlite.details);
      const m = median(onPg.times);
      const base = median(onSqlite.times);
      log(`  PostgreSQL ${m.toFixed(1)} ms, SQLite ${base.toFixed(1)} ms${same ? '' : `; answers differ: ${JSON.stringify(onPg.details)} vs ${JSON.stringify(onSqlite.details)}`}`);
      rows.push({
        scenario: k.name,
        size: `${count(a.meta.files)} conversations`,
        median: m,
        baseline: base,
        baselineLabel: 'the same call on the SQLite catalog',
        peakRss: mb(onPg.maxRssKb),
        target: '≤ 3x SQLite and < 100 ms',
        checks: [
          { label: `${(m / base).toFixed(2)}x SQLite`, pass: m <= 3 * base },
          { label: `median ${m.toFixed(1)} ms`, pass: m < 100 },
          { label: 'same answer as SQLite', pass: same },
        ],
        note: `${k.what}; median of ${opts.fastRuns} calls in one process per catalog, after ${WARM_UP_CALLS} untimed calls`,
      });
    }
    return rows;
  } finally {
    await dropDatabase(pg, url).catch(() => undefined);
  }
}

/** One replica: the built service spawned on a free port, output in its log file. */
interface Replica {
  daemon: Daemon;
  port: number;
  base: string;
}

async function startReplica(services: BenchServices, opts: ReplicaBenchOptions, env: Record<string, string>, logDir: string): Promise<Replica> {
  const port = await freePort();
  const daemon = spawnDaemon(services.dir, process.execPath, [opts.service], path.join(logDir, `replica-${port}.log`), {
    cwd: opts.dataDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...BASE_ENV, ...env, PORT: String(port), HOST: '127.0.0.1' },
  });
  const replica = { daemon, port, base: `http://127.0.0.1:${port}` };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (daemon.exited()) throw new Error(`replica exited before answering: ${daemon.tail()}`);
    if ((await fetch(`${replica.base}/health`).then((r) => r.status, () => 0)) === 200) return replica;
    if (Date.now() > deadline) throw new Error(`replica did not answer /health within 120 s: ${daemon.tail()}`);
    await sleep(100);
  }
}

async function stopReplicas(replicas: Replica[]): Promise<void> {
  await killPids(replicas.map((r) => ({ pid: r.daemon.pid, name: r.daemon.name, signal: 'SIGTERM' as const })), 15_000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface JobView {
  id: string;
  trigger: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  replica?: string | null;
  sources: { result: { saved_count: number; errors?: { conversation_id: string; error: string }[] } | null; error?: string | null }[];
}

/** Polls `check` every `everyMs` until it gives a value; throws `what` after `limitMs`. */
async function poll<T>(what: string, check: () => Promise<T | undefined>, limitMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${limitMs / 1000} s`);
    await sleep(everyMs);
  }
}

/** A workspace in the simulator: `apps` conversational apps holding `conversations` each, all from the last half day. */
async function workspace(latencyMs: number, apps: number, conversations: number, seed: number): Promise<DifySimulator> {
  const sim = await startSimulator({ latencyMs, generate: false, seed, extraApps: apps * 2 });
  const conversational = ['chat', 'completion', 'advanced-chat', 'agent-chat'];
  const filled = sim.apps.filter((a) => a.name.startsWith('Workspace App') && conversational.includes(a.mode)).slice(0, apps);
  const base = Math.floor(Date.now() / 1000) - 43_200;
  for (const app of filled) {
    for (let i = 0; i < conversations; i++) sim.addConversation({ app_id: app.id, messages: 4, created_at: base + i * 10 });
  }
  return sim;
}

function workspaceEnv(sim: DifySimulator): Record<string, string> {
  return {
    DIFY_CONSOLE_API_URL: sim.consoleApiUrl,
    DIFY_ADMIN_API_KEY: sim.adminApiKey!,
    DIFY_WORKSPACE_ID: sim.workspaceId,
    DIFY_ORGANIZATION_ID: 'bench',
    DIFY_ALLOWED_HOSTS: '127.0.0.1',
    DIFY_CONCURRENCY: '4',
    WORKSPACE_APP_CONCURRENCY: '4',
    BACKFILL_FROM: '2d',
  };
}

/**
 * replica-backup: the whole workspace backed up (a catch-up, as a scheduled tick runs it) with one replica,
 * and with two replicas on one PostgreSQL and one LOGS_DIR each asked for it at the same moment (as two
 * triggers behind a load balancer would): the backup lock is per source, so one replica runs the workspace
 * and the other records its request as refused; the row measures what the second replica costs the run.
 */
export async function replicaBackupScenario(services: BenchServices, opts: ReplicaBenchOptions): Promise<Row> {
  const pg = await services.postgres();
  if (typeof pg === 'string') return skippedRow('replica backup', pg);
  requireService(opts);
  const shape = opts.quick ? { apps: 3, conversations: 10, latencyMs: 20 } : { apps: 12, conversations: 60, latencyMs: 50 };
  const expected = shape.apps * shape.conversations;
  log(`replica backup: ${shape.apps} apps x ${shape.conversations} conversations, ${shape.latencyMs} ms per request, one replica vs two on one PostgreSQL`);
  const sim = await workspace(shape.latencyMs, shape.apps, shape.conversations, 44);
  const one: number[] = [];
  const two: number[] = [];
  let refusals = '';
  try {
    for (let i = 0; i < opts.runs; i++) {
      for (const width of [1, 2]) {
        const url = await createDatabase(pg, 'bench_replicas');
        const logsDir = tmpDir(opts, 'replica-backup');
        const replicas: Replica[] = [];
        try {
          const env = { ...workspaceEnv(sim), DATABASE_URL: url, LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false' };
          for (let r = 0; r < width; r++) replicas.push(await startReplica(services, opts, env, logsDir));
          const t0 = Date.now();
          const answers = await Promise.all(
            replicas.map(async (r) => {
              const res = await fetch(`${r.base}/api/conversation-logs/scheduled?async=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
              return { status: res.status, body: (await res.json()) as { job_id?: string; message?: string } };
            }),
          );
          const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.job_id!);
          const refused = answers.filter((a) => a.status === 409);
          if (answers.length !== accepted.length + refused.length || !accepted.length) throw new Error(`unexpected answers to the backup request: ${JSON.stringify(answers)}`);
          const jobs = await poll(
            'the backup jobs to finish',
            async () => {
              const all = await Promise.all(accepted.map((id) => getJson<JobView>(`${replicas[0].base}/api/jobs/${id}`)));
              return all.every((j) => j.status !== 'running') ? all : undefined;
            },
            600_000,
            50,
          );
          const ran = jobs.filter((j) => j.status === 'succeeded');
          if (ran.length !== 1) {
            const why = jobs.map((j) => ({ status: j.status, replica: j.replica, errors: j.sources.flatMap((s) => [s.error, ...(s.result?.errors ?? []).slice(0, 5).map((e) => `${e.conversation_id}: ${e.error}`)]).filter(Boolean) }));
            throw new Error(`expected one job to back the workspace up, got ${JSON.stringify(why)}`);
          }
          const saved = ran[0].sources[0].result?.saved_count;
          if (saved !== expected) throw new Error(`the job saved ${String(saved)} conversations, expected ${expected}`);
          const took = Date.parse(ran[0].finished_at!) - t0;
          (width === 1 ? one : two).push(took);
          const others = jobs.filter((j) => j !== ran[0]).map((j) => j.status);
          if (width === 2) refusals = [`${refused.length} request refused with 409`, ...(others.length ? [`${others.length} job ${others.join(', ')}`] : [])].join(', ');
          log(`  run ${i + 1}, ${width} replica(s): ${took} ms${width === 2 ? ` (${refusals})` : ''}`);
        } finally {
          await stopReplicas(replicas);
          await dropDatabase(pg, url).catch(() => undefined);
          fs.rmSync(logsDir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await sim.close();
  }
  const m = median(two);
  const base = median(one);
  return {
    scenario: 'replica backup',
    size: `${shape.apps} apps x ${shape.conversations} conv, ${shape.latencyMs} ms latency, 2 replicas`,
    median: m,
    baseline: base,
    baselineLabel: 'one replica, same PostgreSQL set-up',
    peakRss: null,
    target: '≤ 1.2x one replica',
    checks: [{ label: `${(m / base).toFixed(2)}x one replica`, pass: m <= 1.2 * base }],
    note:
      'one workspace source configured on both replicas (same DATABASE_URL, same LOGS_DIR), both asked to back it up at once; ' +
      `the backup lock is per source, so one replica backs up every app and the other is refused (${refusals}); ` +
      `time from the requests to the job's end; ${opts.runs} run(s) of each, every run on a fresh database and LOGS_DIR`,
  };
}

/**
 * failover: two replicas with a backup tick every few seconds; the leader (the replica holding the
 * scheduler's advisory lock) is killed with SIGKILL and the time until another replica starts the next
 * scheduled backup is measured; a new replica then joins for the next run.
 */
export async function failoverScenario(services: BenchServices, opts: ReplicaBenchOptions): Promise<Row> {
  const pg = await services.postgres();
  if (typeof pg === 'string') return skippedRow('failover', pg);
  requireService(opts);
  const tickSeconds = 2;
  const timeoutSeconds = 4;
  const targetMs = (tickSeconds + timeoutSeconds) * 1000;
  log(`failover: 2 replicas, backup every ${tickSeconds} s, REPLICA_TIMEOUT_SECONDS=${timeoutSeconds}, leader killed ${opts.runs} time(s)`);
  const sim = await workspace(0, 2, 5, 45);
  const url = await createDatabase(pg, 'bench_failover');
  const logsDir = tmpDir(opts, 'failover');
  const replicas: Replica[] = [];
  const times: number[] = [];
  try {
    const env = {
      ...workspaceEnv(sim),
      DATABASE_URL: url,
      LOGS_DIR: logsDir,
      ENABLE_AUTO_LOGGING: 'true',
      BACKUP_CRON: `*/${tickSeconds} * * * * *`,
      REPLICA_TIMEOUT_SECONDS: String(timeoutSeconds),
    };
    replicas.push(await startReplica(services, opts, env, logsDir), await startReplica(services, opts, env, logsDir));
    for (let i = 0; i < opts.runs; i++) {
      const live = replicas.filter((r) => !r.daemon.exited());
      // a leader that has run a scheduled backup, and every live replica known to the others
      const leader = await poll(
        'a leader running the schedule',
        async () => {
          const view = await getJson<{ leader: string | null; replicas: { replica: string; pid: number }[] }>(`${live[0].base}/api/replicas`);
          if (!view.leader || view.replicas.length < live.length) return undefined;
          const jobs = await getJson<{ jobs: JobView[] }>(`${live[0].base}/api/jobs?trigger=scheduled`);
          if (!jobs.jobs.some((j) => j.replica === view.leader && j.status === 'succeeded')) return undefined;
          return view.replicas.find((r) => r.replica === view.leader);
        },
        120_000,
      );
      const victim = live.find((r) => r.daemon.pid === leader!.pid);
      if (!victim) throw new Error(`the leader ${leader!.replica} is not one of the bench's replicas`);
      const survivor = live.find((r) => r !== victim)!;
      const survivorId = leader!.replica.replace(/:\d+$/, `:${survivor.daemon.pid}`);
      process.kill(victim.daemon.pid, 'SIGKILL');
      const killedAt = Date.now();
      const next = await poll(
        'a scheduled backup on another replica',
        async () => {
          const jobs = await getJson<{ jobs: JobView[] }>(`${survivor.base}/api/jobs?trigger=scheduled`);
          return jobs.jobs.find((j) => j.replica === survivorId && Date.parse(j.started_at) >= killedAt);
        },
        targetMs * 10,
      );
      const took = Date.parse(next.started_at) - killedAt;
      times.push(took);
      log(`  run ${i + 1}: leader pid ${victim.daemon.pid} killed, the next scheduled backup started on pid ${survivor.daemon.pid} after ${took} ms`);
      await poll('the killed leader to exit', async () => (victim.daemon.exited() ? true : undefined), 10_000);
      if (i + 1 < opts.runs) replicas.push(await startReplica(services, opts, env, logsDir));
    }
  } finally {
    await stopReplicas(replicas);
    await dropDatabase(pg, url).catch(() => undefined);
    fs.rmSync(logsDir, { recursive: true, force: true });
    await sim.close();
  }
  const m = median(times);
  const worst = Math.max(...times);
  return {
    scenario: 'failover',
    size: `2 replicas, tick ${tickSeconds} s, REPLICA_TIMEOUT_SECONDS=${timeoutSeconds}`,
    median: m,
    baseline: targetMs,
    baselineLabel: 'one tick + the replica timeout',
    peakRss: null,
    target: `every run < ${tickSeconds} s + ${timeoutSeconds} s`,
    checks: [{ label: `slowest ${(worst / 1000).toFixed(2)} s`, pass: worst <= targetMs }],
    note:
      `the leader (holder of the scheduler's advisory lock) killed with SIGKILL while idle between ticks or in a short catch-up; time until the next scheduled ` +
      `backup started on the survivor (its job's started_at); ${times.length} run(s), a new replica joining before each next one; ` +
      'the replica timeout is how long a dead replica\'s jobs count as running (the lock the schedule may wait on)',
  };
}
