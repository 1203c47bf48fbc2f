import { ConsoleLogger, Logger } from '@nestjs/common';
import { firstValueFrom, toArray } from 'rxjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
  testConfig,
} from '../../test/fakes/backup.fakes';
import type { AppConfig, S3Settings } from '../config/app-config';
import type { ArchiveStore } from '../log-storage/archive-store';
import { FsArchiveStore } from '../log-storage/fs/fs-archive-store';
import type { LogStorageService } from '../log-storage/log-storage.service';
import type { AlertsService } from './alerts.service';
import type { BackupLock, LockHolder } from './backup-lock';
import { ConflictError } from '../common/domain-errors';
import { LocalJobEvents } from './job-events';
import type { JobHistoryRepository } from './job-history.repository';
import { JobHistoryService } from './job-history.service';
import type { JobsService } from './jobs.service';
import type { Job, JobEvent } from './jobs.types';
import { ReplicationService } from './replication.service';

const bucket = (name: string, accessKeyId: string, secretAccessKey: string): S3Settings => ({
  endpoint: 'http://127.0.0.1:9',
  region: 'us-east-1',
  bucket: name,
  accessKeyId,
  secretAccessKey,
  pathStyle: true,
  useAwsManagedIam: false,
  prefix: '',
  maxAttempts: 1,
  requestTimeoutMs: 1000,
  readConcurrency: 1,
});

