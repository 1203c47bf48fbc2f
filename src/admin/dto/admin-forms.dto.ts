import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsSafeName } from '../../common/validation';

/** Empty form fields arrive as '' — treat them as not given. */
const blankToUndefined = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : value));

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MESSAGE = '$property must be a date (YYYY-MM-DD)';

export class CsrfFormDto {
  @IsString({ message: 'the form is missing its security token; reload the page' })
  @MaxLength(128)
  _csrf: string;
}

export class LoginFormDto {
  @IsString({ message: 'enter the admin token' })
  @MaxLength(1024, { message: 'the admin token is too long' })
  token: string;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  next?: string;
}

export class BackupFormDto extends CsrfFormDto {
  /** absent: every configured source */
  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(128)
  app_id?: string;

  @blankToUndefined()
  @IsOptional()
  @IsSafeName()
  organization_id?: string;
}

export class CleanFormDto extends CsrfFormDto {
  @Type(() => Number)
  @IsInt({ message: 'days to keep must be a whole number' })
  @Min(1, { message: 'days to keep must be at least 1' })
  @Max(36500, { message: 'days to keep must be at most 36500' })
  days_to_keep: number;

  @blankToUndefined()
  @IsOptional()
  @IsSafeName()
  organization_id?: string;
}

export class VerifyFormDto extends CsrfFormDto {
  /** the checkbox: present ('on') when ticked */
  @blankToUndefined()
  @IsOptional()
  @IsIn(['on', 'true', 'false'], { message: 'sha256 must be on, true or false' })
  sha256?: string;
}

export class CleanQueryDto {
  @blankToUndefined()
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'days to keep must be a whole number' })
  @Min(1, { message: 'days to keep must be at least 1' })
  @Max(36500, { message: 'days to keep must be at most 36500' })
  days_to_keep?: number;

  @blankToUndefined()
  @IsOptional()
  @IsSafeName()
  organization_id?: string;
}

/** Range and source shared by the overview charts, the export and the search. */
export class RangeQueryDto {
  @blankToUndefined()
  @IsOptional()
  @Matches(DAY, { message: DAY_MESSAGE })
  start_date?: string;

  @blankToUndefined()
  @IsOptional()
  @Matches(DAY, { message: DAY_MESSAGE })
  end_date?: string;

  @blankToUndefined()
  @IsOptional()
  @IsSafeName()
  organization_id?: string;

  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(128)
  app_id?: string;
}

export class OverviewQueryDto extends RangeQueryDto {
  /** `<organization_id>/<app_id>` of a configured source, or empty for all */
  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  source?: string;
}

export class ExportQueryDto extends RangeQueryDto {
  @blankToUndefined()
  @IsOptional()
  @IsIn(['json', 'ndjson', 'csv'], { message: 'format must be JSON, NDJSON or CSV' })
  format?: 'json' | 'ndjson' | 'csv';

  /** the form's checkbox: "true" when ticked, absent otherwise; used with CSV only */
  @blankToUndefined()
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'bom must be true or false' })
  bom?: 'true' | 'false';
}

export class SearchQueryDto extends RangeQueryDto {
  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'the search text must be at most 200 characters' })
  q?: string;

  @blankToUndefined()
  @IsOptional()
  @IsIn(['like', 'dislike'], { message: 'feedback must be like or dislike' })
  rating?: 'like' | 'dislike';

  @blankToUndefined()
  @IsOptional()
  @IsIn(['api', 'console'], { message: 'channel must be api or console' })
  from_source?: 'api' | 'console';

  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'the end user must be at most 200 characters' })
  user?: string;

  @blankToUndefined()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}
