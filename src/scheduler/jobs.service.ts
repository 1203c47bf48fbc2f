import { BeforeApplicationShutdown, Injectable, Logger, NotFoundException, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { concat, Observable, of, Subject } from 'rxjs';
import { BackupService } from '../backup/backup.service';
import type { BackupProgress, BackupResult } from '../backup/backup.types';
import { sourceKey } from '../backup/source-registry';
import { KeyedLock } from '../common/keyed-lock';
import { AppConfig } from '../config/app-config';
import { accessModeOf } from '../dify/access-mode';
import { isRetryable, retryAdvice } from '../dify/dify-error-text';
import { DifyAuthError, DifyError } from '../dify/dify.errors';
import type { CrawlWindow, DifySource } from '../dify/dify.types';
import { AlertsService } from './alerts.service';
import { BackupLock, BackupLockedError } from './backup-lock';
import { catchUpWindow, mergeResults, purgeHorizon, Slice, splitByDay } from './catch-up';
import { CheckpointService } from './checkpoint.service';
import { Clock } from './clock';
import { JobHistoryRepository } from './job-history.repository';
import { redactText, secretsOf } from './redact';
import type { BackupJobRequest, IsoWindow, Job, JobEvent, JobSource, JobStatus, JobSourceStatus } from './scheduler.types';
import { label, StaleSourcesService } from './stale-sources.service';

/** Jobs kept in the history. */
export const MAX_JOBS = 500;
/** File paths and errors kept per source in the history (the live result has them all). */
const MAX_LISTED = 200;
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
}

const ZERO: BackupProgress = { seen: 0, saved: 0, unchanged: 0, failed: 0 };

