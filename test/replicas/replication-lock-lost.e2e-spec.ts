/**
 * A copy whose PostgreSQL replication lock is lost (its session cut off by the database) stops, marked
 * interrupted, instead of running on without the lock while another replica may take it and copy too. A real
 * PostgreSQL, the real S3 gateway behind a loopback proxy that holds the copy's uploads until released.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import { Client } from 'pg';
import { ReplicationService } from '../../src/backup/replication.service';
import { PostgresState } from '../../src/backup/postgres/postgres-state';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { conversation } from '../archive/archive-fixtures';
import { waitFor } from '../hardening/process';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { createDatabase, dropDatabase } from '../support/postgres';
import { s3ReplicaEnv } from '../support/s3-bucket';
import { S3FaultProxy, startS3FaultProxy } from '../support/s3-fault-proxy';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

jest.setTimeout(300_000);

describe('A copy that loses its replication lock (PostgreSQL)', () => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let proxy: S3FaultProxy;
  let url: string;
  let logsDir: string;
  let t: TestApp;
  let admin: Client;

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'replost');
    proxy = await startS3FaultProxy(s3.endpoint);
    url = await createDatabase('replost');
    logsDir = makeTempDir('vault-replost-');
    t = await createTestApp({
      LOGS_DIR: logsDir,
      DATABASE_URL: url,
      ...s3ReplicaEnv(s3, bucket, { REPLICATE_S3_ENDPOINT: proxy.endpoint }),
      REPLICATE_CONCURRENCY: '1',
      S3_REQUEST_TIMEOUT_SECONDS: '120',
    });
    const storage = t.app.get(LogStorageService);
    for (let i = 0; i < 6; i++) await storage.saveConversation(conversation({ created_at: new Date(Date.UTC(2024, 0, 1 + i, 9)).toISOString() }));
    admin = new Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    proxy?.clear();
    await admin?.end();
    await t?.close();
    await proxy?.close();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
    if (url) await dropDatabase(url);
    if (logsDir) fs.rmSync(logsDir, { recursive: true, force: true });
  });

  it('stops the copy as interrupted, saying the lock was lost, and another replica can take the lock', async () => {
    const held = proxy.inject({ method: 'PUT', path: `/${bucket}/conversations/`, fault: 'stall', times: Infinity });
    const sut = t.app.get(ReplicationService);
    const { job, done } = await sut.start({ trigger: 'api' });
    await waitFor(() => held() > 0, 'the copy to upload its first file');

    // what the database does when the session holding the lock is cut off
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dify-log-vault-backup-lock'`,
    );
    const other = new PostgresState(url, 8);
    try {
      await waitFor(async () => {
        try {
          await other.replicationLock.hold('server', { jobId: 'copy-of-another-replica', sources: ['replication'] });
          return true;
        } catch {
          return false;
        }
      }, 'another replica to take the replication lock');
      proxy.clear();
      const finished = await done;
      expect(finished).toMatchObject({ id: job.id, status: 'interrupted' });
      expect(finished.message).toMatch(/^Stopped after \d+ files checked, \d+ copied: the connection holding the replication lock was lost/);
      expect(finished.replication!.checked).toBeLessThan(6);
    } finally {
      await other.onApplicationShutdown();
    }
  });
});
