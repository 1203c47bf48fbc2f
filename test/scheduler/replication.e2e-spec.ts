/** REPLICATE_CRON: the scheduled off-site copy into a real S3 bucket (Ceph RADOS Gateway on loopback), its status and its alert. */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SchedulerRegistry } from '@nestjs/schedule';
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAllFiles } from '../support/archive';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { conversation } from '../archive/archive-fixtures';
import { createDatabase, dropDatabase } from '../support/postgres';
import { listKeys, s3ReplicaEnv } from '../support/s3-bucket';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { chatApp, consoleEnv, DAY, importWithEnvironment, nowSeconds, startReceiver } from './scheduler-kit';

jest.setTimeout(300_000);

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Scheduled off-site copy (REPLICATE_CRON)', () => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp | undefined;
  /** LOGS_DIRs of the test under way, removed after it whatever its outcome */
  let dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = makeTempDir(prefix);
    dirs.push(dir);
    return dir;
  };

  const replicaEnv = (extra: Record<string, string> = {}) => s3ReplicaEnv(s3, bucket, { REPLICATE_S3_PREFIX: 'offsite', ...extra });
  const bucketKeys = (prefix = 'offsite/'): Promise<string[]> => listKeys(client, bucket, prefix);
  /** What a copy holds: the conversation files and the app configuration snapshots, as keys relative to LOGS_DIR. */
  const archived = (logsDir: string) =>
    ['conversations', 'apps']
      .flatMap((folder) => (fs.existsSync(path.join(logsDir, folder)) ? listAllFiles(path.join(logsDir, folder)) : []))
      .map((f) => path.relative(logsDir, f).split(path.sep).join('/'))
      .sort();
  const status = async (server = t!.server) => (await request(server).get('/api/replication').expect(200)).body;
  const metric = (text: string, name: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'replicate-cron');
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });
  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    const now = nowSeconds();
    for (let i = 0; i < 4; i++) sim.addConversation({ app_id: app.id, created_at: now - DAY + i * 600 });
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await sim.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    dirs = [];
  });

  it('copies the archive on its schedule as a replication job; the status, the metrics and the overview say what is copied and what is not yet, across a restart', async () => {
    const logsDir = tempDir('vault-replicate-cron-');
    // no schedule first: back up, and see everything pending
    t = await createTestApp({ ...consoleEnv(sim, app, { BACKFILL_FROM: '2d' }), ...replicaEnv(), LOGS_DIR: logsDir });
    expect(await status()).toEqual({
      configured: true,
      target: `s3://${bucket}/offsite/`,
      schedule: null,
      running_job_id: null,
      last_success: null,
      last_run: null,
      pending_files: 0,
    });
    await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    expect((await status()).pending_files).toBe(4);
    await t.close();

    // every second: the next tick copies the four files
    const env = { ...consoleEnv(sim, app, { BACKFILL_FROM: '2d' }), ...replicaEnv({ REPLICATE_CRON: '* * * * * *' }), ENABLE_AUTO_LOGGING: 'true', BACKUP_CRON: '0 0 1 1 *', LOGS_DIR: logsDir };
    const loaded = importWithEnvironment(env);
    t = await loaded.createTestApp(env);
    expect(t.app.get(loaded.SchedulerRegistry).getCronJob('replication').cronTime.source).toBe('* * * * * *');
    await until('a successful copy', async () => (await status()).last_success);
    const copies = (await request(t.server).get('/api/jobs').expect(200)).body.jobs.filter((j: { kind: string; status: string }) => j.kind === 'replication' && j.status === 'succeeded');
    const first = copies[copies.length - 1];
    const local = archived(logsDir);
    expect(local.filter((k) => k.startsWith('conversations/'))).toHaveLength(4);
    expect(first).toMatchObject({
      trigger: 'scheduled',
      sources: [],
      replication: { target: `s3://${bucket}/offsite/`, checked: local.length, copied: local.length, unchanged: 0, deleted: 0, extra: 0, error: null },
    });
    expect(first.replication.copied_bytes).toBeGreaterThan(0);
    // later ticks copy nothing new
    for (const later of copies.slice(0, -1)) expect(later.replication).toMatchObject({ checked: local.length, copied: 0, unchanged: local.length });
    expect(await bucketKeys()).toEqual(local.map((k) => `offsite/${k}`));
    for (const key of local) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `offsite/${key}` }));
      expect(Buffer.from(await object.Body!.transformToByteArray())).toEqual(fs.readFileSync(path.join(logsDir, key)));
    }
    const copied = (await status()).last_success;
    expect(await status()).toMatchObject({ schedule: '* * * * * *', pending_files: 0, last_run: { error: null } });

    const schedule = (await request(t.server).get('/api/schedule').expect(200)).body;
    expect(schedule.tasks.find((x: { name: string }) => x.name === 'replication')).toMatchObject({ expression: '* * * * * *' });

    const metrics = (await request(t.server).get('/metrics').expect(200)).text;
    expect(metric(metrics, 'dify_vault_replication_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(Date.parse(copied.finished_at) / 1000 - 1);
    expect(metric(metrics, 'dify_vault_replication_pending_files')).toBe(0);
    expect(metric(metrics, 'dify_vault_replication_last_copied_files')).toBeDefined();

    expect(metrics).toContain(`dify_vault_replication_pending_files{target="s3://${bucket}/offsite/"} 0`);
    const overview = (await request(t.server).get('/admin').expect(200)).text;
    expect(overview).toContain('Off-site copy');
    expect(overview).toContain(`s3://${bucket}/offsite/`);
    expect(overview).toMatch(/data-role="replication-pending" data-pending="0">0 conversation files</);
    expect(overview).not.toContain(s3.secretAccessKey);
    expect(t.logLines.join('\n')).not.toContain(s3.secretAccessKey);
    await t.close();

    // restarted without a schedule: the status is read back; a new conversation, and one rewritten with a new
    // message (twice: counted once), are pending until copied on demand
    sim.addConversation({ app_id: app.id, created_at: nowSeconds() - 60 });
    const [rewritten] = sim.conversations(app.id);
    t = await createTestApp({ ...consoleEnv(sim, app, { BACKFILL_FROM: '2d' }), ...replicaEnv(), LOGS_DIR: logsDir });
    const after = await status();
    expect(after.last_success.finished_at >= copied.finished_at).toBe(true);
    expect((await request(t.server).get(`/api/jobs/${after.last_success.job_id}`).expect(200)).body).toMatchObject({ kind: 'replication', status: 'succeeded' });
    expect(after).toMatchObject({ schedule: null, pending_files: 0 });
    await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    expect((await status()).pending_files).toBe(1);
    for (let i = 0; i < 2; i++) {
      sim.addMessage(rewritten.id, nowSeconds() - 30 + i);
      await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
    }
    expect((await status()).pending_files).toBe(2);
    const accepted = (await request(t.server).post('/api/replication').expect(202)).body;
    expect(accepted).toMatchObject({ status: 'running', status_url: `/api/jobs/${accepted.job_id}` });
    const done = await until('the copy on demand', async () => {
      const s = await status();
      return s.last_success?.job_id === accepted.job_id ? s : null;
    });
    expect(done).toMatchObject({ pending_files: 0, last_success: { copied: archived(logsDir).length - local.length + 1, checked: archived(logsDir).length } });
    expect(archived(logsDir).filter((k) => k.startsWith('conversations/'))).toHaveLength(5);

    // never two copies at once, and none while a backup runs
    const both = await Promise.all([request(t.server).post('/api/replication'), request(t.server).post('/api/replication')]);
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const started = both.find((r) => r.status === 202)!.body.job_id;
    expect(both.find((r) => r.status === 409)!.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: `replication job ${started} is under way; try again when it has finished`,
      field: 'replication',
      job_id: started,
    });
    await until('the second copy', async () => (await status()).last_success?.job_id === started);
    // the refused copy is in the history as skipped, not as a run
    const replicationJobs = (await request(t.server).get('/api/jobs').expect(200)).body.jobs.filter((j: { kind: string }) => j.kind === 'replication');
    expect(replicationJobs.filter((j: { status: string }) => j.status === 'skipped')).toHaveLength(1);
    expect((await status()).last_run).toMatchObject({ job_id: started, status: 'succeeded' });
    sim.setLatency(400);
    const backup = await request(t.server).post('/api/conversation-logs?async=true').send({ app_id: app.id }).expect(202);
    const refused = await request(t.server).post('/api/replication').expect(409);
    expect(refused.body).toMatchObject({ message: `backup job ${backup.body.job_id} is running; try again when it has finished`, job_id: backup.body.job_id });
    sim.setLatency(0);
    await until('the backup to end', async () => (await request(t!.server).get(`/api/jobs/${backup.body.job_id}`)).body.status !== 'running');
  });

  it('records a failed copy as a failed job and alerts, naming no secret', async () => {
    const receiver = await startReceiver();
    try {
      const env = {
        ...replicaEnv({ REPLICATE_S3_BUCKET_NAME: 'no-such-bucket-for-the-vault', REPLICATE_CRON: '* * * * * *' }),
        ENABLE_AUTO_LOGGING: 'true',
        ALERT_WEBHOOK_URL: receiver.url,
      };
      const loaded = importWithEnvironment(env);
      t = await loaded.createTestApp(env);
      const alert = await receiver.waitFor((r) => r.body?.event === 'replication_failed');
      expect(alert.body).toMatchObject({ event: 'replication_failed', job_id: expect.any(String), details: { target: 's3://no-such-bucket-for-the-vault/offsite/' } });
      expect(alert.body.text).toMatch(/^Off-site copy to s3:\/\/no-such-bucket-for-the-vault\/offsite\/ failed: /);
      const failed = await until('the failed job in the status', async () => (await status()).last_run);
      expect(failed).toMatchObject({ status: 'failed', error: expect.any(String) });
      expect((await status()).last_success).toBeNull();
      const job = (await request(t.server).get(`/api/jobs/${alert.body.job_id}`).expect(200)).body;
      expect(job).toMatchObject({ kind: 'replication', status: 'failed', trigger: 'scheduled' });
      const overview = (await request(t.server).get('/admin').expect(200)).text;
      expect(overview).toContain('data-role="replication-error"');
      const metrics = (await request(t.server).get('/metrics').expect(200)).text;
      expect(metric(metrics, 'dify_vault_replication_last_success_timestamp_seconds')).toBeUndefined();
      for (const text of [alert.text, JSON.stringify(job), overview, t.logLines.join('\n')]) {
        expect(text).not.toContain(s3.secretAccessKey);
        expect(text).not.toContain(s3.accessKeyId);
      }
    } finally {
      await receiver.close();
    }
  });

  it('registers no copy with ENABLE_AUTO_LOGGING=false, and answers 409 to a copy without a bucket', async () => {
    const env = { ...replicaEnv({ REPLICATE_CRON: '* * * * * *' }), ENABLE_AUTO_LOGGING: 'false' };
    const loaded = importWithEnvironment(env);
    t = await loaded.createTestApp(env);
    expect([...t.app.get(loaded.SchedulerRegistry).getCronJobs().keys()]).toEqual([]);
    await t.close();

    t = await createTestApp({});
    expect(await status()).toMatchObject({ configured: false, target: null, pending_files: null });
    const refused = await request(t.server).post('/api/replication').expect(409);
    expect(refused.body).toMatchObject({ field: 'REPLICATE_S3_BUCKET_NAME', message: 'no replica bucket is configured: set REPLICATE_S3_BUCKET_NAME (or S3_BUCKET_NAME with ARCHIVE_STORAGE=fs)' });
    const metrics = (await request(t.server).get('/metrics').expect(200)).text;
    expect(metric(metrics, 'dify_vault_replication_pending_files')).toBeUndefined();
    expect((await request(t.server).get('/admin').expect(200)).text).not.toContain('Off-site copy');
  });

  it('keeps the status in PostgreSQL with DATABASE_URL: another replica on another LOGS_DIR reads it', async () => {
    const url = await createDatabase('replication');
    const first = tempDir('vault-replicate-pg-a-');
    const second = tempDir('vault-replicate-pg-b-');
    try {
      t = await createTestApp({ ...consoleEnv(sim, app, { BACKFILL_FROM: '2d' }), ...replicaEnv({ REPLICATE_S3_PREFIX: 'pg-offsite' }), DATABASE_URL: url, LOGS_DIR: first });
      await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
      expect((await status()).pending_files).toBe(4);
      const accepted = (await request(t.server).post('/api/replication').expect(202)).body;
      const done = await until('the copy', async () => {
        const s = await status();
        return s.last_success?.job_id === accepted.job_id ? s : null;
      });
      const copiedFiles = archived(first).length;
      expect(copiedFiles).toBeGreaterThanOrEqual(4);
      expect(done).toMatchObject({ target: `s3://${bucket}/pg-offsite/`, pending_files: 0, last_success: { copied: copiedFiles, checked: copiedFiles } });
      await t.close();

      t = await createTestApp({ ...replicaEnv({ REPLICATE_S3_PREFIX: 'pg-offsite' }), DATABASE_URL: url, LOGS_DIR: second });
      expect(await status()).toMatchObject({ last_success: done.last_success, last_run: { job_id: accepted.job_id, status: 'succeeded' }, pending_files: 0 });
      expect(fs.existsSync(path.join(second, 'state', 'jobs.json'))).toBe(false);
    } finally {
      await t?.close();
      t = undefined;
      await dropDatabase(url);
    }
  });

  it('stops a copy under way at shutdown, recorded as interrupted; the next copy copies the rest', async () => {
    const COUNT = 200;
    const logsDir = makeTempDir('vault-replicate-stop-');
    const env = { ...replicaEnv({ REPLICATE_S3_PREFIX: 'stopped' }), REPLICATE_CONCURRENCY: '1', LOGS_DIR: logsDir };
    try {
      t = await createTestApp(env);
      const storage = t.app.get(LogStorageService);
      for (let i = 0; i < COUNT; i++) {
        await storage.saveConversation(conversation({ created_at: new Date(Date.UTC(2024, 0, 1 + (i % 28), 9, 0, i % 60)).toISOString() }));
      }
      const accepted = (await request(t.server).post('/api/replication').expect(202)).body;
      await t.close();

      t = await createTestApp(env);
      const stopped = await status();
      expect(stopped).toMatchObject({ last_success: null, last_run: { job_id: accepted.job_id, status: 'interrupted' }, pending_files: COUNT });
      const job = (await request(t.server).get(`/api/jobs/${accepted.job_id}`).expect(200)).body;
      expect(job).toMatchObject({ kind: 'replication', status: 'interrupted' });
      expect(job.resume ?? null).toBeNull();
      expect(job.replication.checked).toBeLessThan(COUNT);

      const again = (await request(t.server).post('/api/replication').expect(202)).body;
      const done = await until('the next copy', async () => {
        const s = await status();
        return s.last_success?.job_id === again.job_id ? s : null;
      });
      expect(done).toMatchObject({ pending_files: 0, last_success: { checked: COUNT, copied: COUNT - job.replication.copied } });
      expect(await bucketKeys(`stopped/`)).toHaveLength(COUNT);
    } finally {
      await t?.close();
      t = undefined;
      fs.rmSync(logsDir, { recursive: true, force: true });
    }
  });
});
