import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { runCli } from '../../src/cli';
import { loadAppConfig } from '../../src/config/app-config';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { chatApp, seedConversations, sourceEnv } from './hardening-kit';
import { waitFor } from './process';

jest.setTimeout(60_000);

describe('Hardening: a CLI backup and a server on one LOGS_DIR', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let logsDir: string;
  let env: Record<string, string>;
  let t: TestApp;

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 40);
    logsDir = makeTempDir();
    env = { ...sourceEnv(sim, app), BACKFILL_FROM: '2d', LOGS_DIR: logsDir };
    t = await createTestApp(env);
  });
  afterEach(async () => {
    await t.close();
    await sim.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const cli = async (argv: string[]) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const config = loadAppConfig({ NODE_ENV: 'test', ENABLE_AUTO_LOGGING: 'false', ...env });
    const code = await runCli(argv, { line: (l) => lines.push(l), error: (e) => errors.push(e) }, () =>
      NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false }),
    );
    return { code, lines, errors };
  };
  const storedJobs = () => JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'jobs.json'), 'utf8')).jobs as { id: string; status: string; trigger: string }[];
  const lockPath = () => path.join(logsDir, 'state', 'backup.lock');

  it('refuses a CLI backup with exit code 3 while the server backs up, and leaves the server job alone', async () => {
    const lockFile = lockPath();
    sim.setLatency(25);
    const started = await request(t.server).post('/api/conversation-logs?async=true').send({ app_id: app.id });
    await waitFor(() => fs.existsSync(lockFile), 'the server to take the backup lock');
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid, owner: 'server', hostname: os.hostname() });

    const refused = await cli(['backup']);
    expect(refused.code).toBe(3);
    expect(refused.errors[0]).toMatch(/^refused: another server \(pid \d+ on .+\) holds the backup lock of this archive \(.+backup\.lock\)/);
    // starting the CLI did not mark the server's running job interrupted
    expect(storedJobs().find((j) => j.id === started.body.job_id)?.status).toBe('running');

    sim.setLatency(0);
    await waitFor(() => storedJobs().find((j) => j.id === started.body.job_id)?.status !== 'running', 'the server job to finish');
    expect(storedJobs().find((j) => j.id === started.body.job_id)?.status).toBe('succeeded');
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('answers 409 on the server while a CLI (another live process) holds the lock; a dead holder is stale', async () => {
    const lockFile = lockPath();
    fs.mkdirSync(path.dirname(lockFile), { recursive: true });
    const since = new Date().toISOString();
    fs.writeFileSync(lockFile, JSON.stringify({ pid: process.ppid, hostname: os.hostname(), instance: 'other', owner: 'cli', since }));
    const refused = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/another CLI backup \(pid \d+ .*\) holds the backup lock/);
    expect(fs.readdirSync(logsDir)).not.toContain('conversations');

    fs.writeFileSync(lockFile, JSON.stringify({ pid: 2 ** 22 + 17, hostname: os.hostname(), instance: 'dead', owner: 'cli', since }));
    const ok = await cli(['backup']);
    expect(ok.errors).toEqual([]);
    expect(ok.code).toBe(0);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('keeps the jobs and checkpoints of both processes: writes merge instead of overwriting', async () => {
    const serverFirst = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(serverFirst.body.success).toBe(true);
    const byCli = await cli(['backup']);
    expect(byCli.code).toBe(0);
    const cliJob = storedJobs().find((j) => j.trigger === 'cli')!;
    const checkpoint = JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'checkpoints.json'), 'utf8')).sources[0].checkpoint;
    expect(checkpoint).not.toBeNull();

    // the server still holds its old in-memory copies; its next writes must not drop what the CLI wrote
    const serverSecond = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(serverSecond.body.success).toBe(true);
    const jobs = storedJobs();
    expect(jobs.map((j) => j.trigger).sort()).toEqual(['api', 'api', 'cli']);
    expect(jobs.find((j) => j.id === cliJob.id)?.status).toBe('succeeded');
    const after = JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'checkpoints.json'), 'utf8')).sources[0];
    expect(after.checkpoint).toBe(checkpoint);
    const listed = await request(t.server).get('/api/jobs');
    expect(JSON.stringify(listed.body)).toContain(cliJob.id);
  });
});
