import type { BackupResult, ConversationError } from './backup.types';

const ARCHIVE_STOP = 'the archive cannot be written';

/** The run-level error of a run stopped by a full or read-only disk. */
export function archiveStopError(code: string | undefined): ConversationError {
  return { conversation_id: '*', error: `${ARCHIVE_STOP} (${code ?? 'error'}); the run stopped, files already archived are untouched` };
}

export function isArchiveStop(error: ConversationError): boolean {
  return error.conversation_id === '*' && error.error.startsWith(ARCHIVE_STOP);
}

/** The one wording of a result, for one run or for several slices merged. */
export function describeResult(r: BackupResult): string {
  const counts = `${r.saved_count} saved, ${r.unchanged_count} unchanged`;
  const stop = r.errors.find(isArchiveStop);
  if (stop) {
    const code = /\(([^)]*)\)/.exec(stop.error)?.[1] ?? 'error';
    return `Backup stopped: ${ARCHIVE_STOP} (${code}); ${counts}, ${r.failed_count} failed`;
  }
  if (r.interrupted) return `Backup interrupted after ${r.total_conversations} conversations: ${counts}, ${r.failed_count} failed`;
  if (r.success) return `Backed up ${r.total_conversations} conversations: ${counts}`;
  return `Backup finished with failures: ${counts}, ${r.failed_count} failed`;
}

/** One result for a source backed up in several slices. */
export function mergeResults(total: BackupResult | null, next: BackupResult): BackupResult {
  if (!total) return { ...next, file_paths: [...next.file_paths], errors: [...next.errors], warnings: [...next.warnings] };
  const merged: BackupResult = {
    ...next,
    success: total.success && next.success,
    total_conversations: total.total_conversations + next.total_conversations,
    saved_count: total.saved_count + next.saved_count,
    created_count: total.created_count + next.created_count,
    updated_count: total.updated_count + next.updated_count,
    unchanged_count: total.unchanged_count + next.unchanged_count,
    failed_count: total.failed_count + next.failed_count,
    erased_skipped_count: total.erased_skipped_count + next.erased_skipped_count,
    redactions: addCounts(total.redactions, next.redactions),
    file_paths: [...total.file_paths, ...next.file_paths],
    errors: [...total.errors, ...next.errors],
    warnings: [...new Set([...total.warnings, ...next.warnings])],
    window: { start: total.window.start, end: next.window.end },
    interrupted: total.interrupted || next.interrupted,
  };
  merged.message = describeResult(merged);
  return merged;
}

/** Per-kind counts added up. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [k, n] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}
