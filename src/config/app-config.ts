import * as fs from 'node:fs';
import * as path from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { accessModeOf, ACCESS_MODE_RULE, sourceUrls, WORKSPACE_RULE, workspaceSourceKey } from './dify-source';
import type { DifySource } from './dify-source';
import { parseRedactionSettings, RedactionConfigError } from '../common/redaction/redaction-config';
import type { RedactionSettings } from '../common/redaction/redactor';
import { parseHostnameList, parseTrustProxy, TrustProxy } from '../common/request-host';
import { DifySourceDto } from './dify-source.dto';
import { EnvironmentVariables } from './env.schema';

/** The validated, typed configuration every part of the service reads. */
/** An S3-compatible bucket (Dify's S3_* variables). */
export interface S3Settings {
  /** null: AWS, found from the region */
  endpoint: string | null;
  region: string;
  bucket: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones (`bucket.endpoint/key`) */
  pathStyle: boolean;
  /** the SDK's default credential chain (instance role, IRSA, environment) instead of the keys */
  useAwsManagedIam: boolean;
  /** '' or ends with '/' */
  prefix: string;
  maxAttempts: number;
  requestTimeoutMs: number;
  /** objects read at once by bulk reads (exports, compression, verify with sha256, rebuilds), in order */
  readConcurrency: number;
}

export class AppConfig {
  port: number;
  host: string;
  /** absolute */
  logsDir: string;
  /** where the catalog lives: PostgreSQL when `databaseUrl` is set (DATABASE_URL), else SQLite in logsDir */
  catalog: {
    databaseUrl: string | null;
    /** text search configuration of the PostgreSQL catalog (CATALOG_FTS_LANGUAGE) */
    ftsLanguage: string;
    /** with a database: a replica whose heartbeat is older than this is gone (REPLICA_TIMEOUT_SECONDS) */
    replicaTimeoutSeconds: number;
  };
  /** where the archive's files live (ARCHIVE_STORAGE): LOGS_DIR, or a bucket; state and the SQLite catalog stay in LOGS_DIR */
  archive: { storage: 'fs' } | { storage: 's3'; s3: S3Settings };
  /** the bucket the S3_* variables name (the archive's, or with ARCHIVE_STORAGE=fs a replica's); null without S3_BUCKET_NAME */
  s3: S3Settings | null;
  /** the off-site copy of the archive (`replicate`, REPLICATE_CRON) */
  replication: {
    /** REPLICATE_S3_* (each unset one from its S3_* variable), else with ARCHIVE_STORAGE=fs the S3_* bucket; null: none */
    s3: S3Settings | null;
    /** REPLICATE_CRON; null: no scheduled copy */
    cron: string | null;
    /** REPLICATE_DELETE: the server's copies (scheduled and POST /api/replication) delete what the bucket holds and the archive does not; the CLI deletes with --delete only */
    delete: boolean;
    /** REPLICATE_CONCURRENCY: objects copied at the same time */
    concurrency: number;
  };
  logTimezone: string;
  retentionDays: number;
  autoLogging: boolean;
  compressAfterDays: number | null;
  sources: DifySource[];
  /** lower-case host names a Dify URL may point at */
  allowedHosts: string[];
  dify: {
    timeoutMs: number;
    maxRetries: number;
    retryBaseMs: number;
    concurrency: number;
    /** apps of one whole-workspace source backed up at the same time (each with `concurrency` requests) */
    workspaceAppConcurrency: number;
    /** how long Dify itself keeps logs */
    retentionDays: number;
  };
  adminToken: string | null;
  bodyLimit: string;
  /** where users reach the service (its host is allowed in Host and Origin headers) */
  publicUrl: string | null;
  /** further names the service may be addressed by, normalised */
  allowedHostnames: string[];
  /** Express's `trust proxy`: where the client address for throttling and logs comes from */
  trustProxy: TrustProxy;
  schedule: {
    backupCron: string;
    cleanupCron: string;
    compressCron: string;
    timezone: string;
    /** ISO date, or `<N>d` for N days back from the first run */
    backfillFrom: string;
    overlapSeconds: number;
  };
  alerts: {
    webhookUrl: string | null;
    staleHours: number;
  };
  /** what is replaced by placeholders before a conversation is written (`REDACT`, `REDACT_PATTERNS`) */
  redaction: RedactionSettings;
  observability: {
    /** GET /health/ready fails below this much free space on the LOGS_DIR file system */
    minFreeDiskMb: number;
    /** a Bearer token accepted for GET /metrics only (besides ADMIN_TOKEN) */
    metricsToken: string | null;
  };
  nodeEnv: 'development' | 'production' | 'test';
}