function iso(window: { start?: Date; end?: Date }): IsoWindow {
  return { start: window.start?.toISOString() ?? null, end: window.end?.toISOString() ?? null };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function errorText(error: unknown, source: DifySource): string {
  return redactText(error instanceof Error ? error.message : String(error), secretsOf(source));
}

/**
 * Every backup is a job: manual, scheduled, API-triggered or from the CLI. A job backs up its sources
 * (one failing app never stops the others), reports progress as events, and is kept in a durable,
 * bounded history. Catch-up jobs (no explicit window) start from each source's checkpoint and move
 * it only past fully saved slices; jobs with an explicit window never move a checkpoint.
 */
@Injectable()
export class JobsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobsService.name);
  private history: Job[] = [];
  private readonly running = new Map<string, RunningJob>();
  private readonly sourceLocks = new KeyedLock();
  private loaded: Promise<void> | null = null;
  /** jobs this process started or changed: the only ones it writes over in the shared history file */
  private readonly ownIds = new Set<string>();

  constructor(
    private readonly config: AppConfig,
    private readonly backups: BackupService,
    private readonly checkpoints: CheckpointService,
    private readonly repository: JobHistoryRepository,
    private readonly alerts: AlertsService,
    private readonly stale: StaleSourcesService,
    private readonly clock: Clock,
    private readonly lock: BackupLock,
  ) {}

  onModuleInit(): Promise<void> {
    return this.load();
  }

  /** Runs a backup job and resolves with it when it has finished (each source's BackupResult inside). */
  async runBackup(request: BackupJobRequest): Promise<Job> {
    await this.load();
    return this.begin(request).done;
  }

  /**
   * One source as a job, for callers that answer with a single BackupResult (POST /api/conversation-logs):
   * throws the original error (a DifyError, for the HTTP filter) when the source failed before backing
   * anything up; otherwise resolves with the job and that source's result.
   */
  async runSource(request: { source: DifySource; window?: CrawlWindow; trigger: BackupJobRequest['trigger'] }): Promise<{ job: Job; result: BackupResult }> {
    await this.load();
    const run = this.begin({ sources: [request.source], trigger: request.trigger, ...(request.window ? { window: request.window } : {}) });
    const job = await run.done;
    const index = run.sources.findIndex((s) => sourceKey(s) === sourceKey(request.source));
    const entry = job.sources[index];
    if (!entry.result) throw run.errors.get(index) ?? new Error(entry.error ?? 'the backup did not run');
    return { job, result: entry.result };
  }

  /** Starts a backup job in the background and returns it at once (status `running`). */
  startBackup(request: BackupJobRequest): Job {
    if (!this.loaded) void this.load();
    return clone(this.begin(request).job);
  }

  /** Newest first. */
  list(): Job[] {
    const live = [...this.running.values()].map((r) => r.job);
    const ids = new Set(live.map((j) => j.id));
    return clone([...live, ...this.history.filter((j) => !ids.has(j.id))]).sort((a, b) =>
      b.started_at.localeCompare(a.started_at),
    );
  }

  get(id: string): Job | undefined {
    const found = this.running.get(id)?.job ?? this.history.find((j) => j.id === id);
    return found ? clone(found) : undefined;
  }

  getOrThrow(id: string): Job {
    const job = this.get(id);
    if (!job) throw new NotFoundException({ message: `no job has id ${id}`, field: 'id' });
    return job;
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
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
      return of<JobEvent>({ type: 'done', seq: 0, job_id: id, job });
    }
    const snapshot = run.job.sources.map((s) => this.progressEvent(run, s, false));
    return concat(of(...snapshot), run.events.asObservable());
  }

  /** Aborts the running jobs (in-flight conversations finish, listing stops) and waits for them. */
  async beforeApplicationShutdown(): Promise<void> {
    const runs = [...this.running.values()];
    if (!runs.length) return;
    this.logger.warn(`Stopping ${runs.length} running jobs for shutdown`);
    for (const run of runs) run.controller.abort();
    await Promise.allSettled(runs.map((r) => r.done));
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const stored = await this.repository.load();
      const now = this.clock.now().toISOString();
      let changed = false;
      // a job still "running" on disk was cut off by a crash or kill, unless a live process holds the
      // backup lock: then it is that process's job (a CLI backup next to this server, or the other way round)
      const other = stored.some((j) => j.status === 'running') ? await this.lock.otherHolder() : null;
      for (const job of stored) {
        if (other || job.status !== 'running' || this.running.has(job.id)) continue;
        changed = true;
        this.ownIds.add(job.id);
        job.status = 'interrupted';
        job.finished_at = now;
        job.message = `Interrupted: the service stopped while the job ran; ${job.message}`;
        for (const s of job.sources) {
          if (s.status === 'running' || s.status === 'pending') {
            s.status = 'interrupted';
            s.finished_at = now;
          }
        }
      }
      const ids = new Set(this.history.map((j) => j.id));
      this.history = [...this.history, ...stored.filter((j) => !ids.has(j.id))].slice(0, MAX_JOBS);
      if (changed) await this.persistSafely();
    })();
    return this.loaded;
  }

  private begin(request: BackupJobRequest): RunningJob {
    const keys = new Set(request.sources.map(sourceKey));
    const windowKey = request.window
      ? `${request.window.start?.toISOString() ?? ''}|${request.window.end?.toISOString() ?? ''}|${request.window.from_source ?? ''}`
      : 'catch-up';
    for (const run of this.running.values()) {
      if (run.windowKey === windowKey && [...keys].every((k) => run.keys.has(k))) {
        this.logger.log(`Joined running job ${run.job.id} (${request.trigger} trigger for the same sources)`);
        return run;
      }
    }
    const now = this.clock.now().toISOString();
    const job: Job = {
      id: randomUUID(),
      kind: 'backup',
      trigger: request.trigger,
      status: 'running',
      window: request.window ? iso(request.window) : null,
      started_at: now,
      finished_at: null,
      message: `Backing up ${plural(request.sources.length, 'source')}`,
      sources: request.sources.map((s) => ({
        app_id: s.app_id,
        organization_id: s.organization_id ?? null,
        name: s.name ?? null,
        status: 'pending',
        progress: { ...ZERO },
        window: null,
        current_window: null,
        checkpoint_before: null,
        checkpoint_after: null,
        started_at: null,
        finished_at: null,
        error: null,
        error_kind: null,
        warnings: [],
        result: null,
      })),
    };
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
    };
    this.running.set(job.id, run);
    this.ownIds.add(job.id);
    run.done = this.execute(run, request.window).catch(async (error: unknown) => {
      // a bug, not a Dify failure: never leave a job "running" forever
      this.logger.error(`Failed job ${job.id}: ${errorName(error)}`);
      job.status = 'failed';
      job.finished_at = this.clock.now().toISOString();
      job.message = `The job stopped on an internal error: ${errorName(error)}`;
      this.history = [forHistory(job), ...this.history.filter((j) => j.id !== job.id)].slice(0, MAX_JOBS);
      this.running.delete(job.id);
      await this.persistSafely();
      if (!run.events.closed) {
        run.events.next({ type: 'done', seq: ++run.seq, job_id: job.id, job: forHistory(job) });
        run.events.complete();
      }
      return clone(job);
    });
    return run;
  }

  private async execute(run: RunningJob, window: CrawlWindow | undefined): Promise<Job> {
    const { job } = run;
    const mode = window ? `window ${iso(window).start ?? 'beginning'}..${iso(window).end ?? 'now'}` : 'catch-up from checkpoints';
    this.logger.log(`Started job ${job.id} (${job.trigger}): ${plural(job.sources.length, 'source')}, ${mode}`);
    await this.persistSafely();

    let locked = false;
    try {
      await this.lock.hold(job.trigger === 'cli' ? 'cli' : 'server');
      locked = true;
    } catch (error) {
      if (!(error instanceof BackupLockedError)) throw error;
      await this.refuseLocked(run, error);
    }
    if (locked) {
      try {
        await this.checkpoints.reload();
        let next = 0;
        const worker = async () => {
          while (next < run.sources.length) {
            const index = next++;
            await this.backupSource(run, index, window);
          }
        };
        await Promise.all(Array.from({ length: Math.min(SOURCE_PARALLELISM, run.sources.length) }, worker));
      } finally {
        await this.lock.release();
      }
    }

    job.status = jobStatus(job.sources.map((s) => s.status));
    job.finished_at = this.clock.now().toISOString();
    job.message = describeJob(job);
    const final = clone(job);
    this.history = [forHistory(job), ...this.history.filter((j) => j.id !== job.id)].slice(0, MAX_JOBS);
    this.running.delete(job.id);
    await this.persistSafely();
    run.events.next({ type: 'done', seq: ++run.seq, job_id: job.id, job: forHistory(job) });
    run.events.complete();

    const totals = job.sources.reduce(
      (t, s) => ({ seen: t.seen + s.progress.seen, saved: t.saved + s.progress.saved, unchanged: t.unchanged + s.progress.unchanged, failed: t.failed + s.progress.failed }),
      { ...ZERO },
    );
    const line = `job ${job.id} (${job.trigger}) ${job.status}: sources=${job.sources.length} seen=${totals.seen} saved=${totals.saved} unchanged=${totals.unchanged} failed=${totals.failed}`;
    if (job.status === 'succeeded') this.logger.log(`Finished ${line}`);
    else if (job.status === 'interrupted') this.logger.warn(`Stopped ${line}`);
    else this.logger.warn(`Failed ${line}`);

    if (job.status !== 'interrupted') {
      await this.stale.check().catch((e) => this.logger.error(`Failed stale-source check: ${errorName(e)}`));
    }
    return final;
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
    await this.sourceLocks.run(sourceKey(source), async () => {
      entry.status = 'running';
      entry.started_at = this.clock.now().toISOString();
      this.emitProgress(run, entry);
      let interrupted = false;
      try {
        if (window) await this.backupWindow(run, entry, source, window);
        else await this.catchUp(run, entry, source);
        interrupted = !!entry.result?.interrupted || (signal.aborted && !entry.result?.success);
      } catch (error) {
        run.errors.set(index, error);
        entry.error = errorText(error, source);
        entry.error_kind = error instanceof DifyError ? error.name : null;
        if (error instanceof DifyAuthError) {
          this.alerts.notify(
            {
              event: 'credentials_rejected',
              text: `:no_entry: Dify Log Vault: Dify refused the credentials of ${label(source)}; no conversation can be backed up until they are fixed. ${entry.error}`,
              app_id: source.app_id,
              organization_id: source.organization_id ?? null,
              job_id: run.job.id,
              details: { access_mode: accessModeOf(source), error: entry.error },
            },
            secretsOf(source),
          );
        }
      }
      entry.status = interrupted ? 'interrupted' : sourceStatus(entry);
      entry.current_window = entry.status === 'interrupted' ? entry.current_window : null;
      entry.finished_at = this.clock.now().toISOString();
      this.logSourceOutcome(run, entry, source);
      await this.recordOutcome(run, entry, source);
      this.emitProgress(run, entry);
      run.events.next({ type: 'source', seq: ++run.seq, job_id: run.job.id, source: clone(entry) });
      await this.persistSafely();
    });
  }

  /** The one line per source per run (the windows of a catch-up are logged at debug by the backup itself). */
  private logSourceOutcome(run: RunningJob, entry: JobSource, source: DifySource): void {
    const p = entry.progress;
    const line =
      `Backup of ${label(source)} ${entry.status} (job ${run.job.id}): seen=${p.seen} saved=${p.saved} unchanged=${p.unchanged} failed=${p.failed}` +
      (entry.error ? `: ${entry.error}` : '');
    if (entry.status === 'succeeded') this.logger.log(line);
    else this.logger.warn(line);
  }

  /** Another process is backing up this archive: every source fails at once, saying who holds the lock. */
  private async refuseLocked(run: RunningJob, error: BackupLockedError): Promise<void> {
    this.logger.warn(`Refused job ${run.job.id}: ${error.message}`);
    for (const [index, entry] of run.job.sources.entries()) {
      run.errors.set(index, error);
      entry.status = 'failed';
      entry.error = error.message;
      entry.error_kind = error.name;
      entry.finished_at = this.clock.now().toISOString();
      await this.recordOutcome(run, entry, run.sources[index]);
      run.events.next({ type: 'source', seq: ++run.seq, job_id: run.job.id, source: clone(entry) });
    }
  }

  private async backupWindow(run: RunningJob, entry: JobSource, source: DifySource, window: CrawlWindow): Promise<void> {
    entry.window = iso(window);
    entry.current_window = entry.window;
    entry.result = await this.backupSlice(run, entry, source, window);
  }

  private async catchUp(run: RunningJob, entry: JobSource, source: DifySource): Promise<void> {
    const now = this.clock.now();
    const state = this.checkpoints.get(source);
    const whole = catchUpWindow(state.checkpoint, now, this.config.schedule);
    entry.window = iso(whole);
    entry.checkpoint_before = state.checkpoint;
    entry.checkpoint_after = state.checkpoint;
    this.warnAboutPurge(run, entry, source, whole.start, now, state.checkpoint);

    let checkpointFrozen = false;
    for (const slice of splitByDay(whole)) {
      if (run.controller.signal.aborted) {
        if (entry.result) entry.result = { ...entry.result, success: false, interrupted: true };
        entry.current_window = iso(slice);
        return;
      }
      entry.current_window = iso(slice);
      const result = await this.backupSlice(run, entry, source, slice);
      entry.result = mergeResults(entry.result, result);
      if (result.success && !checkpointFrozen) {
        entry.checkpoint_after = slice.end.toISOString();
        await this.checkpoints.update(source, { checkpoint: entry.checkpoint_after });
      } else if (!result.success) {
        // later slices are still saved, but the checkpoint stays before the first gap
        checkpointFrozen = true;
      }
      if (result.interrupted) return;
      await this.persistSafely();
    }
  }

  private async backupSlice(run: RunningJob, entry: JobSource, source: DifySource, window: CrawlWindow | Slice): Promise<BackupResult> {
    const base = { ...entry.progress };
    const result = await this.backups.run({
      source,
      window,
      signal: run.controller.signal,
      onProgress: (p) => {
        entry.progress = {
          seen: base.seen + p.seen,
          saved: base.saved + p.saved,
          unchanged: base.unchanged + p.unchanged,
          failed: base.failed + p.failed,
        };
        this.emitProgress(run, entry);
      },
    });
    entry.progress = {
      seen: base.seen + result.total_conversations,
      saved: base.saved + result.saved_count,
      unchanged: base.unchanged + result.unchanged_count,
      failed: base.failed + result.failed_count,
    };
    for (const w of result.warnings) if (!entry.warnings.includes(w)) entry.warnings.push(w);
    return result;
  }

  private warnAboutPurge(run: RunningJob, entry: JobSource, source: DifySource, start: Date, now: Date, checkpoint: string | null): void {
    const horizon = purgeHorizon(now, this.config.dify.retentionDays);
    if (start.getTime() >= horizon.getTime()) return;
    const reason = checkpoint
      ? `the last fully saved point is ${checkpoint}`
      : `BACKFILL_FROM starts at ${start.toISOString()}`;
    const warning = `Dify keeps logs for ${this.config.dify.retentionDays} days (DIFY_RETENTION_DAYS): conversations before ${horizon.toISOString()} may already be purged, and ${reason}`;
    entry.warnings.push(warning);
    this.alerts.notify(
      {
        event: 'purge_horizon',
        text: `:warning: Dify Log Vault: ${label(source)} is behind Dify's purge horizon. ${warning}.`,
        app_id: source.app_id,
        organization_id: source.organization_id ?? null,
        job_id: run.job.id,
        details: { window_start: start.toISOString(), purge_horizon: horizon.toISOString(), checkpoint },
      },
      secretsOf(source),
    );
  }

  private async recordOutcome(run: RunningJob, entry: JobSource, source: DifySource): Promise<void> {
    const now = this.clock.now().toISOString();
    try {
      await this.checkpoints.update(source, {
        last_run_at: now,
        last_run_job_id: run.job.id,
        last_outcome: entry.status,
        ...(entry.status === 'succeeded' ? { last_success_at: now } : {}),
        ...(entry.result ? { access_mode: entry.result.access_mode, coverage: entry.result.coverage } : {}),
      });
    } catch (e) {
      this.logger.error(`Failed to record the outcome of ${label(source)}: ${errorName(e)}`);
    }
    if (entry.status !== 'failed' && entry.status !== 'partial') return;
    if (entry.error_kind === DifyAuthError.name) return; // already alerted as credentials_rejected
    const r = entry.result;
    const counts = `${entry.progress.saved} saved, ${entry.progress.unchanged} unchanged, ${entry.progress.failed} failed`;
    const cause = run.errors.get(run.job.sources.indexOf(entry));
    this.alerts.notify(
      {
        event: entry.status === 'failed' ? 'backup_failed' : 'backup_partial',
        text:
          `:x: Dify Log Vault: backup of ${label(source)} ${entry.status === 'failed' ? 'failed' : 'partly failed'} ` +
          `(job ${run.job.id}, ${run.job.trigger}): ${entry.error ?? r?.message ?? counts}. ` +
          (run.job.window
            ? isRetryable(cause) ? '' : `It ${retryAdvice(cause)}.`
            : `The checkpoint stays at ${entry.checkpoint_after ?? 'the backfill start'}; ${retryAdvice(cause)}.`),
        app_id: source.app_id,
        organization_id: source.organization_id ?? null,
        job_id: run.job.id,
        details: {
          trigger: run.job.trigger,
          window: entry.window,
          progress: entry.progress,
          checkpoint: entry.checkpoint_after,
          error: entry.error,
          error_kind: entry.error_kind,
          failed_conversations: (r?.errors ?? []).slice(0, 20),
        },
      },
      secretsOf(source),
    );
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

  /** Writes this process's jobs into the shared history file, keeping the jobs other processes wrote there. */
  private async persistSafely(): Promise<void> {
    const live = [...this.running.values()].map((r) => forHistory(r.job));
    const ids = new Set(live.map((j) => j.id));
    const own = [...live, ...this.history.filter((j) => !ids.has(j.id) && this.ownIds.has(j.id))];
    try {
      const merged = await this.repository.update((stored) => {
        const byId = new Map(stored.map((j) => [j.id, j]));
        for (const job of own) byId.set(job.id, job);
        return [...byId.values()].sort((a, b) => b.started_at.localeCompare(a.started_at)).slice(0, MAX_JOBS);
      });
      const running = new Set(this.running.keys());
      const kept = new Set(merged.map((j) => j.id));
      this.history = [...merged.filter((j) => !running.has(j.id)), ...this.history.filter((j) => !kept.has(j.id) && !running.has(j.id))]
        .sort((a, b) => b.started_at.localeCompare(a.started_at))
        .slice(0, MAX_JOBS);
      for (const id of this.ownIds) if (!kept.has(id) && !running.has(id)) this.ownIds.delete(id);
    } catch (e) {
      this.logger.error(`Failed to write the job history: ${errorName(e)}`);
    }
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${(error as NodeJS.ErrnoException).code ?? error.message}` : String(error);
}

function sourceStatus(entry: JobSource): JobSourceStatus {
  const r = entry.result;
  if (r?.interrupted) return 'interrupted';
  if (entry.error) return r && r.saved_count + r.unchanged_count > 0 ? 'partial' : 'failed';
  if (!r) return 'failed';
  if (r.success) return 'succeeded';
  return r.saved_count + r.unchanged_count > 0 ? 'partial' : 'failed';
}

export function jobStatus(statuses: JobSourceStatus[]): JobStatus {
  if (statuses.includes('interrupted') || statuses.includes('pending') || statuses.includes('running')) return 'interrupted';
  if (statuses.every((s) => s === 'succeeded')) return 'succeeded';
  if (statuses.every((s) => s === 'failed')) return 'failed';
  return 'partial';
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function describeJob(job: Job): string {
  const count = (status: JobSourceStatus) => job.sources.filter((s) => s.status === status).length;
  if (!job.sources.length) return 'No sources to back up';
  const parts = (['succeeded', 'partial', 'failed', 'interrupted'] as const)
    .map((s) => [s, count(s)] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const seen = job.sources.reduce((n, s) => n + s.progress.seen, 0);
  const saved = job.sources.reduce((n, s) => n + s.progress.saved, 0);
  const failed = job.sources.reduce((n, s) => n + s.progress.failed, 0);
  const unchanged = job.sources.reduce((n, s) => n + s.progress.unchanged, 0);
  const resume = job.status === 'interrupted' && !job.window ? '; the next run resumes from each checkpoint' : '';
  return `${plural(job.sources.length, 'source')}: ${parts.join(', ')}; ${plural(seen, 'conversation')} seen, ${saved} saved, ${unchanged} unchanged, ${failed} failed${resume}`;
}

/** A copy small enough for the history file. */
function forHistory(job: Job): Job {
  const copy = clone(job);
  for (const s of copy.sources) {
    if (s.result) {
      s.result.file_paths = s.result.file_paths.slice(0, MAX_LISTED);
      s.result.errors = s.result.errors.slice(0, MAX_LISTED);
    }
  }
  return copy;
}
