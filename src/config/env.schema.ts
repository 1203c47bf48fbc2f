import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { CronTime } from 'cron';
import { LOG_FORMATS, LOG_LEVELS } from '../common/logging/app-logger';
import { isValidTimeZone } from '../common/time-zone';
import { DATABASE_URL_RULE, isDatabaseUrl } from '../common/database-url';
import { HOSTNAME_LIST_RULE, isHostnameList, isPublicUrl, isTrustProxy, PUBLIC_URL_RULE, TRUST_PROXY_RULE } from '../common/request-host';

@ValidatorConstraint({ name: 'isTimeZone' })
class IsTimeZoneConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isValidTimeZone(value);
  }
  defaultMessage(): string {
    return '$property must be an IANA time zone name such as UTC or Europe/Berlin';
  }
}

@ValidatorConstraint({ name: 'isCron' })
class IsCronConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || value.trim() === '') return false;
    try {
      new CronTime(value);
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage(): string {
    return '$property must be a cron expression such as "0 2 * * *"';
  }
}

@ValidatorConstraint({ name: 'isPublicUrl' })
class IsPublicUrlConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isPublicUrl(value);
  }
  defaultMessage(): string {
    return `$property ${PUBLIC_URL_RULE}`;
  }
}

@ValidatorConstraint({ name: 'isHostnameList' })
class IsHostnameListConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isHostnameList(value);
  }
  defaultMessage(): string {
    return `$property ${HOSTNAME_LIST_RULE}`;
  }
}

@ValidatorConstraint({ name: 'isDatabaseUrl' })
class IsDatabaseUrlConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isDatabaseUrl(value);
  }
  defaultMessage(): string {
    return `$property ${DATABASE_URL_RULE}`;
  }
}

@ValidatorConstraint({ name: 'isTrustProxy' })
class IsTrustProxyConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return isTrustProxy(value);
  }
  defaultMessage(): string {
    return `$property ${TRUST_PROXY_RULE}`;
  }
}

