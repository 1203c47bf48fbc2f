import { Injectable, Logger, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BackupService } from './backup.service';
import { SourceRegistry } from './source-registry';
import { accessModeOf, sourceUrls } from '../config/dify-source';
import { DifyError } from '../dify/dify.errors';
import type { Coverage, DifyAccessMode, DifyAppMode, DifySource } from '../dify/dify.types';
import { CheckpointService } from './checkpoint.service';
import { JobsService } from './jobs.service';
import { redactText, secretsOf } from '../common/redact';
import type { JobSourceStatus } from './jobs.types';
import { orgAppLabel } from '../common/org-app-label';

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
}

export type SourceTestResult =
  | { ok: true; app_id: string; organization_id: string | null; access_mode: DifyAccessMode; app: { id: string; name: string; mode: DifyAppMode }; message: string }
  | { ok: false; app_id: string; organization_id: string | null; access_mode: DifyAccessMode | null; error: string; error_kind: string | null };

@Injectable()
export class SourcesService {
  private readonly logger = new Logger(SourcesService.name);

  constructor(
    private readonly registry: SourceRegistry,
    private readonly checkpoints: CheckpointService,
    private readonly backups: BackupService,
    private readonly jobs: JobsService,
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
      };
    });
  }

  /** A side-effect-free call with the source's credentials; 404 for an app_id that is not configured. */
  async test(appId: string, organizationId?: string): Promise<SourceTestResult> {
    const source = this.registry.get(appId, organizationId);
    const base = { app_id: source.app_id, organization_id: source.organization_id ?? null };
    this.logger.log(`Started credentials test of ${orgAppLabel(source)}`);
    try {
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
