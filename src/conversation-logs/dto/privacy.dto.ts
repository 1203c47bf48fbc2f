import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsOptional } from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { IsQueryBoolean, IsQueryInt, IsShortString } from './archive-validation';

/** `/api/end-users/{end_user}` and `/api/erasures/{end_user}` */
export class EndUserParamsDto {
  @ApiProperty({ example: 'user-42', description: "The end user's Dify id or session id (the `user` string the app sent)" })
  @IsDefined({ message: 'end_user is required' }) @IsShortString('end_user', 255)
  end_user: string;
}

/** `DELETE /api/end-users/{end_user}` */
export class EraseEndUserQueryDto {
  @ApiPropertyOptional({ example: 'acme', description: 'Only this organization (every organization when absent)' })
  @IsOptional() @IsSafeName()
  organization_id?: string;

  @ApiPropertyOptional({ example: 'support-bot', description: 'Only this app (every app when absent)' })
  @IsOptional() @IsSafeName()
  app_id?: string;

  @ApiPropertyOptional({ example: true, description: 'Report what would be erased without erasing' })
  @IsOptional() @IsQueryBoolean('dry_run')
  dry_run?: boolean;
}

/** `DELETE /api/erasures/{end_user}` */
export class LiftErasureQueryDto {
  @ApiPropertyOptional({ example: 'acme', description: "Only this organization's erasure (every erasure of the end user when absent)" })
  @IsOptional() @IsSafeName()
  organization_id?: string;
}

/** `GET /api/audit` */
export class AuditQueryDto {
  @ApiPropertyOptional({ example: 50, description: 'Entries per page, 1 to 500 (default 50)' })
  @IsOptional() @IsQueryInt('limit', 1, 500)
  limit?: number;

  @ApiPropertyOptional({ example: 0, description: 'Entries to skip, newest first' })
  @IsOptional() @IsQueryInt('offset', 0, 1_000_000_000)
  offset?: number;
}

export class EraseEndUserResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 'Erased 3 conversations of this end user; later backups skip them' }) message: string;
  @ApiProperty({ example: false }) dry_run: boolean;
  @ApiProperty({ example: 3, description: 'Conversations removed (or that would be)' }) conversations: number;
  @ApiProperty({ type: [String], example: ['2025-10-01', '2025-10-03'], description: 'Their day folders' }) days: string[];
  @ApiProperty({ type: [String], example: ['acme'], description: "Their organizations ('' for conversations without one)" }) organizations: string[];
  @ApiProperty({ example: true, description: 'Whether later backups skip this end user (false on a dry run)' }) remembered: boolean;
}

export class LiftErasureResponseDto {
  @ApiProperty({ example: true }) success: true;
  @ApiProperty({ example: 1, description: 'Erasures lifted; 0 when the end user was not erased' }) lifted: number;
}

export class AuditEntryDto {
  @ApiProperty({ example: '2025-10-05T09:12:03.120Z' }) at: string;
  @ApiProperty({ enum: ['erase-end-user', 'lift-erasure', 'retention-clean'], example: 'erase-end-user', description: 'What was done' })
  action: string;
  @ApiProperty({ enum: ['api', 'admin', 'cli', 'schedule', 'service'], example: 'api', description: 'How it was asked for' })
  route: string;
  @ApiProperty({ example: '127.0.0.1', nullable: true, type: String }) client: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { organization_id: 'acme', end_user_hash: '9f2c…' } })
  scope: Record<string, string | number | null>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { conversations: 3, days: 2 } })
  counts: Record<string, number>;
}

export class AuditPageDto {
  @ApiProperty({ example: 12 }) total: number;
  @ApiProperty({ type: [AuditEntryDto] }) entries: AuditEntryDto[];
}