const toBool = ({ value }: { value: unknown }) => {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** The process environment, validated at boot. Every variable is documented in .env.example. */
export class EnvironmentVariables {
  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '127.0.0.1';

  @IsString()
  LOGS_DIR = './logs';

  // The catalog in PostgreSQL instead of LOGS_DIR/catalog.sqlite (the value is never echoed: it holds a password)
  @IsOptional() @Transform(emptyToUndefined) @Validate(IsDatabaseUrlConstraint)
  DATABASE_URL?: string;
  @Transform(emptyToUndefined) @Matches(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
    message: 'CATALOG_FTS_LANGUAGE must be the name of a PostgreSQL text search configuration, such as simple or english',
  })
  CATALOG_FTS_LANGUAGE = 'simple';

  // Where the archive's files live: LOGS_DIR (fs) or an S3-compatible bucket (s3), with Dify's own S3_* names
  @IsIn(['fs', 's3'], { message: 'ARCHIVE_STORAGE must be fs or s3' })
  ARCHIVE_STORAGE: 'fs' | 's3' = 'fs';
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^https?:\/\/[^\s/?#]+\/?$/i, {
    message: 'S3_ENDPOINT must be an http:// or https:// origin such as https://s3.eu-central-1.amazonaws.com (no path)',
  })
  S3_ENDPOINT?: string;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^[a-z0-9-]{1,40}$/, { message: 'S3_REGION must be a region name such as us-east-1' })
  S3_REGION?: string = 'us-east-1';
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: 'S3_BUCKET_NAME must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens',
  })
  S3_BUCKET_NAME?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  S3_ACCESS_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  S3_SECRET_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsIn(['auto', 'path', 'virtual'], { message: 'S3_ADDRESS_STYLE must be auto, path or virtual' })
  S3_ADDRESS_STYLE?: 'auto' | 'path' | 'virtual' = 'auto';
  @Transform(toBool) @IsBoolean()
  S3_USE_AWS_MANAGED_IAM = false;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]*$/, {
    message: 'S3_PREFIX must be a key prefix such as vault/ (letters, digits, dots, hyphens, underscores and slashes)',
  })
  S3_PREFIX?: string = '';
  // Objects read at once by an export, a compression, a verify with sha256 or a rebuild from the bucket (order kept)
  @Transform(toInt) @IsInt() @Min(1) @Max(256)
  S3_READ_CONCURRENCY = 16;
  // One S3 request's time limit; a request that takes longer is retried like a 5xx
  @Transform(toInt) @IsInt() @Min(1) @Max(600)
  S3_REQUEST_TIMEOUT_SECONDS = 30;

  // The off-site copy (replicate): REPLICATE_S3_* name its bucket, each unset one falling back to its S3_* variable;
  // without REPLICATE_S3_BUCKET_NAME the S3_* bucket is the copy's (with ARCHIVE_STORAGE=fs only)
  @IsOptional() @Transform(emptyToUndefined) @Validate(IsCronConstraint)
  REPLICATE_CRON?: string;
  @Transform(toBool) @IsBoolean()
  REPLICATE_DELETE = false;
  @Transform(toInt) @IsInt() @Min(1) @Max(32)
  REPLICATE_CONCURRENCY = 4;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^https?:\/\/[^\s/?#]+\/?$/i, {
    message: 'REPLICATE_S3_ENDPOINT must be an http:// or https:// origin such as https://s3.eu-central-1.amazonaws.com (no path)',
  })
  REPLICATE_S3_ENDPOINT?: string;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^[a-z0-9-]{1,40}$/, { message: 'REPLICATE_S3_REGION must be a region name such as us-east-1' })
  REPLICATE_S3_REGION?: string;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: 'REPLICATE_S3_BUCKET_NAME must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens',
  })
  REPLICATE_S3_BUCKET_NAME?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  REPLICATE_S3_ACCESS_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  REPLICATE_S3_SECRET_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsIn(['auto', 'path', 'virtual'], { message: 'REPLICATE_S3_ADDRESS_STYLE must be auto, path or virtual' })
  REPLICATE_S3_ADDRESS_STYLE?: 'auto' | 'path' | 'virtual';
  @IsOptional() @Transform(emptyToUndefined) @Transform(toBool) @IsBoolean()
  REPLICATE_S3_USE_AWS_MANAGED_IAM?: boolean;
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]*$/, {
    message: 'REPLICATE_S3_PREFIX must be a key prefix such as offsite/ (letters, digits, dots, hyphens, underscores and slashes)',
  })
  REPLICATE_S3_PREFIX?: string;

  // With DATABASE_URL: a replica whose heartbeat is older than this is gone (its running jobs are interrupted)
  @Transform(toInt) @IsInt() @Min(4) @Max(3600)
  REPLICA_TIMEOUT_SECONDS = 30;

  @Validate(IsTimeZoneConstraint)
  LOG_TIMEZONE = 'UTC';

  /** the service's own log lines (not the archive): read by AppLogger, validated here with the rest */
  @Transform(emptyToUndefined) @IsOptional() @IsIn([...LOG_LEVELS], { message: `LOG_LEVEL must be one of: ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsIn([...LOG_FORMATS], { message: `LOG_FORMAT must be one of: ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT?: string;

  @Transform(toInt) @IsInt() @Min(1) @Max(36500)
  LOG_RETENTION_DAYS = 30;

  @Transform(toBool) @IsBoolean()
  ENABLE_AUTO_LOGGING = true;

  @IsOptional() @Transform(emptyToUndefined) @Transform(toInt) @IsInt() @Min(1) @Max(36500)
  COMPRESS_AFTER_DAYS?: number;

  // Single source from the environment
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_API_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_APP_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_API_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_USERS?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_ORGANIZATION_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_CONSOLE_API_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_ADMIN_API_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_WORKSPACE_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_EMAIL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_PASSWORD?: string;

  /** whole workspace (no DIFY_APP_ID): comma-separated include / exclude entries */
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_INCLUDE_APPS?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_EXCLUDE_APPS?: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_APPS_FILE?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  DIFY_ALLOWED_HOSTS?: string;

  // Dify client behaviour
  @Transform(toInt) @IsInt() @Min(100) @Max(600000)
  DIFY_TIMEOUT_MS = 30000;
  @Transform(toInt) @IsInt() @Min(0) @Max(20)
  DIFY_MAX_RETRIES = 5;
  @Transform(toInt) @IsInt() @Min(1) @Max(60000)
  DIFY_RETRY_BASE_MS = 500;
  @Transform(toInt) @IsInt() @Min(1) @Max(64)
  DIFY_CONCURRENCY = 4;
  @Transform(toInt) @IsInt() @Min(1) @Max(64)
  WORKSPACE_APP_CONCURRENCY = 4;
  /** how long the Dify instance keeps its logs (Dify Cloud's free plan: 30); 0 = unknown or never */
  @Transform(toInt) @IsInt() @Min(0) @Max(3650)
  DIFY_RETENTION_DAYS = 30;

  // Auth and HTTP
  @IsOptional() @Transform(emptyToUndefined) @IsString() @Matches(/^\S{16,}$/, {
    message: 'ADMIN_TOKEN must be at least 16 characters without spaces',
  })
  ADMIN_TOKEN?: string;

  @Matches(/^\d+(b|kb|mb)$/i, { message: 'BODY_LIMIT must be a size such as 1mb or 512kb' })
  BODY_LIMIT = '1mb';

  // Host and client address checks (see README "Security and privacy")
  @IsOptional() @Transform(emptyToUndefined) @Validate(IsPublicUrlConstraint)
  PUBLIC_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @Validate(IsHostnameListConstraint)
  ALLOWED_HOSTNAMES?: string;
  @Validate(IsTrustProxyConstraint)
  TRUST_PROXY = 'false';

  // Scheduling
  @Validate(IsCronConstraint)
  BACKUP_CRON = '0 2 * * *';
  @Validate(IsCronConstraint)
  CLEANUP_CRON = '0 3 * * 0';
  @Validate(IsCronConstraint)
  COMPRESS_CRON = '30 3 * * *';
  @IsOptional() @Transform(emptyToUndefined) @Validate(IsTimeZoneConstraint)
  CRON_TIMEZONE?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  BACKFILL_FROM?: string;
  @Transform(toInt) @IsInt() @Min(0) @Max(86400)
  BACKUP_OVERLAP_SECONDS = 3600;

  // Alerts
  @IsOptional() @Transform(emptyToUndefined) @Matches(/^https?:\/\/\S+$/, {
    message: 'ALERT_WEBHOOK_URL must be an http(s) URL',
  })
  ALERT_WEBHOOK_URL?: string;
  @Transform(toInt) @IsInt() @Min(1) @Max(8760)
  ALERT_STALE_HOURS = 36;
  /** the same threshold under the name readiness speaks of; wins over ALERT_STALE_HOURS when set */
  @IsOptional() @Transform(emptyToUndefined) @Transform(toInt) @IsInt() @Min(1) @Max(8760)
  STALE_AFTER_HOURS?: number;

  // Redaction (checked further in loadAppConfig)
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  REDACT?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString()
  REDACT_PATTERNS?: string;
  // Readiness and metrics
  @Transform(toInt) @IsInt() @Min(0) @Max(100_000_000)
  MIN_FREE_DISK_MB = 512;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @Matches(/^\S{16,}$/, {
    message: 'METRICS_TOKEN must be at least 16 characters without spaces',
  })
  METRICS_TOKEN?: string;

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'production';
}
