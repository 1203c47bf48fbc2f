import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { mapConcurrent } from '../common/concurrency';
import { orgAppLabel } from '../common/org-app-label';
import { redactText, secretsOf } from '../common/redact';
import { withRetryAdvice } from '../dify/dify-error-text';
import { AppConfig } from '../config/app-config';
import { accessModeOf, type DifySource } from '../config/dify-source';
import { DifyClientFactory } from '../dify/dify-client.factory';
import { DifyError } from '../dify/dify.errors';
import type { DifyApp, WorkspaceApp } from '../dify/dify.types';
import type { WorkspaceClient } from '../dify/workspace.client';
import { AppConfigSnapshots } from '../log-storage/app-config-snapshots';
import { addCounts, describeResult } from './backup-result';
import type { BackupResult } from './backup.types';
import { CheckpointService } from './checkpoint.service';
import { ConfigSnapshotFacts, saveConfigSnapshot, settleExport } from './config-snapshot';
import { errorName, newJobSource, sourceStatus, ZERO_PROGRESS } from './job-outcome';
import type { JobSource, WorkspaceAppNote } from './jobs.types';
import type { SourceRun } from './source-run';
import { organizationOf, selectApps } from './workspace-selection';

/** The connection of a whole-workspace source, without what only the workspace level means. */
function appSourceOf(source: DifySource, app: WorkspaceApp): DifySource {
  const { workspace: _w, include: _i, exclude: _e, apps: _a, only_app_ids: _o, name: _n, organization_id: _org, ...connection } = source;
  const organizationId = organizationOf(source, app.id);
  return { ...connection, app_id: app.id, name: app.name, ...(organizationId ? { organization_id: organizationId } : {}) };
}

/**
 * A whole-workspace source in one job: list the workspace's apps (every page, every mode, the Agent apps),
 * keep those its include/exclude lists select, and back each up like a source of its own (own checkpoint,
 * own outcome) with bounded concurrency across apps over one console session; then snapshot each app's
 * configuration when it changed. Apps missing from the listing are marked gone; their archive stays.
 */
@Injectable()
export class WorkspaceBackupService {
  private readonly logger = new Logger(WorkspaceBackupService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly clients: DifyClientFactory,
    private readonly checkpoints: CheckpointService,
    private readonly snapshots: AppConfigSnapshots,
    private readonly clock: Clock,
  ) {}

  /** Throws (the source fails as a whole) only when the workspace cannot be listed. */
  async run(run: SourceRun, backupApp: (appRun: SourceRun) => Promise<void>): Promise<void> {
    const { source, entry } = run;
    const workspace = this.clients.createWorkspace(source);
    const listing = await workspace.listApps();
    const { selected, excluded } = selectApps(listing.apps, source);
    this.logger.log(
      `Started workspace ${orgAppLabel(source)}: ${selected.length} apps to back up, ${excluded.length} excluded, ${listing.skipped.length} without conversations`,
    );
    for (const w of listing.warnings) if (!entry.warnings.includes(w)) entry.warnings.push(w);
    await this.recordListing(source, listing.apps, excluded.map(({ app, reason }) => note(app, reason)), listing.skipped);

    entry.apps = selected.map((app) => ({
      ...newJobSource({ app_id: app.id, organization_id: organizationOf(source, app.id) ?? null, name: app.name }),
      app_mode: app.mode,
      agent_id: app.agent_id ?? null,
    }));
    const apps = entry.apps;
    const sumProgress = () => {
      entry.progress = apps.reduce(
        (t, a) => ({ seen: t.seen + a.progress.seen, saved: t.saved + a.progress.saved, unchanged: t.unchanged + a.progress.unchanged, failed: t.failed + a.progress.failed }),
        { ...ZERO_PROGRESS },
      );
    };
    await mapConcurrent(selected, this.config.dify.workspaceAppConcurrency, async (app, i) => {
      await this.backupOne(run, workspace, app, apps[i], backupApp, () => {
        sumProgress();
        run.onProgress();
      });
    });
    sumProgress();
    for (const a of apps) for (const w of a.warnings) {
      const line = `${a.name ?? a.app_id}: ${w}`;
      if (!entry.warnings.includes(line)) entry.warnings.push(line);
    }
    entry.window ??= apps.find((a) => a.window)?.window ?? null;
    entry.result = this.sum(run, apps);
    this.logger.log(`Finished workspace ${orgAppLabel(source)}: ${entry.result.message}`);
  }

