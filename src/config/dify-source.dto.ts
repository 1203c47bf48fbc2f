import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { IsHttpUrl, IsSafeName } from '../common/validation';

/** The connection fields of a Dify source: shared by the request body and DIFY_APPS_FILE. */
export class DifySourceFieldsDto {
  @ApiPropertyOptional({ example: 'https://api.dify.ai/v1', description: 'Service API base URL (app-key mode)' })
  @IsOptional() @IsHttpUrl()
  dify_api_url?: string;

  @ApiPropertyOptional({ example: 'app-xxxxxxxxxxxxxxxx', description: 'Dify app API key (never stored or echoed)' })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(512)
  api_key?: string;

  @ApiPropertyOptional({ example: 'acme', description: 'Organization folder in the archive (path-safe name)' })
  @IsOptional() @IsSafeName()
  organization_id?: string;

  @ApiPropertyOptional({
    example: ['user-123', 'user-456'],
    description: 'Service mode: the end-user ids (`user` strings) whose conversations are backed up',
    type: [String],
  })
  @IsOptional() @IsArray() @ArrayMaxSize(10000)
  @IsString({ each: true }) @MinLength(1, { each: true }) @MaxLength(255, { each: true })
  users?: string[];

  @ApiPropertyOptional({ example: 'https://cloud.dify.ai/console/api', description: 'Console API base URL' })
  @IsOptional() @IsHttpUrl()
  console_api_url?: string;

  @ApiPropertyOptional({ example: 'admin-key', description: 'Self-hosted ADMIN_API_KEY (console admin-key mode)' })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(512)
  admin_api_key?: string;

  @ApiPropertyOptional({ example: '1b2c3d4e-0000-4000-8000-000000000000', description: 'Workspace id sent as X-WORKSPACE-ID' })
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9-]{1,64}$/, { message: 'workspace_id must be a workspace UUID' })
  workspace_id?: string;

  @ApiPropertyOptional({ example: 'ops@example.com', description: 'Console login e-mail (console login mode)' })
  @IsOptional() @IsEmail({}, { message: 'email must be an e-mail address' })
  email?: string;

  @ApiPropertyOptional({ example: 'correct-horse', description: 'Console login password (never stored or echoed)' })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(512)
  password?: string;

  @ApiPropertyOptional({
    enum: ['auto', 'base64', 'plain'],
    description: 'How the login password is sent: Base64 (Dify >= 1.11, Dify Cloud), plain (older), or auto (by server version)',
  })
  @IsOptional() @IsIn(['auto', 'base64', 'plain'], { message: 'password_encoding must be one of: auto, base64, plain' })
  password_encoding?: 'auto' | 'base64' | 'plain';

  @ApiPropertyOptional({
    example: false,
    description: 'Workflow apps: archive each run\'s node executions too (console access modes; the Service API has none)',
  })
  @IsOptional() @IsBoolean({ message: 'include_node_executions must be true or false' })
  include_node_executions?: boolean;
}

/** One entry of DIFY_APPS_FILE. */
export class DifySourceDto extends DifySourceFieldsDto {
  @IsSafeName()
  app_id: string;

  @IsOptional() @IsString() @MaxLength(200)
  name?: string;
}
