/** `node dist/cli.js migrate-catalog --to postgres`: the real CLI process filling a PostgreSQL catalog. */
import request from 'supertest';
import { JobsService } from '../../src/backup/jobs.service';
import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { ScheduledTasksService } from '../../src/scheduler/scheduled-tasks.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { buildService, runCliProcess } from '../hardening/process';
import { chatApp, consoleEnv, DAY, nowSeconds } from '../scheduler/scheduler-kit';
import { readArchive } from '../support/archive';
import { createDatabase, dropDatabase } from '../support/postgres';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

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
  const cli = (args: string[], env: Record<string, string>, dir = logsDir) =>
    runCliProcess(build.dir, ['migrate-catalog', ...args], { LOGS_DIR: dir, ENABLE_AUTO_LOGGING: 'false', ...env });
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

  it('copies the state too: the service on PostgreSQL shows the same jobs, resumes from the same checkpoints, skips the erased user, lists the same audit', async () => {
    const stateSim = await startSimulator({ generate: false });
    const stateDir = makeTempDir('vault-migrate-state-');
    const services: TestApp[] = [];
    try {
      const app = chatApp(stateSim);
      const now = nowSeconds();
      for (const ago of [3 * DAY, 2 * DAY, DAY]) stateSim.addConversation({ app_id: app.id, user: 'kept-user', created_at: now - ago, messages: 2 });
      stateSim.addConversation({ app_id: app.id, user: 'erased-user-9313', name: 'migrated erasure', created_at: now - 2 * DAY, messages: 2 });
      const env = consoleEnv(stateSim, app, { LOGS_DIR: stateDir, BACKFILL_FROM: '5d' });
      const onSqlite = await createTestApp(env);
      services.push(onSqlite);
      await onSqlite.app.get(ScheduledTasksService).runBackup();
      expect(onSqlite.app.get(JobsService).list()[0]).toMatchObject({ status: 'succeeded' });
      await request(onSqlite.server).delete('/api/end-users/erased-user-9313').expect(200);
      await request(onSqlite.server).delete('/api/end-users/lifted-user').expect(200);
      await request(onSqlite.server).delete('/api/erasures/lifted-user').expect(200);
      const read = async (t: TestApp) => ({
        jobs: (await request(t.server).get('/api/jobs').expect(200)).body,
        checkpoints: (await request(t.server).get('/api/sources').expect(200)).body.sources.map((s: Record<string, unknown>) => ({
          key: s.key,
          checkpoint: s.checkpoint,
          last_run_job_id: s.last_run_job_id,
          last_outcome: s.last_outcome,
        })),
        audit: (await request(t.server).get('/api/audit').expect(200)).body,
        summary: (await request(t.server).get('/api/conversation-logs').query({ action: 'summary' }).expect(200)).body,
      });
      const before = await read(onSqlite);
      expect(before.jobs.jobs ?? before.jobs).toHaveLength(1);
      expect(before.checkpoints).toEqual([expect.objectContaining({ checkpoint: expect.any(String), last_outcome: 'succeeded' })]);
      expect(before.audit.entries.map((e: { action: string }) => e.action)).toEqual(['lift-erasure', 'erase-end-user', 'erase-end-user']);
      await onSqlite.close();
      services.pop();

      const url = await database();
      const first = await cli(['--to', 'postgres'], { DATABASE_URL: url }, stateDir);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      for (const line of ['copied 3 conversations', 'job history: 1 copied, 0 already there', 'checkpoints: 1 copied, 0 already there', 'erasures: 1 copied, 0 already there', 'audit log: 3 copied, 0 already there', 'count check passed: PostgreSQL holds 3 conversations']) {
        expect(first.stdout).toContain(line);
      }
      const second = await cli(['--to', 'postgres'], { DATABASE_URL: url }, stateDir);
      expect(second.code).toBe(0);
      for (const line of ['job history: 0 copied, 1 already there', 'checkpoints: 0 copied, 1 already there', 'erasures: 0 copied, 1 already there', 'audit log: 0 copied, 3 already there', 'count check passed: PostgreSQL holds 3 conversations']) {
        expect(second.stdout).toContain(line);
      }
      expect(first.stdout + second.stdout).not.toContain(PASSWORD);

      const onPostgres = await createTestApp({ ...env, DATABASE_URL: url });
      services.push(onPostgres);
      expect(await read(onPostgres)).toEqual(before);

      // the next run starts from the migrated checkpoint, and still leaves the erased end user out
      stateSim.addConversation({ app_id: app.id, user: 'kept-user', name: 'after the move', created_at: nowSeconds(), messages: 1 });
      stateSim.addConversation({ app_id: app.id, user: 'erased-user-9313', name: 'migrated erasure again', created_at: nowSeconds(), messages: 1 });
      await onPostgres.app.get(ScheduledTasksService).runBackup();
      const [job] = onPostgres.app.get(JobsService).list();
      expect(job.id).not.toBe((before.jobs.jobs ?? before.jobs)[0].id);
      expect(job).toMatchObject({ status: 'succeeded', sources: [{ checkpoint_before: before.checkpoints[0].checkpoint, progress: { saved: 1, failed: 0 } }] });
      const names = readArchive(stateDir).map((f) => f.json.name);
      expect(names).toContain('after the move');
      expect(names.filter((n) => String(n).startsWith('migrated erasure'))).toEqual([]);
    } finally {
      for (const t of services) await t.close();
      await stateSim.close();
    }
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
