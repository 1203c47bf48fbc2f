import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsDefined, IsIn, IsOptional, IsString, MaxLength, ValidateIf } from 'class-validator';
import { IsSafeName } from '../../common/validation';
import type { ExportFormat } from '../../log-storage/log-storage.types';
import { IsDay, IsNotBefore, IsQueryBoolean, IsQueryInt, IsShortString, IsTrueOnlyWith } from './archive-validation';

const ORG = { example: 'acme', description: 'Only this organization' };
const APP = { example: 'support-bot', description: 'Only this app' };
const SOURCE = {
  enum: ['api', 'console'],
  example: 'api',
  description: "Dify's from_source: api (WebApp, Service API) or console (debugger, Explore)",
};
const USER = { example: 'user-42', description: 'End-user id or session (the `user` string the app sent)' };
const RATING = { enum: ['like', 'dislike'], example: 'dislike', description: 'Conversations with at least one message rated so' };

/** Filters shared by export, search and stats. */
class ArchiveFilterFields {
  @ApiPropertyOptional({ ...ORG })
  @IsOptional() @IsSafeName()
  organization_id?: string;

  @ApiPropertyOptional({ ...APP })
  @IsOptional() @IsSafeName()
  app_id?: string;

  @ApiPropertyOptional(SOURCE)
  @IsOptional() @IsIn(['api', 'console'], { message: 'from_source must be one of: api, console' })
  from_source?: 'api' | 'console';

  @ApiPropertyOptional(USER)
  @IsOptional() @IsShortString('user', 256)
  user?: string;

  @ApiPropertyOptional(RATING)
  @IsOptional() @IsIn(['like', 'dislike'], { message: 'rating must be one of: like, dislike' })
  rating?: 'like' | 'dislike';
}

/** `GET /api/conversation-logs`: the seed's summary and export. */
export class ArchiveQueryDto extends ArchiveFilterFields {
  @ApiProperty({ enum: ['summary', 'export'], example: 'export' })
  @IsIn(['summary', 'export'], { message: 'action must be one of: summary, export' })
  action: 'summary' | 'export';

  @ApiPropertyOptional({ example: '2024-01-01', description: 'YYYY-MM-DD, first day folder (inclusive); required for export' })
  @ValidateIf((o: ArchiveQueryDto) => o.action === 'export' || o.start_date !== undefined)
  @IsDefined({ message: 'start_date is required when action is export' })
  @IsDay()
  start_date?: string;

  @ApiPropertyOptional({ example: '2024-01-31', description: 'YYYY-MM-DD, last day folder (inclusive); required for export' })
  @ValidateIf((o: ArchiveQueryDto) => o.action === 'export' || o.end_date !== undefined)
  @IsDefined({ message: 'end_date is required when action is export' })
  @IsDay()
  @IsNotBefore('start_date')
  end_date?: string;

  @ApiPropertyOptional({ example: 'refund', description: 'Full text over names, queries and answers (every word must occur)' })
  @IsOptional() @IsShortString('keyword', 500)
  keyword?: string;

  @ApiPropertyOptional({
    enum: ['json', 'ndjson', 'csv'],
    example: 'csv',
    description: 'json (default): {success, conversations, count}; ndjson: one conversation per line; csv: one row per message',
  })
  @IsOptional() @IsIn(['json', 'ndjson', 'csv'], { message: 'format must be one of: json, ndjson, csv' })
  format?: ExportFormat;

  @ApiPropertyOptional({ example: true, description: 'Send as a file download (gzipped when the client accepts gzip)' })
  @IsOptional() @IsQueryBoolean('download')
  download?: boolean;

  @ApiPropertyOptional({
    example: true,
    default: false,
    description: 'format=csv only: start with a UTF-8 byte order mark so Excel on Windows reads accents and CJK text correctly',
  })
  @IsOptional() @IsQueryBoolean('bom') @IsTrueOnlyWith('format', 'csv')
  bom?: boolean;
}