export class ConfigError extends Error {}

const DEFAULT_ALLOWED_HOSTS = ['api.dify.ai', 'cloud.dify.ai'];

function describeErrors(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const name = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => (prefix ? `${prefix}: ${m}` : m));
    return [...own, ...describeErrors(e.children ?? [], name)];
  });
}

/** `${NAME}` in a string value is replaced by that environment variable (missing: a ConfigError). */
function expandEnv(value: unknown, env: Record<string, string | undefined>, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new ConfigError(`${where} refers to \${${name}}, which is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${where}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, `${where}.${k}`)]),
    );
  }
  return value;
}

/** The variables the DIFY_* source is set by, so its errors name what the user wrote. */
const SINGLE_SOURCE_VARIABLES: Record<string, string> = {
  app_id: 'DIFY_APP_ID',
  organization_id: 'DIFY_ORGANIZATION_ID',
  dify_api_url: 'DIFY_API_URL',
  api_key: 'DIFY_API_KEY',
  users: 'DIFY_USERS',
  console_api_url: 'DIFY_CONSOLE_API_URL',
  admin_api_key: 'DIFY_ADMIN_API_KEY',
  workspace_id: 'DIFY_WORKSPACE_ID',
  email: 'DIFY_EMAIL',
  password: 'DIFY_PASSWORD',
  include: 'DIFY_INCLUDE_APPS',
  exclude: 'DIFY_EXCLUDE_APPS',
};

function renameFields(message: string, names: Record<string, string>): string {
  return message.replace(/\b[a-z][a-z_]*\b/g, (word) => names[word] ?? word);
}

/** `names` maps the source's fields to what the user set (environment variables); a file's entries keep the field names. */
export function validateSource(raw: unknown, where: string, names: Record<string, string> = {}): DifySource {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${where} must be an object`);
  }
  const appId = (raw as { app_id?: unknown }).app_id;
  const label = typeof appId === 'string' && appId ? `${where} (app_id ${appId})` : where;
  const dto = plainToInstance(DifySourceDto, raw);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) throw new ConfigError(`${label}: ${renameFields(describeErrors(errors).join('; '), names)}`);
  const mode = accessModeOf(dto);
  if (dto.app_id === undefined) {
    if (mode !== 'console-admin' && mode !== 'console-login') throw new ConfigError(`${where} (no app_id): ${renameFields(WORKSPACE_RULE, names)}`);
  } else {
    if (!mode) throw new ConfigError(`${label}: ${renameFields(ACCESS_MODE_RULE, names)}`);
    for (const field of ['include', 'exclude', 'apps'] as const) {
      if (dto[field] !== undefined) throw new ConfigError(`${label}: ${field} is for a whole workspace (a console source without app_id)`);
    }
  }
  const source = { ...dto } as DifySource;
  if (dto.app_id === undefined) {
    source.app_id = workspaceSourceKey(dto);
    source.workspace = true;
  }
  for (const key of Object.keys(source) as (keyof DifySource)[]) {
    if (source[key] === undefined) delete source[key];
  }
  return source;
}

function loadSourcesFile(file: string, env: Record<string, string | undefined>): DifySource[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`DIFY_APPS_FILE cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'} ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`DIFY_APPS_FILE is not valid JSON: ${file}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { apps?: unknown })?.apps;
  if (!Array.isArray(list)) throw new ConfigError('DIFY_APPS_FILE must hold a JSON list of sources');
  return list.map((entry, i) =>
    validateSource(expandEnv(entry, env, `DIFY_APPS_FILE[${i}]`), `DIFY_APPS_FILE[${i}]`),
  );
}

