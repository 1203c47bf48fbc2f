import { Injectable, Logger, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BackupService } from './backup.service';
import { SourceRegistry } from './source-registry';
import { accessModeOf, isWorkspaceSource, sourceUrls } from '../config/dify-source';
import { NotFoundError } from '../common/domain-errors';
import { DifyClientFactory } from '../dify/dify-client.factory';
import { DifyError } from '../dify/dify.errors';
import type { Coverage, DifyAccessMode, DifyAppMode, DifySource } from '../dify/dify.types';
import { CheckpointService } from './checkpoint.service';
import { JobsService } from './jobs.service';
import { redactText, secretsOf } from '../common/redact';
import type { JobSourceStatus, SourceState, WorkspaceAppNote } from './jobs.types';
import { orgAppLabel } from '../common/org-app-label';
import { selectApps } from './workspace-selection';

/** A configured source as the API shows it: never a key, password or e-mail. */
export interface SourceView {
  app_id: string;
  organization_id: string | null;
  name: string | null;
  access_mode: DifyAccessMode | null;
  hosts: string[];
  coverage: Coverage | null;
  checkpoint: string | null;
  running: boolean;
  last_run_at: string | null;
  last_run_job_id: string | null;
  last_outcome: JobSourceStatus | null;
  last_success_at: string | null;
  next_run: string | null;
  /** true for a console source without app_id: every app of its workspace */
  workspace: boolean;
  /** a source of one app: its configuration (DSL) snapshots and when the latest was (console modes; 0 in service mode) */
  config_snapshots?: number;
  config_snapshot_at?: string | null;
  /** a whole-workspace source: the apps it has backed up (gone ones included), and their number */
  apps?: WorkspaceAppView[];
  apps_total?: number;
  /** a whole-workspace source: the apps its last listing did not back up, and why */
  excluded_apps?: WorkspaceAppNote[];
  skipped_apps?: WorkspaceAppNote[];
  apps_listed_at?: string | null;
}

/** One app of a whole-workspace source: told apart by (organization, app id) like any source. */
export interface WorkspaceAppView {
  app_id: string;
  organization_id: string | null;
  name: string | null;
  mode: string | null;
  /** Agent apps: the Agent id their logs live under */
  agent_id: string | null;
  coverage: Coverage | null;
  checkpoint: string | null;
  running: boolean;
  last_run_at: string | null;
  last_run_job_id: string | null;
  last_outcome: JobSourceStatus | null;
  last_success_at: string | null;
  /** deleted in Dify (missing from the workspace listing) since then; its archive is kept */
  gone: boolean;
  gone_at: string | null;
  config_snapshots: number;
  config_snapshot_at: string | null;
}

export type SourceTestResult =
  | { ok: true; app_id: string; organization_id: string | null; access_mode: DifyAccessMode; app: { id: string; name: string; mode: DifyAppMode | 'workspace' }; message: string }
  | { ok: false; app_id: string; organization_id: string | null; access_mode: DifyAccessMode | null; error: string; error_kind: string | null };

@Injectable()
export class SourcesService {
  private readonly logger = new Logger(SourcesService.name);

  constructor(
    private readonly registry: SourceRegistry,
    private readonly checkpoints: CheckpointService,
    private readonly backups: BackupService,
    private readonly jobs: JobsService,
    private readonly clients: DifyClientFactory,
    /** absent where no scheduler runs (the CLI's and the benchmark's module sets) */
    @Optional() private readonly schedules?: SchedulerRegistry,
  ) {}

  /** When the registered backup task next runs; null when none runs (ENABLE_AUTO_LOGGING=false). */
  nextBackupRun(): string | null {
    if (!this.schedules?.doesExist('cron', 'backup')) return null;
    const job = this.schedules.getCronJob('backup');
    return job.isActive ? job.nextDate().toJSDate().toISOString() : null;
  }

  /** Re-reads the shared checkpoint file: another process on this archive may have run since. */
  async refresh(): Promise<void> {
    await this.checkpoints.reload();
  }

  list(): SourceView[] {
    const nextRun = this.nextBackupRun();
    return this.registry.list().map((source) => {
      const state = this.checkpoints.find(source);
      return {
        app_id: source.app_id,
        organization_id: source.organization_id ?? null,
        name: source.name ?? null,
        access_mode: accessModeOf(source),
        hosts: [...new Set(sourceUrls(source).map(hostOf))],
        coverage: state?.coverage ?? null,
        checkpoint: state?.checkpoint ?? null,
        running: this.jobs.isSourceRunning(source),
        last_run_at: state?.last_run_at ?? null,
        last_run_job_id: state?.last_run_job_id ?? null,
        last_outcome: state?.last_outcome ?? null,
        last_success_at: state?.last_success_at ?? null,
        next_run: nextRun,
        workspace: isWorkspaceSource(source),
        ...(isWorkspaceSource(source)
          ? this.workspaceApps(source, state)
          : { config_snapshots: state?.config_snapshots ?? 0, config_snapshot_at: state?.config_snapshot_at ?? null }),
      };
    });
  }

