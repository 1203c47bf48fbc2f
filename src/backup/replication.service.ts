import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { concat, Observable, of, Subject } from 'rxjs';
import { Clock } from '../common/clock';
import { ConflictError } from '../common/domain-errors';
import { redactText } from '../common/redact';
import { AppConfig, S3Settings } from '../config/app-config';
import type { ArchiveStore } from '../log-storage/archive-store';
import { CatalogRebuildingError } from '../log-storage/log-storage.errors';
import { LogStorageService } from '../log-storage/log-storage.service';
import { replicate, ReplicationAbortedError, ReplicationDeleteRefusedError, ReplicationResult } from '../log-storage/replication';
import { AlertsService } from './alerts.service';
import { BACKUP_LOCK, BackupLock, BackupLockedError, LockClaim } from './backup-lock';
import { JOB_EVENTS_BUS, JobEventsBus } from './job-events';
import { JobHistoryService } from './job-history.service';
import { JobsService } from './jobs.service';
import { clone, errorName } from './job-outcome';
import type { Job, JobEvent, JobTrigger, ReplicationRecord } from './jobs.types';
import { REPLICA_ID } from './replicas';
import { REPLICATION_LOCK, REPLICATION_LOCK_KEY, ReplicationLock, ReplicationLockedError } from './replication-lock';

/** The archive being copied (the app's ARCHIVE_STORE) and the bucket it is copied to; null without a replica bucket. */
export const REPLICATION_STORES = Symbol('REPLICATION_STORES');

export interface ReplicationStores {
  source: ArchiveStore;
  target: ArchiveStore;
  settings: S3Settings;
}

/** What the overview, GET /api/replication and the metrics say about the off-site copy. */
export interface ReplicationStatus {
  /** a replica bucket is configured (REPLICATE_S3_*, or S3_* with ARCHIVE_STORAGE=fs) */
  configured: boolean;
  /** `s3://<bucket>/<prefix>`; null when not configured */
  target: string | null;
  /** REPLICATE_CRON; null: copied only on demand */
  schedule: string | null;
  /** the copy under way, in this process or in another one on this archive (the job history says which) */
  running_job_id: string | null;
  last_success: { job_id: string; started_at: string; finished_at: string; checked: number; copied: number; copied_bytes: number; deleted: number } | null;
  last_run: { job_id: string; status: Job['status']; started_at: string; finished_at: string | null; error: string | null } | null;
  /**
   * Conversation files not yet in the copy, from the catalog: those written (saved, rewritten with new
   * content, compressed) since the last successful copy started, each file counted once however often it
   * was rewritten; every conversation file when there was no copy yet (and after a catalog rebuild, which
   * writes every row anew, until the next copy); null when not configured, and while the catalog is rebuilt
   */
  pending_files: number | null;
}

export interface ReplicationRequest {
  trigger: JobTrigger;
  /** instead of REPLICATE_DELETE (which applies to every copy of the server: scheduled and POST /api/replication) */
  delete?: boolean;
  /** with delete: deletions above half of the replica are applied too (`replicate --force-delete`) */
  forceDelete?: boolean;
  onProgress?: (progress: ReplicationResult) => void;
}

export function replicaTarget(settings: S3Settings): string {
  return `s3://${settings.bucket}/${settings.prefix}`;
}

const isReplication = (job: Job) => job.kind === 'replication';

/** The reason a copy is aborted with when its replication lock is lost (not a shutdown). */
const LOCK_LOST = 'replication lock lost';

/** 409 naming the running job that holds what was asked for. */
function busy(message: string, jobId: string | undefined): ConflictError {
  const error = new ConflictError(message, 'replication');
  error.jobId = jobId;
  return error;
}

/** A backup of another process holds the backup lock: the copy is refused (and recorded as skipped) with `refusal`. */
class BackupRunningError extends Error {
  constructor(readonly refusal: ConflictError) {
    super(refusal.message);
  }
}

function newCopyJob(stores: ReplicationStores, trigger: JobTrigger, now: string): Job {
  return {
    id: randomUUID(),
    kind: 'replication',
    trigger,
    status: 'running',
    window: null,
    started_at: now,
    finished_at: null,
    message: `Copying the archive to ${replicaTarget(stores.settings)}`,
    sources: [],
    replica: REPLICA_ID,
    replication: { target: replicaTarget(stores.settings), checked: 0, copied: 0, copied_bytes: 0, unchanged: 0, deleted: 0, extra: 0, error: null },
  };
}

/** How often a copy under way writes its counts to the job history (in memory, and the shared history). */
const PROGRESS_RECORD_MS = 500;
const PROGRESS_PERSIST_MS = 2000;

interface RunningCopy {
  job: Job;
  controller: AbortController;
  done: Promise<Job>;
  events: Subject<JobEvent>;
  seq: number;
}

