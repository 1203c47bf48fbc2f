import { ConsoleLogger, Logger } from '@nestjs/common';
import type { SourceRegistry } from '../backup/source-registry';
import type { AppConfig } from '../config/app-config';
import type { LogStorageService } from '../log-storage/log-storage.service';
import type { SchedulerRegistry } from '@nestjs/schedule';
import type { JobsService } from '../backup/jobs.service';
import { ScheduledTasksService } from './scheduled-tasks.service';
import { ConflictError } from '../common/domain-errors';
import { SingleReplica, type Replicas } from '../backup/replicas';
import { FakeClock, fakeRegistry, FakeStale, testConfig } from '../../test/fakes/backup.fakes';
import type { BackupJobRequest, Job } from '../backup/jobs.types';
import type { StaleSourcesService } from '../backup/stale-sources.service';
import type { ReplicationService } from '../backup/replication.service';
import type { JournaledWrite } from '../log-storage/catalog';
import { PROCESS_ID } from '../common/process-liveness';

/** The registry as the scheduler leaves it: the decorated jobs, active or disabled. */
class FakeSchedulerRegistry implements Pick<SchedulerRegistry, 'getCronJobs'> {
  constructor(private readonly jobs: { name: string; expression: string; active: boolean }[]) {}
  getCronJobs() {
    return new Map(
      this.jobs.map((j) => [
        j.name,
        {
          isActive: j.active,
          cronTime: { source: j.expression, timeZone: 'UTC' },
          nextDate: () => ({ toJSDate: () => new Date('2025-10-16T02:00:00Z') }),
        },
      ]),
    ) as unknown as ReturnType<SchedulerRegistry['getCronJobs']>;
  }
}

const REGISTERED = [
  { name: 'backup', expression: '0 2 * * *', active: true },
  { name: 'retention', expression: '0 3 * * 0', active: true },
  { name: 'compression', expression: '30 3 * * *', active: true },
  { name: 'replication', expression: '0 4 * * *', active: true },
];

class FakeReplication implements Pick<ReplicationService, 'configured' | 'run'> {
  configured = true;
  runs = 0;
  outcome: Partial<Job> = { id: 'copy-1', status: 'succeeded', message: 'Copied 2 of 5 files' };
  release: () => void = () => undefined;
  refusal: Error | null = null;
  async run() {
    if (this.refusal) throw this.refusal;
    this.runs++;
    await new Promise<void>((resolve) => (this.release = resolve));
    return this.outcome as Job;
  }
}

class FakeJobs implements Pick<JobsService, 'runBackup' | 'refresh'> {
  requests: BackupJobRequest[] = [];
  async refresh() {}
  release: () => void = () => undefined;
  async runBackup(request: BackupJobRequest) {
    this.requests.push(request);
    await new Promise<void>((resolve) => (this.release = resolve));
    return { id: 'job-1', status: 'succeeded' } as Job;
  }
}

class FakeStorage implements Pick<LogStorageService, 'cleanOldLogs' | 'compressOldDays' | 'replayWrites'> {
  /** the journal entries each replay would settle, of `journal` */
  replayed: string[][] = [];
  journal: JournaledWrite[] = [];
  async replayWrites(which: (write: JournaledWrite) => boolean) {
    this.replayed.push(this.journal.filter(which).map((w) => w.writer));
    return { indexed: 0, dropped: 0, superseded: 0, failed: 0 };
  }
  cleaned: number[] = [];
  compressed: (number | null)[] = [];
  async cleanOldLogs(o: { daysToKeep: number }) {
    this.cleaned.push(o.daysToKeep);
    return { success: true as const, message: '', deleted_files: 3, deleted_size_bytes: 30, dry_run: false, first_day: null, last_day: null };
  }
  async compressOldDays(days: number | null = null) {
    this.compressed.push(days);
    return { success: true as const, compressed_files: 2, bytes_before: 100, bytes_after: 40, before_day: null };
  }
}

