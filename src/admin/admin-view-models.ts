import type { ArchivedConversation, DifyAccessMode } from '../common/conversation-log';
import type { DifySource } from '../dify/dify.types';
import { isResumable } from '../backup/job-outcome';
import type { Job, JobSource, JobSourceStatus, SourceState } from '../backup/jobs.types';
import { countOf, formatNumber, progressPercent, ProgressCounts } from './format';
import type { VerifyRun } from './verify-run.repository';

/** How a job or source is shown: its status, or `skipped` when it only met another run's lock. */
export type DisplayStatus = JobSourceStatus | 'skipped';

export const STATUS_LABELS: Record<DisplayStatus | 'never', string> = {
  skipped: 'Skipped',
  pending: 'Waiting',
  running: 'Running',
  succeeded: 'Succeeded',
  partial: 'Partly failed',
  failed: 'Failed',
  interrupted: 'Interrupted',
  never: 'Never run',
};

const MODE_LABELS: Record<DifyAccessMode, string> = {
  service: 'Service API (app key)',
  'console-admin': 'Console (admin key)',
  'console-login': 'Console (login)',
};

/** Until a first run reports the real coverage: what an app key can never see. */
export const SERVICE_MODE_HINT =
  'An app API key only sees the Service API conversations of the listed end users, never WebApp, Explore or debugger ones. Use a console mode for a complete archive.';

export interface ProgressView {
  id: string;
  status: string;
  statusLabel: string;
  running: boolean;
  percent: number;
  counts: string;
  message: string;
}

export interface SourceView {
  key: string;
  name: string;
  appId: string;
  organizationId: string | null;
  modeLabel: string;
  warnings: string[];
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  checkpoint: string | null;
  outcomeLabel: string;
  outcomeClass: string;
  lastError: string | null;
  nextRunAt: string | null;
  running: ProgressView | null;
  /** a source of one app: its configuration snapshots (console modes) */
  snapshots: number;
  snapshotAt: string | null;
  /** a whole-workspace source: its apps and how many are backed up */
  workspace: boolean;
  apps: WorkspaceAppRowView[];
  appsTotal: number;
  excludedCount: number;
}

/** One app of a whole-workspace source on the overview. */
export interface WorkspaceAppRowView {
  name: string;
  appId: string;
  organizationId: string | null;
  mode: string;
  lastRunAt: string | null;
  outcomeLabel: string;
  outcomeClass: string;
  coverage: string;
  snapshots: number;
  snapshotAt: string | null;
  gone: boolean;
}

/** The apps of a whole-workspace source as `GET /api/sources` gives them, for the overview. */
export function workspaceAppRows(
  apps: {
    app_id: string;
    organization_id: string | null;
    name: string | null;
    mode: string | null;
    last_run_at: string | null;
    last_outcome: string | null;
    coverage: { complete: boolean; warnings: string[] } | null;
    gone: boolean;
    config_snapshots: number;
    config_snapshot_at: string | null;
  }[],
): WorkspaceAppRowView[] {
  return apps.map((a) => {
    const outcome = (a.gone ? 'never' : (a.last_outcome ?? 'never')) as keyof typeof STATUS_LABELS;
    return {
      name: a.name ?? a.app_id,
      appId: a.app_id,
      organizationId: a.organization_id,
      mode: a.mode ?? 'unknown',
      lastRunAt: a.last_run_at,
      outcomeLabel: a.gone ? 'Gone from Dify (archive kept)' : (STATUS_LABELS[outcome] ?? String(outcome)),
      outcomeClass: a.gone ? 'none' : outcome === 'never' ? 'none' : outcome,
      coverage: !a.coverage ? 'not known yet' : a.coverage.complete ? (a.coverage.warnings.length ? `complete; ${a.coverage.warnings.join(' ')}` : 'complete') : a.coverage.warnings.join(' '),
      snapshots: a.config_snapshots,
      snapshotAt: a.config_snapshot_at,
      gone: a.gone,
    };
  });
}

export interface JobRowView {
  id: string;
  startedAt: string;
  trigger: string;
  status: string;
  statusLabel: string;
  message: string;
  /** interrupted and not resumed yet: the page offers a resume button */
  resumable: boolean;
}

export function sumProgress(sources: Pick<JobSource, 'progress'>[]): ProgressCounts {
  return sources.reduce(
    (t, s) => ({
      seen: t.seen + s.progress.seen,
      saved: t.saved + s.progress.saved,
      unchanged: t.unchanged + s.progress.unchanged,
      failed: t.failed + s.progress.failed,
    }),
    { seen: 0, saved: 0, unchanged: 0, failed: 0 },
  );
}

export function countsText(p: ProgressCounts): string {
  return `${formatNumber(p.seen)} seen · ${formatNumber(p.saved)} saved · ${formatNumber(p.unchanged)} unchanged · ${formatNumber(p.failed)} failed`;
}

