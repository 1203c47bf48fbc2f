import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Response shapes of the archive routes, for the API docs. */

const FILE = 'conversations/acme/2024/01/16/conversation_5f1c2d3e-0000-4000-8000-000000000001_2024-01-16T12-30-29-000Z.json';

export class ArchiveSummaryResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 1520 }) total_files: number;
  @ApiProperty({ example: 10485760 }) total_size_bytes: number;
  @ApiProperty({ example: ['conversations/acme/2024/01/15', 'conversations/acme/2024/01/16'] }) directories: string[];
}

export class ArchiveExportResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({
    example: [{ conversation_id: '5f1c2d3e-0000-4000-8000-000000000001', app_id: 'support-bot', organization_id: 'acme', messages: [] }],
    description: 'The archived files, oldest day first',
  })
  conversations: object[];
  @ApiProperty({ example: 1, description: 'Sent after the conversations' }) count: number;
}

export class ArchiveCleanResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 'Deleted 120 files in 3 day folders before 2024-01-01' }) message: string;
  @ApiProperty({ example: 120 }) deleted_files: number;
  @ApiProperty({ example: 512000 }) deleted_size_bytes: number;
  @ApiProperty({ example: false }) dry_run: boolean;
  @ApiProperty({ example: '2023-12-29', nullable: true, type: String }) first_day: string | null;
  @ApiProperty({ example: '2023-12-31', nullable: true, type: String }) last_day: string | null;
}

export class ArchiveSearchHitDto {
  @ApiProperty({ example: '5f1c2d3e-0000-4000-8000-000000000001' }) conversation_id: string;
  @ApiProperty({ example: FILE }) path: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'Refund question' }) name: string;
  @ApiProperty({ example: '2024-01-16T12:30:29.000Z' }) created_at: string;
  @ApiProperty({ example: '2024-01-16T12:35:02.000Z' }) updated_at: string;
  @ApiProperty({ example: 4 }) message_count: number;
  @ApiProperty({ example: '…what is your «refund» policy…' }) snippet: string;
}

export class ArchiveSearchResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ type: [ArchiveSearchHitDto] }) results: ArchiveSearchHitDto[];
  @ApiProperty({ example: 'WyIyMDI0LTAxLTE2VDEyOjMwOjI5LjAwMFoiLDQyXQ', nullable: true, type: String }) next_cursor: string | null;
}

export class ArchiveStatsFiguresDto {
  @ApiProperty({ example: 12 }) conversations: number;
  @ApiProperty({ example: 48 }) messages: number;
  @ApiProperty({ example: 9 }) end_users: number;
  @ApiProperty({ example: 15230 }) tokens: number;
  @ApiProperty({ example: 1.284, nullable: true, type: Number, description: 'seconds, of the latencies rounded to the microsecond' }) avg_latency: number | null;
  @ApiProperty({ example: 3.9, nullable: true, type: Number, description: 'seconds, nearest rank' }) p95_latency: number | null;
  @ApiProperty({ example: 5 }) likes: number;
  @ApiProperty({ example: 1 }) dislikes: number;
  @ApiProperty({ example: 0 }) errors: number;
}

export class ArchiveStatsRowDto extends ArchiveStatsFiguresDto {
  @ApiProperty({ example: '2024-01-16' }) day: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: 'support-bot' }) app_id: string;
}

export class ArchiveStatsResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ type: [ArchiveStatsRowDto] }) days: ArchiveStatsRowDto[];
  @ApiProperty({ type: ArchiveStatsFiguresDto }) totals: ArchiveStatsFiguresDto;
}

export class ArchiveConversationResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: FILE }) path: string;
  @ApiProperty({
    example: { conversation_id: '5f1c2d3e-0000-4000-8000-000000000001', app_id: 'support-bot', name: 'Refund question', messages: [] },
    description: 'The archived file as stored',
  })
  conversation: object;
}

class AppConfigVerifyDto {
  @ApiProperty({ example: 12 }) checked: number;
  @ApiProperty({ example: [], description: 'Recorded in a manifest, gone from the archive' }) missing: string[];
  @ApiProperty({ example: [], description: 'Bytes differ from the recorded SHA-256' }) changed: string[];
}

export class ArchiveVerifyResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({
    enum: ['etag', 'sha256'],
    example: 'etag',
    description: 'What was asked: etag (sizes and ETags from the listing, nothing downloaded; a disk has no ETags and is hashed) or sha256 (every file downloaded and hashed)',
  })
  method: 'etag' | 'sha256';
  @ApiProperty({ example: 1520 }) checked: number;
  @ApiProperty({ example: 1500, description: 'Files compared by size and ETag' }) by_etag: number;
  @ApiProperty({ example: 20, description: 'Files read and compared by SHA-256' }) by_sha256: number;
  @ApiProperty({ example: 20, description: 'Of those, files checked by SHA-256 because their catalog rows predate the MD5 column, or their ETag differs from the MD5 at the same size (an ETag that is not an MD5, as with SSE-KMS)' })
  sha256_fallback: number;
  @ApiProperty({ example: [FILE], description: 'In the catalog, gone from disk' }) missing: string[];
  @ApiProperty({ example: [], description: 'Bytes differ from what the catalog recorded' }) changed: string[];
  @ApiProperty({ example: [], description: 'On disk, not in the catalog' }) unindexed: string[];
  @ApiProperty({ example: [], description: 'Unreadable, or not an archived conversation' }) corrupt: string[];
  @ApiProperty({ type: AppConfigVerifyDto, description: 'App configuration snapshots (apps/...) checked against their hashes' })
  app_configs: AppConfigVerifyDto;
}

export class ArchiveSkippedFileDto {
  @ApiProperty({ example: 'conversations/acme/2024/01/16/notes.txt' }) path: string;
  @ApiProperty({ example: 'not an archive file name' }) reason: string;
}

export class ArchiveReindexResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 1519 }) indexed: number;
  @ApiProperty({ type: [ArchiveSkippedFileDto] }) skipped: ArchiveSkippedFileDto[];
  @ApiProperty({ example: 840 }) duration_ms: number;
}

export class ArchiveCompressResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 300 }) compressed_files: number;
  @ApiProperty({ example: 3000000 }) bytes_before: number;
  @ApiProperty({ example: 420000 }) bytes_after: number;
  @ApiPropertyOptional({ example: '2024-01-09', nullable: true, type: String }) before_day: string | null;
}

export class ArchiveErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiProperty({ example: 'Bad Request' }) error: string;
  @ApiProperty({ example: ['end_date must not be before start_date'] }) message: string[] | string;
  @ApiPropertyOptional({ example: 'end_date' }) field?: string;
}
