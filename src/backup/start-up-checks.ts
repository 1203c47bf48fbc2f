import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { AppConfig } from '../config/app-config';

/** The two retention settings the checks compare. */
type RetentionSettings = Pick<AppConfig, 'retentionDays'> & { dify: Pick<AppConfig['dify'], 'retentionDays'> };

/**
 * Proves LOGS_DIR can be written before anything starts: creates it (and `state/`), writes and removes
 * a probe file. Resolves with the one line to print when it cannot, e.g. `not writable: /data/logs (EACCES)`.
 */
export async function archiveWriteProblem(logsDir: string): Promise<string | null> {
  const probe = path.join(logsDir, 'state', `.write-probe-${process.pid}`);
  try {
    await fs.mkdir(path.dirname(probe), { recursive: true });
    await fs.writeFile(probe, 'ok');
    await fs.unlink(probe);
    return null;
  } catch (error) {
    await fs.unlink(probe).catch(() => undefined);
    return `not writable: ${logsDir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * With LOG_RETENTION_DAYS at or below DIFY_RETENTION_DAYS the archive keeps no more than Dify itself
 * keeps: the warning to show, or null (also when Dify's retention is unknown, 0).
 */
export function retentionWarning(config: RetentionSettings): string | null {
  const dify = config.dify.retentionDays;
  if (!dify || config.retentionDays > dify) return null;
  return (
    `LOG_RETENTION_DAYS=${config.retentionDays} keeps the archive no longer than Dify keeps its own logs (DIFY_RETENTION_DAYS=${dify}): ` +
    `the archive holds nothing Dify has not still got; set LOG_RETENTION_DAYS above ${dify}`
  );
}

/** The retention policy in words, for the overview. */
export function retentionPolicy(config: RetentionSettings): string {
  const dify = config.dify.retentionDays ? `Dify keeps its own logs ${config.dify.retentionDays} days` : 'how long Dify keeps its logs is not set (DIFY_RETENTION_DAYS=0)';
  return `Conversations older than ${config.retentionDays} days are removed from the archive (LOG_RETENTION_DAYS); ${dify}.`;
}
