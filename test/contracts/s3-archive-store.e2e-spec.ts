/** The S3 store against a real S3 server on loopback (Ceph RADOS Gateway): the same contract as the filesystem store. */
import { DeleteBucketPolicyCommand, GetObjectCommand, HeadObjectCommand, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { S3Settings } from '../../src/config/app-config';
import { S3ArchiveStore, S3StoreError } from '../../src/log-storage/s3/s3-archive-store';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { startS3FaultProxy, S3FaultProxy } from '../support/s3-fault-proxy';
import { describeArchiveStoreContract } from './archive-store.contract';

jest.setTimeout(120_000);

let s3: S3Instance;
let client: S3Client;
const buckets: string[] = [];

function s3Settings(instance: S3Instance, bucket: string, overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    endpoint: instance.endpoint,
    region: instance.region,
    bucket,
    accessKeyId: instance.accessKeyId,
    secretAccessKey: instance.secretAccessKey,
    pathStyle: true,
    useAwsManagedIam: false,
    prefix: '',
    maxAttempts: 3,
    requestTimeoutMs: 10_000,
    readConcurrency: 16,
    ...overrides,
  };
}

beforeAll(async () => {
  s3 = await startS3();
  client = s3Client(s3);
});
afterAll(async () => {
  for (const bucket of buckets) await deleteBucket(client, bucket);
  client?.destroy();
});

async function freshBucket(): Promise<string> {
  const bucket = await createBucket(client, 'store-contract');
  buckets.push(bucket);
  return bucket;
}

describeArchiveStoreContract(`${S3ArchiveStore.name} (no prefix)`, async () => {
  const store = new S3ArchiveStore(s3Settings(s3, await freshBucket()));
  return { store, dispose: () => store.close() };
});

describeArchiveStoreContract(`${S3ArchiveStore.name} (under S3_PREFIX)`, async () => {
  const store = new S3ArchiveStore(s3Settings(s3, await freshBucket(), { prefix: 'team/vault/' }));
  return { store, dispose: () => store.close() };
});

