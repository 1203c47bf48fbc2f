/** Two instances of the service on one PostgreSQL and one LOGS_DIR: the state they share over HTTP. */
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { REPLICA_ID } from '../../src/backup/replicas';
import { createDatabase, dropDatabase } from '../support/postgres';
import { makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, listen, readSse, startApp } from '../scheduler/scheduler-kit';

jest.setTimeout(180_000);

describe('two instances sharing DATABASE_URL', () => {
  let sim: DifySimulator;
  let url: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5 });
    url = await createDatabase('shared_state');
    const env = { ...consoleEnv(sim, chatApp(sim), { BACKFILL_FROM: '2d', DIFY_CONCURRENCY: '1' }), DATABASE_URL: url, LOGS_DIR: makeTempDir(), ENABLE_AUTO_LOGGING: 'false' };
    a = await startApp(env);
    b = await startApp(env);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await sim?.close();
    if (url) await dropDatabase(url);
  });

  it('refuses a second run of a running source with its job id, streams it on the other instance, and shows one history', async () => {
    sim.setLatency(40);
    const accepted = await request(a.server).post('/api/conversation-logs/scheduled?async=true').expect(202);
    const jobId: string = accepted.body.job_id;

    const refused = await request(b.server).post('/api/conversation-logs/scheduled?async=true').expect(409);
    expect(refused.body).toMatchObject({ statusCode: 409, job_id: jobId });
    expect(refused.body.message).toMatch(new RegExp(`^job ${jobId} \\(a server, pid ${process.pid} on .+\\) is backing up source acme/`));

    // b does not run the job: its stream comes through the database
    const stream = await readSse(`${await listen(b)}/api/jobs/${jobId}/events`);
    sim.setLatency(0);
    const types = stream.events.map((e) => e.event);
    expect(types.filter((t) => t === 'progress').length).toBeGreaterThanOrEqual(2);
    expect(types.at(-1)).toBe('done');
    expect(stream.events.at(-1)!.data.job).toMatchObject({ id: jobId, status: 'succeeded', replica: REPLICA_ID });

    const [fromA, fromB] = await Promise.all([request(a.server).get('/api/jobs').expect(200), request(b.server).get('/api/jobs').expect(200)]);
    expect(fromB.body).toEqual(fromA.body);
    expect(fromA.body.jobs.map((j: { id: string; status: string }) => [j.id, j.status])).toEqual([
      [expect.any(String), 'skipped'],
      [jobId, 'succeeded'],
    ]);

    const replicas = await request(b.server).get('/api/replicas').expect(200);
    expect(replicas.body).toEqual({ leader: null, replicas: [expect.objectContaining({ replica: REPLICA_ID, pid: process.pid, leader: false, self: true })] });
    const ready = await request(b.server).get('/health/ready').expect(200);
    expect(ready.body.info.database).toEqual({ status: 'up' });
  });
});