/** `DELETE /api/conversation-logs`: retention. */
export class ArchiveCleanQueryDto {
  @ApiPropertyOptional({ example: 30, minimum: 1, maximum: 36500, description: 'Keep this many days before today (default LOG_RETENTION_DAYS)' })
  @IsOptional() @IsQueryInt('days_to_keep', 1, 36500)
  days_to_keep?: number;

  @ApiPropertyOptional({ ...ORG, description: 'Only this organization’s folders' })
  @IsOptional() @IsSafeName()
  organization_id?: string;

  @ApiPropertyOptional({ example: true, description: 'Report what would be deleted without deleting' })
  @IsOptional() @IsQueryBoolean('dry_run')
  dry_run?: boolean;
}

/** GET /verify */
export class ArchiveVerifyQueryDto {
  @ApiPropertyOptional({
    example: true,
    description: 'Download every object and compare its SHA-256 with the catalog, instead of its size and ETag from the listing (the default; no download)',
  })
  @IsOptional() @IsQueryBoolean('sha256')
  sha256?: boolean;
}

/** An optional range of day folders. */
class DayRangeFields {
  @ApiPropertyOptional({ example: '2024-01-01', description: 'YYYY-MM-DD, first day folder (inclusive)' })
  @IsOptional() @IsDay()
  start_date?: string;

  @ApiPropertyOptional({ example: '2024-01-31', description: 'YYYY-MM-DD, last day folder (inclusive)' })
  @IsOptional() @IsDay() @IsNotBefore('start_date')
  end_date?: string;
}

/** `GET /api/conversation-logs/search` */
export class ArchiveSearchQueryDto extends IntersectionType(ArchiveFilterFields, DayRangeFields) {
  @ApiPropertyOptional({ example: 'refund policy', description: 'Full text over names, queries and answers; without it: newest first' })
  @IsOptional() @IsShortString('q', 500)
  q?: string;

  @ApiPropertyOptional({ example: 20, minimum: 1, maximum: 100, default: 20 })
  @IsOptional() @IsQueryInt('limit', 1, 100)
  limit?: number;

  @ApiPropertyOptional({ example: 'WyIyMDI0LTAxLTE2VDEyOjMwOjI5LjAwMFoiLDQyXQ', description: 'next_cursor of the previous page' })
  @IsOptional() @IsString({ message: 'cursor must be a string' }) @MaxLength(200, { message: 'cursor is not a cursor from a previous page' })
  cursor?: string;
}

/** `GET /api/conversation-logs/stats` */
export class ArchiveStatsQueryDto extends DayRangeFields {
  @ApiPropertyOptional(ORG)
  @IsOptional() @IsSafeName()
  organization_id?: string;

  @ApiPropertyOptional(APP)
  @IsOptional() @IsSafeName()
  app_id?: string;
}

/** `GET /api/conversation-logs/conversation` */
export class ArchivePathQueryDto {
  @ApiProperty({
    example: 'conversations/acme/2024/01/16/conversation_5f1c2d3e-0000-4000-8000-000000000001_2024-01-16T12-30-29-000Z.json',
    description: 'A file path relative to LOGS_DIR, as summary, search and backups report it',
  })
  @IsShortString('path', 512)
  path: string;
}

export class ArchiveConversationParamsDto {
  @ApiProperty({ example: '5f1c2d3e-0000-4000-8000-000000000001' })
  @IsSafeName()
  conversation_id: string;
}

export class ArchiveOrganizationQueryDto {
  @ApiPropertyOptional(ORG)
  @IsOptional() @IsSafeName()
  organization_id?: string;
}

/** `POST /api/conversation-logs/compress` */
export class ArchiveCompressQueryDto {
  @ApiPropertyOptional({ example: 7, minimum: 0, maximum: 36500, description: 'Gzip day folders older than this many days (default COMPRESS_AFTER_DAYS)' })
  @IsOptional() @IsQueryInt('after_days', 0, 36500)
  after_days?: number;
}
