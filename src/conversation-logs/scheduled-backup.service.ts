import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '../common/domain-errors';
import { windowFromFilters } from '../backup/crawl-window';
import { SourceRegistry } from '../backup/source-registry';
import { AppConfig } from '../config/app-config';
import type { CrawlWindow, DifySource } from '../dify/dify.types';
import type { ScheduledBackupDto } from './dto/scheduled-backup.dto';
import { JobsService } from '../backup/jobs.service';
import type { Job } from '../backup/jobs.types';

export interface ScheduledAppResult {
  app_id: string;
  organization_id: string | null;
  status: string;
  success: boolean;
  message: string;
  error: string | null;
  result: Job['sources'][number]['result'];
}

export interface ScheduledBackupResponse {
  success: boolean;
  message: string;
  job_id: string;
  status: string;
  results: ScheduledAppResult[];
}

/** POST /api/conversation-logs/scheduled: the seed's "back up these apps (or all) now" through a job. */
@Injectable()
export class ScheduledBackupService {
  constructor(
    private readonly registry: SourceRegistry,
    private readonly jobs: JobsService,
    private readonly config: AppConfig,
  ) {}

  async run(body: ScheduledBackupDto = {}): Promise<ScheduledBackupResponse> {
    // another process backs up one of the sources: 409 with its job's id, this job is in the history as skipped
    return toResponse(await this.jobs.runBackupWhenFree(this.request(body)));
  }

  start(body: ScheduledBackupDto = {}): Promise<Job> {
    return this.jobs.startBackupWhenFree(this.request(body));
  }

  private request(body: ScheduledBackupDto): { sources: DifySource[]; window?: CrawlWindow; trigger: 'api-scheduled' } {
    const sources = body.apps ? body.apps.map((app) => this.registry.resolve({ ...app })) : this.registry.list();
    if (!sources.length) {
      throw new InvalidRequestError(['no source is configured; send apps with their connection fields'], 'apps');
    }
    const hasFilters = !!body.filters && Object.values(body.filters).some((v) => v !== undefined);
    const window = hasFilters ? windowFromFilters(body.filters, new Date(), this.config.logTimezone) : undefined;
    return { sources, trigger: 'api-scheduled', ...(window ? { window } : {}) };
  }
}

export function toResponse(job: Job): ScheduledBackupResponse {
  return {
    success: job.status === 'succeeded',
    message: job.message,
    job_id: job.id,
    status: job.status,
    results: job.sources.map((s) => ({
      app_id: s.app_id,
      organization_id: s.organization_id,
      status: s.status,
      success: s.status === 'succeeded',
      message: s.result?.message ?? s.error ?? s.status,
      error: s.error,
      result: s.result,
    })),
  };
}
