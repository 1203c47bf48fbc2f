import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class CoverageDto {
  @ApiProperty({ example: true, description: 'true when this access mode sees every conversation of the app' })
  complete: boolean;
  @ApiProperty({ type: [String], example: [] })
  warnings: string[];
}

class ConversationErrorDto {
  @ApiProperty({ example: '3f1c2a9e-5b7d-4c1e-9a2b-0c4d5e6f7a8b' })
  conversation_id: string;
  @ApiProperty({ example: 'Dify is unreachable at dify.example.com (ETIMEDOUT)' })
  error: string;
}

class WindowDto {
  @ApiProperty({ example: '2025-10-01T00:00:00.000Z', nullable: true, type: String })
  start: string | null;
  @ApiProperty({ example: '2025-10-15T23:59:59.000Z', nullable: true, type: String })
  end: string | null;
}

export class BackupResultDto {
  @ApiProperty({ example: true }) success: boolean;
  @ApiProperty({ example: 'Backed up 42 conversations: 40 saved, 2 unchanged' }) message: string;
  @ApiProperty({ example: 'support-bot' }) app_id: string;
  @ApiPropertyOptional({ example: 'acme', nullable: true, type: String }) organization_id: string | null;
  @ApiProperty({ enum: ['service', 'console-admin', 'console-login'], example: 'console-admin' }) access_mode: string;
  @ApiProperty({
    enum: ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'agent', 'workspace'],
    example: 'chat',
    description: '`workspace` for the sum over every app of a workspace',
  })
  app_mode: string;
  @ApiPropertyOptional({ example: 'Support bot', description: "The app's name in Dify (results inside `apps`)" }) app_name?: string;
  @ApiProperty({ example: 42 }) total_conversations: number;
  @ApiProperty({ example: 40, description: 'created + updated' }) saved_count: number;
  @ApiProperty({ example: 38 }) created_count: number;
  @ApiProperty({ example: 2 }) updated_count: number;
  @ApiProperty({ example: 2 }) unchanged_count: number;
  @ApiProperty({ example: 0 }) failed_count: number;
  @ApiProperty({ example: 0, description: 'Conversations of erased end users, left out (DELETE /api/end-users/{end_user})' })
  erased_skipped_count: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { email: 3, card: 1 },
    description: 'Replacements per REDACT kind or REDACT_PATTERNS name, made before anything was written (empty when REDACT is off)',
  })
  redactions: Record<string, number>;
  @ApiProperty({ type: [String], example: ['conversations/acme/2025/10/01/conversation_3f1c2a9e-5b7d-4c1e-9a2b-0c4d5e6f7a8b_2025-10-01T08-15-02-000Z.json'] })
  file_paths: string[];
  @ApiProperty({ type: [ConversationErrorDto] }) errors: ConversationErrorDto[];
  @ApiProperty({ type: CoverageDto }) coverage: CoverageDto;
  @ApiProperty({ type: [String], example: [] }) warnings: string[];
  @ApiProperty({ type: WindowDto }) window: WindowDto;
  @ApiProperty({ example: false }) interrupted: boolean;
  @ApiPropertyOptional({
    type: () => [BackupResultDto],
    description: 'A whole workspace (console credentials without app_id): one result per app; the fields above are their sum',
  })
  apps?: BackupResultDto[];
}
