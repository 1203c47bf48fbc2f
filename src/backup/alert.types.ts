export type AlertEvent =
  | 'backup_failed'
  | 'backup_partial'
  | 'source_stale'
  | 'credentials_rejected'
  | 'purge_horizon'
  | 'replication_failed';

/** The webhook body: `text` reads well in Slack; the rest is for machines. */
export interface AlertPayload {
  text: string;
  event: AlertEvent;
  app_id: string | null;
  organization_id: string | null;
  job_id: string | null;
  details: Record<string, unknown>;
}