describe(`${S3ArchiveStore.name} in a bucket`, () => {
  const key = 'conversations/acme/2024/01/16/conversation_c1_2024-01-16T12-00-00-000Z.json';

  it('keeps the layout under the prefix, one object per key, its ETag the MD5 of the bytes', async () => {
    const bucket = await freshBucket();
    const sut = new S3ArchiveStore(s3Settings(s3, bucket, { prefix: 'vault/' }));
    try {
      await sut.put(key, Buffer.from('{"v":1}'));
      await sut.put(key, Buffer.from('{"v":2}'));
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `vault/${key}` }));
      expect(await got.Body!.transformToString()).toBe('{"v":2}');
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `vault/${key}` }));
      expect(head.ContentType).toBe('application/json');
      const listed: string[] = [];
      for await (const o of sut.list('')) listed.push(`${o.key} ${o.etag}`);
      expect(listed).toEqual([`${key} ${createHash('md5').update('{"v":2}').digest('hex')}`]);
      expect((await sut.stat(key))?.etag).toBe(createHash('md5').update('{"v":2}').digest('hex'));
    } finally {
      await sut.close();
    }
  });

  it('refuses keys that would leave the archive', async () => {
    const sut = new S3ArchiveStore(s3Settings(s3, await freshBucket()));
    try {
      await expect(sut.put('conversations/../secret.json', Buffer.from('{}'))).rejects.toThrow('path escapes the archive root');
      await expect(sut.get('/etc/passwd')).rejects.toThrow('path escapes the archive root');
    } finally {
      await sut.close();
    }
  });

  it('says what is wrong with the bucket or the credentials, never the secret', async () => {
    const missing = new S3ArchiveStore(s3Settings(s3, 'no-such-bucket-vault-test'));
    const wrongKey = new S3ArchiveStore(s3Settings(s3, await freshBucket(), { secretAccessKey: 'wrong-secret-value-1234567890' }));
    try {
      await expect(missing.checkAccess()).rejects.toThrow(`S3 bucket "no-such-bucket-vault-test" at ${s3.endpoint} does not exist (S3_BUCKET_NAME)`);
      const error = (await wrongKey.checkAccess().catch((e: unknown) => e)) as S3StoreError;
      expect(error).toBeInstanceOf(S3StoreError);
      expect(error.message).toMatch(/refused the credentials \(HTTP 403\): check S3_ACCESS_KEY and S3_SECRET_KEY/);
      expect(error.message).not.toContain('wrong-secret-value');
      expect(error.message).not.toContain(s3.secretAccessKey);
    } finally {
      await missing.close();
      await wrongKey.close();
    }
  });

  it('reports the keys a DeleteObjects refused, by name, instead of counting them as deleted', async () => {
    const bucket = await freshBucket();
    const sut = new S3ArchiveStore(s3Settings(s3, bucket));
    const kept = key.replace('c1', 'c2');
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/${kept}` }],
    };
    try {
      await sut.put(key, Buffer.from('{}'));
      await sut.put(kept, Buffer.from('{}'));
      await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
      await expect(sut.delete([key, kept])).rejects.toThrow(`S3 delete in bucket "${bucket}" refused 1 of 2 objects (${kept}: AccessDenied)`);
      expect((await sut.stat(kept))?.size).toBe(2);
      expect(await sut.stat(key)).toBeNull();
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      await sut.close();
    }
  });
});

describe(`${S3ArchiveStore.name} through transient and lasting faults`, () => {
  const key = 'conversations/acme/2024/01/16/conversation_c1_2024-01-16T12-00-00-000Z.json';
  let proxy: S3FaultProxy;
  let bucket: string;
  let sut: S3ArchiveStore;

  beforeAll(async () => {
    proxy = await startS3FaultProxy(s3.endpoint);
    bucket = await freshBucket();
  });
  beforeEach(() => {
    // a stalled request is given up after 3 s and tried again
    sut = new S3ArchiveStore(s3Settings(s3, bucket, { endpoint: proxy.endpoint, maxAttempts: 4, requestTimeoutMs: 3_000 }));
    proxy.requests.splice(0);
  });
  afterEach(async () => {
    proxy.clear();
    await sut.close();
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const attempts = (method: string) => proxy.requests.filter((r) => r.method === method && r.path.endsWith(key));

  it('retries 503 SlowDown, 500 and a stalled socket with backoff: writes, reads, listings and deletions go through', async () => {
    const putFaults = proxy.inject({ method: 'PUT', path: key, fault: 'slowdown', times: 2 });
    expect(await sut.put(key, Buffer.from('{"v":1}'))).toMatchObject({ size: 7 });
    expect(putFaults()).toBe(2);
    expect(attempts('PUT').map((r) => r.fault)).toEqual(['slowdown', 'slowdown', null]);

    proxy.inject({ method: 'GET', path: key, fault: 'internal', times: 1 });
    proxy.inject({ method: 'GET', path: key, fault: 'stall', times: 1 });
    expect((await sut.get(key))?.toString()).toBe('{"v":1}');
    expect(attempts('GET').map((r) => r.fault)).toEqual(['internal', 'stall', null]);
    // an answer cut off in its body: read again
    proxy.inject({ method: 'GET', path: key, fault: 'cut', times: 1 });
    expect((await sut.get(key))?.toString()).toBe('{"v":1}');

    proxy.inject({ method: 'GET', path: `/${bucket}`, query: 'list-type=2', fault: 'slowdown', times: 1 });
    proxy.inject({ method: 'GET', path: `/${bucket}`, query: 'list-type=2', fault: 'internal', times: 1 });
    const listed: string[] = [];
    for await (const o of sut.list('conversations/')) listed.push(o.key);
    expect(listed).toEqual([key]);

    const deleteFaults = proxy.inject({ method: 'POST', path: `/${bucket}`, query: 'delete', fault: 'stall', times: 1 });
    expect(await sut.delete([key])).toBe(1);
    expect(deleteFaults()).toBe(1);
    expect(await sut.stat(key)).toBeNull();
  });

  it('gives up after its attempts with one error naming the call, the key and the S3 error', async () => {
    proxy.inject({ method: 'PUT', path: key, fault: 'slowdown', times: Infinity });
    const error = (await sut.put(key, Buffer.from('{}')).catch((e: unknown) => e)) as S3StoreError;
    expect(error).toBeInstanceOf(S3StoreError);
    expect(error.message).toBe(`S3 put ${key} in bucket "${bucket}" failed after 4 attempts (SlowDown, HTTP 503)`);
    expect(attempts('PUT')).toHaveLength(4);
    expect(error.message).not.toContain(s3.secretAccessKey);
  });
});
