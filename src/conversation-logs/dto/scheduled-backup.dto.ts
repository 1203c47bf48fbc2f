import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { DifySourceFieldsDto } from '../../config/dify-source.dto';
import { BackupResultDto } from '../../backup/dto/backup-result.dto';
import { BackupFiltersDto } from './save-conversation-logs.dto';

export class ScheduledAppDto extends DifySourceFieldsDto {
  @ApiProperty({ example: 'support-bot', description: 'A configured source, or (with connection fields) any app on an allowed host' })
  @IsSafeName()
  app_id: string;
}

/** The seed's body: `{apps?, filters?}`; no body backs up every configured source. */
export class ScheduledBackupDto {
  @ApiPropertyOptional({
    type: [ScheduledAppDto],
    description: 'Apps to back up; absent = every configured source',
    example: [{ app_id: 'support-bot' }, { app_id: 'faq-bot', organization_id: 'acme', dify_api_url: 'https://api.dify.ai/v1', api_key: 'app-xxxxxxxxxxxxxxxx', users: ['user-123'] }],
  })
  @IsOptional() @IsArray({ message: 'apps must be a list' }) @ArrayMinSize(1, { message: 'apps must not be empty' })
  @ArrayMaxSize(500, { message: 'apps must hold at most 500 entries' })
  @ValidateNested({ each: true }) @Type(() => ScheduledAppDto)
  apps?: ScheduledAppDto[];

  @ApiPropertyOptional({ type: BackupFiltersDto, description: 'An explicit window (never moves checkpoints); absent = catch up from each checkpoint' })
  @IsOptional() @IsObject({ message: 'filters must be an object' }) @ValidateNested() @Type(() => BackupFiltersDto)
  filters?: BackupFiltersDto;
}

export class ScheduledAppResultDto {
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiProperty({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ enum: ['succeeded', 'partial', 'failed', 'interrupted'], example: 'succeeded' }) status: string;
  @ApiProperty({ example: true }) success: boolean;
  @ApiProperty({ example: 'Backed up 42 conversations: 40 saved, 2 unchanged' }) message: string;
  @ApiProperty({ example: null, nullable: true, type: String }) error: string | null;
  @ApiProperty({ type: BackupResultDto, nullable: true }) result: BackupResultDto | null;
}

export class ScheduledBackupResponseDto {
  @ApiProperty({ example: true, description: 'true when every app was backed up completely' }) success: boolean;
  @ApiProperty({ example: '2 sources: 2 succeeded; 84 conversations seen, 80 saved, 4 unchanged, 0 failed' }) message: string;
  @ApiProperty({ example: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' }) job_id: string;
  @ApiProperty({ enum: ['succeeded', 'partial', 'failed', 'interrupted'], example: 'succeeded' }) status: string;
  @ApiProperty({ type: [ScheduledAppResultDto] }) results: ScheduledAppResultDto[];
}
