import type { WorkspaceBackupService } from '../../src/backup/workspace-backup.service';
import type { BackupService } from '../../src/backup/backup.service';
import type { BackupResult, BackupRunRequest } from '../../src/backup/backup.types';
import type { SourceRegistry } from '../../src/backup/source-registry';
import type { AppConfig } from '../../src/config/app-config';
import type { DifyAppClient, DifySource } from '../../src/dify/dify.types';
import type { AlertInput, AlertsService } from '../../src/backup/alerts.service';
import { type BackupLock, BackupLockedError, type LockClaim, type LockHolder } from '../../src/backup/backup-lock';
import { JobEventsBus, LocalJobEvents } from '../../src/backup/job-events';
import type { CheckpointRepository } from '../../src/backup/checkpoint.repository';
import { CheckpointService } from '../../src/backup/checkpoint.service';
import { Clock } from '../../src/common/clock';
import type { JobHistoryRepository } from '../../src/backup/job-history.repository';
import { JobHistoryService } from '../../src/backup/job-history.service';
import { JobsService } from '../../src/backup/jobs.service';
import { SourceBackupService } from '../../src/backup/source-backup.service';
import type { Job, SourceState } from '../../src/backup/jobs.types';
import type { StaleSourcesService } from '../../src/backup/stale-sources.service';
import type { AppConfigSnapshots } from '../../src/log-storage/app-config-snapshots';
import type { LogStorageService } from '../../src/log-storage/log-storage.service';
import { Replicas, SingleReplica } from '../../src/backup/replicas';

/** Typed fakes shared by the backup and scheduler unit tests. */
export class FakeClock extends Clock {
  constructor(public current = new Date('2025-10-15T10:00:00Z')) {
    super();
  }
  now(): Date {
    return new Date(this.current);
  }
}

export class MemoryCheckpointRepository implements Pick<CheckpointRepository, 'load' | 'save' | 'update'> {
  states: SourceState[] = [];
  /** every checkpoint value written, in order */
  checkpointsWritten: (string | null)[] = [];
  async load() {
    return structuredClone(this.states);
  }
  async save(states: SourceState[]) {
    this.states = structuredClone(states);
  }
  async update(change: (stored: SourceState[]) => SourceState[]) {
    const before = new Map(this.states.map((s) => [s.key, s.checkpoint]));
    const next = change(structuredClone(this.states));
    for (const s of next) if (before.has(s.key) && before.get(s.key) !== s.checkpoint) this.checkpointsWritten.push(s.checkpoint);
    this.states = structuredClone(next);
    return structuredClone(this.states);
  }
}

export class MemoryJobHistoryRepository implements Pick<JobHistoryRepository, 'load' | 'save' | 'update'> {
  jobs: Job[] = [];
  saves = 0;
  async load() {
    return structuredClone(this.jobs);
  }
  async save(jobs: Job[]) {
    this.saves++;
    this.jobs = structuredClone(jobs);
  }
  async update(change: (stored: Job[]) => Job[]) {
    this.saves++;
    this.jobs = structuredClone(change(structuredClone(this.jobs)));
    return structuredClone(this.jobs);
  }
}

/** A backup lock nobody else holds, unless a test says another process does (`other`). */
export class FreeBackupLock implements Pick<BackupLock, 'hold' | 'release' | 'otherHolder' | 'abandonedJobs' | 'where'> {
  readonly where = 'the test archive';
  held = 0;
  /** every claim this lock was held for, in order: which lock a service takes */
  readonly claims: LockClaim[] = [];
  /** another live process holding it: named by otherHolder, and `hold` is refused */
  other: LockHolder | null = null;
  async hold(_owner?: LockHolder['owner'], claim?: LockClaim) {
    if (this.other) throw new BackupLockedError(this.other, this.where);
    this.held++;
    if (claim) this.claims.push(claim);
  }
  async release() {
    this.held--;
  }
  async otherHolder(): Promise<LockHolder | null> {
    return this.other;
  }
  /** like the file lock: at start-up the running jobs are cut off unless another process holds the lock */
  async abandonedJobs(running: Job[], when: 'start-up' | 'refresh'): Promise<Job[]> {
    if (when === 'refresh') return [];
    return (await this.otherHolder()) ? [] : running;
  }
}

export class FakeAlerts implements Pick<AlertsService, 'notify'> {
  sent: (AlertInput & { secrets: string[] })[] = [];
  notify(input: AlertInput, secrets: string[] = []) {
    this.sent.push({ ...input, secrets });
  }
}

export class FakeStale implements Pick<StaleSourcesService, 'check'> {
  checks = 0;
  async check() {
    this.checks++;
    return [];
  }
}

export type RunHandler = (request: BackupRunRequest) => Promise<BackupResult>;