/** The error kind of a source refused because another process or run held the backup lock. */
export const LOCKED_ERROR_KIND = 'BackupLockedError';

/** A refusal because another backup holds the lock is not a failure: nothing was attempted, the next run catches up. */
export function displayStatus(job: Pick<Job, 'status' | 'sources'>): DisplayStatus {
  const refused = job.sources.length > 0 && job.sources.every((s) => s.error_kind === LOCKED_ERROR_KIND);
  return job.status === 'failed' && refused ? 'skipped' : job.status;
}

export function sourceDisplayStatus(source: Pick<JobSource, 'status' | 'error_kind'>): DisplayStatus {
  return source.status === 'failed' && source.error_kind === LOCKED_ERROR_KIND ? 'skipped' : source.status;
}

export function progressView(job: Job): ProgressView {
  const running = job.status === 'running';
  const totals = sumProgress(job.sources);
  const status = displayStatus(job);
  return {
    id: job.id,
    status,
    statusLabel: STATUS_LABELS[status],
    running,
    percent: progressPercent(totals, !running),
    counts: countsText(totals),
    message: job.message,
  };
}

const TRIGGER_LABELS: Record<Job['trigger'], string> = {
  manual: 'by hand',
  scheduled: 'schedule',
  api: 'API',
  'api-scheduled': 'API',
  cli: 'command line',
};

export function jobRowView(job: Job): JobRowView {
  return {
    id: job.id,
    startedAt: job.started_at,
    trigger: TRIGGER_LABELS[job.trigger] ?? job.trigger,
    status: displayStatus(job),
    statusLabel: STATUS_LABELS[displayStatus(job)],
    message: job.message,
    resumable: isResumable(job),
  };
}

export function sourceLabel(s: Pick<DifySource, 'app_id' | 'organization_id' | 'name'>): string {
  const id = `${s.organization_id ? `${s.organization_id} / ` : ''}${s.app_id}`;
  return s.name ? `${s.name} (${id})` : id;
}

/** `<organization_id>/<app_id>`: the value of the overview's source choice. */
export function sourceValue(s: Pick<DifySource, 'app_id' | 'organization_id'>): string {
  return `${s.organization_id ?? ''}/${s.app_id}`;
}

export function parseSourceValue(value: string | undefined): { organization_id?: string; app_id?: string } {
  if (!value) return {};
  const cut = value.indexOf('/');
  if (cut < 0) return { app_id: value };
  const org = value.slice(0, cut);
  return { ...(org ? { organization_id: org } : {}), app_id: value.slice(cut + 1) };
}

export function sourceView(
  source: DifySource,
  mode: DifyAccessMode | null,
  state: SourceState | undefined,
  lastJobSource: JobSource | undefined,
  runningJob: Job | undefined,
  nextRunAt: string | null,
): SourceView {
  const lockedOut = lastJobSource && sourceDisplayStatus(lastJobSource) === 'skipped' && state?.last_outcome === 'failed';
  const outcome = runningJob ? 'running' : lockedOut ? 'skipped' : (state?.last_outcome ?? 'never');
  const known = state?.coverage ? (state.coverage.complete ? [] : state.coverage.warnings) : mode === 'service' ? [SERVICE_MODE_HINT] : [];
  const warnings = [...new Set([...known, ...(lastJobSource?.warnings ?? [])])];
  return {
    key: sourceValue(source),
    name: source.name ?? lastJobSource?.name ?? source.app_id,
    appId: source.app_id,
    organizationId: source.organization_id ?? null,
    modeLabel: mode ? MODE_LABELS[mode] : 'not configured',
    warnings,
    lastRunAt: state?.last_run_at ?? null,
    lastSuccessAt: state?.last_success_at ?? null,
    checkpoint: state?.checkpoint ?? null,
    outcomeLabel: STATUS_LABELS[outcome],
    outcomeClass: outcome === 'never' ? 'none' : outcome,
    lastError: !runningJob && !lockedOut && lastJobSource?.status !== 'succeeded' ? (lastJobSource?.error ?? null) : null,
    nextRunAt,
    running: runningJob ? progressView(runningJob) : null,
    snapshots: state?.config_snapshots ?? 0,
    snapshotAt: state?.config_snapshot_at ?? null,
    workspace: source.workspace === true,
    apps: [],
    appsTotal: 0,
    excludedCount: 0,
  };
}

export interface SnippetPart {
  text: string;
  mark: boolean;
}

/** Splits a snippet with hits between « and » into parts, so the template escapes every part and marks the hits. */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const re = /«([^»]*)»/g;
  let last = 0;
  for (let m = re.exec(snippet); m; m = re.exec(snippet)) {
    if (m.index > last) parts.push({ text: snippet.slice(last, m.index), mark: false });
    parts.push({ text: m[1], mark: true });
    last = m.index + m[0].length;
  }
  if (last < snippet.length) parts.push({ text: snippet.slice(last), mark: false });
  return parts;
}

