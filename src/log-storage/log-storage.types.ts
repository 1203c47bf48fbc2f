import type { AuditActor } from './privacy/audit-log';
/** Public shapes of the archive (LogStorageModule). Paths are relative to LOGS_DIR, with `/` separators. */

import type { ArchivedConversation } from '../common/conversation-log';

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

export interface CleanOptions {
  /** integer, 1 to 36500 */
  daysToKeep: number;
  organizationId?: string;
  dryRun?: boolean;
  /** who asked, for the audit log (a clean that deletes something is recorded); default: the embedding code */
  actor?: AuditActor;
}

export interface EraseOptions {
  /** only this organization's conversations (every organization when absent) */
  organizationId?: string;
  /** only this app's conversations */
  appId?: string;
  dryRun?: boolean;
  actor: AuditActor;
  /** called with the erased files' paths once they are gone, to scrub them from other records (job history) */
  forgetPaths?: (paths: string[]) => Promise<void>;
}

export interface EraseResult {
  success: true;
  message: string;
  dry_run: boolean;
  /** conversations removed (or that would be) */
  conversations: number;
  /** the day folders they were in, YYYY-MM-DD, oldest first */
  days: string[];
  /** their organizations ('' for conversations archived without one) */
  organizations: string[];
  /** whether later backups skip this end user (false on a dry run) */
  remembered: boolean;
}

export interface SearchQuery extends Omit<ArchiveFilter, 'keyword'> {
  /** full text over names, queries and answers; optional (then: newest first over the filter) */
  q?: string;
  /** 1 to 100, default 20 */
  limit?: number;
  /** opaque, from a previous page's next_cursor */
  cursor?: string;
}

export interface SearchHit {
  conversation_id: string;
  path: string;
  organization_id: string | null;
  app_id: string;
  name: string;
  created_at: string;
  updated_at: string;
  message_count: number;
  /** matched text with the hits between « and »; without q, the start of the first query */
  snippet: string;
}

export interface SearchResult {
  success: true;
  results: SearchHit[];
  next_cursor: string | null;
}

export interface StatsQuery {
  start_date?: string;
  end_date?: string;
  organization_id?: string;
  app_id?: string;
}

export interface StatsFigures {
  conversations: number;
  messages: number;
  /** distinct end-user ids (or sessions when there is no id) */
  end_users: number;
  tokens: number;
  /** seconds */
  avg_latency: number | null;
  /** seconds, nearest rank */
  p95_latency: number | null;
  likes: number;
  dislikes: number;
  errors: number;
}

export interface StatsRow extends StatsFigures {
  /** the day folder, YYYY-MM-DD */
  day: string;
  organization_id: string | null;
  app_id: string;
}

export interface StatsResult {
  success: true;
  days: StatsRow[];
  totals: StatsFigures;
}

export interface ConversationResult {
  success: true;
  path: string;
  conversation: ArchivedConversation;
}

export interface VerifyOptions {
  /** download every object and compare its sha256, instead of the size and ETag from the store's listing */
  sha256?: boolean;
  /** told the files checked so far, after each one (the admin page's progress) */
  onProgress?: (checked: number) => void;
}

export interface VerifyResult {
  success: true;
  /**
   * `etag`: sizes and ETags from the store's listing against the catalog's sizes and MD5s, nothing
   * downloaded (a store without ETags, a disk, is read and hashed); `sha256`: every object downloaded and hashed
   */
  method: 'etag' | 'sha256';
  checked: number;
  /** objects compared by size and ETag */
  by_etag: number;
  /** objects read and compared by sha256 */
  by_sha256: number;
  /** of those, objects checked by sha256 although `etag` was asked: their rows were catalogued before the catalog kept MD5s, or their ETag is not the bytes' MD5 (SSE-KMS) */
  sha256_fallback: number;
  /** in the catalog, gone from disk */
  missing: string[];
  /** on disk with other bytes than the catalog recorded */
  changed: string[];
  /** on disk, not in the catalog */
  unindexed: string[];
  /** unreadable or not an archived conversation */
  corrupt: string[];
  /** app configuration snapshots (`apps/...`) whose bytes are gone or differ from their recorded hash */
  app_configs?: { checked: number; missing: string[]; changed: string[] };
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface ReindexOptions {
  /** called as files are catalogued; `total` is null while unknown (counted first when the store can) */
  onProgress?(done: number, total: number | null): void;
}

/** A rebuild under way: files handled so far, of `total` (null while unknown). */
export interface RebuildProgress {
  done: number;
  total: number | null;
}

export interface ReindexResult {
  success: true;
  indexed: number;
  skipped: SkippedFile[];
  duration_ms: number;
}

export interface CompressResult {
  success: true;
  compressed_files: number;
  bytes_before: number;
  bytes_after: number;
  /** files are compressed in day folders before this day (YYYY-MM-DD); null when compression is off */
  before_day: string | null;
}
