import * as fs from 'node:fs';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { makeTempDir } from '../support/test-app';
import { chatApp, expectCompleteArchive, inspectArchive, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, runCliProcess, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(180_000);

const COUNT = 300;

interface StoredJob {
  id: string;
  status: string;
  message: string;
  resume?: { reason: string; interrupted_at: string; sources: { app_id: string; from: string | null; to: string | null }[] } | null;
  resumed_by?: string | null;
  resumes?: string | null;
}

function storedJobs(logsDir: string): StoredJob[] {
  return (JSON.parse(fs.readFileSync(`${logsDir}/state/jobs.json`, 'utf8')) as { jobs: StoredJob[] }).jobs;
}

describe('Hardening: shutdown by signal in the middle of a backup drains, records a resume point and resumes (real processes)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let build: ReturnType<typeof buildService>;
  const dirs: string[] = [];
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    build = buildService();
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, COUNT, 2);
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await sim?.close();
    build?.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const envFor = (logsDir: string, autoLogging: boolean) => ({
    ...sourceEnv(sim, app, 'console-admin', { DIFY_TIMEOUT_MS: '5000' }),
    LOGS_DIR: logsDir,
    ENABLE_AUTO_LOGGING: String(autoLogging),
    NODE_ENV: 'production',
  });
  const start = async (env: Record<string, string>) => {
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const api = async (p: ServiceProcess, route: string, init?: RequestInit) => {
    const res = await fetch(`${p.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** Starts a slow backup, stops the process with `signal` part way, and checks what the drain left behind. */
  async function interruptWith(signal: 'SIGTERM' | 'SIGINT', env: Record<string, string>, route: string, body: object) {
    const logsDir = env.LOGS_DIR;
    const first = await start(env);
    sim.setLatency(15);
    const started = await api(first, route, { method: 'POST', body: JSON.stringify(body) });
    expect(started.status).toBe(202);
    await waitFor(() => inspectArchive(logsDir).files.size >= COUNT / 4, 'a quarter of the conversations on disk', 60_000);
    first.child.kill(signal);
    expect([0, signal]).toContain(await first.exited);
    sim.setLatency(0);
    const log = first.output.join('');
    expect(log).toContain('Stopping 1 running job for shutdown');
    expect(log).not.toContain('catalog is not open');

    const archive = inspectArchive(logsDir);
    expect(archive.broken).toEqual([]);
    expect(archive.temps).toEqual([]);
    expect(archive.files.size).toBeLessThan(COUNT);
    // every file the drained run wrote is in the catalog: verify re-hashes the files against it
    const verify = await runCliProcess(build.dir, ['verify'], env);
    expect(verify.stdout).toContain(`checked ${archive.files.size}: missing 0, changed 0, unindexed 0, corrupt 0`);
    expect(verify.code).toBe(0);

    const job = storedJobs(logsDir).find((j) => j.id === started.body.job_id)!;
    expect(job).toMatchObject({ status: 'interrupted', resume: { reason: 'shutdown', sources: [{ app_id: app.id }] } });
    expect(job.resumed_by ?? null).toBeNull();
    return { job, saved: archive.files.size };
  }

  it('SIGTERM during a window backup: the next start-up resumes the job by itself and completes the window', async () => {
    const logsDir = makeTempDir();
    dirs.push(logsDir);
    const env = envFor(logsDir, true);
    const { job, saved } = await interruptWith('SIGTERM', env, '/api/conversation-logs?async=true', { app_id: app.id });
    expect(job.message).toContain('stopped by shutdown, it resumes at the next start-up');
    expect(job.resume!.sources[0]).toMatchObject({ from: null, to: null });

    const second = await start(env);
    await waitFor(() => second.output.join('').includes(`Resuming job ${job.id}`), 'the start-up to resume the job');
    let resumed: StoredJob | undefined;
    await waitFor(async () => {
      resumed = (await api(second, '/api/jobs')).body.jobs.find((j: StoredJob) => j.resumes === job.id);
      return !!resumed && resumed.status !== 'running';
    }, 'the resumed job to finish', 90_000);
    expect(resumed).toMatchObject({ status: 'succeeded', resumes: job.id, window: { start: null, end: null } });
    expect((await api(second, `/api/jobs/${job.id}`)).body).toMatchObject({ status: 'interrupted', resumed_by: resumed!.id });
    const result = (await api(second, `/api/jobs/${resumed!.id}`)).body.sources[0].result;
    expect(result).toMatchObject({ created_count: COUNT - saved, unchanged_count: saved, failed_count: 0 });

    const summary = await api(second, '/api/conversation-logs?action=summary');
    expect(summary.body.total_files).toBe(COUNT);
    const verify = await api(second, '/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ checked: COUNT, missing: [], changed: [], unindexed: [], corrupt: [] });
    second.child.kill('SIGTERM');
    await second.exited;
    // looked at once the server has stopped: a live server may be writing its job history (a temp file) at any moment
    expectCompleteArchive(logsDir, sim, app);
  });

  it('SIGINT during a catch-up with automatic backups off: the job waits, and POST /api/jobs/{id}/resume completes it', async () => {
    const logsDir = makeTempDir();
    dirs.push(logsDir);
    const env = envFor(logsDir, false);
    const { job, saved } = await interruptWith('SIGINT', env, '/api/conversation-logs/scheduled?async=true', {});
    expect(job.message).toContain(`it waits for a resume (POST /api/jobs/${job.id}/resume or the admin page)`);

    const second = await start(env);
    await waitFor(() => second.output.join('').includes(`Job ${job.id} was interrupted by shutdown`), 'the start-up line saying the job waits');
    const listed = await api(second, `/api/jobs/${job.id}`);
    expect(listed.body).toMatchObject({ status: 'interrupted', resume: { reason: 'shutdown' } });
    const page = await fetch(`${second.url}/admin`).then((r) => r.text());
    expect(page).toContain(`action="/admin/jobs/${job.id}/resume"`);

    const accepted = await api(second, `/api/jobs/${job.id}/resume`, { method: 'POST' });
    expect(accepted.status).toBe(202);
    expect(Object.keys(accepted.body).sort()).toEqual(['events_url', 'job_id', 'status', 'status_url']);
    expect(accepted.body).toMatchObject({ status: 'running', status_url: `/api/jobs/${accepted.body.job_id}`, events_url: `/api/jobs/${accepted.body.job_id}/events` });
    await waitFor(async () => (await api(second, `/api/jobs/${accepted.body.job_id}`)).body.status !== 'running', 'the resumed job to finish', 90_000);
    const resumed = (await api(second, `/api/jobs/${accepted.body.job_id}`)).body;
    expect(resumed).toMatchObject({ status: 'succeeded', resumes: job.id, window: null });
    expect(resumed.sources[0].progress.saved).toBe(COUNT - saved);

    const again = await api(second, `/api/jobs/${job.id}/resume`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe(`job ${job.id} was already resumed by job ${accepted.body.job_id}`);
    const verify = await api(second, '/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ checked: COUNT, unindexed: [], missing: [] });
    second.child.kill('SIGINT');
    await second.exited;
    expectCompleteArchive(logsDir, sim, app);
  });
});
