import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { mapConcurrent } from '../../src/common/concurrency';
import { ArchiveFile, listAllFiles } from './archive';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from './ceph-rgw';
import { listKeys, s3ArchiveEnv } from './s3-bucket';

/** Where a suite's archive lives: LOGS_DIR, or a bucket of the loopback Ceph RADOS Gateway. */
export type StoreKind = 'fs' | 's3';
export const STORE_KINDS: StoreKind[] = ['fs', 's3'];

/** One store for a suite that runs over both: its environment, and its files read straight from where they are. */
export interface StoreUnderTest {
  kind: StoreKind;
  /** ARCHIVE_STORAGE and, for s3, the S3_* variables of a fresh bucket */
  env: Record<string, string>;
  /** archive-relative keys under `folder` (e.g. `conversations/`), sorted; LOGS_DIR's state and catalog are not in the archive */
  keys(folder: string): Promise<string[]>;
  /** the bytes of an archive-relative key */
  read(key: string): Promise<Buffer>;
  close(): Promise<void>;
}

const PREFIX = 'vault/';
const READS_AT_ONCE = 8;

const textOf = (key: string, raw: Buffer) => (key.endsWith('.gz') ? zlib.gunzipSync(raw).toString('utf8') : raw.toString('utf8'));

/** The store of `kind` for `logsDir`; s3 starts the run's gateway once (shared by the suites) and makes a bucket per call. */
export async function storeUnderTest(kind: StoreKind, logsDir: () => string, label = 'suite'): Promise<StoreUnderTest> {
  if (kind === 'fs') {
    return {
      kind,
      env: { ARCHIVE_STORAGE: 'fs' },
      keys: async (folder) => {
        const root = path.join(logsDir(), folder);
        if (!fs.existsSync(root)) return [];
        return listAllFiles(root)
          .map((f) => path.relative(logsDir(), f).split(path.sep).join('/'))
          .sort();
      },
      read: async (key) => fs.readFileSync(path.join(logsDir(), key)),
      close: async () => undefined,
    };
  }
  const s3: S3Instance = await startS3();
  const client: S3Client = s3Client(s3);
  const bucket = await createBucket(client, label);
  return {
    kind,
    env: s3ArchiveEnv(s3, bucket, { S3_PREFIX: PREFIX }),
    keys: async (folder) => (await listKeys(client, bucket, `${PREFIX}${folder}`)).map((key) => key.slice(PREFIX.length)),
    read: async (key) => {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}` }));
      return Buffer.from(await object.Body!.transformToByteArray());
    },
    close: async () => {
      await deleteBucket(client, bucket);
      client.destroy();
    },
  };
}

/** The archived conversations as `readArchive` gives them for LOGS_DIR, read from wherever the store keeps them. */
export async function readStoredArchive(store: StoreUnderTest): Promise<ArchiveFile[]> {
  const keys = (await store.keys('conversations/')).filter((key) => /\.json(\.gz)?$/.test(key));
  return mapConcurrent(keys, READS_AT_ONCE, async (key) => {
    const text = textOf(key, await store.read(key));
    return { path: key, text, json: JSON.parse(text) };
  });
}

/** Every archived object's text (for a secret scan of a bucket; LOGS_DIR's own files are scanned as files). */
export async function storedTexts(store: StoreUnderTest): Promise<string[]> {
  const keys = [...(await store.keys('conversations/')), ...(await store.keys('apps/'))];
  return mapConcurrent(keys, READS_AT_ONCE, async (key) => textOf(key, await store.read(key)));
}
