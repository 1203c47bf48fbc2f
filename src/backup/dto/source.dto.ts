import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsSafeName } from '../../common/validation';

class CoverageViewDto {
  @ApiProperty({ example: true, description: 'true when this access mode sees every conversation of the app' }) complete: boolean;
  @ApiProperty({ type: [String], example: [] }) warnings: string[];
}

class WorkspaceAppNoteDto {
  @ApiProperty({ example: '6e1f0f0e-3b9c-4f35-9b8e-5a1d2c3b4a59' }) id: string;
  @ApiProperty({ example: 'Test bot' }) name: string;
  @ApiProperty({ example: 'completion' }) mode: string;
  @ApiProperty({ example: 'excluded by "mode:completion"' }) reason: string;
}

class WorkspaceAppViewDto {
  @ApiProperty({ example: '6e1f0f0e-3b9c-4f35-9b8e-5a1d2c3b4a59' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: 'Support bot', nullable: true, type: String }) name: string | null;
  @ApiProperty({ example: 'agent', nullable: true, type: String }) mode: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'Agent apps: the Agent id' }) agent_id: string | null;
  @ApiProperty({ type: CoverageViewDto, nullable: true }) coverage: CoverageViewDto | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', nullable: true, type: String }) checkpoint: string | null;
  @ApiProperty({ example: false }) running: boolean;
  @ApiProperty({ example: '2025-10-15T02:01:10.500Z', nullable: true, type: String }) last_run_at: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) last_run_job_id: string | null;
  @ApiProperty({ enum: ['succeeded', 'partial', 'failed', 'interrupted'], nullable: true, example: 'succeeded' }) last_outcome: string | null;
  @ApiProperty({ example: '2025-10-15T02:01:10.500Z', nullable: true, type: String }) last_success_at: string | null;
  @ApiProperty({ example: false, description: 'deleted in Dify: its archive is kept' }) gone: boolean;
  @ApiProperty({ example: null, nullable: true, type: String }) gone_at: string | null;
  @ApiProperty({ example: 2, description: 'configuration (DSL) snapshots saved' }) config_snapshots: number;
  @ApiProperty({ example: '2025-10-15T02:01:09.000Z', nullable: true, type: String }) config_snapshot_at: string | null;
}

export class SourceViewDto {
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ example: 'Support bot', nullable: true, type: String }) name: string | null;
  @ApiProperty({ enum: ['service', 'console-admin', 'console-login'], nullable: true, example: 'console-admin' }) access_mode: string | null;
  @ApiProperty({ type: [String], example: ['dify.example.com'] }) hosts: string[];
  @ApiProperty({ type: CoverageViewDto, nullable: true, description: 'known after the first run' }) coverage: CoverageViewDto | null;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', nullable: true, type: String, description: 'everything active before it is saved' })
  checkpoint: string | null;
  @ApiProperty({ example: false }) running: boolean;
  @ApiProperty({ example: '2025-10-15T02:01:10.500Z', nullable: true, type: String }) last_run_at: string | null;
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20', nullable: true, type: String }) last_run_job_id: string | null;
  @ApiProperty({ enum: ['succeeded', 'partial', 'failed', 'interrupted'], nullable: true, example: 'succeeded' }) last_outcome: string | null;
  @ApiProperty({ example: '2025-10-15T02:01:10.500Z', nullable: true, type: String }) last_success_at: string | null;
  @ApiProperty({ example: '2025-10-16T02:00:00.000Z', nullable: true, type: String, description: 'null when ENABLE_AUTO_LOGGING=false' })
  next_run: string | null;
  @ApiProperty({ example: false, description: 'a console source without app_id: every app of its workspace' }) workspace: boolean;
  @ApiPropertyOptional({ example: 2, description: 'a source of one app: configuration (DSL) snapshots saved (console modes; 0 in service mode)' })
  config_snapshots?: number;
  @ApiPropertyOptional({ example: '2025-10-15T02:01:09.000Z', nullable: true, type: String, description: 'a source of one app: when the latest snapshot was saved' })
  config_snapshot_at?: string | null;
  @ApiPropertyOptional({ type: [WorkspaceAppViewDto], description: 'whole workspace: its apps (gone ones included)' }) apps?: WorkspaceAppViewDto[];
  @ApiPropertyOptional({ example: 12, description: 'whole workspace: apps backed up and not gone' }) apps_total?: number;
  @ApiPropertyOptional({ type: [WorkspaceAppNoteDto], description: 'whole workspace: apps left out by include/exclude' }) excluded_apps?: WorkspaceAppNoteDto[];
  @ApiPropertyOptional({ type: [WorkspaceAppNoteDto], description: 'whole workspace: apps without conversations to back up' }) skipped_apps?: WorkspaceAppNoteDto[];
  @ApiPropertyOptional({ example: '2025-10-15T02:00:01.000Z', nullable: true, type: String }) apps_listed_at?: string | null;
}

export class SourceListDto {
  @ApiProperty({ type: [SourceViewDto] }) sources: SourceViewDto[];
}

class TestedAppDto {
  @ApiProperty({ example: '6e1f0f0e-3b9c-4f35-9b8e-5a1d2c3b4a59' }) id: string;
  @ApiProperty({ example: 'Support bot' }) name: string;
  @ApiProperty({ enum: ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow'], example: 'chat' }) mode: string;
}

export class SourceTestResultDto {
  @ApiProperty({ example: true }) ok: boolean;
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ enum: ['service', 'console-admin', 'console-login'], nullable: true, example: 'console-admin' }) access_mode: string | null;
  @ApiPropertyOptional({ type: TestedAppDto }) app?: TestedAppDto;
  @ApiPropertyOptional({ example: 'Connected to "Support bot" (chat) in console-admin mode' }) message?: string;
  @ApiPropertyOptional({ example: 'Dify refused the admin API key (401 unauthorized)' }) error?: string;
  @ApiPropertyOptional({ example: 'DifyAuthError', nullable: true, type: String }) error_kind?: string | null;
}

export class SourceTestQueryDto {
  @ApiPropertyOptional({ example: 'acme', description: 'which organization, when one app_id is configured for several' })
  @IsOptional() @IsSafeName()
  organization_id?: string;
}
