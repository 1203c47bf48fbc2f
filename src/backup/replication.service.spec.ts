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
import type { BackupLock } from './backup-lock';
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
    const alerts = new FakeAlerts();
    const sut = new ReplicationService(
      config,
      {
        source: failingReads(source, `AccessDenied for ${archive.accessKeyId} (${archive.secretAccessKey}), replica ${replica.accessKeyId} (${replica.secretAccessKey})`),
        target,
        settings: replica,
      },
      new JobHistoryService(new MemoryJobHistoryRepository() as unknown as JobHistoryRepository, lock, lock, clock),
      alerts as unknown as AlertsService,
      {} as LogStorageService,
      lock,
      new FreeBackupLock() as unknown as BackupLock,
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
    const history = new JobHistoryService(new MemoryJobHistoryRepository() as unknown as JobHistoryRepository, lock, lock, clock);
    const sut = new ReplicationService(
      config,
      { source, target, settings: replica },
      history,
      new FakeAlerts() as unknown as AlertsService,
      {} as LogStorageService,
      lock,
      new FreeBackupLock() as unknown as BackupLock,
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
