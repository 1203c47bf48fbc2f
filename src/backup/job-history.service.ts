import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { parseArchivePath } from '../log-storage/archive-paths';
import { BACKUP_LOCK, BackupLock } from './backup-lock';
import { JOB_HISTORY_REPOSITORY, JobHistoryRepository } from './job-history.repository';
import { REPLICATION_LOCK, ReplicationLock } from './replication-lock';
import { clone, errorName, forHistory, resumePoint } from './job-outcome';
import type { BackupResult } from './backup.types';
import type { Job, JobSource } from './jobs.types';

/** Jobs kept in the history. */
export const MAX_JOBS = 500;

const newestFirst = (a: Job, b: Job) => b.started_at.localeCompare(a.started_at);

/**
 * The durable, bounded job history shared by every process on one LOGS_DIR (a server and a CLI): this
 * process writes only the jobs it started or changed, and keeps what the others wrote.
 */
@Injectable()
export class JobHistoryService {
  private readonly logger = new Logger(JobHistoryService.name);
  private history: Job[] = [];
  /** jobs this process started or changed: the only ones it writes over in the shared history file */
  private readonly ownIds = new Set<string>();
  private loaded: Promise<void> | null = null;

  constructor(
    @Inject(JOB_HISTORY_REPOSITORY) private readonly repository: JobHistoryRepository,
    @Inject(BACKUP_LOCK) private readonly lock: BackupLock,
    @Inject(REPLICATION_LOCK) private readonly replicationLock: ReplicationLock,
    private readonly clock: Clock,
  ) {}

  /**
   * Reads the history once. A job still "running" in it was cut off by a crash or kill, unless its lock
   * (the backup lock, or for a copy the replication lock) says a live process runs it (a CLI next to this
   * server, another replica). `live` tells the jobs running in this process.
   */
  load(live: () => Job[]): Promise<void> {
    this.loaded ??= (async () => {
      const stored = await this.repository.load();
      const now = this.clock.now().toISOString();
      const liveIds = new Set(live().map((j) => j.id));
      const abandoned = await this.abandoned(
        stored.filter((j) => j.status === 'running' && !liveIds.has(j.id)),
        'start-up',
      );
      for (const job of abandoned) this.interrupt(job, now, 'the service stopped while the job ran');
      const changed = abandoned.length > 0;
      const ids = new Set(this.history.map((j) => j.id));
      this.history = [...this.history, ...stored.filter((j) => !ids.has(j.id))].slice(0, MAX_JOBS);
      if (changed) await this.persist(live);
    })();
    return this.loaded;
  }

  isLoading(): boolean {
    return this.loaded !== null;
  }

  /** Marks a job as this process's own. */
  claim(id: string): void {
    this.ownIds.add(id);
  }

  /** Changes a job of the history (another process's too) and makes it this process's to write. */
  async amend(id: string, change: (job: Job) => void): Promise<void> {
    const job = this.history.find((j) => j.id === id);
    if (!job) return;
    change(job);
    this.ownIds.add(id);
  }

  /**
   * Takes the jobs other processes wrote into the shared file since it was read (two servers, or a
   * CLI, on one LOGS_DIR); this process's own jobs stay as this process knows them.
   */
  async refresh(live: Job[]): Promise<void> {
    let stored: Job[];
    try {
      stored = await this.repository.load();
    } catch (e) {
      this.logger.error(`Failed to read the job history: ${errorName(e)}`);
      return;
    }
    const liveIds = new Set(live.map((j) => j.id));
    const theirs = stored.filter((j) => !this.ownIds.has(j.id) && !liveIds.has(j.id));
    const ids = new Set(theirs.map((j) => j.id));
    this.history = [...theirs, ...this.history.filter((j) => !ids.has(j.id))].sort(newestFirst).slice(0, MAX_JOBS);
    let abandoned: Job[] = [];
    try {
      abandoned = await this.abandoned(
        this.history.filter((j) => j.status === 'running' && ids.has(j.id)),
        'refresh',
      );
    } catch (e) {
      this.logger.error(`Failed to check the running jobs of other processes: ${errorName(e)}`);
    }
    if (!abandoned.length) return;
    const now = this.clock.now().toISOString();
    for (const job of abandoned) {
      this.interrupt(job, now, `replica ${job.replica ?? 'unknown'} stopped sending its heartbeat while the job ran`);
      this.logger.warn(`Marked job ${job.id} interrupted: its replica ${job.replica ?? 'unknown'} is gone`);
    }
    await this.persist(() => live);
  }

