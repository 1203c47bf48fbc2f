/** The service with ARCHIVE_STORAGE=s3 against a real S3 server on loopback: the archive lives in the bucket. */
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { AlertsService } from '../../src/backup/alerts.service';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { countKeys, listKeys, s3ArchiveEnv } from '../support/s3-bucket';
import { startS3FaultProxy, S3FaultProxy } from '../support/s3-fault-proxy';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

jest.setTimeout(180_000);

const PREFIX = 'vault/';
const ALL_DAYS = { start_date: '2000-01-01', end_date: '2099-12-31' };

describe('the service with ARCHIVE_STORAGE=s3', () => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let sim: DifySimulator;
  let chat: SimulatedApp;
  let logsDir: string;
  let t: TestApp;
  const env = (overrides: Record<string, string> = {}) => ({
    DIFY_ALLOWED_HOSTS: '127.0.0.1',
    LOGS_DIR: logsDir,
    ...s3ArchiveEnv(s3, bucket, { S3_PREFIX: PREFIX }),
    ...overrides,
  });
  const objectKeys = (): Promise<string[]> => listKeys(client, bucket, PREFIX);
  const conversationKeys = async () => (await objectKeys()).filter((k) => k.startsWith(`${PREFIX}conversations/`));
  const backup = (app: SimulatedApp, body: Record<string, unknown>) => request(t.server).post('/api/conversation-logs').send({ app_id: app.id, organization_id: 'acme', ...body });

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'service-archive');
    sim = await startSimulator({ seed: 29 });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    logsDir = makeTempDir('vault-s3-');
    t = await createTestApp(env());
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  it('backs up into the bucket, one object per conversation, and a second run changes nothing', async () => {
    const first = await backup(chat, { console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId }).expect(200);
    const total = sim.conversations(chat.id).length;
    expect(first.body).toMatchObject({ success: true, saved_count: total });
    const keys = await conversationKeys();
    expect(keys).toHaveLength(total);
    for (const key of keys) expect(key).toMatch(/^vault\/conversations\/acme\/\d{4}\/\d{2}\/\d{2}\/conversation_[0-9a-f-]{36}_[0-9TZ-]+\.json$/);
    // nothing of the archive on the local disk: LOGS_DIR holds the catalog and the state only
    expect(fs.existsSync(path.join(logsDir, 'conversations'))).toBe(false);

    const second = await backup(chat, { console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId }).expect(200);
    expect(second.body).toMatchObject({ success: true, saved_count: 0, unchanged_count: total });
    expect(await conversationKeys()).toEqual(keys);
  });

  it('backs up in service mode too', async () => {
    const app = sim.apps.find((a) => a.mode === 'advanced-chat')!;
    const users = [...new Set(sim.conversations(app.id).map((c) => c.user).filter((u): u is string => !!u))];
    const res = await backup(app, { dify_api_url: sim.serviceApiUrl, api_key: app.apiKey, users }).expect(200);
    expect(res.body.success).toBe(true);
    expect(res.body.saved_count).toBeGreaterThan(0);
  });

  it('answers summary, export in every format, search and stats from the bucket', async () => {
    const files = (await conversationKeys()).length;
    const summary = await request(t.server).get('/api/conversation-logs').query({ action: 'summary' }).expect(200);
    expect(summary.body.total_files).toBe(files);
    const json = await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'json', ...ALL_DAYS }).expect(200);
    expect(json.body.count).toBe(files);
    const ndjson = await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', ...ALL_DAYS }).expect(200);
    expect(ndjson.text.trimEnd().split('\n')).toHaveLength(files);
    const csv = await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'csv', ...ALL_DAYS }).expect(200);
    expect(csv.text.split('\n').length).toBeGreaterThan(files);
    const first = JSON.parse(ndjson.text.split('\n')[0]);
    const word = (first.messages[0].query as string).split(/\s+/).find((w) => /^[A-Za-z]{5,}$/.test(w))!;
    const hits = await request(t.server).get('/api/conversation-logs/search').query({ q: word }).expect(200);
    expect(hits.body.results.length).toBeGreaterThan(0);
    const stats = await request(t.server).get('/api/conversation-logs/stats').expect(200);
    expect(stats.body.totals.conversations).toBe(files);
  });

  it('compresses old days in place of the objects, and verify finds every object as catalogued', async () => {
    const before = await conversationKeys();
    const res = await request(t.server).post('/api/conversation-logs/compress').query({ after_days: 1 }).expect(200);
    expect(res.body.compressed_files).toBeGreaterThan(0);
    const after = await conversationKeys();
    expect(after).toHaveLength(before.length);
    expect(after.filter((k) => k.endsWith('.json.gz'))).toHaveLength(res.body.compressed_files);
    // by default nothing is downloaded: sizes and ETags from the listing against the catalog's sizes and MD5s
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body).toMatchObject({ method: 'etag', checked: before.length, by_etag: before.length, by_sha256: 0, missing: [], changed: [], unindexed: [], corrupt: [] });
    const hashed = await request(t.server).get('/api/conversation-logs/verify').query({ sha256: 'true' }).expect(200);
    expect(hashed.body).toMatchObject({ method: 'sha256', checked: before.length, by_etag: 0, by_sha256: before.length, missing: [], changed: [], unindexed: [], corrupt: [] });
    const bad = await request(t.server).get('/api/conversation-logs/verify').query({ sha256: 'maybe' }).expect(400);
    expect(bad.body.message).toContain('sha256 must be true or false');
    // rows catalogued before the catalog kept MD5s: those objects are downloaded and hashed, and the answer says so
    const catalog = new Database(path.join(logsDir, 'catalog.sqlite'));
    try {
      catalog.pragma('busy_timeout = 5000');
      catalog.exec("UPDATE files SET md5 = '' WHERE id IN (SELECT id FROM files ORDER BY id LIMIT 3)");
    } finally {
      catalog.close();
    }
    const fallback = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(fallback.body).toMatchObject({ method: 'etag', checked: before.length, by_etag: before.length - 3, by_sha256: 3, sha256_fallback: 3, missing: [], changed: [] });
    // an ETag other than the row's MD5 at the same size (as on a bucket with SSE-KMS, whose ETags are not MD5s) is settled by sha256, not reported changed
    const kms = new Database(path.join(logsDir, 'catalog.sqlite'));
    try {
      kms.pragma('busy_timeout = 5000');
      kms.exec("UPDATE files SET md5 = '0123456789abcdef0123456789abcdef' WHERE id IN (SELECT id FROM files WHERE md5 <> '' ORDER BY id LIMIT 2)");
    } finally {
      kms.close();
    }
    const foreign = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(foreign.body).toMatchObject({ method: 'etag', checked: before.length, by_etag: before.length - 5, by_sha256: 5, sha256_fallback: 5, missing: [], changed: [], corrupt: [] });
    const exported = await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', ...ALL_DAYS }).expect(200);
    expect(exported.text.trimEnd().split('\n')).toHaveLength(before.length);
  });

  it('rebuilds a deleted catalog from the bucket at start-up', async () => {
    const summary = (await request(t.server).get('/api/conversation-logs').query({ action: 'summary' }).expect(200)).body;
    await t.close();
    for (const f of fs.readdirSync(logsDir).filter((f) => f.startsWith('catalog.sqlite'))) fs.rmSync(path.join(logsDir, f));
    t = await createTestApp(env());
    await t.app.get(LogStorageService).whenCatalogReady();
    expect((await request(t.server).get('/api/conversation-logs').query({ action: 'summary' }).expect(200)).body).toEqual(summary);
    // the rebuild took every MD5 from the objects: verify needs no download
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body).toMatchObject({ checked: summary.total_files, by_etag: summary.total_files, sha256_fallback: 0, missing: [], changed: [] });
  });

  it('cleans old days by prefix, dry run first', async () => {
    const before = await conversationKeys();
    const dry = await request(t.server).delete('/api/conversation-logs').query({ days_to_keep: 2, dry_run: 'true' }).expect(200);
    expect(dry.body.deleted_files).toBeGreaterThan(0);
    expect(await conversationKeys()).toEqual(before);
    const real = await request(t.server).delete('/api/conversation-logs').query({ days_to_keep: 2 }).expect(200);
    expect(real.body.deleted_files).toBe(dry.body.deleted_files);
    expect(await conversationKeys()).toHaveLength(before.length - real.body.deleted_files);
    const summary = await request(t.server).get('/api/conversation-logs').query({ action: 'summary' }).expect(200);
    expect(summary.body.total_files).toBe(before.length - real.body.deleted_files);
  });

  it('aborts an export whose store fails part way, so the client never takes a shorter answer for the whole', async () => {
    const keys = await conversationKeys();
    const last = keys[keys.length - 1];
    // the bucket itself refuses to serve one object: the export reads the others, then fails on it
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/${last}` }],
    };
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    try {
      if (!t.server.listening) await new Promise<void>((resolve) => t.server.listen(0, '127.0.0.1', resolve));
      const port = (t.server.address() as AddressInfo).port;
      const outcome = await new Promise<{ status: number; complete: boolean; error?: string }>((resolve) => {
        const req = http.get(`http://127.0.0.1:${port}/api/conversation-logs?action=export&format=ndjson&start_date=2000-01-01&end_date=2099-12-31`, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
          res.on('error', (e) => resolve({ status: res.statusCode ?? 0, complete: false, error: e.message }));
          res.on('aborted', () => resolve({ status: res.statusCode ?? 0, complete: false, error: 'aborted' }));
        });
        req.on('error', (e) => resolve({ status: 0, complete: false, error: e.message }));
      });
      expect(outcome.complete).toBe(false);
      expect(outcome.error).toBeDefined();
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    }
    // the store answers again: so does the export, whole
    const again = await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', ...ALL_DAYS }).expect(200);
    expect(again.text.trimEnd().split('\n')).toHaveLength(keys.length);
  });

  it('refuses to start on a missing bucket or refused credentials, naming the cause and never the secret', async () => {
    const dir = makeTempDir('vault-s3-bad-');
    await expect(createTestApp({ ...env({ S3_BUCKET_NAME: 'no-such-vault-bucket' }), LOGS_DIR: dir })).rejects.toThrow(
      `S3 bucket "no-such-vault-bucket" at ${s3.endpoint} does not exist (S3_BUCKET_NAME)`,
    );
    const wrong = await createTestApp({ ...env({ S3_SECRET_KEY: 'not-the-secret-4711-abcdefgh' }), LOGS_DIR: dir }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(Error);
    expect((wrong as Error).message).toContain('refused the credentials');
    expect((wrong as Error).message).not.toContain('not-the-secret-4711');
  });
});

