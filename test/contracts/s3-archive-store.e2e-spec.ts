/** The S3 store against a real S3 server on loopback (Ceph RADOS Gateway): the same contract as the filesystem store. */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { S3Settings } from '../../src/config/app-config';
import { S3ArchiveStore, S3StoreError } from '../../src/log-storage/s3/s3-archive-store';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
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
});
