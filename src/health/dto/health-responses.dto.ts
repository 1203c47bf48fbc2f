import { ApiProperty } from '@nestjs/swagger';

/** Response shapes of the health routes, for the API docs. */

export class LivenessResponseDto {
  @ApiProperty({ example: 'ok' }) status: 'ok';
  @ApiProperty({ example: '0.1.0', description: 'The service version (package.json)' }) version: string;
}

const DETAILS = {
  catalog: { status: 'up', conversations: 1520 },
  archive: { status: 'up', storage: 'fs' },
  logs_dir: { status: 'up', writable: true },
  disk: { status: 'up', free_mb: 20480, min_free_mb: 512 },
  sources: {
    status: 'down',
    sources: 2,
    stale: ['acme/support-bot'],
    stale_after_hours: 36,
    message: '1 of 2 sources have had no successful backup for 36 h',
  },
};

export class ReadinessResponseDto {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'], example: 'error' }) status: 'ok' | 'error' | 'shutting_down';
  @ApiProperty({ example: '0.1.0' }) version: string;
  @ApiProperty({ description: 'The checks that are up', example: { catalog: DETAILS.catalog, logs_dir: DETAILS.logs_dir, disk: DETAILS.disk } })
  info: Record<string, unknown>;
  @ApiProperty({ description: 'The checks that are down', example: { sources: DETAILS.sources } })
  error: Record<string, unknown>;
  @ApiProperty({ description: 'Every check: catalog, archive (the store: fs or an S3 bucket), logs_dir, disk and sources', example: DETAILS })
  details: Record<string, unknown>;
}