/** The archive's store as a real filesystem store whose reads fail with an error naming its keys. */
function failingReads(store: FsArchiveStore, message: string): ArchiveStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'get' || prop === 'createReadStream') return async () => Promise.reject(new Error(message));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe(ReplicationService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  let dirs: string[];
  beforeEach(() => (dirs = [fs.mkdtempSync(path.join(os.tmpdir(), 'vault-repl-svc-src-')), fs.mkdtempSync(path.join(os.tmpdir(), 'vault-repl-svc-dst-'))]));
  afterEach(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('scrubs the archive bucket\'s keys as well as the replica\'s from a failed copy\'s error and alert', async () => {
    const archive = bucket('vault-archive', 'ARCHIVEACCESSKEY77', 'archive-secret-key-5521');
    const replica = bucket('vault-replica', 'REPLICAACCESSKEY88', 'replica-secret-key-9931');
    const config: AppConfig = { ...testConfig(), archive: { storage: 's3', s3: archive }, replication: { s3: replica, cron: null, delete: false, concurrency: 1 } };
    const source = new FsArchiveStore(dirs[0]);
    await source.put('conversations/acme/2024/01/15/conversation_c1_20240115T090000Z.json', Buffer.from('{}'));
    const target = new FsArchiveStore(dirs[1]);
    const clock = new FakeClock();
    const lock = new FreeBackupLock() as unknown as BackupLock;
    const replicationLock = new FreeBackupLock() as unknown as BackupLock;
    const alerts = new FakeAlerts();
    const sut = new ReplicationService(
      config,
      {
        source: failingReads(source, `AccessDenied for ${archive.accessKeyId} (${archive.secretAccessKey}), replica ${replica.accessKeyId} (${replica.secretAccessKey})`),
        target,
        settings: replica,
      },
      new JobHistoryService(new MemoryJobHistoryRepository() as unknown as JobHistoryRepository, lock, replicationLock, clock),
      alerts as unknown as AlertsService,
      { catalogClock: async () => new Date().toISOString() } as unknown as LogStorageService,
      lock,
      replicationLock,
      clock,
      { runningJobIds: () => [] } as unknown as JobsService,
      new LocalJobEvents(),
    );

    const job = await sut.run({ trigger: 'api' });
    await sut.onModuleDestroy();
    await source.close();

    expect(job).toMatchObject({ status: 'failed', replication: { error: 'AccessDenied for [redacted] ([redacted]), replica [redacted] ([redacted])' } });
    expect(job.message).not.toMatch(/ARCHIVEACCESSKEY77|archive-secret-key-5521|REPLICAACCESSKEY88|replica-secret-key-9931/);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0].secrets.sort()).toEqual(['ARCHIVEACCESSKEY77', 'REPLICAACCESSKEY88', 'archive-secret-key-5521', 'replica-secret-key-9931']);
  });

  it('publishes a copy\'s counts as it goes, in its events and in the job history, and ends its events with the finished job', async () => {
    const replica = bucket('vault-replica', 'REPLICAACCESSKEY88', 'replica-secret-key-9931');
    const config: AppConfig = { ...testConfig(), archive: { storage: 'fs' }, replication: { s3: replica, cron: null, delete: false, concurrency: 1 } };
    const source = new FsArchiveStore(dirs[0]);
    for (let day = 10; day < 16; day++) await source.put(`conversations/acme/2024/01/${day}/conversation_c${day}_202401${day}T090000Z.json`, Buffer.from(`{"day":${day}}`));
    const target = new FsArchiveStore(dirs[1]);
    // a second passes at every reading of the clock, so each object's counts are recorded
    const clock = new FakeClock();
    clock.now = () => new Date((clock.current = new Date(clock.current.getTime() + 1000)));
    const lock = new FreeBackupLock() as unknown as BackupLock;
    const replicationLock = new FreeBackupLock() as unknown as BackupLock;
    const history = new JobHistoryService(new MemoryJobHistoryRepository() as unknown as JobHistoryRepository, lock, replicationLock, clock);
    const sut = new ReplicationService(
      config,
      { source, target, settings: replica },
      history,
      new FakeAlerts() as unknown as AlertsService,
      { catalogClock: async () => new Date().toISOString() } as unknown as LogStorageService,
      lock,
      replicationLock,
      clock,
      { runningJobIds: () => [] } as unknown as JobsService,
      new LocalJobEvents(),
    );
    const recorded: number[] = [];
    let id = '';

    const started = await sut.start({ trigger: 'api', onProgress: () => recorded.push(history.find(id)?.replication?.checked ?? -1) });
    id = started.job.id;
    const events = firstValueFrom(sut.events(id)!.pipe(toArray()));
    const job = await started.done;
    await sut.onModuleDestroy();
    await source.close();

    const seen: JobEvent[] = await events;
    const counts = seen.flatMap((e) => (e.type === 'replication' ? [e.replication.checked] : []));
    expect(counts.slice(-6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen.map((e) => e.seq)).toEqual([...seen.keys()].map((i) => i + seen[0].seq));
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ type: 'done', job_id: id, job: { status: 'succeeded', replication: { checked: 6, copied: 6 } } });
    expect(recorded).toEqual([1, 2, 3, 4, 5, 6]);
    expect(job.status).toBe('succeeded');
    expect(sut.events(id)).toBeNull();
  });

  describe('the two locks', () => {
    const replica = bucket('vault-replica', 'REPLICAACCESSKEY88', 'replica-secret-key-9931');
    const config = (): AppConfig => ({ ...testConfig(), archive: { storage: 'fs' }, replication: { s3: replica, cron: null, delete: false, concurrency: 1 } });
    const holder = (jobId: string): LockHolder => ({ pid: 4242, hostname: 'other-host', instance: 'other', owner: 'cli', since: '2025-10-15T09:00:00.000Z', job_id: jobId });
    const copyOfAnotherProcess: Job = {
      id: 'copy-elsewhere',
      kind: 'replication',
      trigger: 'cli',
      status: 'running',
      window: null,
      started_at: '2025-10-15T09:00:00.000Z',
      finished_at: null,
      message: 'Copying the archive to s3://vault-replica/',
      sources: [],
      replication: { target: 's3://vault-replica/', checked: 0, copied: 0, copied_bytes: 0, unchanged: 0, deleted: 0, extra: 0, error: null },
    };

    /** The service over two distinct locks and a history in memory (or one that cannot be written). */
    function setUp(options: { runningBackups?: string[]; repository?: MemoryJobHistoryRepository } = {}) {
      const backupLock = new FreeBackupLock();
      const replicationLock = new FreeBackupLock();
      const repository = options.repository ?? new MemoryJobHistoryRepository();
      const clock = new FakeClock();
      const history = new JobHistoryService(repository as unknown as JobHistoryRepository, backupLock as unknown as BackupLock, replicationLock as unknown as BackupLock, clock);
      const sut = new ReplicationService(
        config(),
        { source: new FsArchiveStore(dirs[0]), target: new FsArchiveStore(dirs[1]), settings: replica },
        history,
        new FakeAlerts() as unknown as AlertsService,
        { countConversations: async () => 0, countWrittenSince: async () => 0, catalogClock: async () => new Date().toISOString() } as unknown as LogStorageService,
        backupLock as unknown as BackupLock,
        replicationLock as unknown as BackupLock,
        clock,
        { runningJobIds: () => options.runningBackups ?? [] } as unknown as JobsService,
        new LocalJobEvents(),
      );
      return { sut, backupLock, replicationLock, repository, history };
    }

    it('holds the replication lock for a copy, never the backup lock', async () => {
      const { sut, backupLock, replicationLock } = setUp();
      const job = await sut.run({ trigger: 'api' });
      await sut.onModuleDestroy();
      expect(job.status).toBe('succeeded');
      expect(replicationLock.claims).toEqual([{ jobId: job.id, sources: ['replication'] }]);
      expect(backupLock.claims).toEqual([]);
      expect([replicationLock.held, backupLock.held]).toEqual([0, 0]);
    });

    it('asks the replication lock whether a running copy of another process is alive, and refuses a copy while it holds it (409, skipped)', async () => {
      const repository = new MemoryJobHistoryRepository();
      repository.jobs = [structuredClone(copyOfAnotherProcess)];
      const { sut, replicationLock, history } = setUp({ repository });
      // the backup lock is free: only the replication lock says the copy is alive
      replicationLock.other = holder('copy-elsewhere');

      const refused = await sut.start({ trigger: 'scheduled' }).catch((e: unknown) => e);
      await sut.onModuleDestroy();
      expect(refused).toMatchObject({ jobId: 'copy-elsewhere', field: 'replication' });
      expect((refused as Error).message).toMatch(/^replication job copy-elsewhere \(a CLI copy, pid 4242 on other-host/);
      const copies = history.list([]).filter((j) => j.kind === 'replication');
      expect(copies.map((j) => `${j.id === 'copy-elsewhere' ? 'elsewhere' : j.trigger} ${j.status}`)).toEqual(['scheduled skipped', 'elsewhere running']);
    });

    it('marks a copy of another process interrupted in the status once nothing holds the replication lock (the copying process was killed)', async () => {
      const repository = new MemoryJobHistoryRepository();
      repository.jobs = [structuredClone(copyOfAnotherProcess)];
      const { sut, backupLock, replicationLock, history } = setUp({ repository });
      replicationLock.other = holder('copy-elsewhere');
      // a backup of another process holds the backup lock all along: only the replication lock counts for a copy
      backupLock.other = holder('backup-elsewhere');
      expect(await sut.status()).toMatchObject({ running_job_id: 'copy-elsewhere' });
      expect(await sut.status()).toMatchObject({ running_job_id: 'copy-elsewhere' });

      replicationLock.other = null;
      expect(await sut.status()).toMatchObject({ running_job_id: null, last_run: { job_id: 'copy-elsewhere', status: 'interrupted' } });
      expect(history.find('copy-elsewhere')).toMatchObject({ status: 'interrupted' });
      expect(repository.jobs.find((j) => j.id === 'copy-elsewhere')).toMatchObject({ status: 'interrupted' });
      await sut.onModuleDestroy();
    });

    it.each([
      ['of this process', { runningBackups: ['backup-here'] }, null, 'backup-here', /^Skipped: backup job backup-here is running/],
      ['of another process', {}, 'backup-there', 'backup-there', /^Skipped: a backup of another process \(pid 4242 on other-host\) is running/],
    ])('refuses a copy while a backup %s runs: 409 naming it, recorded as skipped', async (_title, options, otherBackup, jobId, message) => {
      const { sut, backupLock, replicationLock, history } = setUp(options);
      if (otherBackup) backupLock.other = holder(otherBackup);
      const refused = await sut.start({ trigger: 'cli' }).catch((e: unknown) => e);
      await sut.onModuleDestroy();
      expect(refused).toMatchObject({ jobId, field: 'replication' });
      const copies = history.list([]).filter((j) => j.kind === 'replication');
      expect(copies).toHaveLength(1);
      expect(copies[0]).toMatchObject({ trigger: 'cli', status: 'skipped' });
      expect(copies[0].message).toMatch(message);
      expect(replicationLock.claims).toEqual([]);
    });

    it('still refuses with the 409 when the skipped copy cannot be recorded', async () => {
      const repository = new MemoryJobHistoryRepository();
      // the shared history is out of reach (its database down): it can be neither read nor written
      repository.load = async () => Promise.reject(new Error('the history cannot be read'));
      repository.update = async () => Promise.reject(new Error('the history cannot be written'));
      for (const refusedBy of ['backup', 'copy'] as const) {
        const { sut, replicationLock } = setUp({ repository, runningBackups: refusedBy === 'backup' ? ['backup-here'] : [] });
        if (refusedBy === 'copy') replicationLock.other = holder('copy-elsewhere');
        const refused = await sut.start({ trigger: 'cli' }).catch((e: unknown) => e);
        await sut.onModuleDestroy();
        expect(refused).toBeInstanceOf(ConflictError);
        expect(refused).toMatchObject({ jobId: refusedBy === 'backup' ? 'backup-here' : 'copy-elsewhere', field: 'replication' });
      }
    });
  });

  it('leaves a copy a crash cut off interrupted without a resume point, and answers its resume with a 409 saying a copy is run again', async () => {
    const crashed: Job = {
      id: 'copy-1',
      kind: 'replication',
      trigger: 'cli',
      status: 'running',
      window: null,
      started_at: '2025-10-15T09:59:00.000Z',
      finished_at: null,
      message: 'Copying the archive to s3://vault-replica/',
      sources: [],
      replication: { target: 's3://vault-replica/', checked: 3, copied: 3, copied_bytes: 30, unchanged: 0, deleted: 0, extra: 0, error: null },
    };
    const history = new MemoryJobHistoryRepository();
    history.jobs = [crashed];
    const clock = new FakeClock();
    const checkpoints = checkpointService(new MemoryCheckpointRepository(), [], clock);
    await checkpoints.onModuleInit();
    const sut = jobsService({ config: testConfig(), backups: new FakeBackups(), checkpoints, history, alerts: new FakeAlerts(), stale: new FakeStale(), clock });
    await sut.onModuleInit();

    const after = sut.getOrThrow('copy-1');

    expect(after).toMatchObject({ status: 'interrupted' });
    expect(after.resume ?? null).toBeNull();
    await expect(sut.resume('copy-1')).rejects.toMatchObject({
      message: 'job copy-1 is a replication job: a copy is not resumed but run again (POST /api/replication), and the new copy copies only what is not copied yet',
      field: 'id',
    });
    expect(await sut.resumeInterrupted()).toEqual([]);
  });
});