function hostOf(url: string): string {
  return new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

function parseRedaction(vars: EnvironmentVariables): RedactionSettings {
  try {
    return parseRedactionSettings(vars);
  } catch (e) {
    if (e instanceof RedactionConfigError) throw new ConfigError(e.message);
    throw e;
  }
}

function parseBackfill(value: string | undefined): string {
  if (value === undefined) return '30d';
  if (/^\d{1,5}d$/.test(value)) return value;
  if (!Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new ConfigError('BACKFILL_FROM must be an ISO 8601 date or a number of days such as 30d');
}

/**
 * Checks the environment against the schema; throws ConfigError naming every bad variable. With `only`,
 * just those variables are judged (the rest may still be wrong and are not read by the caller).
 */
export function validateEnvironment(
  env: Record<string, string | undefined>,
  only?: readonly (keyof EnvironmentVariables)[],
): EnvironmentVariables {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  const vars = plainToInstance(EnvironmentVariables, defined, { exposeDefaultValues: true });
  const errors = validateSync(vars, { skipMissingProperties: false }).filter(
    (e) => !only || (only as readonly string[]).includes(e.property),
  );
  if (errors.length) throw new ConfigError(`Invalid configuration: ${describeErrors(errors).join('; ')}`);
  return vars;
}

/** The zone cron expressions are read in: CRON_TIMEZONE, else LOG_TIMEZONE. */
export function cronTimeZone(vars: Pick<EnvironmentVariables, 'CRON_TIMEZONE' | 'LOG_TIMEZONE'>): string {
  return vars.CRON_TIMEZONE ?? vars.LOG_TIMEZONE;
}

/** Validates the environment and builds the typed configuration; throws ConfigError naming the variable. */
export function loadAppConfig(env: Record<string, string | undefined>, cwd = process.cwd()): AppConfig {
  const vars = validateEnvironment(env);

  const sources: DifySource[] = [];
  if (vars.DIFY_APPS_FILE) sources.push(...loadSourcesFile(path.resolve(cwd, vars.DIFY_APPS_FILE), env));
  const single = {
    app_id: vars.DIFY_APP_ID,
    organization_id: vars.DIFY_ORGANIZATION_ID,
    dify_api_url: vars.DIFY_API_URL,
    api_key: vars.DIFY_API_KEY,
    users: vars.DIFY_USERS?.split(',').map((u) => u.trim()).filter(Boolean),
    console_api_url: vars.DIFY_CONSOLE_API_URL,
    admin_api_key: vars.DIFY_ADMIN_API_KEY,
    workspace_id: vars.DIFY_WORKSPACE_ID,
    email: vars.DIFY_EMAIL,
    password: vars.DIFY_PASSWORD,
  };
  const anySingle = Object.entries(single).some(([k, v]) => k !== 'app_id' && v !== undefined);
  const selection = {
    include: listOf(vars.DIFY_INCLUDE_APPS),
    exclude: listOf(vars.DIFY_EXCLUDE_APPS),
  };
  if (anySingle || single.app_id) {
    if (!single.app_id && !single.console_api_url) {
      throw new ConfigError('DIFY_APP_ID is required when other DIFY_* source variables are set (without it, DIFY_CONSOLE_API_URL and its credentials back up the whole workspace)');
    }
    if (single.app_id && (selection.include || selection.exclude)) {
      throw new ConfigError('DIFY_INCLUDE_APPS and DIFY_EXCLUDE_APPS are for a whole workspace: leave DIFY_APP_ID unset');
    }
    const source = validateSource(
      Object.fromEntries(Object.entries({ ...single, ...(single.app_id ? {} : selection) }).filter(([, v]) => v !== undefined)),
      single.app_id ? 'DIFY_* variables' : 'DIFY_* variables (whole workspace, no DIFY_APP_ID)',
      SINGLE_SOURCE_VARIABLES,
    );
    if (!sources.some((s) => s.app_id === source.app_id)) sources.push(source);
  }
  const seen = new Set<string>();
  for (const s of sources) {
    const key = `${s.organization_id ?? ''}/${s.app_id}`;
    if (seen.has(key)) {
      throw new ConfigError(s.workspace ? `DIFY_APPS_FILE lists the workspace ${s.app_id} twice` : `DIFY_APPS_FILE lists app_id ${s.app_id} twice`);
    }
    seen.add(key);
  }

  const allowedHosts = vars.DIFY_ALLOWED_HOSTS
    ? vars.DIFY_ALLOWED_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)
    : [...new Set([...DEFAULT_ALLOWED_HOSTS, ...sources.flatMap((s) => sourceUrls(s).map(hostOf))])];

  const config = new AppConfig();
  Object.assign(config, {
    port: vars.PORT,
    host: vars.HOST,
    logsDir: path.resolve(cwd, vars.LOGS_DIR),
    catalog: {
      databaseUrl: vars.DATABASE_URL ?? null,
      ftsLanguage: vars.CATALOG_FTS_LANGUAGE ?? 'simple',
      replicaTimeoutSeconds: vars.REPLICA_TIMEOUT_SECONDS ?? 30,
    },
    archive: archiveSettings(vars),
    s3: vars.ARCHIVE_STORAGE === 's3' || vars.S3_BUCKET_NAME ? s3Settings(vars) : null,
    replication: replicationSettings(vars),
    logTimezone: vars.LOG_TIMEZONE,
    retentionDays: vars.LOG_RETENTION_DAYS,
    autoLogging: vars.ENABLE_AUTO_LOGGING,
    compressAfterDays: vars.COMPRESS_AFTER_DAYS ?? null,
    sources,
    allowedHosts,
    dify: {
      timeoutMs: vars.DIFY_TIMEOUT_MS,
      maxRetries: vars.DIFY_MAX_RETRIES,
      retryBaseMs: vars.DIFY_RETRY_BASE_MS,
      concurrency: vars.DIFY_CONCURRENCY,
      workspaceAppConcurrency: vars.WORKSPACE_APP_CONCURRENCY,
      retentionDays: vars.DIFY_RETENTION_DAYS,
    },
    adminToken: vars.ADMIN_TOKEN ?? null,
    bodyLimit: vars.BODY_LIMIT,
    publicUrl: vars.PUBLIC_URL ?? null,
    allowedHostnames: parseHostnameList(vars.ALLOWED_HOSTNAMES),
    trustProxy: parseTrustProxy(vars.TRUST_PROXY),
    schedule: {
      backupCron: vars.BACKUP_CRON,
      cleanupCron: vars.CLEANUP_CRON,
      compressCron: vars.COMPRESS_CRON,
      timezone: cronTimeZone(vars),
      backfillFrom: parseBackfill(vars.BACKFILL_FROM),
      overlapSeconds: vars.BACKUP_OVERLAP_SECONDS,
    },
    alerts: { webhookUrl: vars.ALERT_WEBHOOK_URL ?? null, staleHours: vars.STALE_AFTER_HOURS ?? vars.ALERT_STALE_HOURS },
    redaction: parseRedaction(vars),
    observability: { minFreeDiskMb: vars.MIN_FREE_DISK_MB, metricsToken: vars.METRICS_TOKEN ?? null },
    nodeEnv: vars.NODE_ENV,
  } satisfies AppConfig);
  if (!config.adminToken && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      `HOST is ${config.host}, which is not a loopback address: set ADMIN_TOKEN before listening on other interfaces`,
    );
  }
  return config;
}