export interface TurnView {
  query: string;
  answer: string;
  createdAt: string;
  tokens: number;
  latency: string | null;
  rating: 'like' | 'dislike' | null;
  error: string | null;
}

function ratingOf(message: Record<string, unknown>): 'like' | 'dislike' | null {
  const direct = (message.feedback as { rating?: unknown } | null | undefined)?.rating;
  if (direct === 'like' || direct === 'dislike') return direct;
  const list = Array.isArray(message.feedbacks) ? (message.feedbacks as { rating?: unknown; from_source?: unknown }[]) : [];
  const pick = list.find((f) => f?.from_source === 'user' && (f.rating === 'like' || f.rating === 'dislike')) ?? list.find((f) => f?.rating === 'like' || f?.rating === 'dislike');
  return (pick?.rating as 'like' | 'dislike' | undefined) ?? null;
}

/** A workflow run has no name of its own: it is titled by its workflow. */
export function conversationTitle(c: Pick<ArchivedConversation, 'name' | 'app_mode' | 'app_name' | 'app_id'>): string {
  if (c.name) return c.name;
  if (c.app_mode === 'workflow') return `${c.app_name || c.app_id} run`;
  return 'Untitled conversation';
}

export function conversationView(c: ArchivedConversation) {
  const turns: TurnView[] = c.messages.map((m) => ({
    query: typeof m.query === 'string' ? m.query : '',
    answer: typeof m.answer === 'string' ? m.answer : '',
    createdAt: m.created_at,
    tokens: (m.message_tokens ?? 0) + (m.answer_tokens ?? 0),
    latency: typeof m.provider_response_latency === 'number' ? m.provider_response_latency.toFixed(2) : null,
    rating: ratingOf(m),
    error: typeof m.error === 'string' && m.error ? m.error : null,
  }));
  return {
    id: c.conversation_id,
    title: conversationTitle(c),
    appName: c.app_name ?? c.app_id,
    appId: c.app_id,
    organizationId: c.organization_id,
    createdAt: c.created_at,
    messageCount: c.messages.length,
    user: c.from_end_user_session_id ?? c.from_end_user_id ?? null,
    fromSource: c.from_source,
    turns,
  };
}

/** Paths of one kind of problem listed on the page; the rest are counted (the CLI and the API list them all). */
const LISTED_PROBLEMS = 50;

/** An archive check for its page: progress while it runs, then the counts and the paths of each kind of problem. */
export function verifyRunView(run: VerifyRun) {
  const r = run.result;
  const kinds = [
    { kind: 'missing', label: 'Missing', help: 'in the catalog, gone from the archive', paths: r?.missing ?? [] },
    { kind: 'changed', label: 'Changed', help: 'other bytes than the catalog recorded', paths: r?.changed ?? [] },
    { kind: 'unindexed', label: 'Unindexed', help: 'in the archive, not in the catalog', paths: r?.unindexed ?? [] },
    { kind: 'corrupt', label: 'Corrupt', help: 'unreadable, or not an archived conversation', paths: r?.corrupt ?? [] },
  ];
  const problems = kinds.reduce((n, k) => n + k.paths.length, 0);
  const configs = r?.app_configs;
  return {
    id: run.id,
    status: run.status,
    running: run.status === 'running',
    checked: run.checked,
    checkedText: formatNumber(run.checked),
    method: run.sha256 ? 'every file downloaded and hashed (sha256)' : 'sizes and ETags from the listing; a file without one is hashed',
    startedAt: run.started_at,
    finishedAt: run.finished_at,
    replica: run.replica,
    error: run.error,
    result: r
      ? {
          problems,
          summary: problems ? `${formatNumber(problems)} of ${formatNumber(r.checked)} files differ from the catalog.` : `All ${formatNumber(r.checked)} files match the catalog.`,
          kinds: kinds.map((k) => ({ ...k, count: k.paths.length, shown: k.paths.slice(0, LISTED_PROBLEMS), more: Math.max(0, k.paths.length - LISTED_PROBLEMS) })),
          fallback: r.sha256_fallback,
          appConfigs: configs ? `${formatNumber(configs.checked)} checked, ${formatNumber(configs.missing.length)} missing, ${formatNumber(configs.changed.length)} changed` : null,
          appConfigsOk: !configs || configs.missing.length + configs.changed.length === 0,
        }
      : null,
  };
}

/** The off-site copy's files not copied yet: unknown (null) while the catalog is rebuilt, never shown as none. */
export function replicationPendingText(pending: number | null): string {
  return pending === null ? 'unknown until the catalog is rebuilt' : countOf(pending, 'conversation file');
}
