import { redactText, secretsOf } from '../common/redact';
import type { AppConfigExport, DifySource } from '../dify/dify.types';
import type { AppConfigSnapshots } from '../log-storage/app-config-snapshots';
import type { JobSource } from './jobs.types';

/** What a source's state records of its app's configuration snapshots. */
export interface ConfigSnapshotFacts {
  config_snapshots: number;
  config_snapshot_at: string | null;
}

/** An export asked for ahead of time: its answer or its error, never a rejected promise left alone. */
export type SettledExport = { ok: AppConfigExport } | { error: unknown };

export function settleExport(pending: Promise<AppConfigExport>): Promise<SettledExport> {
  return pending.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

/**
 * The app's DSL (never with secrets) saved under the source's (organization, app id) when its hash differs
 * from the latest snapshot. A failure is a warning of the app's run, never its failure.
 */
export async function saveConfigSnapshot(
  snapshots: AppConfigSnapshots,
  exported: SettledExport,
  source: DifySource,
  entry: JobSource,
  at: Date,
): Promise<ConfigSnapshotFacts | null> {
  try {
    if ('error' in exported) throw exported.error;
    const saved = await snapshots.save({
      organizationId: source.organization_id ?? null,
      appId: source.app_id,
      yaml: exported.ok.yaml,
      sha256: exported.ok.sha256,
      at,
    });
    return { config_snapshots: saved.count, config_snapshot_at: saved.latest_at };
  } catch (error) {
    const text = redactText(error instanceof Error ? error.message : String(error), secretsOf(source));
    entry.warnings.push(`the app configuration (DSL) could not be saved: ${text}`);
    return null;
  }
}