describe('the service with ARCHIVE_STORAGE=s3 through S3 faults', () => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let proxy: S3FaultProxy;
  let sim: DifySimulator;
  let chat: SimulatedApp;
  let t: TestApp;
  const credentials = () => ({ console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId });
  const backup = () => request(t.server).post('/api/conversation-logs').send({ app_id: chat.id, organization_id: 'acme', ...credentials() });
  const ndjson = async () => (await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'ndjson', ...ALL_DAYS }).expect(200)).text;
  const objectCount = () => countKeys(client, bucket, `${PREFIX}conversations/`);

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'service-faults');
    proxy = await startS3FaultProxy(s3.endpoint);
    sim = await startSimulator({ seed: 31 });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    t = await createTestApp({
      DIFY_ALLOWED_HOSTS: '127.0.0.1',
      LOGS_DIR: makeTempDir('vault-s3-faults-'),
      ...s3ArchiveEnv(s3, bucket, { S3_ENDPOINT: proxy.endpoint, S3_PREFIX: PREFIX }),
      // a stalled request is given up after 3 s and tried again
      S3_REQUEST_TIMEOUT_SECONDS: '3',
      S3_READ_CONCURRENCY: '4',
    });
  });
  afterEach(() => proxy.clear());
  afterAll(async () => {
    await t?.close();
    await sim?.close();
    await proxy?.close();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  it('backs up and exports whole through 503 SlowDown, 500 and stalled requests, retried with backoff', async () => {
    const writes = [
      proxy.inject({ method: 'PUT', path: '/conversations/', fault: 'slowdown', times: 3 }),
      proxy.inject({ method: 'PUT', path: '/conversations/', fault: 'internal', times: 2 }),
      proxy.inject({ method: 'PUT', path: '/conversations/', fault: 'stall', times: 1 }),
    ];
    const total = sim.conversations(chat.id).length;
    const saved = await backup().expect(200);
    expect(saved.body).toMatchObject({ success: true, saved_count: total, failed_count: 0 });
    expect(writes.map((given) => given())).toEqual([3, 2, 1]);
    expect(await objectCount()).toBe(total);

    proxy.resetPeaks();
    const clean = await ndjson();
    expect(clean.trimEnd().split('\n')).toHaveLength(total);
    // read ahead: several GETs at once, never more than S3_READ_CONCURRENCY
    expect(proxy.peak('GET')).toBeGreaterThan(1);
    expect(proxy.peak('GET')).toBeLessThanOrEqual(4);
    const reads = [
      proxy.inject({ method: 'GET', path: '/conversations/', fault: 'slowdown', times: 2 }),
      proxy.inject({ method: 'GET', path: '/conversations/', fault: 'internal', times: 2 }),
      proxy.inject({ method: 'GET', path: '/conversations/', fault: 'stall', times: 1 }),
      proxy.inject({ method: 'GET', path: '/conversations/', fault: 'cut', times: 1 }),
    ];
    expect(await ndjson()).toBe(clean);
    expect(reads.map((given) => given())).toEqual([2, 2, 1, 1]);
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body).toMatchObject({ checked: total, by_etag: total, missing: [], changed: [], unindexed: [], corrupt: [] });
  });

  it('stops a backup that cannot write with one clear error and an alert; the next run completes it', async () => {
    const before = new Set(sim.conversations(chat.id).map((c) => c.id));
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 6; i++) sim.addConversation({ app_id: chat.id, created_at: now - 3600 + i * 7, messages: 2 });
    const added = sim.conversations(chat.id).filter((c) => !before.has(c.id)).map((c) => c.id);
    expect(added).toHaveLength(6);
    const victim = added[0];
    const refused = proxy.inject({ method: 'PUT', path: `conversation_${victim}_`, fault: 'slowdown', times: Infinity });
    const notify = jest.spyOn(t.app.get(AlertsService), 'notify');

    const failed = await backup().expect(200);
    expect(failed.body.success).toBe(false);
    expect(failed.body.errors).toContainEqual({ conversation_id: '*', error: expect.stringContaining('the archive cannot be written (SlowDown)') });
    expect(failed.body.errors).toContainEqual({
      conversation_id: victim,
      error: expect.stringMatching(new RegExp(`S3 put .*conversation_${victim}_.* failed after 5 attempts \\(SlowDown, HTTP 503\\)`)),
    });
    expect(refused()).toBe(5);
    expect(JSON.stringify(failed.body)).not.toContain(s3.secretAccessKey);
    expect(notify).toHaveBeenCalledWith(expect.objectContaining({ event: expect.stringMatching(/^backup_(failed|partial)$/), text: expect.stringContaining('SlowDown') }), expect.anything());

    proxy.clear();
    const next = await backup().expect(200);
    expect(next.body).toMatchObject({ success: true, failed_count: 0 });
    expect(next.body.created_count).toBeGreaterThanOrEqual(1);
    expect(await objectCount()).toBe(sim.conversations(chat.id).length);
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body).toMatchObject({ checked: sim.conversations(chat.id).length, missing: [], changed: [], unindexed: [], corrupt: [] });
  });
});
