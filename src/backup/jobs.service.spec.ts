import { ConsoleLogger, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { DifyAuthError, DifyUnavailableError } from '../dify/dify.errors';
import type { DifySource } from '../dify/dify.types';
import { BackupLockedError } from './backup-lock';
import { archiveStopError } from './backup-result';
import { JobsService, MAX_JOBS } from './jobs.service';
import {
  checkpointService,
  FakeAlerts,
  FakeBackups,
  FakeClock,
  FakeStale,
  FreeBackupLock,
  jobsService,
  MemoryCheckpointRepository,
  MemoryJobHistoryRepository,
  result,
  testConfig,
} from '../../test/fakes/backup.fakes';
import { filter, firstValueFrom, Subject, toArray } from 'rxjs';
import type { Job, JobEvent } from './jobs.types';
import type { JournaledWrite } from '../log-storage/catalog';
import { PROCESS_ID } from '../common/process-liveness';
import { SingleReplica } from './replicas';

const alpha: DifySource = { app_id: 'alpha', organization_id: 'acme', console_api_url: 'http://127.0.0.1/console/api', admin_api_key: 'sim-admin-key-123', workspace_id: 'ws' };
const beta: DifySource = { app_id: 'beta', dify_api_url: 'http://127.0.0.1/v1', api_key: 'app-beta-secret', users: ['u'] };

describe(JobsService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  let clock: FakeClock;
  let backups: FakeBackups;
  let checkpointRepo: MemoryCheckpointRepository;
  let history: MemoryJobHistoryRepository;
  let alerts: FakeAlerts;
  let stale: FakeStale;
  let config: AppConfig;

  const build = async () => {
    const checkpoints = checkpointService(checkpointRepo, [alpha, beta], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({ config, backups, checkpoints, history, alerts, stale, clock, sources: [alpha, beta] });
    await sut.onModuleInit();
    return { sut, checkpoints };
  };

  beforeEach(() => {
    clock = new FakeClock(new Date('2025-10-15T10:00:00Z'));
    backups = new FakeBackups();
    checkpointRepo = new MemoryCheckpointRepository();
    history = new MemoryJobHistoryRepository();
    alerts = new FakeAlerts();
    stale = new FakeStale();
    config = testConfig({ backfillFrom: '2d' });
  });

  it("replays, with its sources' locks held, only their journaled writes whose writer is gone (an app's own job may be writing)", async () => {
    const checkpoints = checkpointService(checkpointRepo, [alpha, beta], clock);
    await checkpoints.onModuleInit();
    const write = (writer: string, app_id = 'alpha'): JournaledWrite => ({ path: `conversations/acme/${writer}/${app_id}.json`, org_key: 'acme', app_id, writer, since: Date.now() });
    const journal = [write(PROCESS_ID), write('live-host:7'), write('gone-host:9'), write('gone-host:9', 'other')];
    const replayed: string[][] = [];
    const storage = {
      replayWrites: async (which: (w: JournaledWrite) => boolean) => {
        replayed.push(journal.filter(which).map((w) => w.path));
        return { indexed: 0, dropped: 0, superseded: 0, failed: 0 };
      },
    };
    const replicas = Object.assign(new SingleReplica(), { liveIds: async () => new Set([PROCESS_ID, 'live-host:7']) });
    const sut = jobsService({ config, backups, checkpoints, history, alerts, stale, clock, sources: [alpha, beta], storage, replicas });
    await sut.onModuleInit();
    await sut.runBackup({ sources: [alpha], trigger: 'api' });
    expect(replayed).toEqual([[write('gone-host:9').path]]);
  });

  it('catches up from BACKFILL_FROM day by day and moves the checkpoint to the end', async () => {
    const { sut, checkpoints } = await build();
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(backups.calls.map((c) => [c.window.start?.toISOString(), c.window.end?.toISOString()])).toEqual([
      ['2025-10-13T10:00:00.000Z', '2025-10-14T00:00:00.000Z'],
      ['2025-10-14T00:00:00.000Z', '2025-10-15T00:00:00.000Z'],
      ['2025-10-15T00:00:00.000Z', '2025-10-15T10:00:00.000Z'],
    ]);
    expect(job).toMatchObject({ status: 'succeeded', trigger: 'scheduled', window: null });
    expect(job.sources[0]).toMatchObject({
      status: 'succeeded',
      progress: { seen: 3, saved: 3, unchanged: 0, failed: 0 },
      checkpoint_before: null,
      checkpoint_after: '2025-10-15T10:00:00.000Z',
      window: { start: '2025-10-13T10:00:00.000Z', end: '2025-10-15T10:00:00.000Z' },
    });
    expect(job.sources[0].result).toMatchObject({ success: true, total_conversations: 3 });
    expect(checkpoints.get(alpha)).toMatchObject({ checkpoint: '2025-10-15T10:00:00.000Z', last_outcome: 'succeeded', last_success_at: '2025-10-15T10:00:00.000Z' });
    expect(alerts.sent).toEqual([]);
    expect(stale.checks).toBe(1);
  });

  it('reaches the app once per catch-up and writes the checkpoint and history after days that saved files, not after quiet ones', async () => {
    config = testConfig({ backfillFrom: '30d' });
    // only the second and the last day have conversations
    backups.handler = async (request) => result(request, ['2025-09-16', '2025-10-15'].includes(request.window.start!.toISOString().slice(0, 10)) ? 2 : 0);
    const { sut, checkpoints } = await build();
    const savesBefore = history.saves;
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(backups.calls).toHaveLength(31);
    expect(backups.connections).toBe(1);
    expect(new Set(backups.calls.map((c) => c.connection)).size).toBe(1);
    expect(checkpointRepo.checkpointsWritten).toEqual(['2025-09-17T00:00:00.000Z', '2025-10-15T10:00:00.000Z']);
    expect(checkpoints.get(alpha).checkpoint).toBe('2025-10-15T10:00:00.000Z');
    expect(job.sources[0]).toMatchObject({ status: 'succeeded', progress: { saved: 4 } });
    expect(history.saves - savesBefore).toBeLessThan(8);
  });

  it('starts the next run at the checkpoint minus the overlap', async () => {
    config = testConfig({ overlapSeconds: 3600 });
    checkpointRepo.states = [{ ...(await build()).checkpoints.get(alpha), checkpoint: '2025-10-15T06:00:00.000Z' }];
    const { sut } = await build();
    await sut.runBackup({ sources: [alpha], trigger: 'cli' });
    expect(backups.calls.map((c) => c.window.start?.toISOString())).toEqual(['2025-10-15T05:00:00.000Z']);
  });

  it('keeps the checkpoint before the first failed slice, still backs up later slices, and alerts', async () => {
    backups.handler = async (req) =>
      req.window.start?.toISOString() === '2025-10-14T00:00:00.000Z' ? result(req, 1, { failed_count: 2 }) : result(req, 1);
    const { sut, checkpoints } = await build();
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(backups.calls).toHaveLength(3);
    expect(job.status).toBe('partial');
    expect(job.sources[0]).toMatchObject({ status: 'partial', checkpoint_after: '2025-10-14T00:00:00.000Z', progress: { seen: 5, saved: 3, failed: 2 } });
    expect(checkpoints.get(alpha).checkpoint).toBe('2025-10-14T00:00:00.000Z');
    expect(alerts.sent.map((a) => [a.event, a.app_id, a.job_id])).toEqual([['backup_partial', 'alpha', job.id]]);
    expect(alerts.sent[0].text).toContain('checkpoint stays at 2025-10-14T00:00:00.000Z');
  });

  it('reports a full disk met on the second day of a catch-up in the result and the alert, and stops there', async () => {
    backups.handler = async (req) =>
      req.window.start?.toISOString() === '2025-10-14T00:00:00.000Z'
        ? result(req, 1, { success: false, failed_count: 1, errors: [{ conversation_id: 'c1', error: 'ENOSPC: no space left on device' }, archiveStopError('ENOSPC')] })
        : result(req, 2);
    const { sut, checkpoints } = await build();
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(backups.calls).toHaveLength(2);
    expect(job.sources[0].result!.message).toBe('Backup stopped: the archive cannot be written (ENOSPC); 3 saved, 0 unchanged, 1 failed');
    expect(job.sources[0]).toMatchObject({ status: 'partial', checkpoint_after: '2025-10-14T00:00:00.000Z' });
    expect(checkpoints.get(alpha).checkpoint).toBe('2025-10-14T00:00:00.000Z');
    expect(alerts.sent.map((a) => a.event)).toEqual(['backup_partial']);
    expect(alerts.sent[0].text).toContain('the archive cannot be written (ENOSPC)');
  });

  it('never moves a checkpoint for an explicit window', async () => {
    const { sut, checkpoints } = await build();
    const window = { start: new Date('2025-10-01T00:00:00Z'), end: new Date('2025-10-02T00:00:00Z') };
    const job = await sut.runBackup({ sources: [alpha], window, trigger: 'manual' });
    expect(backups.calls).toHaveLength(1);
    expect(backups.calls[0].window).toEqual(window);
    expect(job.window).toEqual({ start: '2025-10-01T00:00:00.000Z', end: '2025-10-02T00:00:00.000Z' });
    expect(job.sources[0]).toMatchObject({ status: 'succeeded', checkpoint_after: null });
    expect(checkpoints.get(alpha)).toMatchObject({ checkpoint: null, last_outcome: 'succeeded' });
  });

  it('lets one failing app not stop the others and alerts on rejected credentials without secrets', async () => {
    backups.handler = async (req) => {
      if (req.source.app_id === 'beta') throw new DifyAuthError('Dify refused the app key app-beta-secret (401)', 401, 'unauthorized', 'api_key');
      return result(req, 2);
    };
    const { sut } = await build();
    const job = await sut.runBackup({ sources: [alpha, beta], window: {}, trigger: 'api-scheduled' });
    expect(job.status).toBe('partial');
    expect(job.sources.map((s) => [s.app_id, s.status, s.error_kind])).toEqual([
      ['alpha', 'succeeded', null],
      ['beta', 'failed', 'DifyAuthError'],
    ]);
    // no retry fixes refused credentials: the result says so, naming the field
    expect(job.sources[1].error).toBe('Dify refused the app key [redacted] (401); will not succeed on retry: fix api_key');
    expect(alerts.sent.map((a) => a.event)).toEqual(['credentials_rejected']);
    expect(alerts.sent[0].secrets).toContain('app-beta-secret');
  });

  it('reports a source Dify cannot reach as failed with a backup_failed alert', async () => {
    backups.handler = async () => {
      throw new DifyUnavailableError('Dify is unreachable at 127.0.0.1 (ECONNREFUSED)');
    };
    const { sut } = await build();
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(job).toMatchObject({ status: 'failed', sources: [{ status: 'failed', error_kind: 'DifyUnavailableError', checkpoint_after: null }] });
    expect(alerts.sent.map((a) => a.event)).toEqual(['backup_failed']);
  });

  it('gives a second trigger for the same sources the running job', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    backups.handler = async (req) => {
      await gate;
      return result(req, 1);
    };
    const { sut } = await build();
    const first = sut.startBackup({ sources: [alpha, beta], trigger: 'scheduled' });
    const second = sut.runBackup({ sources: [beta], trigger: 'manual' });
    const third = sut.startBackup({ sources: [alpha, beta], trigger: 'api-scheduled' });
    expect(third.id).toBe(first.id);
    release();
    expect((await second).id).toBe(first.id);
    expect(backups.calls.map((c) => c.source.app_id).sort()).toEqual(['alpha', 'alpha', 'alpha', 'beta', 'beta', 'beta']);
    expect(sut.list()).toHaveLength(1);
  });

  it('streams progress events in order, then done', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    backups.handler = async (req) => {
      await gate;
      return result(req, 2);
    };
    const { sut } = await build();
    const job = sut.startBackup({ sources: [alpha], window: {}, trigger: 'manual' });
    const events: JobEvent[] = [];
    const finished = new Promise<void>((resolve) => sut.events(job.id).subscribe({ next: (e) => events.push(e), complete: resolve }));
    release();
    await finished;
    expect(events.slice(-2).map((e) => e.type)).toEqual(['source', 'done']);
    expect(events.slice(0, -2).every((e) => e.type === 'progress')).toBe(true);
    const seqs = events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const seen = events.flatMap((e) => (e.type === 'progress' ? [e.progress.seen] : []));
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen).toEqual(expect.arrayContaining([0, 1, 2]));
    const last = events.at(-3)!;
    expect(last.type === 'progress' && last.status).toBe('succeeded');
    const done = events.at(-1)!;
    expect(done.type === 'done' && done.job.status).toBe('succeeded');

    const replay: JobEvent[] = [];
    await new Promise<void>((resolve) => sut.events(job.id).subscribe({ next: (e) => replay.push(e), complete: resolve }));
    expect(replay.map((e) => e.type)).toEqual(['done']);
  });

  it('aborts running jobs on shutdown and records them as interrupted where they stopped', async () => {
    backups.handler = async (req) => {
      await new Promise<void>((resolve) => req.signal!.addEventListener('abort', () => resolve()));
      return result(req, 1, { success: false, interrupted: true });
    };
    const { sut, checkpoints } = await build();
    const job = sut.startBackup({ sources: [alpha], trigger: 'scheduled' });
    await new Promise((r) => setImmediate(r));
    await sut.onModuleDestroy();
    const stored = sut.get(job.id)!;
    expect(stored).toMatchObject({ status: 'interrupted', sources: [{ status: 'interrupted', checkpoint_after: null }] });
    expect(stored.sources[0].current_window).toEqual({ start: '2025-10-13T10:00:00.000Z', end: '2025-10-14T00:00:00.000Z' });
    expect(backups.calls).toHaveLength(1);
    expect(checkpoints.get(alpha).checkpoint).toBeNull();
    expect(history.jobs[0]).toMatchObject({ id: job.id, status: 'interrupted' });
    expect(alerts.sent).toEqual([]);
    expect(stored.resume).toEqual({
      reason: 'shutdown',
      interrupted_at: '2025-10-15T10:00:00.000Z',
      sources: [{ app_id: 'alpha', organization_id: 'acme', from: '2025-10-13T10:00:00.000Z', to: null }],
    });
    expect(stored.message).toContain('stopped by shutdown, it resumes at the next start-up');

    // the next process resumes it at start-up, from the checkpoint, and links both jobs
    backups.handler = async (req) => result(req, 1);
    const next = await build();
    const [resumed] = await next.sut.resumeInterrupted();
    // a scheduled tick for the same source joins the resumed job: a way to wait for it
    const done = await next.sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(done.id).toBe(resumed.id);
    expect(next.sut.get(resumed.id)).toMatchObject({ status: 'succeeded', resumes: job.id, trigger: 'scheduled', window: null });
    expect(next.sut.get(job.id)).toMatchObject({ status: 'interrupted', resumed_by: resumed.id });
    expect(next.checkpoints.get(alpha).checkpoint).toBe('2025-10-15T10:00:00.000Z');
    await expect(next.sut.resume(job.id)).rejects.toThrow(`job ${job.id} was already resumed by job ${resumed.id}`);
    await expect(next.sut.resume(resumed.id)).rejects.toThrow(`job ${resumed.id} is succeeded; only an interrupted job can be resumed`);
    expect(await next.sut.resumeInterrupted()).toEqual([]);
  });

  it('leaves a job interrupted by shutdown waiting when automatic backups are off', async () => {
    config = { ...testConfig({ backfillFrom: '2d' }), autoLogging: false };
    backups.handler = async (req) => {
      await new Promise<void>((resolve) => req.signal!.addEventListener('abort', () => resolve()));
      return result(req, 1, { success: false, interrupted: true });
    };
    const { sut } = await build();
    const job = sut.startBackup({ sources: [alpha], window: {}, trigger: 'api' });
    await new Promise((r) => setImmediate(r));
    await sut.onModuleDestroy();
    expect(sut.get(job.id)!.message).toContain(`it waits for a resume (POST /api/jobs/${job.id}/resume or the admin page)`);
    expect(sut.get(job.id)!.resume!.sources).toEqual([{ app_id: 'alpha', organization_id: 'acme', from: null, to: null }]);
    const next = await build();
    expect(await next.sut.resumeInterrupted()).toEqual([]);
    expect(next.sut.get(job.id)).toMatchObject({ status: 'interrupted', resume: { reason: 'shutdown' } });
  });

  it('records a run that finds the backup lock held as skipped: the caller gets the lock error, no alert, no outcome recorded', async () => {
    const holder = { pid: 4242, hostname: 'other-host', instance: 'x', owner: 'server' as const, since: '2025-10-15T09:59:00.000Z' };
    const lock = Object.assign(new FreeBackupLock(), {
      hold: async () => {
        throw new BackupLockedError(holder, '/data/logs/state/backup.lock');
      },
    });
    const checkpoints = checkpointService(checkpointRepo, [alpha, beta], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({ config, backups, checkpoints, history, alerts, stale, clock, lock });
    await sut.onModuleInit();
    await expect(sut.startBackupWhenFree({ sources: [alpha, beta], trigger: 'api' })).rejects.toThrow(
      'another server (pid 4242 on other-host, since 2025-10-15T09:59:00.000Z) holds the backup lock of this archive',
    );
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(job).toMatchObject({ status: 'skipped', sources: [{ status: 'skipped', error_kind: 'BackupLockedError' }] });
    expect(job.message).toMatch(/^Skipped: another server \(pid 4242/);
    expect(backups.calls).toEqual([]);
    expect(alerts.sent).toEqual([]);
    expect(stale.checks).toBe(0);
    expect(checkpoints.get(alpha).last_outcome).toBeNull();
  });

  it("ends the stream of another replica's job with done once the history says it ended, though no done was published (its replica was killed)", async () => {
    const remote: Job = {
      id: 'remote-1',
      kind: 'backup',
      trigger: 'scheduled',
      status: 'running',
      window: null,
      started_at: '2025-10-15T09:59:00.000Z',
      finished_at: null,
      message: 'Backing up 1 source',
      sources: [],
      replica: 'other-host:7',
    };
    history.jobs = [remote];
    let gone = false;
    const lock = Object.assign(new FreeBackupLock(), {
      // the other replica is alive at start-up; later its heartbeat stops
      abandonedJobs: async (running: Job[], when: 'start-up' | 'refresh') => (when === 'refresh' && gone ? running : []),
    });
    const published = new Subject<JobEvent>();
    const bus = { publish: () => undefined, watch: (id: string) => published.pipe(filter((e) => e.job_id === id)) };
    const checkpoints = checkpointService(checkpointRepo, [alpha], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({ config, backups, checkpoints, history, alerts, stale, clock, lock, bus });
    await sut.onModuleInit();

    const events = firstValueFrom(sut.events('remote-1').pipe(toArray()));
    const progress: JobEvent = {
      type: 'progress',
      seq: 5,
      job_id: 'remote-1',
      app_id: 'alpha',
      organization_id: 'acme',
      status: 'running',
      progress: { seen: 2, saved: 2, unchanged: 0, failed: 0 },
      window: null,
      current_window: null,
    };
    published.next(progress);
    gone = true;
    expect(await events).toEqual([
      progress,
      { type: 'done', seq: 6, job_id: 'remote-1', job: expect.objectContaining({ id: 'remote-1', status: 'interrupted', resume: expect.objectContaining({ reason: 'crash' }) }) },
    ]);
    expect(history.jobs[0]).toMatchObject({ id: 'remote-1', status: 'interrupted' });
  });

  it("shares one poll of the history among every watcher of another replica's job", async () => {
    const remote: Job = {
      id: 'remote-2',
      kind: 'backup',
      trigger: 'scheduled',
      status: 'running',
      window: null,
      started_at: '2025-10-15T09:59:00.000Z',
      finished_at: null,
      message: 'Backing up 1 source',
      sources: [],
      replica: 'other-host:8',
    };
    history.jobs = [remote];
    let gone = false;
    const lock = Object.assign(new FreeBackupLock(), {
      abandonedJobs: async (running: Job[], when: 'start-up' | 'refresh') => (when === 'refresh' && gone ? running : []),
    });
    const bus = { publish: () => undefined, watch: () => new Subject<JobEvent>() };
    const checkpoints = checkpointService(checkpointRepo, [alpha], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({ config, backups, checkpoints, history, alerts, stale, clock, lock, bus });
    await sut.onModuleInit();

    // every read of the history is a poll; the second one finds the replica gone
    let reads = 0;
    const load = history.load.bind(history);
    history.load = async () => {
      reads++;
      if (reads === 2) gone = true;
      return load();
    };
    const first = firstValueFrom(sut.events('remote-2').pipe(toArray()));
    const second = firstValueFrom(sut.events('remote-2').pipe(toArray()));
    while (reads < 1) await new Promise((r) => setTimeout(r, 20));
    // a client that comes later joins the poll under way
    const third = firstValueFrom(sut.events('remote-2').pipe(toArray()));
    const streams = await Promise.all([first, second, third]);
    for (const events of streams) {
      expect(events).toEqual([{ type: 'done', seq: 1, job_id: 'remote-2', job: expect.objectContaining({ id: 'remote-2', status: 'interrupted' }) }]);
    }
    // one watcher or three: one read per heartbeat, and none once the end is known
    expect(reads).toBe(2);
    expect(await firstValueFrom(sut.events('remote-2').pipe(toArray()))).toEqual([expect.objectContaining({ type: 'done', seq: 0 })]);
    expect(reads).toBe(2);
  });

  it('writes the progress of a running job to the shared history at most once a heartbeat, without waiting for the write', async () => {
    const stored = () => history.jobs.find((j) => j.status === 'running')?.sources[0].progress.seen;
    const writes: (number | undefined)[] = [];
    const update = history.update.bind(history);
    history.update = async (change) => {
      const written = await update(change);
      writes.push(stored());
      return written;
    };
    backups.handler = async (request) => {
      const at = (ms: number) => (clock.current = new Date(Date.parse('2025-10-15T10:00:00Z') + ms));
      const progress = (seen: number) => request.onProgress?.({ seen, saved: seen, unchanged: 0, failed: 0 });
      progress(1);
      at(500);
      progress(2);
      at(999);
      progress(3);
      // a heartbeat (REPLICA_TIMEOUT_SECONDS / 4 = 1 s) after the job was written at its start
      at(1000);
      progress(4);
      // a write is queued: the next progress joins it rather than queueing another
      progress(5);
      while (stored() !== 5) await new Promise((r) => setImmediate(r));
      at(1500);
      progress(6);
      at(2000);
      progress(7);
      while (stored() !== 7) await new Promise((r) => setImmediate(r));
      return result(request, 0, { total_conversations: 7, saved_count: 7, created_count: 7 });
    };
    const { sut } = await build();
    const job = await sut.runBackup({ sources: [alpha], window: {}, trigger: 'manual' });
    expect(job).toMatchObject({ status: 'succeeded', sources: [{ progress: { seen: 7, saved: 7 } }] });
    // the job at its start, twice its progress while running, at the end of its source, then finished
    expect(writes).toEqual([0, 5, 7, 7, undefined]);
    expect(history.jobs[0]).toMatchObject({ id: job.id, status: 'succeeded' });
  });

  it('marks jobs left running on disk as interrupted at start-up and keeps the history bounded', async () => {
    const old = (i: number, status: Job['status']): Job => ({
      id: `job-${i}`,
      kind: 'backup',
      trigger: 'scheduled',
      status,
      window: null,
      started_at: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
      finished_at: null,
      message: 'Backing up 1 sources',
      sources: [],
    });
    history.jobs = [old(600, 'running'), ...Array.from({ length: MAX_JOBS }, (_, i) => old(i, 'succeeded'))];
    const { sut } = await build();
    expect(sut.get('job-600')).toMatchObject({ status: 'interrupted', finished_at: '2025-10-15T10:00:00.000Z' });
    expect(history.jobs[0]).toMatchObject({ id: 'job-600', status: 'interrupted' });
    await sut.runBackup({ sources: [alpha], window: {}, trigger: 'manual' });
    expect(sut.list()).toHaveLength(MAX_JOBS);
    expect(history.jobs).toHaveLength(MAX_JOBS);
  });

  it('warns when the oldest unsaved point is beyond Dify\'s purge horizon', async () => {
    config = testConfig({ difyRetentionDays: 1 });
    const { sut } = await build();
    const job = await sut.runBackup({ sources: [alpha], trigger: 'scheduled' });
    expect(alerts.sent.map((a) => a.event)).toEqual(['purge_horizon']);
    expect(job.sources[0].warnings[0]).toContain('may already be purged');
  });

  it('answers 404 naming the id for an unknown job', async () => {
    const { sut } = await build();
    expect(() => sut.getOrThrow('nope')).toThrow('no job has id nope');
  });
});

describe(`${JobsService.name}.runSource`, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  const build = async (backups: FakeBackups) => {
    const clock = new FakeClock();
    const checkpoints = checkpointService(new MemoryCheckpointRepository(), [alpha], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({
      config: testConfig(),
      backups,
      checkpoints,
      history: new MemoryJobHistoryRepository(),
      alerts: new FakeAlerts(),
      stale: new FakeStale(),
      clock,
    });
    await sut.onModuleInit();
    return sut;
  };

  it('answers the single BackupResult of a manual run', async () => {
    const sut = await build(new FakeBackups());
    const { job, result } = await sut.runSource({ source: alpha, window: {}, trigger: 'manual' });
    expect(job).toMatchObject({ trigger: 'manual', status: 'succeeded' });
    expect(result).toMatchObject({ success: true, app_id: 'alpha', saved_count: 1 });
  });

  it('rethrows the original Dify error when the source failed as a whole', async () => {
    const backups = new FakeBackups();
    const refused = new DifyAuthError('Dify refused the admin key (401)', 401);
    backups.handler = async () => {
      throw refused;
    };
    const sut = await build(backups);
    await expect(sut.runSource({ source: alpha, window: {}, trigger: 'manual' })).rejects.toBe(refused);
    expect(sut.list()[0]).toMatchObject({ status: 'failed', trigger: 'manual' });
  });
});
