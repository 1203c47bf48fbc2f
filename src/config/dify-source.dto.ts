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
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { isSafeName, SAFE_NAME_RULE } from '../common/safe-name';
import { IsHttpUrl, IsSafeName } from '../common/validation';

const APP_OVERRIDES_RULE =
  'apps must map App ids to settings such as {"organization_id": "acme"} (each key and organization_id ' + SAFE_NAME_RULE + ')';

/** `apps: {"<app id>": {"organization_id": "..."}}`: every key a path-safe App id, every value only known settings. */
@ValidatorConstraint({ name: 'isAppOverrides' })
class IsAppOverridesConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 10000) return false;
    return entries.every(([id, settings]) => {
      if (!isSafeName(id) || !settings || typeof settings !== 'object' || Array.isArray(settings)) return false;
      const keys = Object.keys(settings);
      const org = (settings as { organization_id?: unknown }).organization_id;
      return keys.every((k) => k === 'organization_id') && (org === undefined || isSafeName(org));
    });
  }
  defaultMessage(): string {
    return APP_OVERRIDES_RULE;
  }
}

const SELECTOR_RULE = (field: string) =>
  `each entry of ${field} must be 1 to 200 characters: an app id, an Agent id, a name pattern with *, or mode:<mode>`;

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

  @ApiPropertyOptional({
    example: ['mode:agent', 'Support*'],
    type: [String],
    description: 'Whole workspace (no app_id): back up only the apps matching an entry: an App id, an Agent id, a name pattern with *, or mode:<mode>',
  })
  @IsOptional() @IsArray({ message: 'include must be a list' }) @ArrayMaxSize(1000)
  @IsString({ each: true, message: SELECTOR_RULE('include') }) @MinLength(1, { each: true, message: SELECTOR_RULE('include') })
  @MaxLength(200, { each: true, message: SELECTOR_RULE('include') })
  include?: string[];

  @ApiPropertyOptional({
    example: ['mode:completion', 'Test *'],
    type: [String],
    description: 'Whole workspace: never back up (nor contact) the apps matching an entry; wins over include',
  })
  @IsOptional() @IsArray({ message: 'exclude must be a list' }) @ArrayMaxSize(1000)
  @IsString({ each: true, message: SELECTOR_RULE('exclude') }) @MinLength(1, { each: true, message: SELECTOR_RULE('exclude') })
  @MaxLength(200, { each: true, message: SELECTOR_RULE('exclude') })
  exclude?: string[];

  @ApiPropertyOptional({
    example: { '6e1f0f0e-3b9c-4f35-9b8e-5a1d2c3b4a59': { organization_id: 'sales' } },
    description: 'Whole workspace: per-app settings by App id; `organization_id` archives that app under another organization',
  })
  @IsOptional() @Validate(IsAppOverridesConstraint)
  apps?: Record<string, { organization_id?: string }>;
}

/** One entry of DIFY_APPS_FILE; a console entry without app_id is the whole workspace. */
export class DifySourceDto extends DifySourceFieldsDto {
  @IsOptional() @IsSafeName()
  app_id?: string;

  @IsOptional() @IsString() @MaxLength(200)
  name?: string;
}
