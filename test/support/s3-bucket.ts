import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { S3Instance } from './ceph-rgw';

/** ARCHIVE_STORAGE=s3 and the S3_* variables that point the service at `bucket` of the gateway; `extra` is laid over them. */
export function s3ArchiveEnv(s3: S3Instance, bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ARCHIVE_STORAGE: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET_NAME: bucket,
    S3_ACCESS_KEY: s3.accessKeyId,
    S3_SECRET_KEY: s3.secretAccessKey,
    ...extra,
  };
}

/** The REPLICATE_S3_* variables of an off-site copy into `bucket` of the gateway; `extra` is laid over them (a fault proxy's endpoint, a prefix). */
export function s3ReplicaEnv(s3: S3Instance, bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REPLICATE_S3_ENDPOINT: s3.endpoint,
    REPLICATE_S3_REGION: s3.region,
    REPLICATE_S3_BUCKET_NAME: bucket,
    REPLICATE_S3_ACCESS_KEY: s3.accessKeyId,
    REPLICATE_S3_SECRET_KEY: s3.secretAccessKey,
    ...extra,
  };
}

/** Every page of the bucket's listing under `prefix`, one call per page. */
async function eachPage(client: S3Client, bucket: string, prefix: string, visit: (keys: string[]) => void): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    visit((page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** The full keys of the objects under `prefix`, sorted. */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  await eachPage(client, bucket, prefix, (page) => keys.push(...page));
  return keys.sort();
}

/** How many objects are under `prefix`. */
export async function countKeys(client: S3Client, bucket: string, prefix = ''): Promise<number> {
  let n = 0;
  await eachPage(client, bucket, prefix, (page) => (n += page.length));
  return n;
}
