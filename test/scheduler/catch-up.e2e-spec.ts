import request from 'supertest';
import { ScheduledTasksService } from '../../src/scheduler/scheduled-tasks.service';
import { JobsService } from '../../src/backup/jobs.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { readArchive } from '../support/archive';
import { makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, DAY, nowSeconds, readCheckpoint, startApp, writeCheckpoint } from './scheduler-kit';

describe('Scheduled catch-up against the simulator', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp | undefined;

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await sim.close();
  });

  it('saves all three days after two missed runs, and nothing before the checkpoint', async () => {
    const now = nowSeconds();
    const checkpoint = new Date((now - 2 * DAY - 6 * 3600) * 1000).toISOString();
    const before = sim.addConversation({ app_id: app.id, created_at: now - 4 * DAY });
    const days = [now - 2 * DAY, now - DAY, now - 3600].map((at) => sim.addConversation({ app_id: app.id, created_at: at }));
    const logsDir = makeTempDir();
    writeCheckpoint(logsDir, app.id, 'acme', checkpoint);

    t = await startApp(consoleEnv(sim, app, { LOGS_DIR: logsDir }));
    await t.app.get(ScheduledTasksService).runBackup();

    const saved = readArchive(t.logsDir).map((f) => f.json.conversation_id).sort();
    expect(saved).toEqual(days.map((c) => c.id).sort());
    expect(saved).not.toContain(before.id);

    const [job] = t.app.get(JobsService).list();
    expect(job).toMatchObject({ trigger: 'scheduled', status: 'succeeded' });
    expect(job.sources[0]).toMatchObject({ checkpoint_before: checkpoint, progress: { saved: 3, failed: 0 } });
    expect(Date.parse(job.sources[0].window!.start!)).toBe(Date.parse(checkpoint) - 60_000);
    expect(readCheckpoint(t.logsDir, app.id)).toBe(job.sources[0].window!.end);
    expect(Date.parse(readCheckpoint(t.logsDir, app.id)!)).toBeGreaterThanOrEqual(now * 1000);

    const sources = await request(t.server).get('/api/sources').expect(200);
    expect(sources.body.sources[0]).toMatchObject({ app_id: app.id, checkpoint: job.sources[0].window!.end, last_outcome: 'succeeded', last_run_job_id: job.id });
  });

  it('does not move the checkpoint when a run fails half way, and the next run completes the window', async () => {
    const now = nowSeconds();
    // noon (UTC) two days ago and yesterday, whatever the time of day: a catch-up goes a day at a time, and a
    // first day with nothing in it would rightly move the checkpoint to its end
    const noon = Math.floor(now / DAY) * DAY - 2 * DAY + 12 * 3600;
    const checkpoint = new Date((noon - 3600) * 1000).toISOString();
    const convs = [noon, noon + 600, noon + DAY, noon + DAY + 600, now - 1200, now - 600].map((at) => sim.addConversation({ app_id: app.id, created_at: at }));
    const logsDir = makeTempDir();
    writeCheckpoint(logsDir, app.id, 'acme', checkpoint);
    sim.injectFault({ path: /\/chat-messages$/, after: 1, fault: { kind: 'status', status: 500 } });

    t = await startApp(consoleEnv(sim, app, { LOGS_DIR: logsDir, DIFY_CONCURRENCY: '1' }));
    const tasks = t.app.get(ScheduledTasksService);
    await tasks.runBackup();

    const jobs = t.app.get(JobsService);
    const [failed] = jobs.list();
    expect(failed.status).toBe('partial');
    expect(failed.sources[0]).toMatchObject({ status: 'partial', checkpoint_after: checkpoint, progress: { saved: 1, failed: 5 } });
    expect(readCheckpoint(t.logsDir, app.id)).toBe(checkpoint);
    expect(readArchive(t.logsDir)).toHaveLength(1);

    sim.clearFaults();
    await tasks.runBackup();
    const [second] = jobs.list();
    expect(second.id).not.toBe(failed.id);
    expect(second).toMatchObject({ status: 'succeeded', sources: [{ checkpoint_before: checkpoint, progress: { saved: 5, unchanged: 1, failed: 0 } }] });
    expect(readArchive(t.logsDir).map((f) => f.json.conversation_id).sort()).toEqual(convs.map((c) => c.id).sort());
    expect(readCheckpoint(t.logsDir, app.id)).toBe(second.sources[0].window!.end);
    expect(tasks.describe().find((x) => x.name === 'backup')).toBeUndefined();
  });

  it('a first catch-up of an empty archive counts each conversation once, even one active on several days: 0 unchanged, saved = files', async () => {
    const now = nowSeconds();
    // listed by the day it began, the day it went on and the day it ended
    const spanning = sim.addConversation({ app_id: app.id, created_at: now - 3 * DAY, message_created_at: [now - 3 * DAY, now - 2 * DAY, now - 3600] });
    const single = [now - 2 * DAY, now - 3600].map((at) => sim.addConversation({ app_id: app.id, created_at: at }));
    t = await startApp(consoleEnv(sim, app, { BACKFILL_FROM: '5d' }));
    await t.app.get(ScheduledTasksService).runBackup();

    const files = readArchive(t.logsDir);
    expect(files.map((f) => f.json.conversation_id).sort()).toEqual([spanning, ...single].map((c) => c.id).sort());
    expect(files.find((f) => f.json.conversation_id === spanning.id)!.json.messages).toHaveLength(3);
    const [job] = t.app.get(JobsService).list();
    expect(job.sources[0].progress).toEqual({ seen: 3, saved: 3, unchanged: 0, failed: 0 });
    expect(job.sources[0].result).toMatchObject({ total_conversations: 3, saved_count: files.length, unchanged_count: 0 });
    expect(job.message).toMatch(/3 conversations seen, 3 saved, 0 unchanged, 0 failed$/);
  });

  it('runs the first catch-up from BACKFILL_FROM and the retention handler directly', async () => {
    const now = nowSeconds();
    sim.addConversation({ app_id: app.id, created_at: now - 5 * DAY });
    const recent = sim.addConversation({ app_id: app.id, created_at: now - 2 * DAY });
    t = await startApp(consoleEnv(sim, app, { BACKFILL_FROM: '3d', ENABLE_AUTO_LOGGING: 'true', LOG_RETENTION_DAYS: '1' }));
    const tasks = t.app.get(ScheduledTasksService);
    await tasks.runBackup();
    expect(readArchive(t.logsDir).map((f) => f.json.conversation_id)).toEqual([recent.id]);

    await tasks.runRetention();
    expect(readArchive(t.logsDir)).toEqual([]);
    const info = tasks.describe();
    expect(info.find((x) => x.name === 'backup')).toMatchObject({ running: false, last_outcome: expect.stringMatching(/succeeded$/) });
    expect(info.find((x) => x.name === 'retention')).toMatchObject({ last_outcome: expect.stringMatching(/^deleted 1 files/) });
  });
});
