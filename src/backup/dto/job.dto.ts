import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ReplicationRecordDto } from './replication.dto';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { BackupResultDto } from './backup-result.dto';
import { JOB_TRIGGERS } from '../jobs.types';

const STATUSES = ['running', 'succeeded', 'partial', 'failed', 'interrupted', 'skipped'];
const SOURCE_STATUSES = ['pending', ...STATUSES];

export class ProgressDto {
  @ApiProperty({ example: 42, description: 'conversations listed so far' }) seen: number;
  @ApiProperty({ example: 40, description: 'created or rewritten' }) saved: number;
  @ApiProperty({ example: 2 }) unchanged: number;
  @ApiProperty({ example: 0 }) failed: number;
}

export class IsoWindowDto {
  @ApiProperty({ example: '2025-10-14T01:00:00.000Z', nullable: true, type: String }) start: string | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', nullable: true, type: String }) end: string | null;
}

export class JobSourceDto {
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: 'Support bot', nullable: true, type: String }) name: string | null;
  @ApiProperty({ enum: SOURCE_STATUSES, example: 'succeeded' }) status: string;
  @ApiProperty({ type: ProgressDto }) progress: ProgressDto;
  @ApiProperty({ type: IsoWindowDto, nullable: true, description: 'the whole window of this source' }) window: IsoWindowDto | null;
  @ApiProperty({ type: IsoWindowDto, nullable: true, description: 'the slice being backed up now (or where an interrupted run stopped)' })
  current_window: IsoWindowDto | null;
  @ApiProperty({ example: '2025-10-14T02:00:00.000Z', nullable: true, type: String, description: 'checkpoint when the source started (catch-up runs)' })
  checkpoint_before: string | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', nullable: true, type: String, description: 'checkpoint now: everything active before it is saved' })
  checkpoint_after: string | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.120Z', nullable: true, type: String }) started_at: string | null;
  @ApiProperty({ example: '2025-10-15T02:01:10.500Z', nullable: true, type: String }) finished_at: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'why the source failed as a whole' }) error: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'e.g. DifyAuthError, DifyUnavailableError' }) error_kind: string | null;
  @ApiProperty({ type: [String], example: [] }) warnings: string[];
  @ApiProperty({ type: BackupResultDto, nullable: true, description: 'merged result of every slice' }) result: BackupResultDto | null;
  @ApiPropertyOptional({ type: () => [JobSourceDto], description: 'A whole workspace: one entry per app backed up' }) apps?: JobSourceDto[];
  @ApiPropertyOptional({ example: 'agent', description: 'An app of a whole workspace: its Dify mode' }) app_mode?: string;
  @ApiPropertyOptional({ example: null, nullable: true, type: String, description: 'An Agent app: its Agent id' }) agent_id?: string | null;
}

export class ResumeSourceDto {
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: '2025-10-14T02:00:00.000Z', nullable: true, type: String, description: 'resume from here (null: the beginning)' }) from: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'up to here (null: now)' }) to: string | null;
}

export class JobResumePointDto {
  @ApiProperty({ enum: ['shutdown', 'crash'], example: 'shutdown' }) reason: string;
  @ApiProperty({ example: '2025-10-15T02:00:40.000Z' }) interrupted_at: string;
  @ApiProperty({ type: [ResumeSourceDto] }) sources: ResumeSourceDto[];
}

export class JobDto {
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) id: string;
  @ApiProperty({ enum: ['backup', 'replication'], example: 'backup', description: '`replication`: an off-site copy of the archive (no sources; its counts in `replication`)' }) kind: string;
  @ApiProperty({ enum: JOB_TRIGGERS, example: 'scheduled' }) trigger: string;
  @ApiProperty({ enum: STATUSES, example: 'succeeded' }) status: string;
  @ApiProperty({ type: IsoWindowDto, nullable: true, description: 'explicit window; null = catch-up from checkpoints' }) window: IsoWindowDto | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.100Z' }) started_at: string;
  @ApiProperty({ example: '2025-10-15T02:01:10.600Z', nullable: true, type: String }) finished_at: string | null;
  @ApiProperty({ example: '1 source: 1 succeeded; 42 conversations seen, 40 saved, 2 unchanged, 0 failed' }) message: string;
  @ApiProperty({ type: [JobSourceDto] }) sources: JobSourceDto[];
  @ApiPropertyOptional({ example: 'vault-7d9f:4127', nullable: true, type: String, description: 'the replica that ran the job: host name and process id' })
  replica?: string | null;
  @ApiPropertyOptional({ type: JobResumePointDto, nullable: true, description: 'an interrupted job: where it stopped (POST /api/jobs/{id}/resume continues it)' })
  resume?: JobResumePointDto | null;
  @ApiPropertyOptional({ example: null, nullable: true, type: String, description: 'the job that resumed this one' }) resumed_by?: string | null;
  @ApiPropertyOptional({ example: null, nullable: true, type: String, description: 'the interrupted job this one resumes' }) resumes?: string | null;
  @ApiPropertyOptional({ type: ReplicationRecordDto, nullable: true, description: 'a replication job: what it copied' }) replication?: ReplicationRecordDto | null;
}

export class JobListDto {
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ type: [JobDto] }) jobs: JobDto[];
}

export class ListJobsQueryDto {
  @ApiPropertyOptional({ example: 50, description: 'newest first; default 50, at most 500' })
  @IsOptional() @Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be an integer' }) @Min(1, { message: 'limit must be at least 1' }) @Max(500, { message: 'limit must be at most 500' })
  limit?: number;

  @ApiPropertyOptional({ enum: STATUSES, example: 'failed' })
  @IsOptional() @IsIn(STATUSES, { message: `status must be one of: ${STATUSES.join(', ')}` })
  status?: string;

  @ApiPropertyOptional({ enum: JOB_TRIGGERS, example: 'scheduled' })
  @IsOptional() @IsIn(JOB_TRIGGERS, { message: `trigger must be one of: ${JOB_TRIGGERS.join(', ')}` })
  trigger?: string;
}

/** The one answer of every async route (202). */
export class JobAcceptedDto {
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) job_id: string;
  @ApiProperty({ example: 'running', enum: STATUSES }) status: string;
  @ApiProperty({ example: '/api/jobs/5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) status_url: string;
  @ApiProperty({ example: '/api/jobs/5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20/events' }) events_url: string;
}
