/** `node dist/cli.js migrate-catalog --to postgres`: the real CLI process filling a PostgreSQL catalog. */
import request from 'supertest';
import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { buildService, runCliProcess } from '../hardening/process';
import { createDatabase, dropDatabase } from '../support/postgres';
import { createTestApp, makeTempDir } from '../support/test-app';

jest.setTimeout(240_000);

const PASSWORD = 'cli-secret-51d0';

describe('migrate-catalog --to postgres', () => {
  let build: { dir: string; cleanup(): void };
  let sim: DifySimulator;
  let logsDir: string;
  let saved: number;
  const urls: string[] = [];
  const database = async () => {
    const url = (await createDatabase('migrate_catalog')).replace('postgres@', `postgres:${PASSWORD}@`);
    urls.push(url);
    return url;
  };
  const cli = (args: string[], env: Record<string, string>) =>
    runCliProcess(build.dir, ['migrate-catalog', ...args], { LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false', ...env });
  const catalogAt = async (url: string) => {
    const catalog = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    const state = await catalog.open();
    try {
      return { state, count: await catalog.count(), summary: await catalog.summary(), hits: (await catalog.search({}, null, null, 500)).map((r) => r.path).sort() };
    } finally {
      await catalog.close();
    }
  };

  beforeAll(async () => {
    build = buildService();
    sim = await startSimulator({ seed: 5 });
    logsDir = makeTempDir('vault-migrate-');
    const t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', LOGS_DIR: logsDir });
    const app = sim.apps.find((a) => a.mode === 'chat')!;
    const backup = await request(t.server)
      .post('/api/conversation-logs')
      .send({ app_id: app.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId });
    saved = backup.body.saved_count;
    expect(saved).toBeGreaterThan(20);
    await t.close();
  });
  afterAll(async () => {
    for (const url of urls) await dropDatabase(url);
    await sim?.close();
    build?.cleanup();
  });

  it('copies the SQLite catalog, checks the counts, and leaves a catalog the service opens as it is', async () => {
    const url = await database();
    const run = await cli(['--to', 'postgres'], { DATABASE_URL: url });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`copied ${saved} conversations`);
    expect(run.stdout).toContain(`count check passed: PostgreSQL holds ${saved} conversations`);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const copied = await catalogAt(url);
    expect(copied.state).toEqual({ needsRebuild: false, reason: null });
    expect(copied.count).toBe(saved);

    const rebuiltUrl = await database();
    const rebuild = await cli(['--to', 'postgres', '--rebuild'], { DATABASE_URL: rebuiltUrl });
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toContain(`rebuilt from the files: ${saved} conversations, 0 files skipped`);
    expect(rebuild.stdout).toContain(`count check passed: PostgreSQL holds ${saved} conversations`);
    const rebuilt = await catalogAt(rebuiltUrl);
    expect(rebuilt).toEqual(copied);
  });

  it('refuses a wrong target or a missing DATABASE_URL with the usage exit code', async () => {
    const wrong = await cli(['--to', 'mysql'], { DATABASE_URL: await database() });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--to postgres is the only target');
    const missing = await cli(['--to', 'postgres'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DATABASE_URL must be set');
  });

  it('fails without echoing the password when the database cannot be reached', async () => {
    const run = await cli(['--to', 'postgres'], { DATABASE_URL: `postgres://vault:${PASSWORD}@127.0.0.1:1/vault` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('postgres://vault:***@127.0.0.1:1/vault cannot be opened');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});
