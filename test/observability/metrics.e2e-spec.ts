import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { findSecrets } from '../support/archive';
import { createTestApp, TestApp } from '../support/test-app';
import { chatApp, DAY, nowSeconds, seedConversations, sourceEnv } from '../hardening/hardening-kit';
import { MetricFamily, parsePrometheusText, sampleValue } from './prometheus-text';

const ADMIN_TOKEN = 'admin-token-for-metrics-0123';
const METRICS_TOKEN = 'metrics-token-scrape-4567';
const API = '/api/conversation-logs';

describe('GET /metrics', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp;
  let source: string;

  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  async function scrape(): Promise<Map<string, MetricFamily>> {
    const res = await request(t.server).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return parsePrometheusText(res.text);
  }
  const value = (m: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels);

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 6);
    // two conversations ten days old, for retention to delete
    for (const days of [10, 11]) sim.addConversation({ app_id: app.id, created_at: nowSeconds() - days * DAY, messages: 2 });
    t = await createTestApp(
      sourceEnv(sim, app, 'console-admin', { ADMIN_TOKEN, METRICS_TOKEN, DIFY_CONCURRENCY: '1' }),
    );
    source = `acme/${app.id}`;
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  describe('access', () => {
    it('needs a token once ADMIN_TOKEN or METRICS_TOKEN is set', async () => {
      const res = await request(t.server).get('/metrics').expect(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'this route needs Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>',
        field: 'Authorization',
      });
      await request(t.server).get('/metrics').set('Authorization', 'Bearer not-the-right-token-000').expect(401);
    });

    it('accepts ADMIN_TOKEN and METRICS_TOKEN as Bearer tokens', async () => {
      await request(t.server).get('/metrics').set(admin).expect(200);
      await request(t.server).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    });

    it('does not let METRICS_TOKEN into the API', async () => {
      await request(t.server).get('/api/jobs').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(401);
    });
  });

  it('reports the version, archive size, zeroed counters and the default process metrics before any run', async () => {
    const m = await scrape();
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(value(m, 'dify_vault_build_info', { version })).toBe(1);
    expect(value(m, 'dify_vault_archive_files')).toBe(0);
    expect(value(m, 'dify_vault_archive_bytes')).toBe(0);
    expect(value(m, 'dify_vault_dify_retries_total')).toBe(0);
    expect(value(m, 'dify_vault_source_runs_total', { source, outcome: 'failed' })).toBe(0);
    expect(value(m, 'dify_vault_conversations_total', { source, result: 'saved' })).toBe(0);
    expect(value(m, 'dify_vault_source_stale', { source })).toBe(0);
    // never run: no last-success or last-run sample at all
    expect(value(m, 'dify_vault_source_last_success_timestamp_seconds', { source })).toBeUndefined();
    expect(value(m, 'dify_vault_source_last_run_timestamp_seconds', { source })).toBeUndefined();
    expect(m.get('process_cpu_seconds_total')?.type).toBe('counter');
  });

  it('counts a run: saved / unchanged / failed, its duration, last success and last run, Dify requests by status and retries', async () => {
    // the first listing request fails once with a 500 and is retried
    sim.injectFault({ path: new RegExp(`${app.id}/chat-conversations$`), times: 1, fault: { kind: 'status', status: 500 } });
    const before = Math.floor(Date.now() / 1000);
    const run = await request(t.server).post(API).set(admin).send({ app_id: app.id, organization_id: 'acme' }).expect(200);
    const after = Math.ceil(Date.now() / 1000);
    expect(run.body).toMatchObject({ success: true, saved_count: 8, unchanged_count: 0, failed_count: 0 });

    const m = await scrape();
    expect(m.get('dify_vault_source_runs_total')?.type).toBe('counter');
    expect(value(m, 'dify_vault_source_runs_total', { source, outcome: 'succeeded' })).toBe(1);
    expect(value(m, 'dify_vault_conversations_total', { source, result: 'saved' })).toBe(8);
    expect(value(m, 'dify_vault_conversations_total', { source, result: 'unchanged' })).toBe(0);
    expect(value(m, 'dify_vault_conversations_total', { source, result: 'failed' })).toBe(0);
    expect(m.get('dify_vault_source_run_duration_seconds')?.type).toBe('histogram');
    expect(value(m, 'dify_vault_source_run_duration_seconds_count', { source })).toBe(1);
    expect(value(m, 'dify_vault_source_run_duration_seconds_bucket', { source, le: '+Inf' })).toBe(1);

    const lastSuccess = value(m, 'dify_vault_source_last_success_timestamp_seconds', { source })!;
    expect(lastSuccess).toBeGreaterThanOrEqual(before);
    expect(lastSuccess).toBeLessThanOrEqual(after);
    expect(value(m, 'dify_vault_source_last_run_timestamp_seconds', { source })).toBe(lastSuccess);

    expect(value(m, 'dify_vault_dify_requests_total', { status: '500' })).toBe(1);
    // listing, then each conversation's messages (and more): at least 9 answered requests
    expect(value(m, 'dify_vault_dify_requests_total', { status: '200' })).toBeGreaterThanOrEqual(9);
    expect(value(m, 'dify_vault_dify_retries_total')).toBe(1);

    const summary = await request(t.server).get(API).query({ action: 'summary' }).set(admin).expect(200);
    expect(value(m, 'dify_vault_archive_files')).toBe(8);
    expect(value(m, 'dify_vault_archive_bytes')).toBe(summary.body.total_size_bytes);

    // the same conversations again: all unchanged
    await request(t.server).post(API).set(admin).send({ app_id: app.id, organization_id: 'acme' }).expect(200);
    const again = await scrape();
    expect(value(again, 'dify_vault_conversations_total', { source, result: 'unchanged' })).toBe(8);
    expect(value(again, 'dify_vault_source_runs_total', { source, outcome: 'succeeded' })).toBe(2);
    expect(value(again, 'dify_vault_source_run_duration_seconds_count', { source })).toBe(2);
  });

  it('counts failed conversations and failed runs', async () => {
    const before = await scrape();
    const failedBefore = value(before, 'dify_vault_source_runs_total', { source, outcome: 'failed' })!;
    const retriesBefore = value(before, 'dify_vault_dify_retries_total')!;

    // one conversation's messages fail on every attempt (DIFY_MAX_RETRIES=2, one request at a time)
    sim.addMessage(sim.conversations(app.id)[0].id);
    sim.injectFault({ path: new RegExp(`${app.id}/chat-messages$`), times: 3, fault: { kind: 'status', status: 503 } });
    const partial = await request(t.server).post(API).set(admin).send({ app_id: app.id, organization_id: 'acme' }).expect(200);
    expect(partial.body).toMatchObject({ success: false, failed_count: 1 });
    const afterPartial = await scrape();
    expect(value(afterPartial, 'dify_vault_source_runs_total', { source, outcome: 'partial' })).toBe(1);
    expect(value(afterPartial, 'dify_vault_conversations_total', { source, result: 'failed' })).toBe(1);
    expect(value(afterPartial, 'dify_vault_dify_requests_total', { status: '503' })).toBe(3);
    expect(value(afterPartial, 'dify_vault_dify_retries_total')).toBe(retriesBefore + 2);

    // Dify keeps failing: the whole run fails, and the last success stays where it was
    sim.injectFault({ path: new RegExp(`${app.id}/chat-conversations$`), fault: { kind: 'status', status: 502 } });
    try {
      const failed = await request(t.server).post(API).set(admin).send({ app_id: app.id, organization_id: 'acme' }).expect(200);
      expect(failed.body).toMatchObject({ success: false, saved_count: 0, unchanged_count: 0 });
    } finally {
      sim.clearFaults();
    }
    const afterFailure = await scrape();
    expect(value(afterFailure, 'dify_vault_source_runs_total', { source, outcome: 'failed' })).toBe(failedBefore + 1);
    expect(value(afterFailure, 'dify_vault_dify_requests_total', { status: '502' })).toBe(3);
    const lastRun = value(afterFailure, 'dify_vault_source_last_run_timestamp_seconds', { source })!;
    expect(lastRun).toBeGreaterThan(value(afterFailure, 'dify_vault_source_last_success_timestamp_seconds', { source })!);
  });

  it('counts exports by format, catalog rebuilds and retention', async () => {
    const before = await scrape();
    const rebuilds = value(before, 'dify_vault_catalog_rebuilds_total')!;
    expect(rebuilds).toBeGreaterThanOrEqual(1); // the empty LOGS_DIR's catalog was built at start

    const day = new Date().toISOString().slice(0, 10);
    const range = { action: 'export', start_date: '2000-01-01', end_date: day };
    await request(t.server).get(API).query({ ...range, format: 'ndjson' }).set(admin).expect(200);
    await request(t.server).get(API).query({ ...range, format: 'csv' }).set(admin).expect(200);
    await request(t.server).get(API).query({ ...range, format: 'csv' }).set(admin).expect(200);
    await request(t.server).post(`${API}/reindex`).set(admin).expect(200);
    // a dry run deletes nothing and is not counted
    await request(t.server).delete(API).query({ days_to_keep: 5, dry_run: true }).set(admin).expect(200);
    const clean = await request(t.server).delete(API).query({ days_to_keep: 5 }).set(admin).expect(200);
    expect(clean.body.deleted_files).toBe(2);

    const m = await scrape();
    expect(value(m, 'dify_vault_exports_total', { format: 'json' })).toBe(0);
    expect(value(m, 'dify_vault_exports_total', { format: 'ndjson' })).toBe(1);
    expect(value(m, 'dify_vault_exports_total', { format: 'csv' })).toBe(2);
    expect(value(m, 'dify_vault_catalog_rebuilds_total')).toBe(rebuilds + 1);
    expect(value(m, 'dify_vault_retention_runs_total')).toBe(1);
    expect(value(m, 'dify_vault_retention_deleted_files_total')).toBe(2);
    expect(value(m, 'dify_vault_archive_files')).toBe(6);
  });

  it('shows no secret in the metrics or the log', async () => {
    const res = await request(t.server).get('/metrics').set(admin).expect(200);
    const secrets = [ADMIN_TOKEN, METRICS_TOKEN, sim.adminApiKey!, sim.workspaceId];
    expect(findSecrets(secrets, t.logsDir, [res.text, t.logLines.join('\n')])).toEqual([]);
  });
});

