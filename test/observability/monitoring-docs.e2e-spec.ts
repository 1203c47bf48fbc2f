import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';
import { MetricFamily, parsePrometheusText } from './prometheus-text';

const DOCS = path.join(__dirname, '..', '..', 'docs');

interface AlertRule {
  alert: string;
  expr: string;
  keys: string[];
}

/** The rules of docs/prometheus-alerts.yml: each `- alert:` item with its expr and the keys it sets. */
function readAlertRules(text: string): AlertRule[] {
  const rules: AlertRule[] = [];
  for (const line of text.split('\n')) {
    const start = /^\s+- alert: (\S+)$/.exec(line);
    if (start) {
      rules.push({ alert: start[1], expr: '', keys: ['alert'] });
      continue;
    }
    const key = /^\s+(expr|for|labels|severity|annotations|summary|description): ?(.*)$/.exec(line);
    const rule = rules[rules.length - 1];
    if (!key || !rule) continue;
    rule.keys.push(key[1]);
    if (key[1] === 'expr') rule.expr = key[2];
  }
  return rules;
}

/** The vault metrics an expression reads, as family names (`x_bucket` of a histogram is `x`). */
function metricsIn(expr: string, families: Map<string, MetricFamily>): string[] {
  return [...expr.matchAll(/\bdify_vault_[a-z_]+/g)].map(([name]) => {
    if (families.has(name)) return name;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return families.get(base)?.type === 'histogram' ? base : name;
  });
}

describe('docs/grafana-dashboard.json and docs/prometheus-alerts.yml', () => {
  let t: TestApp;
  let families: Map<string, MetricFamily>;
  beforeAll(async () => {
    t = await createTestApp();
    families = parsePrometheusText((await request(t.server).get('/metrics').expect(200)).text);
  });
  afterAll(() => t.close());

  it('alerts on a stale source and on failed runs, over metrics the service exports', () => {
    const rules = readAlertRules(fs.readFileSync(path.join(DOCS, 'prometheus-alerts.yml'), 'utf8'));
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['DifyVaultSourceStale', 'DifyVaultSourceLastSuccessOld', 'DifyVaultBackupRunFailed']),
    );
    for (const rule of rules) {
      expect({ alert: rule.alert, keys: rule.keys }).toEqual({ alert: rule.alert, keys: expect.arrayContaining(['expr', 'severity', 'summary']) });
      for (const name of metricsIn(rule.expr, families)) expect({ alert: rule.alert, name, known: families.has(name) }).toMatchObject({ known: true });
    }
    expect(rules.find((r) => r.alert === 'DifyVaultSourceStale')!.expr).toContain('dify_vault_source_stale');
    expect(rules.find((r) => r.alert === 'DifyVaultBackupRunFailed')!.expr).toContain('dify_vault_source_runs_total{outcome=~"failed|partial"}');
  });

  it('alerts on an off-site copy that is old, and on one that never succeeded (its timestamp absent, its pending gauge there)', async () => {
    const rules = readAlertRules(fs.readFileSync(path.join(DOCS, 'prometheus-alerts.yml'), 'utf8')).filter((r) => r.alert === 'DifyVaultOffsiteCopyOld');
    expect(rules.map((r) => r.expr)).toEqual([
      'time() - max by (instance, target) (dify_vault_replication_last_success_timestamp_seconds) > 48 * 3600',
      'max by (instance, target) (dify_vault_replication_pending_files) unless on (instance, target) max by (instance, target) (dify_vault_replication_last_success_timestamp_seconds)',
    ]);
    expect(rules[1].keys).toContain('for');
    // a replica bucket never copied to (nothing contacts it to answer /metrics): the pending gauge has a sample, the timestamp none
    const replica = await createTestApp({
      REPLICATE_S3_ENDPOINT: 'http://127.0.0.1:9',
      REPLICATE_S3_BUCKET_NAME: 'offsite',
      REPLICATE_S3_ACCESS_KEY: 'replica-access',
      REPLICATE_S3_SECRET_KEY: 'replica-secret',
    });
    try {
      const text = (await request(replica.server).get('/metrics').expect(200)).text;
      const samples = text.split('\n').filter((l) => l.startsWith('dify_vault_replication_'));
      expect(samples).toEqual(['dify_vault_replication_pending_files{target="s3://offsite/"} 0']);
    } finally {
      await replica.close();
    }
  });

  it('has a Grafana dashboard whose every panel queries metrics the service exports, covering all of them', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(DOCS, 'grafana-dashboard.json'), 'utf8'));
    expect(dashboard).toMatchObject({ title: 'Dify Log Vault', uid: 'dify-log-vault' });
    const panels = (dashboard.panels as { id: number; type: string; title: string; targets?: { expr: string }[] }[]).filter((p) => p.type !== 'row');
    expect(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size).toBe(dashboard.panels.length);
    const used = new Set<string>();
    for (const panel of panels) {
      expect({ panel: panel.title, targets: panel.targets?.length ?? 0 }).toEqual({ panel: panel.title, targets: expect.any(Number) });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        for (const name of metricsIn(expr, families)) {
          expect({ panel: panel.title, name, known: families.has(name) }).toMatchObject({ known: true });
          used.add(name);
        }
      }
    }
    const exported = [...families.keys()].filter((n) => n.startsWith('dify_vault_') && n !== 'dify_vault_build_info' && n !== 'dify_vault_source_stale_threshold_hours');
    expect(exported.filter((n) => !used.has(n))).toEqual([]);
    const variables = (dashboard.templating.list as { name: string }[]).map((v) => v.name);
    expect(variables).toEqual(['datasource', 'instance', 'source']);
  });
});
