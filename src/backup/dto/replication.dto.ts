import { ApiProperty } from '@nestjs/swagger';

export class ReplicationRecordDto {
  @ApiProperty({ example: 's3://acme-vault-offsite/vault/', description: 'the replica bucket and key prefix' }) target: string;
  @ApiProperty({ example: 1200, description: 'files of the archive compared' }) checked: number;
  @ApiProperty({ example: 42, description: 'new or changed files written, each read back and compared' }) copied: number;
  @ApiProperty({ example: 183_220 }) copied_bytes: number;
  @ApiProperty({ example: 1158 }) unchanged: number;
  @ApiProperty({ example: 0, description: 'files of the bucket missing from the archive, deleted (REPLICATE_DELETE=true)' }) deleted: number;
  @ApiProperty({ example: 0, description: 'files of the bucket missing from the archive, kept' }) extra: number;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'why the copy failed' }) error: string | null;
}

export class ReplicationSuccessDto {
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) job_id: string;
  @ApiProperty({ example: '2025-10-15T04:00:00.100Z' }) started_at: string;
  @ApiProperty({ example: '2025-10-15T04:00:12.600Z' }) finished_at: string;
  @ApiProperty({ example: 1200 }) checked: number;
  @ApiProperty({ example: 42 }) copied: number;
  @ApiProperty({ example: 183_220 }) copied_bytes: number;
  @ApiProperty({ example: 0 }) deleted: number;
}

export class ReplicationRunDto {
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) job_id: string;
  @ApiProperty({ example: 'succeeded', enum: ['succeeded', 'failed', 'interrupted'], description: 'a copy skipped because another one ran is not a run' }) status: string;
  @ApiProperty({ example: '2025-10-15T04:00:00.100Z' }) started_at: string;
  @ApiProperty({ example: '2025-10-15T04:00:12.600Z', nullable: true, type: String }) finished_at: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) error: string | null;
}

export class ReplicationStatusDto {
  @ApiProperty({ example: true, description: 'a replica bucket is configured (REPLICATE_S3_*, or S3_* with ARCHIVE_STORAGE=fs)' }) configured: boolean;
  @ApiProperty({ example: 's3://acme-vault-offsite/vault/', nullable: true, type: String }) target: string | null;
  @ApiProperty({ example: '0 4 * * *', nullable: true, type: String, description: 'REPLICATE_CRON; null: copied on demand only' }) schedule: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'the copy under way, in the answering process or another one on this archive (one at a time: the replication lock)' }) running_job_id: string | null;
  @ApiProperty({ type: ReplicationSuccessDto, nullable: true, description: 'the last successful copy (null: none yet)' }) last_success: ReplicationSuccessDto | null;
  @ApiProperty({ type: ReplicationRunDto, nullable: true, description: 'the last finished copy, successful or not' }) last_run: ReplicationRunDto | null;
  @ApiProperty({
    example: 12,
    nullable: true,
    type: Number,
    description:
      'conversation files not yet copied, from the catalog: those written (saved, rewritten with new content, compressed) since the last successful copy started, ' +
      'each counted once however often it was rewritten; all of them before the first copy (and after a catalog rebuild, until the next copy); null when not configured, and while the catalog is rebuilt',
  })
  pending_files: number | null;
}
