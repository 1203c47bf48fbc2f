import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { AlertsService } from '../../src/backup/alerts.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { findSecrets } from '../support/archive';
import { makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, DAY, nowSeconds, startApp, startReceiver } from './scheduler-kit';

describe('Sources and alerts', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp | undefined;
  let secrets: string[];

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    const now = nowSeconds();
    for (let i = 0; i < 3; i++) sim.addConversation({ app_id: app.id, created_at: now - DAY + i * 60, user: `user-${i}` });
    secrets = [sim.adminApiKey!, sim.account.password, sim.account.email, app.apiKey, 'wrong-admin-key-123'];
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await sim.close();
  });

  function appsFile(dir: string): string {
    const file = path.join(dir, 'apps.json');
    fs.writeFileSync(
      file,
      JSON.stringify([
        { app_id: app.id, organization_id: 'acme', name: 'Support bot', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId },
        { app_id: app.id, organization_id: 'login', console_api_url: sim.consoleApiUrl, email: sim.account.email, password: sim.account.password },
        { app_id: app.id, organization_id: 'svc', dify_api_url: `${sim.serviceApiUrl}`, api_key: app.apiKey, users: ['user-0'] },
        { app_id: app.id, organization_id: 'bad', console_api_url: sim.consoleApiUrl, admin_api_key: 'wrong-admin-key-123', workspace_id: sim.workspaceId },
      ]),
    );
    return file;
  }

  it('GET /api/sources shows every source without a secret; the test endpoint says clearly what happened', async () => {
    const dir = makeTempDir();
    t = await startApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: appsFile(dir), ENABLE_AUTO_LOGGING: 'true', DIFY_MAX_RETRIES: '0' });
    await request(t.server).post('/api/conversation-logs/scheduled').send({ apps: [{ app_id: app.id, organization_id: 'acme' }] }).expect(200);

    const res = await request(t.server).get('/api/sources').expect(200);
    const host = new URL(sim.url).host;
    expect(res.body.sources.map((s: Record<string, unknown>) => [s.organization_id, s.access_mode, s.hosts])).toEqual([
      ['acme', 'console-admin', [host]],
      ['login', 'console-login', [host]],
      ['svc', 'service', [host]],
      ['bad', 'console-admin', [host]],
    ]);
    const acme = res.body.sources[0];
    expect(acme).toMatchObject({ app_id: app.id, name: 'Support bot', last_outcome: 'succeeded', coverage: { complete: true }, running: false });
    expect(acme.checkpoint).not.toBeNull();
    expect(new Date(acme.next_run).getUTCHours()).toBe(2);
    expect(Object.keys(acme).sort()).toEqual(
      ['access_mode', 'app_id', 'checkpoint', 'config_snapshot_at', 'config_snapshots', 'coverage', 'hosts', 'last_outcome', 'last_run_at', 'last_run_job_id', 'last_success_at', 'name', 'next_run', 'organization_id', 'running', 'workspace'].sort(),
    );
    // the console source's app configuration was snapshotted by its run; the others never ran
    expect(acme).toMatchObject({ config_snapshots: 1, config_snapshot_at: expect.any(String) });
    expect(res.body.sources.slice(1).map((s: { config_snapshots: number }) => s.config_snapshots)).toEqual([0, 0, 0]);

    const ok = await request(t.server).post(`/api/sources/${app.id}/test?organization_id=login`).expect(200);
    expect(ok.body).toMatchObject({ ok: true, access_mode: 'console-login', app: { id: app.id, mode: 'chat' } });
    const refused = await request(t.server).post(`/api/sources/${app.id}/test?organization_id=bad`).expect(200);
    expect(refused.body).toMatchObject({ ok: false, organization_id: 'bad', error_kind: 'DifyAuthError' });
    const missing = await request(t.server).post('/api/sources/no-such-app/test').expect(404);
    expect(missing.body).toMatchObject({ message: 'no configured source has app_id no-such-app', field: 'app_id' });

    const jobs = await request(t.server).get('/api/jobs').expect(200);
    expect(findSecrets(secrets, path.join(t.logsDir, 'state'), [JSON.stringify(res.body), JSON.stringify(jobs.body), JSON.stringify(refused.body), ...t.logLines])).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('posts a failure alert to the webhook, retrying a refused delivery, with no secret and no query string', async () => {
    const receiver = await startReceiver([500]);
    try {
      t = await startApp(consoleEnv(sim, app, { ALERT_WEBHOOK_URL: receiver.url, BACKFILL_FROM: '2d' }));
      t.app.get(AlertsService).retryDelaysMs = [10, 10];
      sim.injectFault({ path: /\/chat-messages$/, fault: { kind: 'status', status: 500 } });
      const res = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
      expect(res.body.status).toBe('failed');

      await receiver.waitFor((r) => r.body?.event === 'backup_failed');
      const deliveries = receiver.received.filter((r) => r.body.event === 'backup_failed');
      await t.app.get(AlertsService).flush();
      expect(receiver.received.filter((r) => r.body.event === 'backup_failed')).toHaveLength(2);
      const alert = deliveries[0];
      expect(alert.path).toBe('/hooks/vault?token=hook-secret-token');
      expect(alert.headers['content-type']).toContain('application/json');
      expect(Object.keys(alert.body).sort()).toEqual(['app_id', 'details', 'event', 'job_id', 'organization_id', 'text']);
      expect(alert.body).toMatchObject({ event: 'backup_failed', app_id: app.id, organization_id: 'acme', job_id: res.body.job_id });
      expect(alert.body.text).toContain(`backup of acme/${app.id} failed`);
      expect(alert.body.details.failed_conversations).toHaveLength(3);
      expect(alert.text).not.toMatch(/https?:\/\/[^\s"]*\?/);
      expect(findSecrets([...secrets, 'hook-secret-token'], path.join(t.logsDir, 'state'), [alert.text, ...t.logLines])).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('alerts when Dify rejects the credentials', async () => {
    const receiver = await startReceiver();
    try {
      t = await startApp(consoleEnv(sim, app, { ALERT_WEBHOOK_URL: receiver.url, DIFY_ADMIN_API_KEY: 'wrong-admin-key-123' }));
      const res = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
      expect(res.body).toMatchObject({ status: 'failed', results: [{ status: 'failed', success: false }] });
      const alert = await receiver.waitFor((r) => r.body?.event === 'credentials_rejected');
      expect(alert.body).toMatchObject({ app_id: app.id, job_id: res.body.job_id, details: { access_mode: 'console-admin' } });
      expect(receiver.received.some((r) => r.body.event === 'backup_failed')).toBe(false);
      expect(findSecrets(secrets, t.logsDir, [alert.text])).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
