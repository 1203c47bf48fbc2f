import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { makeTempDir } from '../support/test-app';
import { chatApp, expectCompleteArchive, inspectArchive, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, runCliProcess, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(120_000);

const COUNT = 400;

/** The folder of some archived file, relative to LOGS_DIR. */
function someDayFolder(logsDir: string): string {
  const file = fs.readdirSync(path.join(logsDir, 'conversations'), { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
  return path.relative(logsDir, file.parentPath);
}

describe('Hardening: the service killed with SIGKILL in the middle of a large backup (real processes)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let build: ReturnType<typeof buildService>;
  let logsDir: string;
  let env: Record<string, string>;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    build = buildService();
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, COUNT, 3);
    logsDir = makeTempDir();
    env = { ...sourceEnv(sim, app, 'console-admin', { DIFY_TIMEOUT_MS: '5000' }), LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production' };
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await sim?.close();
    build?.cleanup();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const start = async () => {
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const api = async (p: ServiceProcess, route: string, init?: RequestInit) => {
    const res = await fetch(`${p.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('leaves only complete JSON files, a restart cleans up and the catalog agrees, the next run completes the window', async () => {
    const first = await start();
    sim.setLatency(15);
    const started = await api(first, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(started.status).toBe(202);
    await waitFor(() => inspectArchive(logsDir).files.size >= COUNT / 4, 'a quarter of the conversations on disk');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const afterKill = inspectArchive(logsDir);
    expect(afterKill.broken).toEqual([]);
    expect(afterKill.files.size).toBeLessThan(COUNT);
    expect([...afterKill.files.values()].every((n) => n === 1)).toBe(true);
    for (const [id, n] of afterKill.messages) expect(n).toBe(sim.messages(id).length);
    console.log(`SIGKILL after ${afterKill.files.size} of ${COUNT} conversations; ${afterKill.temps.length} temp files left by the killed process`);

    // whatever the kill left half written, plus one planted for certain: a temp file of the dead pid
    const day = someDayFolder(logsDir);
    fs.writeFileSync(`${logsDir}/${day}/conversation_x_2020-01-01T00-00-00-000Z.json.${first.child.pid}.0badc0de.tmp`, '{"conversation_id":');
    sim.setLatency(0);
    const second = await start();
    // what the killed process left goes soon after start-up; a temp file of the live server (its start-up writes) is its own
    await waitFor(
      () => inspectArchive(logsDir).temps.filter((t) => !t.includes(`.${second.child.pid}.`)).length === 0,
      'the temp files of the killed process removed',
    );
    const verify = await api(second, '/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });
    expect(verify.body.checked).toBe(afterKill.files.size);
    const jobs = await api(second, '/api/jobs');
    const killed = (jobs.body.jobs ?? jobs.body).find((j: { id: string }) => j.id === started.body.job_id);
    expect(killed).toMatchObject({ status: 'interrupted' });

    const again = await api(second, '/api/conversation-logs', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(again.body).toMatchObject({ success: true, failed_count: 0, created_count: COUNT - afterKill.files.size });
    expectCompleteArchive(logsDir, sim, app);
    const summary = await api(second, '/api/conversation-logs?action=summary');
    expect(summary.body.total_files).toBe(COUNT);

    // the running server holds the backup lock: a CLI backup on the same archive refuses, a CLI verify works
    sim.setLatency(20);
    const slow = await api(second, '/api/conversation-logs?async=true', {
      method: 'POST',
      body: JSON.stringify({ app_id: app.id, filters: { start_date: new Date(Date.now() - 86_400_000).toISOString() } }),
    });
    expect(slow.status).toBe(202);
    const refused = await runCliProcess(build.dir, ['backup'], env);
    expect(refused.stderr).toMatch(/backup lock/);
    expect(refused.code).toBe(3);
    await waitFor(async () => (await api(second, `/api/jobs/${slow.body.job_id}`)).body.status !== 'running', 'the server job to end', 60_000);
    // the history file is written just after the job ends in memory: wait for that write, then check it
    const recorded = () =>
      (JSON.parse(fs.readFileSync(`${logsDir}/state/jobs.json`, 'utf8')).jobs as { id: string; status: string }[]).find((j) => j.id === slow.body.job_id);
    await waitFor(async () => recorded()?.status !== 'running', 'the job history file to record the end', 60_000);
    expect(recorded()).toMatchObject({ status: 'succeeded' });
    sim.setLatency(0);

    second.child.kill('SIGTERM');
    expect([0, 'SIGTERM']).toContain(await second.exited);
    const cli = await runCliProcess(build.dir, ['backup'], env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const verifyCli = await runCliProcess(build.dir, ['verify'], env);
    expect(verifyCli.code).toBe(0);
  });
});
