import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { AppConfig } from '../../src/config/app-config';
import * as nodePath from 'node:path';
import { CATALOG } from '../../src/log-storage/catalog';
import { CATALOG_FILE } from '../../src/log-storage/sqlite/catalog-schema';
import { SqliteCatalog } from '../../src/log-storage/sqlite/sqlite-catalog';
import type { ArchiveFilter } from '../../src/log-storage/log-storage.types';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { findSecrets } from '../support/archive';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { writeCheckpoint } from '../scheduler/scheduler-kit';
import { parsePrometheusText, sampleValue } from './prometheus-text';

const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const ADMIN_TOKEN = 'admin-token-for-readiness-89';

/** The real catalog, except that while `broken` every query fails as a corrupt database file does. */
class BrokenCatalog extends SqliteCatalog {
  broken = false;
  override async count(filter: ArchiveFilter = {}): Promise<number> {
    if (this.broken) throw Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' });
    return super.count(filter);
  }
}

describe('GET /health and GET /health/ready', () => {
  describe('a healthy service with ADMIN_TOKEN set', () => {
    let t: TestApp;
    let catalog: BrokenCatalog;
    beforeAll(async () => {
      t = await createTestApp({ ADMIN_TOKEN }, (b) =>
        b.overrideProvider(CATALOG).useFactory({ factory: (c: AppConfig) => new BrokenCatalog(nodePath.join(nodePath.resolve(c.logsDir), CATALOG_FILE)), inject: [AppConfig] }),
      );
      catalog = t.app.get(CATALOG);
    });
    afterAll(() => t.close());

    it('answers liveness without a token, with the version', async () => {
      await request(t.server).get('/health').expect(200, { status: 'ok', version: VERSION });
    });

    it('answers readiness without a token: 200 with every check up', async () => {
      const res = await request(t.server).get('/health/ready').expect(200);
      expect(res.body).toEqual({
        status: 'ok',
        version: VERSION,
        info: res.body.details,
        error: {},
        details: {
          catalog: { status: 'up', conversations: 0 },
          archive: { status: 'up', storage: 'fs' },
          logs_dir: { status: 'up', writable: true },
          disk: { status: 'up', free_mb: expect.any(Number), min_free_mb: 512 },
          sources: { status: 'up', sources: 0, stale: [], stale_after_hours: 36 },
        },
      });
      expect(res.body.details.disk.free_mb).toBeGreaterThanOrEqual(512);
      // the probe leaves nothing behind
      expect(fs.readdirSync(path.join(t.logsDir, 'state')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('is 503 while the catalog does not answer, and ready again once it does', async () => {
      catalog.broken = true;
      try {
        const res = await request(t.server).get('/health/ready').expect(503);
        expect(res.body.status).toBe('error');
        expect(res.body.version).toBe(VERSION);
        expect(res.body.error).toEqual({ catalog: { status: 'down', message: 'the catalog does not answer (SQLITE_CORRUPT)' } });
        expect(Object.keys(res.body.info).sort()).toEqual(['archive', 'disk', 'logs_dir', 'sources']);
      } finally {
        catalog.broken = false;
      }
      await request(t.server).get('/health/ready').expect(200);
    });

    it('is 503 while LOGS_DIR/state cannot be written', async () => {
      const state = path.join(t.logsDir, 'state');
      const kept = path.join(t.logsDir, 'state-kept');
      fs.renameSync(state, kept);
      fs.writeFileSync(state, 'not a directory');
      try {
        const res = await request(t.server).get('/health/ready').expect(503);
        expect(res.body.error).toEqual({
          logs_dir: { status: 'down', writable: false, message: expect.stringMatching(/^LOGS_DIR is not writable \((EEXIST|ENOTDIR)\)$/) },
        });
        expect(res.body.details.catalog.status).toBe('up');
      } finally {
        fs.rmSync(state);
        fs.renameSync(kept, state);
      }
      await request(t.server).get('/health/ready').expect(200);
    });

    it('keeps /metrics behind the token', async () => {
      await request(t.server).get('/metrics').expect(401);
    });
  });

  it('is 503 when the LOGS_DIR file system has less free space than MIN_FREE_DISK_MB', async () => {
    const t = await createTestApp({ MIN_FREE_DISK_MB: '100000000' });
    try {
      const res = await request(t.server).get('/health/ready').expect(503);
      expect(res.body.error).toEqual({
        disk: {
          status: 'down',
          free_mb: expect.any(Number),
          min_free_mb: 100000000,
          message: 'less than MIN_FREE_DISK_MB (100000000 MB) free on the LOGS_DIR file system',
        },
      });
      // liveness stays cheap and green
      await request(t.server).get('/health').expect(200);
    } finally {
      await t.close();
    }
  });

  it('refuses a MIN_FREE_DISK_MB that is not a whole number, naming it', async () => {
    await expect(createTestApp({ MIN_FREE_DISK_MB: 'lots' })).rejects.toThrow(/MIN_FREE_DISK_MB/);
  });

  describe('sources', () => {
    let sim: DifySimulator;
    let t: TestApp;
    let appId: string;

    beforeAll(async () => {
      sim = await startSimulator({ generate: false });
      appId = sim.apps.find((a) => a.mode === 'chat')!.id;
      const dir = makeTempDir();
      const appsFile = path.join(dir, 'apps.json');
      const viaConsole = { app_id: appId, console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId };
      fs.writeFileSync(appsFile, JSON.stringify([{ ...viaConsole, organization_id: 'acme' }, { ...viaConsole, organization_id: 'fresh' }]));
      const logsDir = makeTempDir();
      // acme's last success was three days ago; fresh has never run
      writeCheckpoint(logsDir, appId, 'acme', new Date(Date.now() - 72 * 3_600_000).toISOString());
      t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: appsFile, LOGS_DIR: logsDir });
    });
    afterAll(async () => {
      await t?.close();
      fs.rmSync(t.logsDir, { recursive: true, force: true });
      await sim?.close();
    });

    it('is 503 naming the source whose last success is older than ALERT_STALE_HOURS, and nothing secret', async () => {
      const res = await request(t.server).get('/health/ready').expect(503);
      expect(res.body.error).toEqual({
        sources: {
          status: 'down',
          sources: 2,
          stale: [`acme/${appId}`],
          stale_after_hours: 36,
          message: '1 of 2 sources have had no successful backup for 36 h',
        },
      });
      expect(findSecrets([sim.adminApiKey!, sim.workspaceId], t.logsDir, [res.text, t.logLines.join('\n')])).toEqual([]);
      expect(res.text).not.toContain(new URL(sim.consoleApiUrl).host);
    });

    it('shows the same staleness and last success in the metrics (open: no token is set)', async () => {
      const res = await request(t.server).get('/metrics').expect(200);
      const m = parsePrometheusText(res.text);
      expect(sampleValue(m, 'dify_vault_source_stale', { source: `acme/${appId}` })).toBe(1);
      expect(sampleValue(m, 'dify_vault_source_stale', { source: `fresh/${appId}` })).toBe(0);
      expect(sampleValue(m, 'dify_vault_source_stale_threshold_hours')).toBe(36);
      const lastSuccess = sampleValue(m, 'dify_vault_source_last_success_timestamp_seconds', { source: `acme/${appId}` })!;
      expect(Date.now() / 1000 - lastSuccess).toBeGreaterThan(36 * 3600);
      expect(sampleValue(m, 'dify_vault_source_last_success_timestamp_seconds', { source: `fresh/${appId}` })).toBeUndefined();
    });

    it('is ready again once the stale source has a successful run', async () => {
      await request(t.server).post('/api/conversation-logs').send({ app_id: appId, organization_id: 'acme' }).expect(200);
      const res = await request(t.server).get('/health/ready').expect(200);
      expect(res.body.details.sources).toEqual({ status: 'up', sources: 2, stale: [], stale_after_hours: 36 });
    });
  });
});
