/** Public shapes of the archive (LogStorageModule). Paths are relative to LOGS_DIR, with `/` separators. */

export type SaveOutcome = 'created' | 'updated' | 'unchanged';

export interface SaveResult {
  outcome: SaveOutcome;
  /** e.g. conversations/acme/2024/01/16/conversation_<id>_2024-01-16T12-30-29-000Z.json */
  path: string;
}

export interface LogsSummary {
  success: true;
  total_files: number;
  total_size_bytes: number;
  /** day folders, e.g. conversations/acme/2024/01/16 */
  directories: string[];
}

export type ExportFormat = 'json' | 'ndjson' | 'csv';

export interface ArchiveFilter {
  /** YYYY-MM-DD, inclusive, on the day folder */
  start_date?: string;
  /** YYYY-MM-DD, inclusive, on the day folder */
  end_date?: string;
  organization_id?: string;
  app_id?: string;
  from_source?: 'api' | 'console';
  /** end-user id or session (`user` string) */
  user?: string;
  /** full-text */
  keyword?: string;
  rating?: 'like' | 'dislike';
}

export interface CleanResult {
  success: true;
  message: string;
  deleted_files: number;
  deleted_size_bytes: number;
  dry_run: boolean;
  /** the oldest and newest day folders removed (or that would be), YYYY-MM-DD */
  first_day: string | null;
  last_day: string | null;
}