describe(ScheduledTasksService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  const source = { app_id: 'alpha', console_api_url: 'http://127.0.0.1/console/api', admin_api_key: 'k', workspace_id: 'w' };

  const make = (config: AppConfig, sources = [source], registered = REGISTERED, replicas: Replicas = new SingleReplica()) => {
    const cron = new FakeSchedulerRegistry(registered);
    const jobs = new FakeJobs();
    const storage = new FakeStorage();
    const replication = new FakeReplication();
    const sut = new ScheduledTasksService(
      config,
      cron as unknown as SchedulerRegistry,
      jobs as unknown as JobsService,
      fakeRegistry(sources) as SourceRegistry,
      storage as unknown as LogStorageService,
      new FakeStale() as unknown as StaleSourcesService,
      new FakeClock(),
      replicas,
      replication as unknown as ReplicationService,
    );
    return { sut, cron, jobs, storage, replication };
  };

  it('describes the active jobs the scheduler registered, not the disabled ones', () => {
    const { sut } = make(testConfig(), [source], [REGISTERED[0], REGISTERED[1], { ...REGISTERED[2], active: false }]);
    expect(sut.describe().map((t) => [t.name, t.expression, t.timezone, t.next_run])).toEqual([
      ['backup', '0 2 * * *', 'UTC', '2025-10-16T02:00:00.000Z'],
      ['retention', '0 3 * * 0', 'UTC', '2025-10-16T02:00:00.000Z'],
    ]);
    expect(make(testConfig(), [source], []).sut.describe()).toEqual([]);
  });

  it('skips a backup tick while the previous one still runs', async () => {
    const { sut, jobs } = make(testConfig());
    const first = sut.runBackup();
    while (!jobs.requests.length) await new Promise((r) => setImmediate(r));
    await sut.runBackup();
    expect(jobs.requests).toHaveLength(1);
    expect(jobs.requests[0]).toEqual({ sources: [source], trigger: 'scheduled' });
    expect(sut.describe()[0]).toMatchObject({ name: 'backup', running: true });
    jobs.release();
    await first;
    expect(sut.describe()[0]).toMatchObject({ running: false, last_outcome: 'job job-1 succeeded', next_run: '2025-10-16T02:00:00.000Z' });
  });

  it('runs retention with LOG_RETENTION_DAYS and compression with COMPRESS_AFTER_DAYS', async () => {
    const { sut, storage } = make({ ...testConfig(), retentionDays: 14, compressAfterDays: 3 } as AppConfig);
    await sut.runRetention();
    await sut.runCompression();
    expect(storage.cleaned).toEqual([14]);
    expect(storage.compressed).toEqual([3]);
    expect(sut.describe().map((d) => d.last_outcome)).toEqual([null, 'deleted 3 files (30 bytes)', 'compressed 2 files (100 -> 40 bytes)', null]);
  });

  it("settles the write journal entries of replicas that are gone before a backup tick's run, and only those", async () => {
    const live: Replicas = Object.assign(new SingleReplica(), { liveIds: async () => new Set([PROCESS_ID, 'other-host:7']) });
    const { sut, jobs, storage } = make(testConfig(), [source], REGISTERED, live);
    const write = (writer: string) => ({ path: 'conversations/a.json', org_key: '', app_id: 'alpha', writer, since: Date.now() });
    storage.journal = [write(PROCESS_ID), write('other-host:7'), write('gone-host:9')];
    const tick = sut.runBackup();
    while (!jobs.requests.length) await new Promise((r) => setImmediate(r));
    expect(storage.replayed).toEqual([['gone-host:9']]);
    jobs.release();
    await tick;
  });

  it('does not start a job without sources', async () => {
    const { sut, jobs } = make(testConfig(), []);
    await sut.runBackup();
    expect(jobs.requests).toEqual([]);
    expect(sut.describe()[0].last_outcome).toBe('no sources configured');
  });

  it('runs no task on a replica that does not lead, and asks to lead on every tick', async () => {
    let asked = 0;
    const follower: Replicas = Object.assign(new SingleReplica(), { tryLead: async () => (asked++, false), isLeading: () => false });
    const { sut, jobs, storage } = make(testConfig(), [source], REGISTERED, follower);
    await sut.runBackup();
    await sut.runRetention();
    expect(asked).toBe(2);
    expect(jobs.requests).toEqual([]);
    expect(storage.cleaned).toEqual([]);
    expect(sut.describe()[0]).toMatchObject({ running: false, last_started_at: null });
  });

  it('skips a replication tick while the previous copy still runs, and records a failed copy as the task failing', async () => {
    const { sut, replication } = make(testConfig());
    const first = sut.runReplication();
    while (!replication.runs) await new Promise((r) => setImmediate(r));
    await sut.runReplication();
    expect(replication.runs).toBe(1);
    expect(sut.describe()[3]).toMatchObject({ name: 'replication', running: true });
    replication.release();
    await first;
    expect(sut.describe()[3]).toMatchObject({ running: false, last_outcome: 'job copy-1 succeeded: Copied 2 of 5 files' });

    replication.outcome = { id: 'copy-2', status: 'failed', message: 'Copy failed', replication: { error: 'AccessDenied' } as Job['replication'] };
    const second = sut.runReplication();
    while (replication.runs < 2) await new Promise((r) => setImmediate(r));
    replication.release();
    await second;
    expect(sut.describe()[3].last_outcome).toBe('failed: job copy-2 failed: AccessDenied');
  });

  it('skips a replication tick while a copy or a backup is under way', async () => {
    const { sut, replication } = make(testConfig());
    replication.refusal = new ConflictError('backup job job-1 is running; try again when it has finished', 'replication');
    await sut.runReplication();
    expect(sut.describe()[3].last_outcome).toBe('skipped: backup job job-1 is running; try again when it has finished');
  });

  it('does not copy without a replica bucket', async () => {
    const { sut, replication } = make(testConfig());
    replication.configured = false;
    await sut.runReplication();
    expect(replication.runs).toBe(0);
    expect(sut.describe()[3].last_outcome).toBe('no replica bucket configured');
  });
});
