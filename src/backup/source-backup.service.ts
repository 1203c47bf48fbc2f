import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Clock } from '../common/clock';
import { orgAppLabel } from '../common/org-app-label';
import { secretsOf } from '../common/redact';
import { NO_VAULT_EVENTS, runRecordOf, VAULT_EVENTS, VaultEvents } from '../common/vault-events';
import { AppConfig } from '../config/app-config';
import { DifyAuthError } from '../dify/dify.errors';
import { isWorkspaceSource } from '../config/dify-source';
import type { CrawlWindow, DifySource } from '../dify/dify.types';
import { AlertsService } from './alerts.service';
import { isArchiveStop, mergeResults } from './backup-result';
import { BackupService } from './backup.service';
import type { BackupConnection, BackupResult } from './backup.types';
import { catchUpWindow, purgeHorizon, Slice, splitByDay } from './catch-up';
import { CheckpointService } from './checkpoint.service';
import { WorkspaceBackupService } from './workspace-backup.service';
import { AppConfigSnapshots } from '../log-storage/app-config-snapshots';
import { saveConfigSnapshot, settleExport } from './config-snapshot';
import { backupFailedAlert, purgeHorizonAlert, purgeHorizonWarning } from './job-alerts';
import { errorName, isoWindow } from './job-outcome';
import type { JobSource } from './jobs.types';
import type { SourceRun } from './source-run';

export type { SourceRun } from './source-run';

/**
 * Backs up one source of a job: an explicit window in one run, or a catch-up from the checkpoint cut
 * into days, moving the checkpoint only past fully saved days. Records the outcome and alerts.
 */
@Injectable()
export class SourceBackupService {
  private readonly logger = new Logger(SourceBackupService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly backups: BackupService,
    private readonly checkpoints: CheckpointService,
    private readonly alerts: AlertsService,
    private readonly clock: Clock,
    private readonly workspaces: WorkspaceBackupService,
    private readonly snapshots: AppConfigSnapshots,
    @Optional() @Inject(VAULT_EVENTS) private readonly vaultEvents: VaultEvents = NO_VAULT_EVENTS,
  ) {}

  run(run: SourceRun): Promise<void> {
    if (isWorkspaceSource(run.source)) return this.workspaces.run(run, (appRun) => this.runOne(appRun));
    return this.runApp(run);
  }

  /** A source of one app: its conversations, then (console modes) its configuration when it changed. */
  private async runApp(run: SourceRun): Promise<void> {
    await this.runOne(run);
    if (run.signal.aborted || !run.client?.getAppConfig || !run.app) return;
    const snapshot = await saveConfigSnapshot(this.snapshots, await settleExport(run.client.getAppConfig(run.app)), run.source, run.entry, this.clock.now());
    if (!snapshot) return;
    try {
      await this.checkpoints.update(run.source, snapshot);
    } catch (e) {
      // the snapshot is on disk; only its count on the source waits for the next run
      this.logger.error(`Failed to record the configuration snapshot of ${orgAppLabel(run.source)}: ${errorName(e)}`);
    }
  }

  /** One app: an explicit window, or a catch-up from its own checkpoint. */
  private runOne(run: SourceRun): Promise<void> {
    return run.window ? this.backupWindow(run, run.window) : this.catchUp(run);
  }

  /** The checkpoint file's last-run facts, and an alert when the source failed or partly failed. */
  async recordOutcome(job: SourceRun['job'], entry: JobSource, source: DifySource, cause?: unknown): Promise<void> {
    const now = this.clock.now().toISOString();
    try {
      await this.checkpoints.update(source, {
        last_run_at: now,
        last_run_job_id: job.id,
        last_outcome: entry.status,
        ...(entry.status === 'succeeded' ? { last_success_at: now } : {}),
        ...(entry.result ? { access_mode: entry.result.access_mode, coverage: entry.result.coverage } : {}),
      });
    } catch (e) {
      this.logger.error(`Failed to record the outcome of ${orgAppLabel(source)}: ${errorName(e)}`);
    }
    this.vaultEvents.recordRun(orgAppLabel(source), runRecordOf(entry));
    if (entry.status !== 'failed' && entry.status !== 'partial') return;
    if (entry.error_kind === DifyAuthError.name) return; // already alerted as credentials_rejected
    this.alerts.notify(backupFailedAlert(job, entry, source, cause), secretsOf(source));
  }

