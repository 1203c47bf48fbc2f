import { isRetryable, retryAdvice } from '../dify/dify-error-text';
import { orgAppLabel } from '../common/org-app-label';
import { accessModeOf } from '../config/dify-source';
import type { DifySource } from '../dify/dify.types';
import type { AlertInput } from './alerts.service';
import type { Job, JobSource } from './jobs.types';

/** The texts of the alerts a backup job raises; pure, so every wording is tested without a webhook. */

export function credentialsRejectedAlert(source: DifySource, jobId: string, error: string): AlertInput {
  return {
    event: 'credentials_rejected',
    text: `:no_entry: Dify Log Vault: Dify refused the credentials of ${orgAppLabel(source)}; no conversation can be backed up until they are fixed. ${error}`,
    app_id: source.app_id,
    organization_id: source.organization_id ?? null,
    job_id: jobId,
    details: { access_mode: accessModeOf(source), error },
  };
}

export function purgeHorizonWarning(difyRetentionDays: number, horizon: Date, start: Date, checkpoint: string | null): string {
  const reason = checkpoint ? `the last fully saved point is ${checkpoint}` : `BACKFILL_FROM starts at ${start.toISOString()}`;
  return `Dify keeps logs for ${difyRetentionDays} days (DIFY_RETENTION_DAYS): conversations before ${horizon.toISOString()} may already be purged, and ${reason}`;
}

export function purgeHorizonAlert(
  source: DifySource,
  jobId: string,
  warning: string,
  facts: { start: Date; horizon: Date; checkpoint: string | null },
): AlertInput {
  return {
    event: 'purge_horizon',
    text: `:warning: Dify Log Vault: ${orgAppLabel(source)} is behind Dify's purge horizon. ${warning}.`,
    app_id: source.app_id,
    organization_id: source.organization_id ?? null,
    job_id: jobId,
    details: { window_start: facts.start.toISOString(), purge_horizon: facts.horizon.toISOString(), checkpoint: facts.checkpoint },
  };
}

/** A source that failed or partly failed; the message of its (merged) result names the cause, e.g. a full disk. */
/** `cause`: the error that stopped the source, when one did; it decides whether a retry can help. */
export function backupFailedAlert(job: Pick<Job, 'id' | 'trigger' | 'window'>, entry: JobSource, source: DifySource, cause?: unknown): AlertInput {
  const r = entry.result;
  const advice = retryAdvice(cause);
  // the result's error already ends with the advice when no retry can fix it: said once
  const adviceSaid = !isRetryable(cause) && (entry.error?.endsWith(advice) ?? false);
  const counts = `${entry.progress.saved} saved, ${entry.progress.unchanged} unchanged, ${entry.progress.failed} failed`;
  return {
    event: entry.status === 'failed' ? 'backup_failed' : 'backup_partial',
    text:
      `:x: Dify Log Vault: backup of ${orgAppLabel(source)} ${entry.status === 'failed' ? 'failed' : 'partly failed'} ` +
      `(job ${job.id}, ${job.trigger}): ${entry.error ?? r?.message ?? counts}. ` +
      (job.window
        ? isRetryable(cause) || adviceSaid ? '' : `It ${advice}.`
        : `The checkpoint stays at ${entry.checkpoint_after ?? 'the backfill start'}${adviceSaid ? '' : `; ${advice}`}.`),
    app_id: source.app_id,
    organization_id: source.organization_id ?? null,
    job_id: job.id,
    details: {
      trigger: job.trigger,
      window: entry.window,
      progress: entry.progress,
      checkpoint: entry.checkpoint_after,
      error: entry.error,
      error_kind: entry.error_kind,
      failed_conversations: (r?.errors ?? []).slice(0, 20),
    },
  };
}