  private async backupOne(
    run: SourceRun,
    workspace: WorkspaceClient,
    listed: WorkspaceApp,
    appEntry: JobSource,
    backupApp: (appRun: SourceRun) => Promise<void>,
    onProgress: () => void,
  ): Promise<void> {
    const source = appSourceOf(run.source, listed);
    if (run.signal.aborted) {
      appEntry.status = 'interrupted';
      return;
    }
    appEntry.status = 'running';
    appEntry.started_at = this.clock.now().toISOString();
    const app: DifyApp = { id: listed.id, name: listed.name, mode: listed.mode };
    const client = workspace.clientFor(listed);
    let snapshot: ConfigSnapshotFacts | null = null;
    // asked for while the conversations are crawled: one round trip less per app on the critical path
    const config = settleExport(workspace.getAppConfig(listed.id));
    try {
      await backupApp({
        job: run.job,
        entry: appEntry,
        source,
        ...(run.window ? { window: run.window } : {}),
        signal: run.signal,
        client,
        app,
        onProgress,
        onSlice: run.onSlice,
      });
      snapshot = await saveConfigSnapshot(this.snapshots, await config, source, appEntry, this.clock.now());
    } catch (error) {
      await config;
      appEntry.error = withRetryAdvice(redactText(error instanceof Error ? error.message : String(error), secretsOf(source)), error);
      appEntry.error_kind = error instanceof DifyError ? error.name : null;
      this.logger.warn(`Failed app ${orgAppLabel(source)} of workspace ${run.source.app_id}: ${errorName(error)}`);
    }
    const interrupted = !!appEntry.result?.interrupted || (run.signal.aborted && !appEntry.result?.success);
    appEntry.status = interrupted ? 'interrupted' : sourceStatus(appEntry);
    appEntry.current_window = interrupted ? appEntry.current_window : null;
    appEntry.finished_at = this.clock.now().toISOString();
    const now = appEntry.finished_at;
    try {
      await this.checkpoints.update(source, {
        workspace_key: run.source.app_id,
        app_name: listed.name,
        app_mode: listed.mode,
        agent_id: listed.agent_id ?? null,
        gone_at: null,
        last_run_at: now,
        last_run_job_id: run.job.id,
        last_outcome: appEntry.status,
        ...(appEntry.status === 'succeeded' ? { last_success_at: now } : {}),
        ...(appEntry.result ? { access_mode: appEntry.result.access_mode, coverage: appEntry.result.coverage } : {}),
        ...(snapshot ?? {}),
      });
    } catch (e) {
      this.logger.error(`Failed to record the outcome of ${orgAppLabel(source)}: ${errorName(e)}`);
    }
    onProgress();
  }

  /** The workspace's last listing on its own state, and every app of it no longer listed marked gone. */
  private async recordListing(
    source: DifySource,
    listed: WorkspaceApp[],
    excluded: WorkspaceAppNote[],
    skipped: WorkspaceAppNote[],
  ): Promise<void> {
    const now = this.clock.now().toISOString();
    const present = new Set([...listed.map((a) => a.id), ...skipped.map((a) => a.id)]);
    await this.checkpoints.update(source, { apps_listed_at: now, excluded_apps: excluded, skipped_apps: skipped });
    for (const state of this.checkpoints.list()) {
      if (state.workspace_key !== source.app_id || present.has(state.app_id) || state.gone_at) continue;
      await this.checkpoints.update({ app_id: state.app_id, organization_id: state.organization_id ?? undefined }, { gone_at: now });
      this.logger.log(`App ${orgAppLabel({ app_id: state.app_id, organization_id: state.organization_id })} is gone from workspace ${source.app_id}; its archive is kept`);
    }
  }