function listOf(value: string | undefined): string[] | undefined {
  const list = value?.split(',').map((v) => v.trim()).filter(Boolean);
  return list?.length ? list : undefined;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function archiveSettings(vars: EnvironmentVariables): AppConfig['archive'] {
  return vars.ARCHIVE_STORAGE === 's3' ? { storage: 's3', s3: s3Settings(vars) } : { storage: 'fs' };
}

/** Where the off-site copy goes; throws ConfigError when REPLICATE_CRON has no bucket or the bucket is the archive itself. */
function replicationSettings(vars: EnvironmentVariables): AppConfig['replication'] {
  let s3: S3Settings | null = null;
  if (vars.REPLICATE_S3_BUCKET_NAME) {
    const managed = vars.REPLICATE_S3_USE_AWS_MANAGED_IAM ?? vars.S3_USE_AWS_MANAGED_IAM;
    const accessKey = vars.REPLICATE_S3_ACCESS_KEY ?? vars.S3_ACCESS_KEY;
    const secretKey = vars.REPLICATE_S3_SECRET_KEY ?? vars.S3_SECRET_KEY;
    if (!managed && (!accessKey || !secretKey)) {
      throw new ConfigError(
        'REPLICATE_S3_ACCESS_KEY and REPLICATE_S3_SECRET_KEY (or S3_ACCESS_KEY and S3_SECRET_KEY) are required with REPLICATE_S3_BUCKET_NAME, unless REPLICATE_S3_USE_AWS_MANAGED_IAM=true',
      );
    }
    const prefix = vars.REPLICATE_S3_PREFIX ?? vars.S3_PREFIX ?? '';
    if (prefix.split('/').some((part) => part === '.' || part === '..')) throw new ConfigError('REPLICATE_S3_PREFIX must not contain . or .. segments');
    const endpointVar = vars.REPLICATE_S3_ENDPOINT ?? vars.S3_ENDPOINT;
    const endpoint = endpointVar ? endpointVar.replace(/\/$/, '') : null;
    const style = vars.REPLICATE_S3_ADDRESS_STYLE ?? vars.S3_ADDRESS_STYLE ?? 'auto';
    s3 = {
      endpoint,
      region: vars.REPLICATE_S3_REGION ?? vars.S3_REGION ?? 'us-east-1',
      bucket: vars.REPLICATE_S3_BUCKET_NAME,
      accessKeyId: managed ? null : accessKey ?? null,
      secretAccessKey: managed ? null : secretKey ?? null,
      pathStyle: style === 'path' || (style === 'auto' && endpoint !== null),
      useAwsManagedIam: managed,
      prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix,
      maxAttempts: 5,
      requestTimeoutMs: vars.S3_REQUEST_TIMEOUT_SECONDS * 1000,
      readConcurrency: vars.S3_READ_CONCURRENCY,
    };
    if (vars.ARCHIVE_STORAGE === 's3') {
      const archive = s3Settings(vars);
      const overlaps = archive.prefix.startsWith(s3.prefix) || s3.prefix.startsWith(archive.prefix);
      if (archive.endpoint === s3.endpoint && archive.bucket === s3.bucket && overlaps) {
        throw new ConfigError('REPLICATE_S3_BUCKET_NAME with REPLICATE_S3_PREFIX must name another place than the archive (S3_BUCKET_NAME with S3_PREFIX)');
      }
    }
  } else if (vars.ARCHIVE_STORAGE === 'fs' && vars.S3_BUCKET_NAME) {
    s3 = s3Settings(vars);
  }
  if (vars.REPLICATE_CRON && !s3) {
    throw new ConfigError(
      vars.ARCHIVE_STORAGE === 's3'
        ? 'REPLICATE_CRON needs REPLICATE_S3_BUCKET_NAME: with ARCHIVE_STORAGE=s3 the S3_* bucket is the archive itself'
        : 'REPLICATE_CRON needs a bucket to copy to: set REPLICATE_S3_BUCKET_NAME (or S3_BUCKET_NAME)',
    );
  }
  return { s3, cron: vars.REPLICATE_CRON ?? null, delete: vars.REPLICATE_DELETE, concurrency: vars.REPLICATE_CONCURRENCY };
}

function s3Settings(vars: EnvironmentVariables): S3Settings {
  if (!vars.S3_BUCKET_NAME) throw new ConfigError('S3_BUCKET_NAME is required when ARCHIVE_STORAGE=s3');
  if (!vars.S3_USE_AWS_MANAGED_IAM && (!vars.S3_ACCESS_KEY || !vars.S3_SECRET_KEY)) {
    throw new ConfigError('S3_ACCESS_KEY and S3_SECRET_KEY are required when ARCHIVE_STORAGE=s3, unless S3_USE_AWS_MANAGED_IAM=true');
  }
  const prefix = vars.S3_PREFIX ?? '';
  if (prefix.split('/').some((part) => part === '.' || part === '..')) throw new ConfigError('S3_PREFIX must not contain . or .. segments');
  const endpoint = vars.S3_ENDPOINT ? vars.S3_ENDPOINT.replace(/\/$/, '') : null;
  return {
    endpoint,
    region: vars.S3_REGION ?? 'us-east-1',
    bucket: vars.S3_BUCKET_NAME,
    accessKeyId: vars.S3_USE_AWS_MANAGED_IAM ? null : vars.S3_ACCESS_KEY ?? null,
    secretAccessKey: vars.S3_USE_AWS_MANAGED_IAM ? null : vars.S3_SECRET_KEY ?? null,
    // auto: path style for a custom endpoint (MinIO, Ceph and most S3-compatible stores), virtual hosts on AWS
    pathStyle: vars.S3_ADDRESS_STYLE === 'path' || ((vars.S3_ADDRESS_STYLE ?? 'auto') === 'auto' && endpoint !== null),
    useAwsManagedIam: vars.S3_USE_AWS_MANAGED_IAM,
    prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix,
    maxAttempts: 5,
    requestTimeoutMs: vars.S3_REQUEST_TIMEOUT_SECONDS * 1000,
    readConcurrency: vars.S3_READ_CONCURRENCY,
  };
}