/**
 * The off-site copy as a job, whatever started it (cron, the API, the CLI): the archive's new and changed
 * files are copied to the replica bucket, verified, and the run is recorded in the job history (which is
 * where the last successful copy is read from, so it survives restarts), with an alert when it fails.
 * One copy at a time on the archive, whichever process runs it (the replication lock); none starts while a
 * backup runs (backups write each file atomically, so one starting during a copy is seen by the next copy).
 */
@Injectable()
export class ReplicationService implements OnModuleDestroy {
  private readonly logger = new Logger(ReplicationService.name);
  private running: RunningCopy | null = null;

  constructor(
    private readonly config: AppConfig,
    @Inject(REPLICATION_STORES) private readonly stores: ReplicationStores | null,
    private readonly history: JobHistoryService,
    private readonly alerts: AlertsService,
    private readonly storage: LogStorageService,
    @Inject(BACKUP_LOCK) private readonly lock: BackupLock,
    @Inject(REPLICATION_LOCK) private readonly replicationLock: ReplicationLock,
    private readonly clock: Clock,
    private readonly jobs: JobsService,
    @Inject(JOB_EVENTS_BUS) private readonly bus: JobEventsBus,
  ) {}

  get configured(): boolean {
    return this.stores !== null;
  }

  /**
   * Starts a copy and resolves with its job once it has finished. Throws ConflictError when no replica
   * bucket is configured, a copy is under way (here, or in another process holding the replication lock:
   * 409 with its job id, and this copy is recorded as skipped), or a backup is running (here, or in
   * another process holding the backup lock).
   */
  async run(request: ReplicationRequest): Promise<Job> {
    return (await this.start(request)).done;
  }

  /** Starts a copy in the background and returns its job at once (status `running`); refusals as `run`. */
  async start(request: ReplicationRequest): Promise<{ job: Job; done: Promise<Job> }> {
    const stores = this.stores;
    if (!stores) {
      throw new ConflictError('no replica bucket is configured: set REPLICATE_S3_BUCKET_NAME (or S3_BUCKET_NAME with ARCHIVE_STORAGE=fs)', 'REPLICATE_S3_BUCKET_NAME');
    }
    if (this.running) {
      const id = this.running.job.id;
      throw await this.skip(stores, request, busy(`replication job ${id} is under way; try again when it has finished`, id));
    }
    const backup = this.jobs.runningJobIds()[0];
    if (backup) throw await this.skip(stores, request, busy(`backup job ${backup} is running; try again when it has finished`, backup));
    const job = newCopyJob(stores, request.trigger, this.clock.now().toISOString());
    const controller = new AbortController();
    // claimed before the first await, so two requests at once never start two copies
    const run: RunningCopy = { job, controller, done: Promise.resolve(job), events: new Subject<JobEvent>(), seq: 0 };
    this.running = run;
    const claim: LockClaim = { jobId: job.id, sources: [REPLICATION_LOCK_KEY] };
    let locked = false;
    try {
      const holder = await this.lock.otherHolder();
      if (holder) {
        throw new BackupRunningError(busy(`a backup of another process (pid ${holder.pid} on ${holder.hostname}) is running; try again when it has finished`, holder.job_id));
      }
      await this.replicationLock.hold(request.trigger === 'cli' ? 'cli' : 'server', claim);
      locked = true;
      await this.history.load(() => [job]);
      // with the lock held no other copy runs: one the history still calls running was cut off (a killed CLI)
      await this.history.interruptRunning((j) => isReplication(j) && j.id !== job.id, [job], 'the process copying stopped before the copy finished');
      // read before the copy lists the archive, from the clock the catalog stamps files with: with PostgreSQL
      // the database's, so no host's clock is compared with another's (a failed read: this process's start)
      job.replication!.catalog_since = await this.storage.catalogClock().catch(() => job.started_at);
    } catch (error) {
      this.running = null;
      if (locked) await this.replicationLock.release(claim).catch(() => undefined);
      if (error instanceof BackupLockedError) throw await this.skip(stores, request, new ReplicationLockedError(error.holder));
      if (error instanceof BackupRunningError) throw await this.skip(stores, request, error.refusal);
      throw error;
    }
    this.history.claim(job.id);
    this.history.finish(job);
    run.events.subscribe((event) => this.bus.publish(event));
    // a lock lost while copying (PostgreSQL's session cut off) may be taken by another replica: this copy stops
    const stopWatching = this.replicationLock.onLost?.(() => controller.abort(LOCK_LOST));
    let released: Promise<void> | null = null;
    const release = () =>
      (released ??= this.replicationLock.release(claim).catch((error) => this.logger.warn(`Could not release the replication lock: ${errorName(error)}`)));
    run.done = this.execute(stores, run, request, release).finally(async () => {
      stopWatching?.();
      this.running = null;
      await release();
    });
    await this.history.persist(() => []);
    return { job: clone(job), done: run.done };
  }

