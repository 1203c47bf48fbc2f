import { BadRequestException, Injectable } from '@nestjs/common';
import { BackupService } from '../backup/backup.service';
import type { BackupResult } from '../backup/backup.types';
import { windowFromFilters, WindowError, WindowFilters } from '../backup/crawl-window';
import { SourceRegistry } from '../backup/source-registry';
import type { ArchivedConversation } from '../common/conversation-log';
import type { CleanResult, LogsSummary } from '../log-storage/log-storage.types';
import { LogStorageService } from '../log-storage/log-storage.service';
import type { SaveConversationLogsDto } from './dto/save-conversation-logs.dto';

function isoDay(value: Date | string, field: string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new BadRequestException({ message: [`${field} must be a date`], field });
  return date.toISOString().slice(0, 10);
}

/**
 * The seed's programmatic API, for the REST controllers and for other NestJS apps or scripts:
 * the same shapes as the endpoints.
 */
@Injectable()
export class ConversationLogService {
  constructor(
    private readonly backups: BackupService,
    private readonly sources: SourceRegistry,
    private readonly storage: LogStorageService,
  ) {}

  /** POST /api/conversation-logs */
  async save(body: SaveConversationLogsDto): Promise<BackupResult> {
    const { filters, ...fields } = body;
    const source = this.sources.resolve(fields);
    return this.backups.run({ source, window: this.window(filters) });
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
    return this.backups.run({ source, window: this.window(filters) });
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
      start_date: isoDay(startDate, 'start_date'),
      end_date: isoDay(endDate, 'end_date'),
      ...(organizationId ? { organization_id: organizationId } : {}),
    });
    return { success: true, count: conversations.length, conversations };
  }

  cleanOldLogs(daysToKeep: number, organizationId?: string): Promise<CleanResult> {
    return this.storage.cleanOldLogs({ daysToKeep, ...(organizationId ? { organizationId } : {}) });
  }

  private window(filters?: WindowFilters) {
    try {
      return windowFromFilters(filters);
    } catch (e) {
      if (e instanceof WindowError) throw new BadRequestException({ message: [e.message], field: e.field });
      throw e;
    }
  }
}
