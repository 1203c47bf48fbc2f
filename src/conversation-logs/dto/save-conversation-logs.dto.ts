import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { DifySourceFieldsDto } from '../../config/dify-source.dto';

export class BackupFiltersDto {
  @ApiPropertyOptional({ example: '2025-10-01T00:00:00Z', description: 'ISO 8601; conversations active (created or updated) from then on' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'start_date must be an ISO 8601 date or date-time' })
  start_date?: string;

  @ApiPropertyOptional({ example: '2025-10-15T23:59:59Z', description: 'ISO 8601; a plain date means the end of that day (in LOG_TIMEZONE); an end in the future means now' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'end_date must be an ISO 8601 date or date-time' })
  end_date?: string;

  @ApiPropertyOptional({ enum: ['api', 'console'], description: "Dify's own from_source value: api (WebApp, Service API) or console (debugger, Explore)" })
  @IsOptional() @IsIn(['api', 'console'], { message: 'from_source must be one of: api, console' })
  from_source?: 'api' | 'console';
}

/**
 * The seed's body (dify_api_url, app_id, api_key, organization_id, filters) plus the console fields and `users`;
 * or just `app_id` naming a configured source.
 */
export class SaveConversationLogsDto extends DifySourceFieldsDto {
  @ApiPropertyOptional({
    example: 'support-bot',
    description:
      'App id: a configured source, or (console modes) the Dify app UUID. Leave it out with console credentials to back up ' +
      'every app of the workspace (the answer is the sum, with one result per app in `apps`).',
  })
  @IsOptional() @IsSafeName()
  app_id?: string;

  @ApiPropertyOptional({ type: BackupFiltersDto })
  @IsOptional() @IsObject({ message: 'filters must be an object' }) @ValidateNested() @Type(() => BackupFiltersDto)
  filters?: BackupFiltersDto;
}