  /**
   * Marks interrupted the jobs `pick` chooses that the shared history, read again, still calls running
   * and this process does not run: for a caller that knows no live process runs them (a copy that took
   * the replication lock knows every other copy the history calls running was cut off).
   */
  async interruptRunning(pick: (job: Job) => boolean, live: Job[], why: string): Promise<Job[]> {
    await this.refresh(live);
    const liveIds = new Set(live.map((j) => j.id));
    const gone = this.history.filter((j) => j.status === 'running' && !liveIds.has(j.id) && pick(j));
    if (!gone.length) return [];
    const now = this.clock.now().toISOString();
    for (const job of gone) {
      this.interrupt(job, now, why);
      this.logger.warn(`Marked job ${job.id} interrupted: ${why}`);
    }
    await this.persist(() => live);
    return clone(gone);
  }

  /** A backup runs under the backup lock, a copy under the replication lock: each lock judges its own jobs. */
  private async abandoned(running: Job[], when: 'start-up' | 'refresh'): Promise<Job[]> {
    const copies = running.filter((j) => j.kind === 'replication');
    const backups = running.filter((j) => j.kind !== 'replication');
    return [...(await this.lock.abandonedJobs(backups, when)), ...(await this.replicationLock.abandonedJobs(copies, when))];
  }

  /** A job cut off by a crash or kill: interrupted, a backup resumable from where it stopped (a copy is run again), written by this process. */
  private interrupt(job: Job, now: string, why: string): void {
    this.ownIds.add(job.id);
    job.status = 'interrupted';
    job.finished_at = now;
    job.message = `Interrupted: ${why}; ${job.message}`;
    for (const s of job.sources) {
      if (s.status === 'running' || s.status === 'pending') {
        s.status = 'interrupted';
        s.finished_at = now;
      }
    }
    if (job.kind !== 'replication') job.resume = resumePoint(job, 'crash', now);
  }

  /**
   * Removes the files of these conversations (by organization and conversation id, whatever name the file
   * had then: a day folder compressed since keeps the id) from every job's results, here and in the shared
   * history (an erasure): the history then names none of the erased conversations.
   */
  async forgetPaths(paths: string[]): Promise<void> {
    if (!paths.length) return;
    const keyOf = (p: string): string => {
      const info = parseArchivePath(p);
      return info ? `${info.organization_id ?? ''}/${info.conversation_id}` : p;
    };
    const gone = new Set(paths.map(keyOf));
    const scrubResult = (r: BackupResult | null | undefined): void => {
      if (!r) return;
      r.file_paths = r.file_paths.filter((p) => !gone.has(keyOf(p)));
      r.apps?.forEach(scrubResult);
    };
    const scrubSource = (s: JobSource): void => {
      scrubResult(s.result);
      s.apps?.forEach(scrubSource);
    };
    for (const job of this.history) job.sources.forEach(scrubSource);
    await this.repository.update((stored) => {
      for (const job of stored) job.sources.forEach(scrubSource);
      return stored;
    });
  }

  /** A finished job enters the history (in memory; `persist` writes it). */
  finish(job: Job): void {
    this.history = [forHistory(job), ...this.history.filter((j) => j.id !== job.id)].slice(0, MAX_JOBS);
  }

  /** The running jobs and the history, newest first. */
  list(live: Job[]): Job[] {
    const ids = new Set(live.map((j) => j.id));
    return clone([...live, ...this.history.filter((j) => !ids.has(j.id))]).sort(newestFirst);
  }

  find(id: string): Job | undefined {
    const found = this.history.find((j) => j.id === id);
    return found ? clone(found) : undefined;
  }

  /** Writes this process's jobs into the shared history file, keeping the jobs other processes wrote there. */
  async persist(liveJobs: () => Job[]): Promise<void> {
    const live = liveJobs().map(forHistory);
    const ids = new Set(live.map((j) => j.id));
    const own = [...live, ...this.history.filter((j) => !ids.has(j.id) && this.ownIds.has(j.id))];
    try {
      const merged = await this.repository.update((stored) => {
        const byId = new Map(stored.map((j) => [j.id, j]));
        for (const job of own) byId.set(job.id, job);
        return [...byId.values()].sort(newestFirst).slice(0, MAX_JOBS);
      });
      // jobs may have finished while the file was written: ask again which ones still run
      const running = new Set(liveJobs().map((j) => j.id));
      const kept = new Set(merged.map((j) => j.id));
      this.history = [...merged.filter((j) => !running.has(j.id)), ...this.history.filter((j) => !kept.has(j.id) && !running.has(j.id))]
        .sort(newestFirst)
        .slice(0, MAX_JOBS);
      for (const id of this.ownIds) if (!kept.has(id) && !running.has(id)) this.ownIds.delete(id);
    } catch (e) {
      this.logger.error(`Failed to write the job history: ${errorName(e)}`);
    }
  }
}
