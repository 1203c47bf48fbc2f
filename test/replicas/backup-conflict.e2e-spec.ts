/**
 * A second run of a source that another instance is backing up answers 409 with the running job's id,
 * whichever route asks (one app, the seed's "scheduled" set, synchronous or not), with the archive's
 * file lock (one LOGS_DIR) and with PostgreSQL's per-source locks (one DATABASE_URL).
 */
import * as fs from 'node:fs';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createDatabase, dropDatabase } from '../support/postgres';
import { makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, startApp } from '../scheduler/scheduler-kit';

jest.setTimeout(180_000);

describe.each([
  ['the archive file lock (one LOGS_DIR)', 'file'],
  ['PostgreSQL source locks (one DATABASE_URL)', 'postgres'],
] as const)('a backup refused because another instance runs it, with %s', (_title, mode) => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let url: string | undefined;
  let logsDir: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    app = chatApp(sim);
    logsDir = makeTempDir();
    if (mode === 'postgres') url = await createDatabase('backup_conflict');
    const env = {
      ...consoleEnv(sim, app, { BACKFILL_FROM: '30d', DIFY_CONCURRENCY: '1' }),
      LOGS_DIR: logsDir,
      ENABLE_AUTO_LOGGING: 'false',
      ...(url ? { DATABASE_URL: url } : {}),
    };
    a = await startApp(env);
    b = await startApp(env);
  });
  afterAll(async () => {
    sim?.setLatency(0);
    await b?.close();
    await a?.close();
    await sim?.close();
    if (url) await dropDatabase(url);
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  it('answers 409 with job_id on every backup route, and records each refusal as a skipped job', async () => {
    sim.setLatency(40);
    const accepted = await request(a.server).post('/api/conversation-logs/scheduled?async=true').send({}).expect(202);
    const jobId: string = accepted.body.job_id;

    const sync = await request(b.server).post('/api/conversation-logs/scheduled').send({});
    const asyncScheduled = await request(b.server).post('/api/conversation-logs/scheduled?async=true').send({});
    const one = await request(b.server).post('/api/conversation-logs').send({ app_id: app.id });
    const oneAsync = await request(b.server).post('/api/conversation-logs?async=true').send({ app_id: app.id });
    for (const refused of [sync, asyncScheduled, one, oneAsync]) {
      expect({ status: refused.status, job_id: refused.body.job_id }).toEqual({ status: 409, job_id: jobId });
      expect(refused.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
    }
    expect(sync.body.message).toBe(one.body.message);
    expect(sync.body.message).toMatch(
      mode === 'file'
        ? /^another server \(pid \d+ on .+\) holds the backup lock of this archive \(.+backup\.lock\); try again when it has finished$/
        : new RegExp(`^job ${jobId} \\(a server, pid ${process.pid} on .+\\) is backing up source acme/${app.id}; try again when it has finished$`),
    );

    sim.setLatency(0);
    // the other instance sees the job end once its history is written
    let status = 'running';
    for (const until = Date.now() + 90_000; status === 'running' && Date.now() < until; ) {
      status = (await request(b.server).get(`/api/jobs/${jobId}`).expect(200)).body.status;
      if (status === 'running') await new Promise((r) => setTimeout(r, 50));
    }
    const jobs = (await request(b.server).get('/api/jobs').expect(200)).body.jobs as { id: string; status: string }[];
    expect(jobs.filter((j) => j.status === 'skipped')).toHaveLength(4);
    expect(jobs.find((j) => j.id === jobId)).toMatchObject({ status: 'succeeded' });

    // the lock is free again: the synchronous run goes ahead
    const after = await request(b.server).post('/api/conversation-logs/scheduled').send({}).expect(200);
    expect(after.body).toMatchObject({ success: true, status: 'succeeded' });
  });
});
