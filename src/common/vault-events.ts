/**
 * What the service reports while it works: backup runs, Dify requests, catalog rebuilds, exports and
 * retention. Modules call it through the VAULT_EVENTS token, injected as optional with the no-op default,
 * so none of them depends on whoever listens (the metrics module does).
 */
export const VAULT_EVENTS = 'VaultEvents';

export type RunOutcome = 'succeeded' | 'partial' | 'failed' | 'interrupted';

export interface RunRecord {
  outcome: RunOutcome;
  saved: number;
  unchanged: number;
  failed: number;
  /** null when the run never started (e.g. refused because another process held the backup lock) */
  durationSeconds: number | null;
}

export interface VaultEvents {
  /** one source's run in a backup job has finished; `source` is its label (`<org>/<app_id>` or `<app_id>`) */
  recordRun(source: string, run: RunRecord): void;
  /** one HTTP attempt to Dify: its status code, or `timeout` / `network` when no answer came */
  recordDifyRequest(status: string): void;
  /** a failed attempt to Dify is about to be retried */
  recordRetry(): void;
  recordCatalogRebuild(): void;
  recordExport(format: string): void;
  /** a retention run (not a dry run) has deleted this many files */
  recordRetention(deletedFiles: number): void;
}

export const NO_VAULT_EVENTS: VaultEvents = {
  recordRun: () => undefined,
  recordDifyRequest: () => undefined,
  recordRetry: () => undefined,
  recordCatalogRebuild: () => undefined,
  recordExport: () => undefined,
  recordRetention: () => undefined,
};

/** A finished job entry (structurally: no dependency on the jobs module's types) as a RunRecord. */
export function runRecordOf(entry: {
  status: string;
  progress: { saved: number; unchanged: number; failed: number };
  started_at: string | null;
  finished_at: string | null;
}): RunRecord {
  const outcome: RunOutcome = (['succeeded', 'partial', 'interrupted'] as const).find((s) => s === entry.status) ?? 'failed';
  const durationSeconds =
    entry.started_at && entry.finished_at ? Math.max(0, (Date.parse(entry.finished_at) - Date.parse(entry.started_at)) / 1000) : null;
  const { saved, unchanged, failed } = entry.progress;
  return { outcome, saved, unchanged, failed, durationSeconds };
}