  /**
   * A copy refused because another one or a backup runs is recorded as skipped, as a backup refused by the lock
   * is: not a failure. The refusal is the answer (409, the CLI's exit 3) even when it cannot be recorded.
   */
  private async skip(stores: ReplicationStores, request: ReplicationRequest, refusal: ConflictError): Promise<ConflictError> {
    const now = this.clock.now().toISOString();
    const job: Job = { ...newCopyJob(stores, request.trigger, now), status: 'skipped', finished_at: now, message: `Skipped: ${refusal.message}` };
    const live = () => (this.running ? [this.running.job] : []);
    try {
      await this.history.load(live);
      this.history.claim(job.id);
      this.history.finish(job);
      await this.history.persist(live);
    } catch (error) {
      this.logger.error(`Could not record the skipped replication job ${job.id} (${job.trigger}): ${errorName(error)}`);
    }
    this.logger.warn(`Skipped replication job ${job.id} (${job.trigger}): ${refusal.message}`);
    return refusal;
  }

  /**
   * Shutdown stops a copy under way (the objects being copied finish; the next run copies the rest), before
   * the archive's store closes (this module is destroyed before the modules it imports).
   */
  async onModuleDestroy(): Promise<void> {
    const run = this.running;
    if (run) {
      run.controller.abort();
      await run.done.catch(() => undefined);
    }
    await this.stores?.target.close();
  }

  /**
   * The events of this process's copy under way: its counts now, then as they change, ending with `done`;
   * null when it is not running here (GET /api/jobs/{id}/events then answers from the job history).
   */
  events(id: string): Observable<JobEvent> | null {
    const run = this.running;
    if (!run || run.job.id !== id || run.events.closed) return null;
    const now: JobEvent = { type: 'replication', seq: run.seq, job_id: id, replication: { ...run.job.replication! } };
    return concat(of(now), run.events.asObservable());
  }

  /** The last successful copy, the last run, and what is not yet copied. */
  async status(): Promise<ReplicationStatus> {
    const stores = this.stores;
    if (!stores) {
      return { configured: false, target: null, schedule: this.config.replication.cron, running_job_id: null, last_success: null, last_run: null, pending_files: null };
    }
    const live = () => (this.running ? [this.running.job] : []);
    await this.history.load(live);
    // what other processes on this archive recorded since (a CLI copy, another replica's backups)
    await this.history.refresh(live());
    await this.interruptCutOffCopies(live());
    const jobs = this.history.list(live());
    // the copy of this process still under way (its job already says how it ended while that is being recorded) is not the last
    const runs = jobs.filter((j) => isReplication(j) && j.id !== this.running?.job.id);
    // a skipped copy never ran: the last run is the last one that copied, or tried to
    const lastRun = runs.find((j) => j.status !== 'running' && j.status !== 'skipped') ?? null;
    const elsewhere = runs.find((j) => j.status === 'running') ?? null;
    const success = runs.find((j) => j.status === 'succeeded' && j.finished_at) ?? null;
    // the catalog stamps every file it indexes (a save, a rewrite, a compression): those after the copy began may be missing from it
    const pending = await (success ? this.storage.countWrittenSince(success.replication?.catalog_since ?? success.started_at) : this.storage.countConversations()).catch((error: unknown) => {
      // the status still answers while the catalog is rebuilt, without the count
      if (error instanceof CatalogRebuildingError) return null;
      throw error;
    });
    const counts = (j: Job) => j.replication ?? ({} as Partial<ReplicationRecord>);
    return {
      configured: true,
      target: replicaTarget(stores.settings),
      schedule: this.config.replication.cron,
      running_job_id: this.running?.job.id ?? elsewhere?.id ?? null,
      last_success: success
        ? {
            job_id: success.id,
            started_at: success.started_at,
            finished_at: success.finished_at!,
            checked: counts(success).checked ?? 0,
            copied: counts(success).copied ?? 0,
            copied_bytes: counts(success).copied_bytes ?? 0,
            deleted: counts(success).deleted ?? 0,
          }
        : null,
      last_run: lastRun
        ? { job_id: lastRun.id, status: lastRun.status, started_at: lastRun.started_at, finished_at: lastRun.finished_at, error: counts(lastRun).error ?? null }
        : null,
      pending_files: pending,
    };
  }

