import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsSafeName } from '../../common/validation';

class CoverageViewDto {
  @ApiProperty({ example: true, description: 'true when this access mode sees every conversation of the app' }) complete: boolean;
  @ApiProperty({ type: [String], example: [] }) warnings: string[];
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
