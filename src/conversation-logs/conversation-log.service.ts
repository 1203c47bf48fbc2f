import { Injectable } from '@nestjs/common';
import type { BackupResult } from '../backup/backup.types';
import { windowFromFilters, WindowFilters } from '../backup/crawl-window';
import { SourceRegistry } from '../backup/source-registry';
import type { ArchivedConversation } from '../common/conversation-log';
import { rangeDay } from '../common/date-range';
import { InvalidRequestError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import type { DifySource } from '../dify/dify.types';
import type { CleanResult, LogsSummary } from '../log-storage/log-storage.types';
import { LogStorageService } from '../log-storage/log-storage.service';
import { JobsService } from '../backup/jobs.service';
import { JobAccepted, jobAccepted } from '../backup/jobs.types';
import type { SaveConversationLogsDto } from './dto/save-conversation-logs.dto';

function isoDay(value: Date | string, field: string, timeZone: string): string {
  const day = rangeDay(value, timeZone);
  if (day === null) throw new InvalidRequestError([`${field} must be a date`], field);
  return day;
}

/**
 * The seed's programmatic API, for the REST controllers and for other NestJS apps or scripts:
 * the same shapes as the endpoints. Every backup runs as a job (history, progress, no overlap).
 */
@Injectable()
export class ConversationLogService {
  constructor(
    private readonly jobs: JobsService,
    private readonly sources: SourceRegistry,
    private readonly storage: LogStorageService,
    private readonly config: AppConfig,
  ) {}

  /** POST /api/conversation-logs: waits for the result. */
  async save(body: SaveConversationLogsDto): Promise<BackupResult> {
    const { source, window } = this.prepare(body);
    return this.runManual(source, window);
  }

  /** POST /api/conversation-logs?async=true: answers at once with the job. */
  async start(body: SaveConversationLogsDto): Promise<JobAccepted> {
    const { source, window } = this.prepare(body);
    return jobAccepted(await this.jobs.startBackupWhenFree({ sources: [source], window, trigger: 'api' }));
  }

  async saveConversationsWithMessages(
    difyApiUrl: string,
    appId: string,
    apiKey: string,
    filters?: WindowFilters,
    organizationId?: string,
  ): Promise<BackupResult> {
    const source = this.sources.resolve({
      app_id: appId,
      dify_api_url: difyApiUrl,
      api_key: apiKey,
      ...(organizationId ? { organization_id: organizationId } : {}),
    });
    return this.runManual(source, this.window(filters));
  }

  getLogsSummary(organizationId?: string): Promise<LogsSummary> {
    return this.storage.getSummary(organizationId);
  }

  async exportLogsForDateRange(
    startDate: Date | string,
    endDate: Date | string,
    organizationId?: string,
  ): Promise<{ success: true; count: number; conversations: ArchivedConversation[] }> {
    const conversations = await this.storage.exportToArray({
      start_date: isoDay(startDate, 'start_date', this.config.logTimezone),
      end_date: isoDay(endDate, 'end_date', this.config.logTimezone),
      ...(organizationId ? { organization_id: organizationId } : {}),
    });
    return { success: true, count: conversations.length, conversations };
  }

  cleanOldLogs(daysToKeep: number, organizationId?: string): Promise<CleanResult> {
    return this.storage.cleanOldLogs({ daysToKeep, ...(organizationId ? { organizationId } : {}) });
  }

  private prepare(body: SaveConversationLogsDto) {
    const { filters, ...fields } = body;
    return { source: this.sources.resolve(fields), window: this.window(filters) };
  }

  private async runManual(source: DifySource, window: ReturnType<typeof windowFromFilters>): Promise<BackupResult> {
    // rethrows the Dify error when the source failed before saving anything, so it maps to a clear 4xx/5xx
    const { result } = await this.jobs.runSource({ source, window, trigger: 'api' });
    return result;
  }

  private window(filters?: WindowFilters) {
    return windowFromFilters(filters, new Date(), this.config.logTimezone);
  }
}