  private async backupWindow(run: SourceRun, window: CrawlWindow): Promise<void> {
    run.entry.window = isoWindow(window);
    run.entry.current_window = run.entry.window;
    const connection = knownConnection(run) ?? (await this.backups.connect(run.source));
    remember(run, connection);
    run.entry.result = await this.backupSlice(run, window, connection);
  }

  private async catchUp(run: SourceRun): Promise<void> {
    const { entry, source } = run;
    const now = this.clock.now();
    const state = this.checkpoints.get(source);
    const whole = catchUpWindow(state.checkpoint, now, this.config.schedule);
    entry.window = isoWindow(whole);
    entry.checkpoint_before = state.checkpoint;
    entry.checkpoint_after = state.checkpoint;
    this.warnAboutPurge(run, whole.start, now, state.checkpoint);

    // reached once for all the days; each day's checkpoint and the job history are written only after a
    // day that saved files (and once at the end): a 30-day catch-up of a quiet app is not 60 fsync'ed rewrites
    const connection = knownConnection(run) ?? (await this.backups.connect(source));
    remember(run, connection);
    // a conversation active on several days is listed by each: archived and counted once per run
    const done = new Set<string>();
    let checkpointFrozen = false;
    let unwritten: string | null = null;
    const flush = async () => {
      if (unwritten === null) return;
      await this.checkpoints.update(source, { checkpoint: unwritten });
      unwritten = null;
    };
    try {
      for (const slice of splitByDay(whole)) {
        if (run.signal.aborted) {
          if (entry.result) entry.result = { ...entry.result, success: false, interrupted: true };
          entry.current_window = isoWindow(slice);
          return;
        }
        entry.current_window = isoWindow(slice);
        const result = await this.backupSlice(run, slice, connection, done);
        entry.result = mergeResults(entry.result, result);
        if (result.success && !checkpointFrozen) {
          entry.checkpoint_after = slice.end.toISOString();
          unwritten = entry.checkpoint_after;
        } else if (!result.success) {
          // later slices are still saved, but the checkpoint stays before the first gap
          checkpointFrozen = true;
        }
        if (result.interrupted) return;
        // a full or read-only disk fails every later day too: stop here, the result says why
        if (result.errors.some(isArchiveStop)) return;
        if (result.saved_count > 0) {
          await flush();
          await run.onSlice();
        }
      }
    } finally {
      await flush();
    }
  }

  private async backupSlice(run: SourceRun, window: CrawlWindow | Slice, connection?: BackupConnection, done?: Set<string>): Promise<BackupResult> {
    const { entry } = run;
    const base = { ...entry.progress };
    const result = await this.backups.run({
      source: run.source,
      window,
      connection: connection ?? knownConnection(run),
      signal: run.signal,
      ...(done ? { done } : {}),
      onProgress: (p) => {
        entry.progress = {
          seen: base.seen + p.seen,
          saved: base.saved + p.saved,
          unchanged: base.unchanged + p.unchanged,
          failed: base.failed + p.failed,
        };
        run.onProgress();
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

  private warnAboutPurge(run: SourceRun, start: Date, now: Date, checkpoint: string | null): void {
    const { retentionDays } = this.config.dify;
    if (!retentionDays) return; // unknown or never: no horizon to warn about
    const horizon = purgeHorizon(now, retentionDays);
    if (start.getTime() >= horizon.getTime()) return;
    const warning = purgeHorizonWarning(retentionDays, horizon, start, checkpoint);
    run.entry.warnings.push(warning);
    this.alerts.notify(purgeHorizonAlert(run.source, run.job.id, warning, { start, horizon, checkpoint }), secretsOf(run.source));
  }
}

/** An app of a whole workspace comes with the workspace's client and the app as listed (no lookup, one session). */
function knownConnection(run: SourceRun): BackupConnection | undefined {
  return run.client && run.app ? { client: run.client, app: run.app } : undefined;
}

/** The connection the run reached Dify with, kept for what follows the crawl (the configuration snapshot). */
function remember(run: SourceRun, connection: BackupConnection): void {
  run.client ??= connection.client;
  run.app ??= connection.app;
}