describe(parsePrometheusText.name, () => {
  const valid = '# HELP x_total A counter\n# TYPE x_total counter\nx_total{a="q\\"uote\\\\",b="line\\nbreak"} 3\n';

  it('reads names, labels with escapes and values', () => {
    const m = parsePrometheusText(valid);
    expect(m.get('x_total')).toEqual({
      name: 'x_total',
      type: 'counter',
      help: 'A counter',
      samples: [{ name: 'x_total', labels: { a: 'q"uote\\', b: 'line\nbreak' }, value: 3 }],
    });
  });

  it.each([
    ['no final newline', 'x 1'],
    ['a bad metric name', '1x 1\n'],
    ['an unquoted label value', 'x{a=1} 1\n'],
    ['a bad escape', 'x{a="\\t"} 1\n'],
    ['a value that is no number', 'x one\n'],
    ['a duplicate series', 'x{a="1"} 1\nx{a="1"} 2\n'],
    ['TYPE after samples', 'x 1\n# TYPE x gauge\n'],
    ['a family in two places', 'x 1\ny 1\nx{a="2"} 1\n'],
    ['a negative counter', '# TYPE x counter\nx -1\n'],
    ['an unknown type', '# TYPE x meter\n'],
    [
      'buckets that are not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ['a +Inf bucket unlike _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
  ])('rejects %s', (_, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