export class FakeBackups implements Pick<BackupService, 'run' | 'check' | 'connect'> {
  calls: BackupRunRequest[] = [];
  connections = 0;
  handler: RunHandler = async (request) => result(request, 1);
  run(request: BackupRunRequest) {
    this.calls.push(request);
    return this.handler(request);
  }
  async check(): ReturnType<BackupService['check']> {
    return { app: { id: 'x', name: 'X', mode: 'chat' }, accessMode: 'console-admin' };
  }
  async connect(): ReturnType<BackupService['connect']> {
    this.connections++;
    return { client: { accessMode: 'console-admin' } as DifyAppClient, app: { id: 'x', name: 'X', mode: 'chat' } };
  }
}

/** A result as BackupService returns it, reporting progress once per conversation. */
export function result(request: BackupRunRequest, saved: number, over: Partial<BackupResult> = {}): BackupResult {
  for (let i = 1; i <= saved; i++) request.onProgress?.({ seen: i, saved: i, unchanged: 0, failed: 0 });
  const failed = over.failed_count ?? 0;
  return {
    success: failed === 0,
    message: 'ok',
    app_id: request.source.app_id,
    organization_id: request.source.organization_id ?? null,
    access_mode: 'console-admin',
    app_mode: 'chat',
    total_conversations: saved + failed,
    saved_count: saved,
    created_count: saved,
    updated_count: 0,
    unchanged_count: 0,
    failed_count: failed,
    erased_skipped_count: 0,
    redactions: {},
    file_paths: [],
    errors: Array.from({ length: failed }, (_, i) => ({ conversation_id: `c${i}`, error: 'Dify is unreachable' })),
    coverage: { complete: true, warnings: [] },
    warnings: [],
    window: { start: request.window.start?.toISOString() ?? null, end: request.window.end?.toISOString() ?? null },
    interrupted: false,
    ...over,
  };
}

export function testConfig(over: { backfillFrom?: string; overlapSeconds?: number; difyRetentionDays?: number } = {}): AppConfig {
  return {
    autoLogging: true,
    retentionDays: 30,
    compressAfterDays: null,
    schedule: {
      backupCron: '0 2 * * *',
      cleanupCron: '0 3 * * 0',
      compressCron: '30 3 * * *',
      timezone: 'UTC',
      backfillFrom: over.backfillFrom ?? '2d',
      overlapSeconds: over.overlapSeconds ?? 0,
    },
    dify: { timeoutMs: 1000, maxRetries: 0, retryBaseMs: 1, concurrency: 1, retentionDays: over.difyRetentionDays ?? 30 },
    alerts: { webhookUrl: null, staleHours: 36 },
    catalog: { replicaTimeoutSeconds: 4 },
  } as AppConfig;
}

export function fakeRegistry(sources: DifySource[]): SourceRegistry {
  return { list: () => sources, get: (id: string) => sources.find((s) => s.app_id === id)! } as unknown as SourceRegistry;
}

export function checkpointService(repo: MemoryCheckpointRepository, sources: DifySource[], clock: Clock): CheckpointService {
  return new CheckpointService(repo as unknown as CheckpointRepository, fakeRegistry(sources), clock);
}

/** JobsService with its collaborators: the per-source runs and the history built on the given fakes. */
export function jobsService(parts: {
  config: AppConfig;
  backups: FakeBackups;
  checkpoints: CheckpointService;
  history: MemoryJobHistoryRepository;
  alerts: FakeAlerts;
  stale: FakeStale;
  clock: Clock;
  lock?: FreeBackupLock;
  /** the configured sources (resume looks them up) */
  sources?: DifySource[];
  /** the events of other replicas' jobs (default: one process) */
  bus?: JobEventsBus;
  /** the archive's write journal replays (default: an empty journal) */
  storage?: Pick<LogStorageService, 'replayWrites'>;
  /** the replicas with a heartbeat (default: this process alone) */
  replicas?: Replicas;
}): JobsService {
  const lock = (parts.lock ?? new FreeBackupLock()) as unknown as BackupLock;
  const alerts = parts.alerts as unknown as AlertsService;
  return new JobsService(
    new JobHistoryService(parts.history as unknown as JobHistoryRepository, lock, new FreeBackupLock() as unknown as BackupLock, parts.clock),
    new SourceBackupService(
      parts.config,
      parts.backups as unknown as BackupService,
      parts.checkpoints,
      alerts,
      parts.clock,
      null as unknown as WorkspaceBackupService,
      // the fake client exports no configuration: never reached
      null as unknown as AppConfigSnapshots,
    ),
    parts.checkpoints,
    alerts,
    parts.stale as unknown as StaleSourcesService,
    parts.clock,
    lock,
    parts.config,
    fakeRegistry(parts.sources ?? []),
    parts.bus ?? new LocalJobEvents(),
    (parts.storage ?? { replayWrites: async () => ({ indexed: 0, dropped: 0, superseded: 0, failed: 0 }) }) as LogStorageService,
    parts.replicas ?? new SingleReplica(),
  );
}