  /** The seed's answer summed over the apps, with one result per app. */
  private sum(run: SourceRun, apps: JobSource[]): BackupResult {
    const { source } = run;
    const results = apps.map((a) => appResult(a, source));
    const total = (
      k: 'total_conversations' | 'saved_count' | 'created_count' | 'updated_count' | 'unchanged_count' | 'failed_count' | 'erased_skipped_count',
    ) =>
      results.reduce((n, r) => n + r[k], 0);
    const coverageWarnings = [...new Set(results.flatMap((r) => r.coverage.warnings.map((w) => `${r.app_name ?? r.app_id}: ${w}`)))];
    const result: BackupResult = {
      success: results.every((r) => r.success),
      message: '',
      app_id: source.app_id,
      organization_id: source.organization_id ?? null,
      access_mode: accessModeOf(source) ?? 'console-admin',
      app_mode: 'workspace',
      total_conversations: total('total_conversations'),
      saved_count: total('saved_count'),
      created_count: total('created_count'),
      updated_count: total('updated_count'),
      unchanged_count: total('unchanged_count'),
      failed_count: total('failed_count'),
      erased_skipped_count: total('erased_skipped_count'),
      redactions: results.reduce((sum, r) => addCounts(sum, r.redactions), {} as Record<string, number>),
      file_paths: results.flatMap((r) => r.file_paths),
      errors: results.flatMap((r) => r.errors.map((e) => ({ ...e, error: `${r.app_name ?? r.app_id} (${r.app_id}): ${e.error}` }))),
      coverage: { complete: results.every((r) => r.coverage.complete), warnings: coverageWarnings },
      warnings: [...run.entry.warnings],
      window: run.entry.window ?? { start: null, end: null },
      interrupted: results.some((r) => r.interrupted) || (run.signal.aborted && apps.some((a) => a.status !== 'succeeded')),
      apps: results,
    };
    result.message = describeResult(result);
    return result;
  }
}

function note(app: WorkspaceApp, reason: string): WorkspaceAppNote {
  return { id: app.id, name: app.name, mode: app.mode, reason };
}

/** An app's result; an app that failed before backing anything up gets one saying why. */
function appResult(entry: JobSource, source: DifySource): BackupResult {
  const name = entry.name ?? entry.app_id;
  if (entry.result) return { ...entry.result, app_name: name, ...(entry.error ? { success: false, errors: [...entry.result.errors, { conversation_id: '*', error: entry.error }] } : {}) };
  const failed: BackupResult = {
    success: false,
    message: '',
    app_id: entry.app_id,
    app_name: name,
    organization_id: entry.organization_id,
    access_mode: accessModeOf(source) ?? 'console-admin',
    app_mode: (entry.app_mode ?? 'chat') as BackupResult['app_mode'],
    total_conversations: 0,
    saved_count: 0,
    created_count: 0,
    updated_count: 0,
    unchanged_count: 0,
    failed_count: 0,
    erased_skipped_count: 0,
    redactions: {},
    file_paths: [],
    errors: entry.error ? [{ conversation_id: '*', error: entry.error }] : [],
    coverage: { complete: false, warnings: [] },
    warnings: [...entry.warnings],
    window: entry.window ?? { start: null, end: null },
    interrupted: entry.status === 'interrupted',
  };
  failed.message = entry.status === 'interrupted' ? 'Backup interrupted before this app started' : `Backup of this app failed: ${entry.error ?? 'unknown error'}`;
  return failed;
}
