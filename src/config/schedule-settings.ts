import { cronTimeZone, validateEnvironment } from './app-config';
import { readEnvironment } from './load-environment';

/** What the `@Cron` decorators need, known when their module is imported. */
export interface ScheduleSettings {
  /** ENABLE_AUTO_LOGGING */
  enabled: boolean;
  backupCron: string;
  cleanupCron: string;
  compressCron: string;
  /** REPLICATE_CRON; null: no scheduled off-site copy */
  replicateCron: string | null;
  /** COMPRESS_AFTER_DAYS is set */
  compression: boolean;
  /** CRON_TIMEZONE, else LOG_TIMEZONE */
  timezone: string;
}

const SCHEDULE_VARIABLES = [
  'ENABLE_AUTO_LOGGING',
  'BACKUP_CRON',
  'CLEANUP_CRON',
  'COMPRESS_CRON',
  'REPLICATE_CRON',
  'COMPRESS_AFTER_DAYS',
  'CRON_TIMEZONE',
  'LOG_TIMEZONE',
] as const;

/** Validates only the scheduling variables; throws ConfigError naming a bad expression or zone. */
export function scheduleSettingsFrom(env: Record<string, string | undefined>): ScheduleSettings {
  const vars = validateEnvironment(env, SCHEDULE_VARIABLES);
  return {
    enabled: vars.ENABLE_AUTO_LOGGING,
    backupCron: vars.BACKUP_CRON,
    cleanupCron: vars.CLEANUP_CRON,
    compressCron: vars.COMPRESS_CRON,
    replicateCron: vars.REPLICATE_CRON ?? null,
    compression: vars.COMPRESS_AFTER_DAYS !== undefined,
    timezone: cronTimeZone(vars),
  };
}

/**
 * Read once, at import, from `.env` under the real environment (as the config loader reads them): a
 * decorator's argument is fixed when its class is defined. Importing this with a bad BACKUP_CRON,
 * CLEANUP_CRON, COMPRESS_CRON, REPLICATE_CRON or zone throws a ConfigError, which the entry points print as one line.
 */
export const SCHEDULE: ScheduleSettings = scheduleSettingsFrom(readEnvironment());
