import type { CrawlWindow } from '../dify/dify.types';
import type { BackupProgress } from './backup.types';
import type { IsoWindow, Job, JobResumePoint, JobSource, JobSourceStatus, JobStatus } from './jobs.types';

/** File paths and errors kept per source in the history (the live result has them all). */
const MAX_LISTED = 200;

export const ZERO_PROGRESS: BackupProgress = { seen: 0, saved: 0, unchanged: 0, failed: 0 };

export function isoWindow(window: Pick<CrawlWindow, 'start' | 'end'>): IsoWindow {
  return { start: window.start?.toISOString() ?? null, end: window.end?.toISOString() ?? null };
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** For log lines: the class and errno code of an unexpected error, never its whole text. */
export function errorName(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${(error as NodeJS.ErrnoException).code ?? error.message}` : String(error);
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function sourceStatus(entry: JobSource): JobSourceStatus {
  const r = entry.result;
  if (r?.interrupted) return 'interrupted';
  if (entry.error) return r && r.saved_count + r.unchanged_count > 0 ? 'partial' : 'failed';
  if (!r) return 'failed';
  if (r.success) return 'succeeded';
  return r.saved_count + r.unchanged_count > 0 ? 'partial' : 'failed';
}

export function jobStatus(statuses: JobSourceStatus[]): JobStatus {
  if (statuses.length && statuses.every((s) => s === 'skipped')) return 'skipped';
  if (statuses.includes('interrupted') || statuses.includes('pending') || statuses.includes('running')) return 'interrupted';
  if (statuses.every((s) => s === 'succeeded')) return 'succeeded';
  if (statuses.every((s) => s === 'failed')) return 'failed';
  return 'partial';
}

export function jobTotals(job: Job): BackupProgress {
  return job.sources.reduce(
    (t, s) => ({ seen: t.seen + s.progress.seen, saved: t.saved + s.progress.saved, unchanged: t.unchanged + s.progress.unchanged, failed: t.failed + s.progress.failed }),
    { ...ZERO_PROGRESS },
  );
}

export function describeJob(job: Job): string {
  const count = (status: JobSourceStatus) => job.sources.filter((s) => s.status === status).length;
  if (!job.sources.length) return 'No sources to back up';
  const parts = (['succeeded', 'partial', 'failed', 'interrupted'] as const)
    .map((s) => [s, count(s)] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const { seen, saved, unchanged, failed } = jobTotals(job);
  if (job.status === 'skipped') return `Skipped: ${job.sources[0]?.error ?? 'another process holds the backup lock'}`;
  const resume = job.status === 'interrupted' && !job.window ? '; the next run resumes from each checkpoint' : '';
  return `${plural(job.sources.length, 'source')}: ${parts.join(', ')}; ${plural(seen, 'conversation')} seen, ${saved} saved, ${unchanged} unchanged, ${failed} failed${resume}`;
}

/** A copy small enough for the history file. */
export function forHistory(job: Job): Job {
  const copy = clone(job);
  const trim = (r: JobSource['result']) => {
    if (!r) return;
    r.file_paths = r.file_paths.slice(0, MAX_LISTED);
    r.errors = r.errors.slice(0, MAX_LISTED);
    for (const app of r.apps ?? []) trim(app);
  };
  for (const s of copy.sources) {
    trim(s.result);
    for (const app of s.apps ?? []) trim(app.result);
  }
  return copy;
}

export function newJobSource(source: { app_id: string; organization_id?: string | null; name?: string | null }): JobSource {
  return {
    app_id: source.app_id,
    organization_id: source.organization_id ?? null,
    name: source.name ?? null,
    status: 'pending',
    progress: { ...ZERO_PROGRESS },
    window: null,
    current_window: null,
    checkpoint_before: null,
    checkpoint_after: null,
    started_at: null,
    finished_at: null,
    error: null,
    error_kind: null,
    warnings: [],
    result: null,
  };
}

/** Where an interrupted job stopped: per source, the checkpoint (catch-up) or the job's window. */
export function resumePoint(job: Job, reason: JobResumePoint['reason'], at: string): JobResumePoint {
  return {
    reason,
    interrupted_at: at,
    sources: job.sources.map((s) => ({
      app_id: s.app_id,
      organization_id: s.organization_id,
      from: job.window ? job.window.start : (s.checkpoint_after ?? s.window?.start ?? null),
      to: job.window ? job.window.end : null,
    })),
  };
}

/** An interrupted backup job nobody has resumed yet (a copy is not resumed: the next one copies what is missing). */
export function isResumable(job: Job): boolean {
  return job.kind !== 'replication' && job.status === 'interrupted' && !!job.resume && !job.resumed_by;
}
