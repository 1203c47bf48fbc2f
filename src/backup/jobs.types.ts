import type { BackupProgress, BackupResult } from './backup.types';
import type { Coverage, CrawlWindow, DifyAccessMode, DifySource } from '../dify/dify.types';

/** Who started a backup. */
export type JobTrigger = 'manual' | 'scheduled' | 'api' | 'api-scheduled' | 'cli';
export const JOB_TRIGGERS: JobTrigger[] = ['manual', 'scheduled', 'api', 'api-scheduled', 'cli'];

/** `skipped`: another process held the archive's backup lock, so nothing ran (not a failure, no alert). */
export type JobStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted' | 'skipped';
export type JobSourceStatus = 'pending' | JobStatus;

export interface IsoWindow {
  start: string | null;
  end: string | null;
}

/** One source inside a job: what it covered, where it is, how it ended. Never holds a credential. */
export interface JobSource {
  app_id: string;
  organization_id: string | null;
  name: string | null;
  status: JobSourceStatus;
  progress: BackupProgress;
  /** the whole window this source is backing up */
  window: IsoWindow | null;
  /** the slice being backed up right now (catch-up runs go day by day) */
  current_window: IsoWindow | null;
  /** the checkpoint when the source started, and where it stands now (catch-up runs only) */
  checkpoint_before: string | null;
  checkpoint_after: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** why the source failed as a whole (Dify unreachable, credentials refused, ...) */
  error: string | null;
  /** the DifyError class name when there is one, e.g. DifyAuthError */
  error_kind: string | null;
  warnings: string[];
  /** the merged result of every slice; null when the source failed before backing anything up */
  result: BackupResult | null;
  /** a whole-workspace source: one entry per app backed up in this job */
  apps?: JobSource[];
  /** an app of a whole-workspace source: its Dify mode, and for an Agent app its Agent id */
  app_mode?: string;
  agent_id?: string | null;
}

/** What an off-site copy job did: the counts of `replicate`, and where it copied to. */
export interface ReplicationRecord {
  /** `s3://<bucket>/<prefix>` (never a credential) */
  target: string;
  checked: number;
  copied: number;
  copied_bytes: number;
  unchanged: number;
  deleted: number;
  extra: number;
  /** why the copy failed, when it did */
  error: string | null;
  /** the catalog's clock when the copy started (PostgreSQL's with DATABASE_URL): pending_files counts the files written after it */
  catalog_since?: string;
}

export interface Job {
  id: string;
  /** `replication`: an off-site copy of the archive (no sources; its counts in `replication`) */
  kind: 'backup' | 'replication';
  trigger: JobTrigger;
  status: JobStatus;
  /** the explicit window asked for; null means a catch-up from each source's checkpoint */
  window: IsoWindow | null;
  started_at: string;
  finished_at: string | null;
  message: string;
  sources: JobSource[];
  /** the replica that ran the job: `<host name>:<pid>` */
  replica?: string | null;
  /** set on an interrupted job that can be resumed: where and why it stopped */
  resume?: JobResumePoint | null;
  /** the job that resumed this one */
  resumed_by?: string | null;
  /** the interrupted job this one resumes */
  resumes?: string | null;
  /** a replication job's counts */
  replication?: ReplicationRecord | null;
}

/** Where an interrupted job stopped; resuming runs the same sources again from there. */
export interface JobResumePoint {
  /** `shutdown`: SIGTERM/SIGINT drained the job; `crash`: the process died while the job ran */
  reason: 'shutdown' | 'crash';
  interrupted_at: string;
  /** per source, what is left: the source's checkpoint onwards (catch-up) or the job's window (saved conversations come back unchanged) */
  sources: { app_id: string; organization_id: string | null; from: string | null; to: string | null }[];
}

/** What a backup job is asked to do. */
export interface BackupJobRequest {
  sources: DifySource[];
  /** absent: catch up from each source's checkpoint to now, moving the checkpoint */
  window?: CrawlWindow;
  trigger: JobTrigger;
  /** the interrupted job this request resumes */
  resumes?: string;
}

export type JobEvent =
  | {
      type: 'progress';
      seq: number;
      job_id: string;
      app_id: string;
      organization_id: string | null;
      status: JobSourceStatus;
      progress: BackupProgress;
      /** the whole window of the source, and the slice under way */
      window: IsoWindow | null;
      current_window: IsoWindow | null;
    }
  | { type: 'source'; seq: number; job_id: string; source: JobSource }
  /** a replication job's counts so far */
  | { type: 'replication'; seq: number; job_id: string; replication: ReplicationRecord }
  | { type: 'done'; seq: number; job_id: string; job: Job };

/** Durable per-source state: the checkpoint and what the last run said. */
export interface SourceState {
  key: string;
  app_id: string;
  organization_id: string | null;
  /** everything active before this instant has been saved */
  checkpoint: string | null;
  /** when this service first knew the source (staleness of a source that never succeeded) */
  first_seen_at: string;
  last_run_at: string | null;
  last_run_job_id: string | null;
  last_outcome: JobSourceStatus | null;
  last_success_at: string | null;
  access_mode: DifyAccessMode | null;
  coverage: Coverage | null;
  stale_alerted_at: string | null;
  /** an app of a whole-workspace source: that source's key, and what the workspace listing last said of the app */
  workspace_key?: string;
  app_name?: string | null;
  app_mode?: string | null;
  agent_id?: string | null;
  /** when the app was first missing from its workspace's listing (deleted in Dify); its archive is kept */
  gone_at?: string | null;
  /** configuration (DSL) snapshots saved for the app, and when the latest was */
  config_snapshots?: number;
  config_snapshot_at?: string | null;
  /** a whole-workspace source: the last listing, and the apps it did not back up and why */
  apps_listed_at?: string | null;
  excluded_apps?: WorkspaceAppNote[];
  skipped_apps?: WorkspaceAppNote[];
}

/** An app of a workspace that is not backed up, and why (excluded by the source's lists, or nothing to back up). */
export interface WorkspaceAppNote {
  id: string;
  name: string;
  mode: string;
  reason: string;
}

/** The one answer of every async route (202 Accepted): where to follow the job. */
export interface JobAccepted {
  job_id: string;
  status: JobStatus;
  status_url: string;
  events_url: string;
}

export function jobAccepted(job: Pick<Job, 'id' | 'status'>): JobAccepted {
  return { job_id: job.id, status: job.status, status_url: `/api/jobs/${job.id}`, events_url: `/api/jobs/${job.id}/events` };
}
