import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { JobsService } from '../../src/backup/jobs.service';
import { ScheduledTasksService } from '../../src/scheduler/scheduled-tasks.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { readArchive } from '../support/archive';
import { makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, DAY, listen, nowSeconds, readCheckpoint, readSse, startApp } from './scheduler-kit';

describe('Backup jobs over HTTP', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp | undefined;

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    const now = nowSeconds();
    for (let i = 0; i < 6; i++) sim.addConversation({ app_id: app.id, created_at: now - DAY + i * 600 });
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await sim.close();
  });

  it('POST /api/conversation-logs/scheduled answers each app and records a job', async () => {
    t = await startApp(consoleEnv(sim, app, { BACKFILL_FROM: '2d' }));
    const res = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    expect(res.body).toMatchObject({ success: true, status: 'succeeded', results: [{ app_id: app.id, organization_id: 'acme', status: 'succeeded', success: true }] });
    expect(res.body.results[0].result).toMatchObject({ success: true, saved_count: 6, total_conversations: 6 });

    const jobs = await request(t.server).get('/api/jobs').expect(200);
    expect(jobs.body.total).toBe(1);
    expect(jobs.body.jobs[0]).toMatchObject({ id: res.body.job_id, trigger: 'api-scheduled', status: 'succeeded' });
    const one = await request(t.server).get(`/api/jobs/${res.body.job_id}`).expect(200);
    expect(one.body.sources[0].progress).toEqual({ seen: 6, saved: 6, unchanged: 0, failed: 0 });
    const missing = await request(t.server).get('/api/jobs/no-such-job').expect(404);
    expect(missing.body.message).toBe('no job has id no-such-job');

    // an explicit window never moves the checkpoint
    const checkpoint = readCheckpoint(t.logsDir, app.id);
    const windowed = await request(t.server)
      .post('/api/conversation-logs/scheduled')
      .send({ apps: [{ app_id: app.id }], filters: { start_date: new Date(Date.now() - 3 * DAY * 1000).toISOString() } })
      .expect(200);
    expect(windowed.body.results[0].result).toMatchObject({ unchanged_count: 6 });
    expect(readCheckpoint(t.logsDir, app.id)).toBe(checkpoint);

    const bad = await request(t.server).post('/api/conversation-logs/scheduled').send({ apps: [{ app_id: 'unknown-bot' }] }).expect(400);
    expect(bad.body.field).toBe('app_id');
  });

  it('gives overlapping triggers one run', async () => {
    t = await startApp(consoleEnv(sim, app, { BACKFILL_FROM: '2d' }));
    sim.setLatency(20);
    const accepted = await request(t.server).post('/api/conversation-logs/scheduled?async=true').expect(202);
    expect(accepted.body).toMatchObject({ status: 'running', events_url: `/api/jobs/${accepted.body.job_id}/events` });
    const [second] = await Promise.all([
      request(t.server).post('/api/conversation-logs/scheduled').expect(200),
      t.app.get(ScheduledTasksService).runBackup(),
    ]);
    expect(second.body.job_id).toBe(accepted.body.job_id);
    const jobs = await request(t.server).get('/api/jobs').expect(200);
    expect(jobs.body.total).toBe(1);
    const listings = sim.requests.filter((r) => r.path.endsWith('/chat-conversations'));
    const messageFetches = sim.requests.filter((r) => r.path.endsWith('/chat-messages'));
    expect(messageFetches).toHaveLength(6);
    expect(listings.length).toBeGreaterThan(0);
    expect(t.app.get(ScheduledTasksService).describe()).toEqual([]);
  });

  it('streams progress over server-sent events in order, then done', async () => {
    t = await startApp(consoleEnv(sim, app, { BACKFILL_FROM: '2d', DIFY_CONCURRENCY: '1' }));
    const base = await listen(t);
    sim.setLatency(40);
    const accepted = await request(t.server).post('/api/conversation-logs/scheduled?async=true').expect(202);
    const stream = await readSse(`${base}/api/jobs/${accepted.body.job_id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toContain('text/event-stream');
    const types = stream.events.map((e) => e.event);
    expect(types.at(-1)).toBe('done');
    expect(types.filter((x) => x === 'done')).toHaveLength(1);
    const progress = stream.events.filter((e) => e.event === 'progress').map((e) => e.data);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const seqs = stream.events.map((e) => Number(e.id));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const seen = progress.map((p) => p.progress.seen);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.at(-1)).toBe(6);
    expect(stream.events.at(-1)!.data.job).toMatchObject({ id: accepted.body.job_id, status: 'succeeded' });

    // a finished job answers its final state at once
    const again = await readSse(`${base}/api/jobs/${accepted.body.job_id}/events`);
    expect(again.events.map((e) => e.event)).toEqual(['done']);
    const missing = await request(t.server).get('/api/jobs/nope/events').expect(404);
    expect(missing.body.message).toBe('no job has id nope');
  });

  it('keeps the job history across a restart and records a job cut by shutdown as interrupted', async () => {
    const logsDir = makeTempDir();
    const env = consoleEnv(sim, app, { LOGS_DIR: logsDir, BACKFILL_FROM: '2d', DIFY_CONCURRENCY: '1' });
    t = await startApp(env);
    const first = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    const checkpoint = readCheckpoint(logsDir, app.id);
    const now = nowSeconds();
    for (let i = 0; i < 4; i++) sim.addConversation({ app_id: app.id, created_at: now - 60 + i });

    sim.setLatency(100);
    const jobs = t.app.get(JobsService);
    const running = await jobs.startBackup({ sources: [{ ...t.config.sources[0] }], trigger: 'cli' });
    await firstValueFrom(jobs.events(running.id).pipe(filter((e) => e.type === 'progress' && e.progress.seen >= 1)));
    await t.app.close();
    t = undefined;
    sim.setLatency(0);

    t = await startApp(env);
    const list = await request(t.server).get('/api/jobs').expect(200);
    expect(list.body.jobs.map((j: { id: string }) => j.id)).toEqual([running.id, first.body.job_id]);
    const cut = list.body.jobs[0];
    expect(cut).toMatchObject({ status: 'interrupted', trigger: 'cli', sources: [{ status: 'interrupted', checkpoint_before: checkpoint }] });
    expect(cut.sources[0].current_window).not.toBeNull();
    expect(cut.sources[0].progress.seen).toBeLessThan(4);
    expect(readCheckpoint(logsDir, app.id)).toBe(checkpoint);
    const files = fs.readdirSync(logsDir, { recursive: true }) as string[];
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // the next run resumes from the checkpoint and completes
    const resumed = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    expect(resumed.body.status).toBe('succeeded');
    expect(readArchive(logsDir)).toHaveLength(10);
    expect(JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'jobs.json'), 'utf8')).jobs).toHaveLength(3);
    await t.close();
    t = undefined;
    fs.rmSync(logsDir, { recursive: true, force: true });
  });
});
