import type { Coverage, CrawlWindow, DifyAccessMode, DifyApp, DifyAppClient, DifySource } from '../dify/dify.types';

export interface BackupProgress {
  /** conversations listed so far */
  seen: number;
  /** created or rewritten */
  saved: number;
  unchanged: number;
  failed: number;
}

/** A source's client and its app, reached once and reused by every slice of a catch-up. */
export interface BackupConnection {
  client: DifyAppClient;
  app: DifyApp;
}

export interface BackupRunRequest {
  source: DifySource;
  window: CrawlWindow;
  /** absent: the run reaches the app itself; an app of a whole workspace brings the workspace's client and the app as listed */
  connection?: BackupConnection;
  /** aborting lets in-flight conversations finish, then stops listing */
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /**
   * conversations an earlier day of the same catch-up already archived whole (or left out as erased):
   * one active on several days is listed by each of them, and is fetched and counted once per run.
   * The run adds the conversations it completes.
   */
  done?: Set<string>;
}

export interface ConversationError {
  conversation_id: string;
  error: string;
}

/** The seed's answer, plus what a user needs to trust it. */
export interface BackupResult {
  success: boolean;
  message: string;
  app_id: string;
  organization_id: string | null;
  access_mode: DifyAccessMode;
  /** `workspace` for the sum over the apps of a whole-workspace source */
  app_mode: DifyApp['mode'] | 'workspace';
  /** the app's name in Dify (results of a whole workspace) */
  app_name?: string;
  total_conversations: number;
  saved_count: number;
  created_count: number;
  updated_count: number;
  unchanged_count: number;
  failed_count: number;
  /** conversations of erased end users, left out (see DELETE /api/end-users/{end_user}) */
  erased_skipped_count: number;
  /** replacements per REDACT kind or REDACT_PATTERNS name, made before anything was written */
  redactions: Record<string, number>;
  /** relative to LOGS_DIR, for created and updated files */
  file_paths: string[];
  errors: ConversationError[];
  coverage: Coverage;
  warnings: string[];
  /** ISO window actually backed up */
  window: { start: string | null; end: string | null };
  /** true when the run was stopped (shutdown) before it listed everything */
  interrupted: boolean;
  /** a whole-workspace source: one result per app (this result is their sum) */
  apps?: BackupResult[];
}
