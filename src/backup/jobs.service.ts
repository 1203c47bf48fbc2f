import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { concat, concatMap, filter, finalize, interval, map, merge, Observable, of, share, Subject, take, takeWhile } from 'rxjs';
import { Clock } from '../common/clock';
import { ConflictError, NotFoundError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { KeyedLock } from '../common/keyed-lock';
import { mapConcurrent } from '../common/concurrency';
import { redactText, secretsOf } from '../common/redact';
import { withRetryAdvice } from '../dify/dify-error-text';
import { DifyAuthError, DifyError } from '../dify/dify.errors';
import { LogStorageService } from '../log-storage/log-storage.service';
import type { CrawlWindow, DifySource } from '../dify/dify.types';
import { AlertsService } from './alerts.service';
import { BACKUP_LOCK, BackupLock, BackupLockedError, LockClaim } from './backup-lock';
import { isArchiveStop } from './backup-result';
import type { BackupResult } from './backup.types';
import { CheckpointService } from './checkpoint.service';
import { credentialsRejectedAlert } from './job-alerts';
import { JOB_EVENTS_BUS, JobEventsBus } from './job-events';
import { JobHistoryService } from './job-history.service';
import { writesOfGoneWriters, writesOfSources } from './journal-scope';
import { REPLICAS, Replicas } from './replicas';
import { orgAppLabel } from '../common/org-app-label';
import { clone, describeJob, errorName, forHistory, isoWindow, isResumable, jobStatus, jobTotals, newJobSource, plural, resumePoint, sourceStatus } from './job-outcome';
import type { BackupJobRequest, Job, JobEvent, JobSource } from './jobs.types';
import { SourceBackupService } from './source-backup.service';
import { REPLICA_ID } from './replicas';
import { SourceRegistry, sourceKey } from './source-registry';
import { StaleSourcesService } from './stale-sources.service';

export { MAX_JOBS } from './job-history.service';
export { jobStatus } from './job-outcome';

/** Sources of one job backed up at the same time. */
const SOURCE_PARALLELISM = 2;

interface RunningJob {
  job: Job;
  sources: DifySource[];
  keys: Set<string>;
  windowKey: string;
  controller: AbortController;
  events: Subject<JobEvent>;
  seq: number;
  done: Promise<Job>;
  /** the error that stopped a source as a whole, by source index (kept in memory only) */
  errors: Map<number, unknown>;
  /** settles once the job holds the backup lock or was skipped for want of it */
  lockSettled: Promise<BackupLockedError | null>;
  settleLock(refusal: BackupLockedError | null): void;
  /** the archive cannot be written (disk full, read-only): the sources not started yet are not tried */
  archiveStop: string | null;
}

function errorText(error: unknown, source: DifySource): string {
  return redactText(error instanceof Error ? error.message : String(error), secretsOf(source));
}

/**
 * The life of a backup job, whatever started it (the API, the admin page, the CLI, cron): a job backs up
 * its sources (one failing app never stops the others; one source is never backed up twice at once),
 * reports progress as events and ends in the history. The per-source work is SourceBackupService's;
 * the history is JobHistoryService's.
 */
@Injectable()
export class JobsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobsService.name);
  private readonly running = new Map<string, RunningJob>();
  private readonly sourceLocks = new KeyedLock();
  private readonly live = () => [...this.running.values()].map((r) => r.job);
  /** set when shutdown drains the running jobs: what they leave undone gets a resume point */
  private stopping = false;
  /** one poll of the shared history per watched job of another replica, however many clients watch it */
  private readonly remoteEnds = new Map<string, Observable<Job>>();
  /** writes of the history, one after the other, so the last one written is the newest state */
  private writes: Promise<void> = Promise.resolve();
  /** when this process last started writing the history (ms), and whether a progress write is queued */
  private lastWriteMs = 0;
  private progressWriteQueued = false;

  constructor(
    private readonly history: JobHistoryService,
    private readonly sourceBackups: SourceBackupService,
    private readonly checkpoints: CheckpointService,
    private readonly alerts: AlertsService,
    private readonly stale: StaleSourcesService,
    private readonly clock: Clock,
    @Inject(BACKUP_LOCK) private readonly lock: BackupLock,
    private readonly config: AppConfig,
    private readonly registry: SourceRegistry,
    @Inject(JOB_EVENTS_BUS) private readonly bus: JobEventsBus,
    private readonly storage: LogStorageService,
    @Inject(REPLICAS) private readonly replicas: Replicas,
  ) {}

  onModuleInit(): Promise<void> {
    return this.history.load(this.live);
  }

  /** Runs a backup job and resolves with it when it has finished (each source's BackupResult inside). */
  async runBackup(request: BackupJobRequest): Promise<Job> {
    await this.history.load(this.live);
    return this.begin(request).done;
  }

  /**
   * Runs a backup job and resolves with it when it has finished; throws BackupLockedError (409, with the
   * running job's id) when another process backs up one of its sources (the job is recorded as skipped).
   */
  async runBackupWhenFree(request: BackupJobRequest): Promise<Job> {
    await this.history.load(this.live);
    const run = this.begin(request);
    const refusal = await run.lockSettled;
    const job = await run.done;
    if (refusal) throw refusal;
    return job;
  }

  /**
   * One source as a job, for callers that answer with a single BackupResult (POST /api/conversation-logs):
   * throws the original error (a DifyError, for the HTTP filter) when the source failed before backing
   * anything up; otherwise resolves with the job and that source's result.
   */
  async runSource(request: { source: DifySource; window?: CrawlWindow; trigger: BackupJobRequest['trigger'] }): Promise<{ job: Job; result: BackupResult }> {
    await this.history.load(this.live);
    const run = this.begin({ sources: [request.source], trigger: request.trigger, ...(request.window ? { window: request.window } : {}) });
    const job = await run.done;
    const index = run.sources.findIndex((s) => sourceKey(s) === sourceKey(request.source));
    const entry = job.sources[index];
    if (!entry.result) throw run.errors.get(index) ?? new Error(entry.error ?? 'the backup did not run');
    return { job, result: entry.result };
  }

  /** Starts a backup job in the background and returns it at once (status `running`). */
  startBackup(request: BackupJobRequest): Job {
    if (!this.history.isLoading()) void this.history.load(this.live);
    return clone(this.begin(request).job);
  }

  /**
   * Starts a backup job in the background and resolves once it holds the backup lock; throws
   * BackupLockedError (409) when another process backs up this archive (the job is recorded as skipped).
   */
  async startBackupWhenFree(request: BackupJobRequest): Promise<Job> {
    await this.history.load(this.live);
    const run = this.begin(request);
    const refusal = await run.lockSettled;
    if (refusal) throw refusal;
    return clone(run.job);
  }

  /** Continues an interrupted job as a new job over what it left undone; the old job points at the new one. */
  async resume(id: string): Promise<Job> {
    await this.refresh();
    const job = this.getOrThrow(id);
    if (job.kind === 'replication') {
      throw new ConflictError(`job ${id} is a replication job: a copy is not resumed but run again (POST /api/replication), and the new copy copies only what is not copied yet`, 'id');
    }
    if (job.status !== 'interrupted') throw new ConflictError(`job ${id} is ${job.status}; only an interrupted job can be resumed`, 'id');
    if (job.resumed_by) throw new ConflictError(`job ${id} was already resumed by job ${job.resumed_by}`, 'id');
    const configured = this.registry.list();
    const wanted = new Set(job.sources.map((s) => `${s.organization_id ?? ''}/${s.app_id}`));
    const sources = configured.filter((c) => wanted.has(sourceKey(c)));
    if (!sources.length) throw new ConflictError(`no source of job ${id} is configured any more`, 'id');
    const window = job.window
      ? { ...(job.window.start ? { start: new Date(job.window.start) } : {}), ...(job.window.end ? { end: new Date(job.window.end) } : {}) }
      : undefined;
    const where = job.window ? `window ${job.window.start ?? 'beginning'}..${job.window.end ?? 'now'}` : 'each checkpoint';
    this.logger.log(`Resuming job ${id} (interrupted by ${job.resume?.reason ?? 'a stop'} at ${job.resume?.interrupted_at ?? job.finished_at}) from ${where}`);
    return this.startBackupWhenFree({ sources, trigger: job.trigger, resumes: id, ...(window ? { window } : {}) });
  }

  /** At start-up: resumes the jobs the last shutdown interrupted (not those of a crash: a job that kills the process would loop). */
  async resumeInterrupted(): Promise<Job[]> {
    await this.history.load(this.live);
    const waiting = this.list().filter((j) => isResumable(j) && j.resume?.reason === 'shutdown');
    if (!this.config.autoLogging) {
      for (const j of waiting) {
        this.logger.warn(`Job ${j.id} was interrupted by shutdown at ${j.resume!.interrupted_at}; automatic backups are off, so it waits: POST /api/jobs/${j.id}/resume or the admin page resumes it`);
      }
      return [];
    }
    const started: Job[] = [];
    for (const j of waiting.reverse()) {
      try {
        started.push(await this.resume(j.id));
      } catch (e) {
        this.logger.warn(`Did not resume job ${j.id}: ${e instanceof ConflictError ? e.message : errorName(e)}`);
      }
    }
    return started;
  }

  /** Re-reads the shared history, so jobs of another process on this archive show as they are now. */
  async refresh(): Promise<void> {
    await this.history.load(this.live);
    await this.history.refresh(this.live());
  }

  /** Newest first. */
  list(): Job[] {
    return this.history.list(this.live());
  }

  get(id: string): Job | undefined {
    const running = this.running.get(id)?.job;
    return running ? clone(running) : this.history.find(id);
  }

  getOrThrow(id: string): Job {
    const job = this.get(id);
    if (!job) throw new NotFoundError(`no job has id ${id}`, 'id');
    return job;
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** True while a job of this process backs the source up. */
  isSourceRunning(source: Pick<DifySource, 'app_id' | 'organization_id'>): boolean {
    return this.sourceLocks.isLocked(sourceKey(source));
  }

  /** The running jobs' ids. */
  runningJobIds(): string[] {
    return [...this.running.keys()];
  }

  /**
   * A job's events: for a running job the current progress of each source, then every event as it
   * happens, ending with `done`; for a finished job only `done` with its final state.
   */
  events(id: string): Observable<JobEvent> {
    const run = this.running.get(id);
    if (!run) {
      const job = this.getOrThrow(id);
      const remote = job.status === 'running' ? this.bus.watch(id) : null;
      if (remote) {
        // a job of another replica: its events as they are published; `done` with the job as now stored
        let seq = 0;
        const published = remote.pipe(
          concatMap(async (event): Promise<JobEvent> => {
            seq = Math.max(seq, event.seq);
            if (event.type !== 'done') return event;
            await this.refresh();
            return { ...event, job: this.getOrThrow(id) };
          }),
        );
        // a replica killed mid-run publishes no `done`: the history, read again every heartbeat, tells the
        // end once the job is marked interrupted (or a missed notification)
        const ended = this.remoteEnd(id).pipe(map((now): JobEvent => ({ type: 'done', seq: seq + 1, job_id: id, job: now })));
        return merge(published, ended).pipe(takeWhile((event) => event.type !== 'done', true));
      }
      return of<JobEvent>({ type: 'done', seq: 0, job_id: id, job });
    }
    const snapshot = run.job.sources.map((s) => this.progressEvent(run, s, false));
    return concat(of(...snapshot), run.events.asObservable());
  }

  /**
   * The job of another replica as the shared history tells it once it is no longer running. Every watcher
   * of that job shares one poll (every heartbeat); it stops with the last watcher and with the answer.
   */
  private remoteEnd(id: string): Observable<Job> {
    let shared = this.remoteEnds.get(id);
    if (!shared) {
      shared = interval(this.heartbeatMs()).pipe(
        concatMap(async () => {
          await this.refresh();
          return this.get(id);
        }),
        filter((now): now is Job => !!now && now.status !== 'running'),
        take(1),
        finalize(() => this.remoteEnds.delete(id)),
        share(),
      );
      this.remoteEnds.set(id, shared);
    }
    return shared;
  }

  /**
   * The heartbeat of the shared history: how often a watcher of another replica's job reads it, and at
   * most how often a running job's progress is written to it.
   */
  private heartbeatMs(): number {
    return Math.max(1000, (this.config.catalog.replicaTimeoutSeconds * 1000) / 4);
  }

  /**
   * Shutdown drains before the archive's catalog closes (this module is destroyed before the modules it
   * imports): the conversations in flight finish and are indexed, listing stops, each job records
   * where it stopped.
   */
  onModuleDestroy(): Promise<void> {
    return this.drain();
  }

  /** Aborts the running jobs (in-flight conversations finish and are indexed, listing stops) and waits for them. */
  async drain(): Promise<void> {
    this.stopping = true;
    const runs = [...this.running.values()];
    if (!runs.length) return;
    this.logger.warn(`Stopping ${plural(runs.length, 'running job')} for shutdown: finishing the conversations in flight`);
    for (const run of runs) run.controller.abort();
    await Promise.allSettled(runs.map((r) => r.done));
  }

  /** An erasure removed these archive paths: the job history forgets them too. */
  forgetArchivePaths(paths: string[]): Promise<void> {
    return this.history.forgetPaths(paths);
  }

  private persist(): Promise<void> {
    const write = this.writes.then(() => {
      this.lastWriteMs = this.clock.now().getTime();
      return this.history.persist(this.live);
    });
    this.writes = write;
    return write;
  }

  /**
   * Progress of the running jobs into the shared history, so every replica's job list shows it: at most
   * once a heartbeat, never waited for by the backup, never two queued.
   */
  private persistProgress(): void {
    if (this.progressWriteQueued || this.clock.now().getTime() - this.lastWriteMs < this.heartbeatMs()) return;
    this.progressWriteQueued = true;
    void this.persist().finally(() => (this.progressWriteQueued = false));
  }

  private begin(request: BackupJobRequest): RunningJob {
    // a run of some apps of a workspace is not the run of the whole workspace
    const keys = new Set(request.sources.map((s) => (s.only_app_ids ? `${sourceKey(s)}#${s.only_app_ids.join(',')}` : sourceKey(s))));
    const windowKey = request.window
      ? `${request.window.start?.toISOString() ?? ''}|${request.window.end?.toISOString() ?? ''}|${request.window.from_source ?? ''}`
      : 'catch-up';
    for (const run of this.running.values()) {
      if (run.windowKey === windowKey && [...keys].every((k) => run.keys.has(k))) {
        this.logger.log(`Joined running job ${run.job.id} (${request.trigger} trigger for the same sources)`);
        return run;
      }
    }
    const job: Job = {
      id: randomUUID(),
      kind: 'backup',
      trigger: request.trigger,
      status: 'running',
      window: request.window ? isoWindow(request.window) : null,
      started_at: this.clock.now().toISOString(),
      finished_at: null,
      message: request.resumes ? `Resuming job ${request.resumes}` : `Backing up ${plural(request.sources.length, 'source')}`,
      sources: request.sources.map(newJobSource),
      replica: REPLICA_ID,
      ...(request.resumes ? { resumes: request.resumes } : {}),
    };
    let settleLock: (refusal: BackupLockedError | null) => void = () => undefined;
    const lockSettled = new Promise<BackupLockedError | null>((resolve) => (settleLock = resolve));
    const run: RunningJob = {
      job,
      sources: request.sources,
      keys,
      windowKey,
      controller: new AbortController(),
      events: new Subject<JobEvent>(),
      seq: 0,
      done: Promise.resolve(job),
      errors: new Map(),
      lockSettled,
      settleLock,
      archiveStop: null,
    };
    this.running.set(job.id, run);
    this.history.claim(job.id);
    run.events.subscribe((event) => this.bus.publish(event));
    run.done = this.execute(run, request.window).catch(async (error: unknown) => {
      // a bug, not a Dify failure: never leave a job "running" forever
      this.logger.error(`Failed job ${job.id}: ${errorName(error)}`);
      run.settleLock(null);
      job.status = 'failed';
      job.finished_at = this.clock.now().toISOString();
      job.message = `The job stopped on an internal error: ${errorName(error)}`;
      this.end(run);
      await this.persist();
      if (!run.events.closed) this.emitDone(run);
      return clone(job);
    });
    return run;
  }

  /** The job leaves the running set for the history. */
  private end(run: RunningJob): void {
    this.history.finish(run.job);
    this.running.delete(run.job.id);
  }

  private emitDone(run: RunningJob): void {
    run.events.next({ type: 'done', seq: ++run.seq, job_id: run.job.id, job: forHistory(run.job) });
    run.events.complete();
  }

  private async execute(run: RunningJob, window: CrawlWindow | undefined): Promise<Job> {
    const { job } = run;
    const mode = window ? `window ${isoWindow(window).start ?? 'beginning'}..${isoWindow(window).end ?? 'now'}` : 'catch-up from checkpoints';
    this.logger.log(`Started job ${job.id} (${job.trigger}): ${plural(job.sources.length, 'source')}, ${mode}${job.resumes ? `, resuming job ${job.resumes}` : ''}`);
    if (job.resumes) await this.history.amend(job.resumes, (old) => (old.resumed_by = job.id));
    await this.persist();

    let locked = false;
    const claim: LockClaim = { jobId: job.id, sources: run.sources.map(sourceKey) };
    try {
      await this.lock.hold(job.trigger === 'cli' ? 'cli' : 'server', claim);
      locked = true;
    } catch (error) {
      if (!(error instanceof BackupLockedError)) throw error;
      await this.skipLocked(run, error);
      run.settleLock(error);
    }
    if (locked) {
      run.settleLock(null);
      try {
        await this.replayWrites(run);
        await this.checkpoints.reload();
        await mapConcurrent(run.sources.keys(), SOURCE_PARALLELISM, (index) => this.backupSource(run, index, window));
      } finally {
        await this.lock.release(claim);
      }
    }

    job.status = jobStatus(job.sources.map((s) => s.status));
    job.finished_at = this.clock.now().toISOString();
    job.message = describeJob(job);
    if (job.status === 'interrupted' && this.stopping) {
      job.resume = resumePoint(job, 'shutdown', job.finished_at);
      job.message += this.config.autoLogging
        ? '; stopped by shutdown, it resumes at the next start-up'
        : `; stopped by shutdown, it waits for a resume (POST /api/jobs/${job.id}/resume or the admin page)`;
    }
    if (job.status === 'skipped' && job.resumes) await this.history.amend(job.resumes, (old) => (old.resumed_by = null));
    const final = clone(job);
    this.end(run);
    await this.persist();
    this.emitDone(run);

    const totals = jobTotals(job);
    const line = `job ${job.id} (${job.trigger}) ${job.status}: sources=${job.sources.length} seen=${totals.seen} saved=${totals.saved} unchanged=${totals.unchanged} failed=${totals.failed}`;
    if (job.status === 'succeeded') this.logger.log(`Finished ${line}`);
    else if (job.status === 'interrupted') this.logger.warn(`Stopped ${line}${job.resume ? ` (${job.message.split('; ').pop()})` : ''}`);
    else if (job.status === 'skipped') this.logger.warn(`Skipped ${line}`);
    else this.logger.warn(`Failed ${line}`);

    if (job.status !== 'interrupted' && job.status !== 'skipped') {
      await this.stale.check().catch((e) => this.logger.error(`Failed stale-source check: ${errorName(e)}`));
    }
    return final;
  }

  /**
   * With the sources' locks held: the writes to them that a killed process (this one before a restart, or a
   * replica that died) left unindexed are settled first, so the run finds those conversations archived
   * instead of storing them again. Only those of writers gone (`writesOfGoneWriters`): a workspace source's
   * lock does not cover the jobs of its apps, whose saves in flight may not be stored yet. A failure only costs that: it is logged
   * and the run goes on.
   */
  private async replayWrites(run: RunningJob): Promise<void> {
    try {
      const ofSources = writesOfSources(run.sources);
      const gone = writesOfGoneWriters(await this.replicas.liveIds());
      await this.storage.replayWrites((w) => ofSources(w) && gone(w), `backup lock of job ${run.job.id}`);
    } catch (error) {
      this.logger.warn(`Failed write journal replay for job ${run.job.id}: ${errorName(error)}`);
    }
  }

  private async backupSource(run: RunningJob, index: number, window: CrawlWindow | undefined): Promise<void> {
    const source = run.sources[index];
    const entry = run.job.sources[index];
    const signal = run.controller.signal;
    if (signal.aborted) {
      entry.status = 'interrupted';
      entry.finished_at = this.clock.now().toISOString();
      return;
    }
    if (run.archiveStop) {
      // one stop, one message and one alert for the whole run, not one per source
      entry.status = 'failed';
      entry.error = `not started: ${run.archiveStop}`;
      entry.finished_at = this.clock.now().toISOString();
      run.events.next({ type: 'source', seq: ++run.seq, job_id: run.job.id, source: clone(entry) });
      return;
    }
    await this.sourceLocks.run(sourceKey(source), async () => {
      entry.status = 'running';
      entry.started_at = this.clock.now().toISOString();
      this.emitProgress(run, entry);
      let interrupted = false;
      try {
        await this.sourceBackups.run({
          job: run.job,
          entry,
          source,
          ...(window ? { window } : {}),
          signal,
          onProgress: () => {
            this.emitProgress(run, entry);
            this.persistProgress();
          },
          onSlice: () => this.persist(),
        });
        interrupted = !!entry.result?.interrupted || (signal.aborted && !entry.result?.success);
      } catch (error) {
        run.errors.set(index, error);
        // a mistake in the configuration says so in the result, not only in the alert
        entry.error = withRetryAdvice(errorText(error, source), error);
        entry.error_kind = error instanceof DifyError ? error.name : null;
        if (error instanceof DifyAuthError) this.alerts.notify(credentialsRejectedAlert(source, run.job.id, entry.error), secretsOf(source));
      }
      run.archiveStop ??= entry.result?.errors.find(isArchiveStop)?.error ?? null;
      entry.status = interrupted ? 'interrupted' : sourceStatus(entry);
      entry.current_window = entry.status === 'interrupted' ? entry.current_window : null;
      entry.finished_at = this.clock.now().toISOString();
      this.logSourceOutcome(run, entry, source);
      await this.sourceBackups.recordOutcome(run.job, entry, source, run.errors.get(index));
      this.emitProgress(run, entry);
      run.events.next({ type: 'source', seq: ++run.seq, job_id: run.job.id, source: clone(entry) });
      await this.persist();
    });
  }

  /** The one line per source per run (the windows of a catch-up are logged at debug by the backup itself). */
  private logSourceOutcome(run: RunningJob, entry: JobSource, source: DifySource): void {
    const p = entry.progress;
    const line =
      `Backup of ${orgAppLabel(source)} ${entry.status} (job ${run.job.id}): seen=${p.seen} saved=${p.saved} unchanged=${p.unchanged} failed=${p.failed}` +
      (entry.error ? `: ${entry.error}` : '');
    if (entry.status === 'succeeded') this.logger.log(line);
    else this.logger.warn(line);
  }

  /**
   * Another process is backing up this archive: the job is skipped, saying who holds the lock. Not a
   * failure: no alert, and the sources' last outcome stays the other process's to record.
   */
  private async skipLocked(run: RunningJob, error: BackupLockedError): Promise<void> {
    for (const [index, entry] of run.job.sources.entries()) {
      run.errors.set(index, error);
      entry.status = 'skipped';
      entry.error = error.message;
      entry.error_kind = error.name;
      entry.finished_at = this.clock.now().toISOString();
      run.events.next({ type: 'source', seq: ++run.seq, job_id: run.job.id, source: clone(entry) });
    }
  }

  private progressEvent(run: RunningJob, entry: JobSource, advance = true): JobEvent {
    return {
      type: 'progress',
      seq: advance ? ++run.seq : run.seq,
      job_id: run.job.id,
      app_id: entry.app_id,
      organization_id: entry.organization_id,
      status: entry.status,
      progress: { ...entry.progress },
      window: entry.window ? { ...entry.window } : null,
      current_window: entry.current_window ? { ...entry.current_window } : null,
    };
  }

  private emitProgress(run: RunningJob, entry: JobSource): void {
    run.events.next(this.progressEvent(run, entry));
  }
}