  /**
   * A copy records itself as running only once it holds the replication lock, and gives the lock back only once
   * its outcome is recorded: a copy of another process the history calls running while nobody holds the lock was
   * cut off (a CLI killed with SIGKILL), and is marked interrupted now rather than at the next copy or restart.
   */
  private async interruptCutOffCopies(live: Job[]): Promise<void> {
    const running = this.history.list(live).filter((j) => isReplication(j) && j.status === 'running' && j.id !== this.running?.job.id);
    if (!running.length) return;
    try {
      if (await this.replicationLock.otherHolder()) return;
      const ids = new Set(running.map((j) => j.id));
      await this.history.interruptRunning((j) => ids.has(j.id), live, 'the process copying stopped before the copy finished');
    } catch (error) {
      this.logger.warn(`Could not check the replication lock for a copy cut off: ${errorName(error)}`);
    }
  }

  private async execute(stores: ReplicationStores, run: RunningCopy, request: ReplicationRequest, releaseLock: () => Promise<void>): Promise<Job> {
    const { job } = run;
    const signal = run.controller.signal;
    const target = replicaTarget(stores.settings);
    this.logger.log(`Started replication job ${job.id} (${job.trigger}) to ${target}`);
    const record = job.replication!;
    const apply = (r: ReplicationResult) => Object.assign(record, r);
    const remove = request.delete ?? this.config.replication.delete;
    // the counts so far, in the job history (GET /api/jobs/{id}, and other processes through the shared history) and as events
    let recordedAt = 0;
    let persistedAt = 0;
    let persisting: Promise<void> = Promise.resolve();
    const publish = (progress: ReplicationResult) => {
      apply(progress);
      const now = this.clock.now().getTime();
      if (now - recordedAt < PROGRESS_RECORD_MS) return;
      recordedAt = now;
      this.history.finish(job);
      run.events.next({ type: 'replication', seq: ++run.seq, job_id: job.id, replication: { ...record } });
      if (now - persistedAt >= PROGRESS_PERSIST_MS) {
        persistedAt = now;
        persisting = persisting.then(() => this.history.persist(() => [])).catch((error) => this.logger.warn(`Could not record the progress of replication job ${job.id}: ${errorName(error)}`));
      }
    };
    try {
      await stores.target.checkAccess?.();
      apply(
        await replicate(stores.source, stores.target, {
          delete: remove,
          forceDelete: request.forceDelete === true,
          concurrency: this.config.replication.concurrency,
          signal,
          onProgress: (progress) => {
            publish(progress);
            request.onProgress?.(progress);
          },
        }),
      );
      job.status = 'succeeded';
      job.message = `Copied ${record.copied} of ${record.checked} files (${record.copied_bytes} bytes) to ${target}, ${record.unchanged} unchanged, ` +
        (remove ? `${record.deleted} deleted there` : `${record.extra} there only, kept`);
    } catch (error) {
      if (error instanceof ReplicationAbortedError) {
        apply(error.progress);
        job.status = 'interrupted';
        job.message = signal.reason === LOCK_LOST
          ? `Stopped after ${record.checked} files checked, ${record.copied} copied: the connection holding the replication lock was lost, so another copy may start; the next run copies the rest`
          : `Stopped by shutdown after ${record.checked} files checked, ${record.copied} copied; the next run copies the rest`;
      } else {
        if (error instanceof ReplicationDeleteRefusedError) apply(error.progress);
        job.status = 'failed';
        record.error = redactText(error instanceof Error && error.message ? error.message : errorName(error), this.secrets(stores));
        job.message = `Copy to ${target} failed after ${record.checked} files checked, ${record.copied} copied: ${record.error}`;
      }
    }
    job.finished_at = this.clock.now().toISOString();
    await persisting;
    this.history.finish(job);
    await this.history.persist(() => []);
    // given back once the outcome is recorded, so the next copy never sees this one as cut off
    await releaseLock();
    run.events.next({ type: 'done', seq: ++run.seq, job_id: job.id, job: clone(job) });
    run.events.complete();
    const line = `replication job ${job.id} (${job.trigger}) ${job.status}: checked=${record.checked} copied=${record.copied} bytes=${record.copied_bytes} unchanged=${record.unchanged} deleted=${record.deleted} extra=${record.extra}`;
    if (job.status === 'succeeded') this.logger.log(`Finished ${line}`);
    else if (job.status === 'interrupted') this.logger.warn(`Stopped ${line}`);
    else {
      this.logger.error(`Failed ${line}: ${record.error}`);
      this.alerts.notify({
        event: 'replication_failed',
        text: `Off-site copy to ${target} failed: ${record.error}`,
        job_id: job.id,
        details: { target, checked: record.checked, copied: record.copied, error: record.error },
      }, this.secrets(stores));
    }
    return clone(job);
  }

  /** The replica's keys, and the archive bucket's when the archive is one (an error may come from either side). */
  private secrets(stores: ReplicationStores): string[] {
    const archive = this.config.archive.storage === 's3' ? [this.config.archive.s3] : [];
    return [stores.settings, ...archive].flatMap((s) => [s.accessKeyId, s.secretAccessKey]).filter((s): s is string => !!s);
  }
}
