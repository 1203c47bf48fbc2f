const HOUR_MS = 3_600_000;

export interface SourceFreshness {
  /** `<organization_id>/<app_id>`, or the app_id alone: no secret, no host */
  label: string;
  lastSuccessAt: Date | null;
  lastRunAt: Date | null;
  /** no successful run for longer than the threshold */
  stale: boolean;
}

/**
 * A source is stale when its last success is older than `staleHours`. A source that has never
 * succeeded is measured from `since` (when this process started), so a fresh install is not unready
 * before its first scheduled run.
 */
export function freshnessOf(
  source: { app_id: string; organization_id: string | null; last_success_at: string | null; last_run_at: string | null },
  now: Date,
  since: Date,
  staleHours: number,
): SourceFreshness {
  const lastSuccessAt = source.last_success_at ? new Date(source.last_success_at) : null;
  const lastRunAt = source.last_run_at ? new Date(source.last_run_at) : null;
  const from = lastSuccessAt ?? since;
  return {
    label: source.organization_id ? `${source.organization_id}/${source.app_id}` : source.app_id,
    lastSuccessAt,
    lastRunAt,
    stale: now.getTime() - from.getTime() > staleHours * HOUR_MS,
  };
}
