import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { makeTempDir } from '../support/test-app';
import { chatApp, expectCompleteArchive, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(180_000);

const COUNT = 200;

describe('Hardening: two servers on one LOGS_DIR (real processes)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let build: ReturnType<typeof buildService>;
  let logsDir: string;
  let hook: http.Server;
  const alerts: string[] = [];
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    build = buildService();
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, COUNT, 2);
    logsDir = makeTempDir();
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        alerts.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await sim?.close();
    await new Promise((r) => hook?.close(r));
    build?.cleanup();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const start = async () => {
    const env = {
      ...sourceEnv(sim, app, 'console-admin', { DIFY_TIMEOUT_MS: '5000' }),
      LOGS_DIR: logsDir,
      ENABLE_AUTO_LOGGING: 'false',
      NODE_ENV: 'production',
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    };
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const api = async (p: ServiceProcess, route: string, init?: RequestInit) => {
    const res = await fetch(`${p.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const jobIds = async (p: ServiceProcess) => new Map<string, string>((await api(p, '/api/jobs')).body.jobs.map((j: { id: string; status: string }) => [j.id, j.status]));

  it('the second server names the first at start-up; its backup during the first one is 409 and skipped, no alert; each lists the other jobs', async () => {
    const a = await start();
    const b = await start();
    await waitFor(
      () => b.output.join('').includes(`Another server uses ${logsDir}: pid ${a.child.pid} on `),
      'the second server to warn about the first',
    );
    expect(b.output.join('')).toContain(`(${a.url}, since `);

    sim.setLatency(20);
    const first = await api(a, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(first.status).toBe(202);
    await waitFor(() => fs.existsSync(`${logsDir}/state/backup.lock`), 'the first server to hold the backup lock');

    const refused = await api(b, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(new RegExp(`^another server \\(pid ${a.child.pid} on .+\\) holds the backup lock of this archive`));
    const refusedSync = await api(b, '/api/conversation-logs/scheduled', { method: 'POST', body: '{}' });
    expect(refusedSync.status).toBe(409);

    // B sees A's running job; A sees B's skipped jobs, each re-reading the shared history
    expect((await jobIds(b)).get(first.body.job_id)).toBe('running');
    let skipped: { id: string; status: string; message: string }[] = [];
    await waitFor(async () => {
      skipped = (await api(a, '/api/jobs?status=skipped')).body.jobs;
      return skipped.length === 2;
    }, 'the first server to list the second one\'s skipped jobs');
    for (const job of skipped) expect(job.message).toMatch(/^Skipped: another server \(pid \d+ on .+\) holds the backup lock/);
    expect((await api(b, '/api/jobs?status=failed')).body.total).toBe(0);

    await waitFor(async () => (await jobIds(b)).get(first.body.job_id) === 'succeeded', 'the second server to see the first one\'s job succeed', 90_000);
    sim.setLatency(0);
    expectCompleteArchive(logsDir, sim, app);
    const stored = JSON.parse(fs.readFileSync(`${logsDir}/state/jobs.json`, 'utf8')).jobs as { id: string; status: string }[];
    expect(stored.filter((j) => j.status === 'skipped')).toHaveLength(2);
    // the sources' last outcome is the first server's success, not the skip
    const sources = (await api(b, '/api/sources')).body;
    expect(JSON.stringify(sources)).toContain('"last_outcome":"succeeded"');

    // the lock is free again: the second server backs up
    const now = await api(b, '/api/conversation-logs', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(now.body).toMatchObject({ success: true, unchanged_count: COUNT });
    expect(alerts).toEqual([]);

    for (const p of [a, b]) p.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    expect(fs.readdirSync(`${logsDir}/state`).filter((f) => f.startsWith('server-'))).toEqual([]);
  });
});
