import { Injectable } from '@nestjs/common';
import { CronTime } from 'cron';
import { retentionPolicy, retentionWarning } from '../backup/start-up-checks';
import type { Readable } from 'node:stream';
import { SourceRegistry } from '../backup/source-registry';
import { InvalidRequestError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import type { DifySource } from '../dify/dify.types';
import { exportFileName, EXPORT_WRITERS, withUtf8Bom } from '../log-storage/export-format';
import { LogStorageService } from '../log-storage/log-storage.service';
import type { ArchiveFilter, CleanResult, ExportFormat, StatsRow } from '../log-storage/log-storage.types';
import { JobsService } from '../backup/jobs.service';
import type { Job } from '../backup/jobs.types';
import { SourcesService } from '../backup/sources.service';
import { ReplicationService } from '../backup/replication.service';
import {
  conversationView,
  jobRowView,
  parseSourceValue,
  progressView,
  replicationPendingText,
  sourceLabel,
  sourceValue,
  sourceView,
  workspaceAppRows,
  snippetParts,
  sourceDisplayStatus,
  STATUS_LABELS,
  verifyRunView,
} from './admin-view-models';
import { VerifyRuns } from './verify-runs';
import type { ExportQueryDto, OverviewQueryDto, RangeQueryDto, SearchQueryDto } from './dto/admin-forms.dto';
import { countOf, formatBytes, formatNumber, isoDayBefore } from './format';

const DEFAULT_RANGE_DAYS = 13;
const RECENT_JOBS = 8;
const SEARCH_PAGE = 20;

export interface Option {
  value: string;
  label: string;
  selected: boolean;
}

function options(values: { value: string; label: string }[], selected: string | undefined): Option[] {
  return values.map((v) => ({ ...v, selected: v.value === selected }));
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  return q.toString();
}

/** Gathers what each admin page shows from the archive, the jobs and the configured sources. */
@Injectable()
export class AdminService {
  constructor(
    private readonly config: AppConfig,
    private readonly storage: LogStorageService,
    private readonly jobs: JobsService,
    private readonly sources: SourcesService,
    private readonly registry: SourceRegistry,
    private readonly replication: ReplicationService,
    private readonly verifyRuns: VerifyRuns,
  ) {}

  async overview(form: OverviewQueryDto, now = new Date()) {
    const range = {
      start_date: form.start_date ?? isoDayBefore(now, DEFAULT_RANGE_DAYS),
      end_date: form.end_date ?? now.toISOString().slice(0, 10),
      source: form.source,
    };
    const chosen = parseSourceValue(form.source);
    const statsFilter = { start_date: range.start_date, end_date: range.end_date, ...chosen };
    const [summary, allTime, inRange] = await Promise.all([
      this.storage.getSummary(),
      this.storage.stats({}),
      this.storage.stats(statsFilter),
    ]);
    await Promise.all([this.jobs.refresh(), this.sources.refresh()]);
    const jobs = this.jobs.list().filter((j) => j.kind === 'backup');
    const running = jobs.filter((j) => j.status === 'running');
    const sourceViews = this.sources.list();
    const configured = this.registry.list();
    const appNames = await this.appNames(configured);
    const sources = sourceViews.map((v) => {
      const source = configured.find((s) => s.app_id === v.app_id && (s.organization_id ?? null) === v.organization_id) as DifySource;
      const key = sourceValue(source);
      const lastJob = jobs.find((j) => j.sources.some((s) => sourceValue(s as DifySource) === key && j.status !== 'running'));
      const runningJob = running.find((j) => j.sources.some((s) => sourceValue(s as DifySource) === key));
      const view = sourceView(
        { ...source, name: v.name ?? source.name ?? appNames.get(sourceValue(source)) },
        v.access_mode,
        {
          key,
          app_id: v.app_id,
          organization_id: v.organization_id,
          checkpoint: v.checkpoint,
          first_seen_at: '',
          last_run_at: v.last_run_at,
          last_run_job_id: v.last_run_job_id,
          last_outcome: v.last_outcome,
          last_success_at: v.last_success_at,
          access_mode: v.access_mode,
          coverage: v.coverage,
          stale_alerted_at: null,
          config_snapshots: v.config_snapshots ?? 0,
          config_snapshot_at: v.config_snapshot_at ?? null,
        },
        lastJob?.sources.find((s) => sourceValue(s as DifySource) === key),
        runningJob,
        this.config.autoLogging ? v.next_run : null,
      );
      return v.workspace
        ? { ...view, apps: workspaceAppRows(v.apps ?? []), appsTotal: v.apps_total ?? 0, excludedCount: v.excluded_apps?.length ?? 0 }
        : view;
    });
    const perSourceRunning = new Set(sources.filter((s) => s.running).map((s) => s.running!.id));

    return {
      title: 'Overview',
      nav: 'overview',
      charts: true,
      logsDir: this.config.logsDir,
      generatedAt: now.toISOString(),
      autoLogging: this.config.autoLogging,
      backupCron: this.config.schedule.backupCron,
      cronTimezone: this.config.schedule.timezone,
      totals: this.totals(summary.total_files, summary.total_size_bytes, summary.directories.length, allTime.days, allTime.totals),
      organizations: await this.organizations(allTime.days, summary.total_size_bytes),
      sources,
      runningJobs: running.filter((j) => !perSourceRunning.has(j.id) || j.sources.length > 1).map(progressView),
      lastJob: jobs[0] ? jobRowView(jobs[0]) : null,
      recentJobs: jobs.slice(0, RECENT_JOBS).map(jobRowView),
      range: { ...range, label: `${range.start_date} → ${range.end_date}` },
      sourceOptions: options(this.appSources().map((s) => ({ value: sourceValue(s), label: sourceLabel(s) })), form.source),
      statsQuery: query(statsFilter),
      days: this.byDay(inRange.days),
      retention: this.retention(now),
      replication: await this.replicationView(now),
    };
  }

  /** The off-site copy: its bucket, the last successful copy, what is not copied yet, the next scheduled copy; null without a replica bucket. */
  private async replicationView(now: Date) {
    const status = await this.replication.status();
    if (!status.configured) return null;
    const { timezone } = this.config.schedule;
    const failed = status.last_run && status.last_run.status === 'failed' ? status.last_run : null;
    return {
      target: status.target,
      schedule: status.schedule,
      timezone,
      nextRunAt:
        this.config.autoLogging && status.schedule ? new CronTime(status.schedule, timezone).getNextDateFrom(now, timezone).toJSDate().toISOString() : null,
      running: status.running_job_id !== null,
      lastSuccessAt: status.last_success?.finished_at ?? null,
      lastCopied: status.last_success ? `${countOf(status.last_success.copied, 'file')} copied (${formatBytes(status.last_success.copied_bytes)}) of ${formatNumber(status.last_success.checked)} checked` : null,
      // null while the catalog is rebuilt: data-pending is then empty
      pending: status.pending_files,
      pendingText: replicationPendingText(status.pending_files),
      lastError: failed ? `The copy of ${failed.finished_at ?? failed.started_at} failed: ${failed.error ?? 'unknown error'}` : null,
    };
  }

  /** The retention policy, the next clean-up, and a warning when the archive keeps no more than Dify. */
  private retention(now: Date) {
    const { cleanupCron, timezone } = this.config.schedule;
    return {
      policy: retentionPolicy(this.config),
      warning: retentionWarning(this.config),
      nextCleanupAt: this.config.autoLogging ? new CronTime(cleanupCron, timezone).getNextDateFrom(now, timezone).toJSDate().toISOString() : null,
      cleanupCron,
      timezone,
    };
  }

  /** Resumes an interrupted job; resolves with the new job. */
  resume(id: string): Promise<Job> {
    return this.jobs.resume(id);
  }

  /** The figures the page's totals show, formatted (the page script refreshes them after a backup). */
  async totalsText(): Promise<Record<string, string>> {
    const [summary, allTime] = await Promise.all([this.storage.getSummary(), this.storage.stats({})]);
    const t = this.totals(summary.total_files, summary.total_size_bytes, summary.directories.length, allTime.days, allTime.totals);
    return {
      conversations: formatNumber(t.conversations),
      messages: countOf(t.messages, 'message'),
      files: formatNumber(t.files),
      days: `${formatNumber(t.days)} day folders`,
      size: formatBytes(t.sizeBytes),
      range: t.firstDay ? `${t.firstDay} → ${t.lastDay}` : 'nothing archived yet',
    };
  }

  /** Starts a catch-up backup of one configured source, or of all of them, in the background. */
  startBackup(appId?: string, organizationId?: string): Job {
    const all = this.registry.list();
    if (!all.length) throw new InvalidRequestError('no source is configured; set DIFY_APP_ID or DIFY_APPS_FILE first');
    const sources = appId ? [this.sources.backupTarget(appId, organizationId)] : all;
    return this.jobs.startBackup({ sources, trigger: 'manual' });
  }

  async job(id: string) {
    await this.jobs.refresh();
    const job = this.jobs.getOrThrow(id);
    const view = progressView(job);
    return {
      title: 'Backup',
      nav: 'overview',
      refreshSeconds: view.running ? 3 : 0,
      job: {
        ...view,
        startedAt: job.started_at,
        startedAtLabel: job.started_at.slice(0, 16).replace('T', ' '),
        finishedAt: job.finished_at,
        trigger: jobRowView(job).trigger,
        resumable: jobRowView(job).resumable,
        resumedBy: job.resumed_by ?? null,
        resumes: job.resumes ?? null,
        sources: job.sources.map((s) => ({
          label: sourceLabel({ app_id: s.app_id, organization_id: s.organization_id ?? undefined, name: s.name ?? undefined }),
          status: sourceDisplayStatus(s),
          statusLabel: STATUS_LABELS[sourceDisplayStatus(s)],
          progress: s.progress,
          error: s.error,
          warnings: s.warnings,
          errors: (s.result?.errors ?? []).slice(0, 20),
        })),
      },
    };
  }

  async exportForm(form: ExportQueryDto, now = new Date()) {
    return {
      title: 'Export',
      nav: 'export',
      form: {
        start_date: form.start_date ?? isoDayBefore(now, 6),
        end_date: form.end_date ?? now.toISOString().slice(0, 10),
      },
      ...(await this.selectOptions(form)),
      formatOptions: options(
        [
          { value: 'json', label: 'JSON' },
          { value: 'ndjson', label: 'NDJSON' },
          { value: 'csv', label: 'CSV' },
        ],
        form.format ?? 'json',
      ),
      bom: form.bom === 'true',
    };
  }

  /** null when nothing is archived in the range (the page says so instead of sending an empty file). */
  async exportDownload(form: ExportQueryDto): Promise<{ stream: Readable; fileName: string; contentType: string } | null> {
    const format: ExportFormat = form.format ?? 'json';
    const filter = this.filter(form);
    if ((await this.storage.countConversations(filter)) === 0) return null;
    const stream = this.storage.exportStream(filter, format);
    return {
      stream: format === 'csv' && form.bom === 'true' ? withUtf8Bom(stream) : stream,
      fileName: exportFileName(format, filter),
      contentType: EXPORT_WRITERS[format].contentType,
    };
  }

  async search(form: SearchQueryDto) {
    const searched = Object.values(form).some((v) => v !== undefined);
    const { appNames, appLabels, ...filterOptions } = await this.filterOptions(form);
    const base = { title: 'Search', nav: 'search', form, searched, ...filterOptions };
    if (!searched) return base;
    const { q, cursor, ...rest } = form;
    const result = await this.storage.search({ ...this.filter(rest), ...(q ? { q } : {}), ...(cursor ? { cursor } : {}), limit: SEARCH_PAGE });
    const back = `/admin/search?${query({ ...form } as Record<string, string | undefined>)}`;
    return {
      ...base,
      resultsLabel: `${result.next_cursor ? `${result.results.length}+ conversations` : countOf(result.results.length, 'conversation')}${q ? ` matching “${q}”` : ''}`,
      results: result.results.map((r) => ({
        title: r.name || 'Untitled conversation',
        href: `/admin/conversations/${encodeURIComponent(r.conversation_id)}?${query({ organization_id: r.organization_id ?? undefined, back })}`,
        createdAt: r.created_at,
        organizationId: r.organization_id,
        // one app, one identity: the same app id under two organizations may be two apps
        appId: appLabels.get(sourceValue({ app_id: r.app_id, organization_id: r.organization_id ?? undefined })) ?? appNames.get(r.app_id) ?? r.app_id,
        messageCount: r.message_count,
        snippets: r.snippet ? [snippetParts(r.snippet)] : [],
      })),
      nextHref: result.next_cursor ? `/admin/search?${query({ ...form, cursor: result.next_cursor } as Record<string, string | undefined>)}` : null,
    };
  }

  async conversation(conversationId: string, organizationId: string | undefined, back: string | undefined) {
    const { conversation } = await this.storage.getConversation({
      conversation_id: conversationId,
      ...(organizationId ? { organization_id: organizationId } : {}),
    });
    const view = conversationView(conversation);
    return {
      title: view.title,
      nav: 'search',
      conversation: view,
      downloadHref: `/admin/conversations/${encodeURIComponent(conversation.conversation_id)}/download?${query({ organization_id: organizationId })}`,
      backHref: back && back.startsWith('/admin/search') ? back : '/admin/search',
    };
  }

  /** The archived document as a download named after the conversation. */
  async conversationFile(conversationId: string, organizationId: string | undefined): Promise<{ fileName: string; body: string }> {
    const { conversation } = await this.storage.getConversation({
      conversation_id: conversationId,
      ...(organizationId ? { organization_id: organizationId } : {}),
    });
    const safeId = conversation.conversation_id.replace(/[^A-Za-z0-9._-]+/g, '-');
    return { fileName: `conversation_${safeId}.json`, body: `${JSON.stringify(conversation, null, 2)}\n` };
  }

  /** The verify page: the form, and the check asked for (else the latest, whichever replica ran it), if any. */
  async verifyPage(id?: string) {
    const run = id ? await this.verifyRuns.get(id) : await this.verifyRuns.latest();
    return { title: 'Verify', nav: 'verify', refreshSeconds: run?.status === 'running' ? 2 : 0, run: run ? verifyRunView(run) : null };
  }

  startVerify(sha256: boolean) {
    return this.verifyRuns.start(sha256);
  }

  verifyRun(id: string) {
    return this.verifyRuns.get(id);
  }

  async cleanPage(daysToKeep: number | undefined, organizationId: string | undefined) {
    const preview: CleanResult | null =
      daysToKeep === undefined ? null : await this.storage.cleanOldLogs({ daysToKeep, dryRun: true, ...(organizationId ? { organizationId } : {}) });
    return this.cleanView(daysToKeep ?? this.config.retentionDays, organizationId, preview);
  }

  async clean(daysToKeep: number, organizationId: string | undefined, client: string) {
    const result = await this.storage.cleanOldLogs({ daysToKeep, ...(organizationId ? { organizationId } : {}), actor: { route: 'admin', client } });
    return this.cleanView(daysToKeep, organizationId, result, result.deleted_files ? `${result.message}.` : undefined);
  }

  private async cleanView(daysToKeep: number, organizationId: string | undefined, preview: CleanResult | null, notice?: string) {
    return {
      title: 'Clean',
      nav: 'clean',
      form: { days_to_keep: daysToKeep, organization_id: organizationId },
      organizationOptions: (await this.selectOptions({ organization_id: organizationId })).organizationOptions,
      preview,
      notice,
    };
  }

  /** Display names of sources configured without one: the app's name as archived. */
  private async appNames(sources: DifySource[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const source of sources.filter((s) => !s.name)) {
      const filter = { app_id: source.app_id, ...(source.organization_id ? { organization_id: source.organization_id } : {}) };
      const hit = (await this.storage.search({ ...filter, limit: 1 })).results[0];
      if (!hit) continue;
      const { conversation } = await this.storage.getConversation({ path: hit.path }).catch(() => ({ conversation: null }));
      if (conversation?.app_name) names.set(sourceValue(source), conversation.app_name);
    }
    return names;
  }

  private filter(form: RangeQueryDto & { rating?: 'like' | 'dislike'; from_source?: 'api' | 'console'; user?: string }): ArchiveFilter {
    const out: ArchiveFilter = {};
    for (const key of ['start_date', 'end_date', 'organization_id', 'app_id', 'rating', 'from_source', 'user'] as const) {
      const value = form[key];
      if (value !== undefined) (out as Record<string, string>)[key] = value;
    }
    return out;
  }

  private async selectOptions(form: Pick<RangeQueryDto, 'organization_id' | 'app_id'>) {
    const { organizationOptions, appOptions } = await this.filterOptions(form);
    return { organizationOptions, appOptions };
  }

  /**
   * Every app the vault backs up, as (organization, app id) with its name: single-app sources, and the apps
   * of whole-workspace sources as their runs recorded them (a workspace's own key is no app).
   */
  private appSources(): Pick<DifySource, 'app_id' | 'organization_id' | 'name'>[] {
    const views = this.sources.list();
    return views.flatMap((v) =>
      v.workspace
        ? (v.apps ?? []).map((a) => ({ app_id: a.app_id, ...(a.organization_id ? { organization_id: a.organization_id } : {}), ...(a.name ? { name: a.name } : {}) }))
        : [{ app_id: v.app_id, ...(v.organization_id ? { organization_id: v.organization_id } : {}), ...(v.name ? { name: v.name } : {}) }],
    );
  }

  private async filterOptions(form: Pick<RangeQueryDto, 'organization_id' | 'app_id'>) {
    const { days } = await this.storage.stats({});
    const appSources = this.appSources();
    const orgs = new Set<string>(appSources.flatMap((s) => (s.organization_id ? [s.organization_id] : [])));
    const archivedNames = await this.appNames(appSources);
    const apps = new Map<string, string>(appSources.map((s) => [s.app_id, s.name ?? archivedNames.get(sourceValue(s)) ?? s.app_id]));
    for (const row of days) {
      if (row.organization_id) orgs.add(row.organization_id);
      if (!apps.has(row.app_id)) apps.set(row.app_id, row.app_id);
    }
    return {
      organizationOptions: options([...orgs].sort().map((o) => ({ value: o, label: o })), form.organization_id),
      appNames: apps,
      appLabels: new Map(appSources.map((s) => [sourceValue(s), s.name ?? archivedNames.get(sourceValue(s)) ?? s.app_id])),
      appOptions: options(
        [...apps].map(([value, name]) => ({ value, label: name === value ? value : `${name} (${value})` })).sort((a, b) => a.label.localeCompare(b.label)),
        form.app_id,
      ),
    };
  }

  private totals(files: number, bytes: number, dayFolders: number, days: StatsRow[], totals: { conversations: number; messages: number }) {
    const sorted = days.map((d) => d.day).sort();
    return {
      conversations: totals.conversations,
      messages: totals.messages,
      files,
      sizeBytes: bytes,
      days: dayFolders,
      firstDay: sorted[0] ?? null,
      lastDay: sorted[sorted.length - 1] ?? null,
    };
  }

  private async organizations(days: StatsRow[], totalBytes: number) {
    const byOrg = new Map<string, number>();
    for (const row of days) byOrg.set(row.organization_id ?? '', (byOrg.get(row.organization_id ?? '') ?? 0) + row.conversations);
    const out: { name: string; conversations: number; files: number; sizeBytes: number }[] = [];
    let orgBytes = 0;
    for (const [org, conversations] of [...byOrg].sort((a, b) => b[1] - a[1])) {
      const summary = org ? await this.storage.getSummary(org) : null;
      orgBytes += summary?.total_size_bytes ?? 0;
      out.push({ name: org, conversations, files: summary?.total_files ?? conversations, sizeBytes: summary?.total_size_bytes ?? 0 });
    }
    // conversations without an organization sit directly under conversations/
    for (const row of out) if (!row.name) row.sizeBytes = Math.max(0, totalBytes - orgBytes);
    return out.map((row) => ({ ...row, name: row.name || '(no organization)' }));
  }

  private byDay(rows: StatsRow[]) {
    const map = new Map<string, { day: string; conversations: number; messages: number; tokens: number; likes: number; dislikes: number }>();
    for (const r of rows) {
      const d = map.get(r.day) ?? { day: r.day, conversations: 0, messages: 0, tokens: 0, likes: 0, dislikes: 0 };
      d.conversations += r.conversations;
      d.messages += r.messages;
      d.tokens += r.tokens;
      d.likes += r.likes;
      d.dislikes += r.dislikes;
      map.set(r.day, d);
    }
    return [...map.values()].sort((a, b) => a.day.localeCompare(b.day));
  }
}
