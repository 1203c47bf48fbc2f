import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunRecord, VaultEvents } from '../common/vault-events';
import { APP_VERSION } from '../common/app-version';
import type { SourceFreshness } from '../health/source-freshness';

export const METRIC_PREFIX = 'dify_vault_';
const EXPORT_FORMATS = ['json', 'ndjson', 'csv'];
const RUN_OUTCOMES = ['succeeded', 'partial', 'failed', 'interrupted'];
const CONVERSATION_RESULTS = ['saved', 'unchanged', 'failed'] as const;
/** backups take from a second (nothing new) to hours (a long backfill) */
const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];

/**
 * The service's Prometheus metrics in a registry of its own (never prom-client's global one, so two
 * apps in one process keep theirs apart). Events are counted as they happen; the archive's size and
 * each source's last run are set at scrape time by `observeArchive` / `observeSources`.
 */
@Injectable()
export class MetricsService implements VaultEvents {
  readonly registry = new Registry();

  private readonly runs = this.counter('source_runs_total', 'Finished backup runs per source, by outcome', ['source', 'outcome']);
  private readonly conversations = this.counter('conversations_total', 'Conversations handled by backup runs, by result', ['source', 'result']);
  private readonly runDuration = new Histogram({
    name: `${METRIC_PREFIX}source_run_duration_seconds`,
    help: 'Duration of backup runs per source',
    labelNames: ['source'],
    buckets: RUN_DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly difyRequests = this.counter('dify_requests_total', 'HTTP attempts to Dify by status code (timeout, network: no answer)', ['status']);
  private readonly difyRetries = this.counter('dify_retries_total', 'Attempts to Dify retried after a transient failure', []);
  private readonly catalogRebuilds = this.counter('catalog_rebuilds_total', 'Catalog rebuilds from the archive files', []);
  private readonly exports = this.counter('exports_total', 'Archive exports started, by format', ['format']);
  private readonly retentionRuns = this.counter('retention_runs_total', 'Retention runs that deleted (not dry runs)', []);
  private readonly retentionDeleted = this.counter('retention_deleted_files_total', 'Archive files deleted by retention', []);
  private readonly archiveFiles = this.gauge('archive_files', 'Conversation files in the archive (from the catalog)', []);
  private readonly archiveBytes = this.gauge('archive_bytes', 'Bytes of conversation files in the archive (from the catalog)', []);
  private readonly lastSuccess = this.gauge('source_last_success_timestamp_seconds', 'Unix time of the last successful run per source (absent: never)', ['source']);
  private readonly lastRun = this.gauge('source_last_run_timestamp_seconds', 'Unix time of the last finished run per source (absent: never)', ['source']);
  private readonly stale = this.gauge('source_stale', '1 while a source has had no successful run for ALERT_STALE_HOURS', ['source']);
  private readonly leader = this.gauge('replica_leader', '1 while this replica leads (runs the schedule); always 1 without DATABASE_URL', []);
  private readonly replicationLastSuccess = this.gauge(
    'replication_last_success_timestamp_seconds',
    'Unix time the last successful off-site copy finished (absent: none yet, or no replica bucket)',
    ['target'],
  );
  private readonly replicationLastCopied = this.gauge('replication_last_copied_files', 'Files the last successful off-site copy wrote (absent: none yet)', ['target']);
  private readonly replicationLastCopiedBytes = this.gauge('replication_last_copied_bytes', 'Bytes the last successful off-site copy wrote (absent: none yet)', ['target']);
  private readonly replicationPending = this.gauge(
    'replication_pending_files',
    'Conversation files not yet in the off-site copy: saved since the last successful copy started (absent: no replica bucket)',
    ['target'],
  );
  private readonly staleThreshold = this.gauge('source_stale_threshold_hours', 'ALERT_STALE_HOURS, the staleness threshold', []);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.gauge('build_info', 'Always 1; the version label is the service version', ['version']).labels(APP_VERSION).set(1);
    for (const format of EXPORT_FORMATS) this.exports.labels(format).inc(0);
    for (const counter of [this.difyRetries, this.catalogRebuilds, this.retentionRuns, this.retentionDeleted]) counter.inc(0);
  }

  recordRun(source: string, run: RunRecord): void {
    this.runs.labels(source, run.outcome).inc();
    for (const result of CONVERSATION_RESULTS) this.conversations.labels(source, result).inc(run[result]);
    if (run.durationSeconds !== null) this.runDuration.labels(source).observe(run.durationSeconds);
  }

  recordDifyRequest(status: string): void {
    this.difyRequests.labels(status).inc();
  }

  recordRetry(): void {
    this.difyRetries.inc();
  }

  recordCatalogRebuild(): void {
    this.catalogRebuilds.inc();
  }

  recordExport(format: string): void {
    this.exports.labels(format).inc();
  }

  recordRetention(deletedFiles: number): void {
    this.retentionRuns.inc();
    this.retentionDeleted.inc(deletedFiles);
  }

  observeLeadership(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  observeArchive(summary: { files: number; bytes: number }): void {
    this.archiveFiles.set(summary.files);
    this.archiveBytes.set(summary.bytes);
  }

  /** The off-site copy's gauges (label `target`: `s3://<bucket>/<prefix>`), from GET /api/replication's status; absent without a value. */
  observeReplication(status: {
    target: string | null;
    last_success: { finished_at: string; copied: number; copied_bytes: number } | null;
    pending_files: number | null;
  }): void {
    for (const gauge of [this.replicationLastSuccess, this.replicationLastCopied, this.replicationLastCopiedBytes, this.replicationPending]) gauge.reset();
    const target = status.target;
    if (target === null) return;
    if (status.last_success) {
      this.replicationLastSuccess.labels(target).set(Date.parse(status.last_success.finished_at) / 1000);
      this.replicationLastCopied.labels(target).set(status.last_success.copied);
      this.replicationLastCopiedBytes.labels(target).set(status.last_success.copied_bytes);
    }
    if (status.pending_files !== null) this.replicationPending.labels(target).set(status.pending_files);
  }

  /** Replaces the per-source gauges (a source removed from the config disappears) and starts its counters at 0. */
  observeSources(sources: SourceFreshness[], staleHours: number): void {
    for (const gauge of [this.lastSuccess, this.lastRun, this.stale]) gauge.reset();
    this.staleThreshold.set(staleHours);
    for (const s of sources) {
      if (s.lastSuccessAt) this.lastSuccess.labels(s.label).set(s.lastSuccessAt.getTime() / 1000);
      if (s.lastRunAt) this.lastRun.labels(s.label).set(s.lastRunAt.getTime() / 1000);
      this.stale.labels(s.label).set(s.stale ? 1 : 0);
      for (const outcome of RUN_OUTCOMES) this.runs.labels(s.label, outcome).inc(0);
      for (const result of CONVERSATION_RESULTS) this.conversations.labels(s.label, result).inc(0);
    }
  }

  /** The registry in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name: `${METRIC_PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name: `${METRIC_PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }
}