  /** The apps of a whole-workspace source as its runs recorded them, gone ones last. */
  private workspaceApps(source: DifySource, state: SourceState | undefined): Pick<SourceView, 'apps' | 'apps_total' | 'excluded_apps' | 'skipped_apps' | 'apps_listed_at'> {
    const apps = this.checkpoints
      .list()
      .filter((s) => s.workspace_key === source.app_id)
      .map((s): WorkspaceAppView => ({
        app_id: s.app_id,
        organization_id: s.organization_id,
        name: s.app_name ?? null,
        mode: s.app_mode ?? null,
        agent_id: s.agent_id ?? null,
        coverage: s.coverage,
        checkpoint: s.checkpoint,
        running: this.jobs.isSourceRunning(source),
        last_run_at: s.last_run_at,
        last_run_job_id: s.last_run_job_id,
        last_outcome: s.last_outcome,
        last_success_at: s.last_success_at,
        gone: !!s.gone_at,
        gone_at: s.gone_at ?? null,
        config_snapshots: s.config_snapshots ?? 0,
        config_snapshot_at: s.config_snapshot_at ?? null,
      }))
      .sort((a, b) => Number(a.gone) - Number(b.gone) || (a.name ?? a.app_id).localeCompare(b.name ?? b.app_id));
    return {
      apps,
      apps_total: apps.filter((a) => !a.gone).length,
      excluded_apps: state?.excluded_apps ?? [],
      skipped_apps: state?.skipped_apps ?? [],
      apps_listed_at: state?.apps_listed_at ?? null,
    };
  }

  /**
   * What "Back up now" on (app id, organization) backs up: a configured source, or one app of a configured
   * whole-workspace source (that source narrowed to the app); 404 when neither has that identity.
   */
  backupTarget(appId: string, organizationId?: string): DifySource {
    const configured = this.registry.find(appId, organizationId);
    if (configured) return configured;
    const app = this.workspaceAppState(appId, organizationId);
    const workspace = app?.workspace_key ? this.registry.workspace(app.workspace_key) : undefined;
    if (!app || !workspace) {
      const inWorkspaces = this.checkpoints.list().filter((s) => s.workspace_key !== undefined && s.app_id === appId).map((s) => s.organization_id);
      throw this.registry.notFound(appId, organizationId, inWorkspaces);
    }
    return { ...workspace, only_app_ids: [app.app_id] };
  }

  /** A whole workspace: its app listing is the credentials check (read-only unless an Agent app lacks bound_agent_id). */
  private async testWorkspace(source: DifySource, base: { app_id: string; organization_id: string | null }): Promise<SourceTestResult> {
    const workspace = this.clients.createWorkspace(source);
    const listing = await workspace.listApps();
    const selected = selectApps(listing.apps, source).selected.length;
    const message = `Connected to the workspace in ${workspace.accessMode} mode: ${listing.apps.length} apps with conversations, ${selected} selected for backup`;
    this.logger.log(`Finished credentials test of ${orgAppLabel(source)}: ok (${workspace.accessMode}, ${listing.apps.length} apps)`);
    return { ok: true, ...base, access_mode: workspace.accessMode, app: { id: source.app_id, name: source.name ?? 'whole workspace', mode: 'workspace' }, message };
  }

  private workspaceAppState(appId: string, organizationId?: string): SourceState | undefined {
    return this.checkpoints
      .list()
      .find((s) => s.workspace_key !== undefined && s.app_id === appId && (organizationId === undefined || (s.organization_id ?? undefined) === organizationId));
  }

  /** A side-effect-free call with the source's credentials; 404 for an app_id that is not configured. */
  async test(appId: string, organizationId?: string): Promise<SourceTestResult> {
    const target = this.backupTarget(appId, organizationId);
    const source: DifySource = target.only_app_ids
      ? { ...target, app_id: appId, workspace: false, organization_id: organizationId ?? this.workspaceAppState(appId)?.organization_id ?? undefined }
      : target;
    const base = { app_id: source.app_id, organization_id: source.organization_id ?? null };
    this.logger.log(`Started credentials test of ${orgAppLabel(source)}`);
    try {
      if (isWorkspaceSource(source)) return await this.testWorkspace(source, base);
      const { app, accessMode } = await this.backups.check(source);
      this.logger.log(`Finished credentials test of ${orgAppLabel(source)}: ok (${accessMode}, ${app.mode})`);
      return {
        ok: true,
        ...base,
        access_mode: accessMode,
        app: { id: app.id, name: app.name, mode: app.mode },
        message: `Connected to "${app.name}" (${app.mode}) in ${accessMode} mode`,
      };
    } catch (error) {
      const text = describeError(error, source);
      this.logger.warn(`Failed credentials test of ${orgAppLabel(source)}: ${text}`);
      return {
        ok: false,
        ...base,
        access_mode: accessModeOf(source),
        error: text,
        error_kind: error instanceof DifyError ? error.name : null,
      };
    }
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}

function describeError(error: unknown, source: DifySource): string {
  if (error instanceof DifyError) return redactText(error.message, secretsOf(source));
  return 'the test failed with an unexpected error (see the service log)';
}
