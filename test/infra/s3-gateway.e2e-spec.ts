/** The S3 gateway the archive will run against: the operations and guarantees the archive relies on. */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createBucket, deleteBucket, S3Instance, s3Client, startS3 } from '../support/ceph-rgw';

jest.setTimeout(180_000);

describe('S3 gateway (Ceph RADOS Gateway on 127.0.0.1)', () => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'infra-smoke');
  });

  afterAll(async () => {
    if (client && bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  it('listens on loopback only', () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('puts and gets an object with its metadata', async () => {
    const body = JSON.stringify({ conversation: 'c-1', messages: ['héllo'] });
    const put = await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'conversations/2026/c-1.json', Body: body, ContentType: 'application/json', Metadata: { app: 'a1' } }),
    );
    expect(put.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'conversations/2026/c-1.json' }));
    expect(await got.Body!.transformToString()).toBe(body);
    expect(got.ContentType).toBe('application/json');
    expect(got.Metadata).toEqual({ app: 'a1' });
  });

  it('lists by prefix, page by page', async () => {
    for (let i = 0; i < 5; i++) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `list/item-${i}`, Body: `v${i}` }));
    }
    const first = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', MaxKeys: 3 }));
    expect(first.Contents!.map((o) => o.Key)).toEqual(['list/item-0', 'list/item-1', 'list/item-2']);
    expect(first.IsTruncated).toBe(true);
    const second = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', MaxKeys: 3, ContinuationToken: first.NextContinuationToken }),
    );
    expect(second.Contents!.map((o) => o.Key)).toEqual(['list/item-3', 'list/item-4']);
  });

  it('deletes many objects in one request', async () => {
    const keys = ['del/a', 'del/b', 'del/c'];
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    const res = await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    expect(res.Errors ?? []).toEqual([]);
    expect(res.Deleted!.map((d) => d.Key).sort()).toEqual(keys);
    const left = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'del/' }));
    expect(left.KeyCount).toBe(0);
  });

  it('checks Content-MD5: a right digest is stored, a wrong one refused with BadDigest', async () => {
    const body = 'integrity matters';
    const md5 = (s: string) => createHash('md5').update(s).digest('base64');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/ok', Body: body, ContentMD5: md5(body) }));
    await expect(
      client.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5/bad', Body: body, ContentMD5: md5('something else') })),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'md5/bad' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('supports conditional writes: If-None-Match: * refuses to overwrite, If-Match guards on the ETag', async () => {
    const first = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/once', Body: 'first', IfNoneMatch: '*' }));
    await expect(
      client.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/once', Body: 'second', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(
      client.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/once', Body: 'third', IfMatch: '"0123456789abcdef0123456789abcdef"' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    // Debian 12's gateway (Ceph 16) compares If-Match on PUT against the bare ETag: the quoted form
    // (what AWS S3 takes) answers 412 there, the unquoted one matches
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond/once', Body: 'fourth', IfMatch: first.ETag!.replace(/"/g, '') }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond/once' }));
    expect(await got.Body!.transformToString()).toBe('fourth');
  });

  it('gives each suite its own bucket', async () => {
    const other = await createBucket(client, 'infra-smoke');
    try {
      expect(other).not.toBe(bucket);
      const listed = await client.send(new ListObjectsV2Command({ Bucket: other }));
      expect(listed.KeyCount).toBe(0);
    } finally {
      await deleteBucket(client, other);
    }
  });
});
