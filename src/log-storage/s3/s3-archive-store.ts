import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Settings } from '../../config/app-config';
import { mapConcurrent } from '../../common/concurrency';
import { archiveKeyParts } from '../archive-paths';
import { ArchiveObject, ArchiveStore, ArchiveStoreError, ByteRange, checkFolder, FolderTally, ListOptions, StoredBytes } from '../archive-store';

// The project runs on Node 20 (package.json engines, lock file pins the SDK): the SDK's notice that its later
// releases will need Node 22 would otherwise be printed by every process, on the CLI's stderr among others.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** the most keys one DeleteObjects request takes */
const DELETE_BATCH = 1000;
const LIST_PAGE = 1000;
/** retention: folders listed and emptied at once */
const FOLDERS_IN_FLIGHT = 4;
/** keys named in the message of a partly refused deletion */
const NAMED_FAILURES = 5;

/** The S3 call failed for good (after the SDK's retries); the message names the call, the key and the S3 error code. */
export class S3StoreError extends ArchiveStoreError {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'S3StoreError';
  }
}

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function statusOf(error: unknown): number | null {
  return (error as SdkError)?.$metadata?.httpStatusCode ?? null;
}

function codeOf(error: unknown): string {
  const e = error as SdkError;
  return e?.Code ?? e?.name ?? 'Error';
}

function isNotFound(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (statusOf(error) === 404 && code !== 'NoSuchBucket');
}

/** The client options for the settings: retries with backoff (5xx, SlowDown, timeouts), checksums only where S3 requires them. */
export function s3ClientConfig(settings: S3Settings): S3ClientConfig {
  return {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.pathStyle,
    // without these the SDK streams uploads in chunks with trailing checksums, which many S3-compatible stores refuse
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.useAwsManagedIam || !settings.accessKeyId || !settings.secretAccessKey
      ? {}
      : { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }),
    retryMode: 'standard',
    maxAttempts: settings.maxAttempts,
    // a request without an answer in time, or a socket idle that long, fails with a TimeoutError that the
    // retry strategy retries (without throwOnRequestTimeout the SDK would only log it and wait forever)
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: settings.requestTimeoutMs,
    },
  };
}

/**
 * The archive in an S3 bucket: a key is an object name under `S3_PREFIX`, the same layout as on disk. An
 * object is written whole by one PUT (with Content-MD5), so a reader sees the old bytes or the new ones and
 * nothing needs recovering after a crash. Listings are paged; deletions go by DeleteObjects in batches.
 */
export class S3ArchiveStore implements ArchiveStore {
  private readonly client: S3Client;
  readonly bucket: string;
  /** '' or ends with '/' */
  readonly prefix: string;
  /** each GET is a round trip: bulk reads keep this many in flight (S3_READ_CONCURRENCY) */
  readonly readsInFlight: number;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client(s3ClientConfig(settings));
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
    this.readsInFlight = settings.readConcurrency;
  }

  /** Throws an S3StoreError saying what is wrong (no bucket, credentials refused, endpoint unreachable). */
  async checkAccess(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = statusOf(error);
      const code = codeOf(error);
      const where = `S3 bucket "${this.bucket}"${this.settings.endpoint ? ` at ${this.settings.endpoint}` : ''}`;
      if (status === 404 || code === 'NoSuchBucket') throw new S3StoreError(`${where} does not exist (S3_BUCKET_NAME)`, 'NoSuchBucket', status);
      if (status === 403 || status === 401) {
        throw new S3StoreError(`${where} refused the credentials (HTTP ${status}): check S3_ACCESS_KEY and S3_SECRET_KEY`, 'AccessDenied', status);
      }
      throw this.failure('reach', '', error);
    }
  }

  async put(key: string, data: Buffer): Promise<StoredBytes> {
    const name = this.objectKey(key);
    const md5 = createHash('md5').update(data).digest();
    await this.call('put', key, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: name,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5.toString('base64'),
          ContentType: contentType(key),
        }),
      ),
    );
    return { size: data.length, sha256: createHash('sha256').update(data).digest('hex'), md5: md5.toString('hex') };
  }

  /**
   * The SDK retries the request until its answer starts; a body cut off or stalled after that is read
   * again here, with the same attempts and backoff.
   */
  async get(key: string): Promise<Buffer | null> {
    const name = this.objectKey(key);
    return this.call('get', key, async () => {
      for (let attempt = 1; ; attempt++) {
        let res;
        try {
          res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: name }));
        } catch (error) {
          if (isNotFound(error)) return null;
          throw error;
        }
        try {
          const bytes = await res.Body!.transformToByteArray();
          return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        } catch (error) {
          if (attempt >= this.settings.maxAttempts) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20_000, 100 * 2 ** attempt)));
        }
      }
    });
  }

  async createReadStream(key: string, range?: ByteRange): Promise<Readable | null> {
    const name = this.objectKey(key);
    return this.call('read', key, async () => {
      try {
        const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: name, Range }));
        return res.Body as Readable;
      } catch (error) {
        if (isNotFound(error)) return null;
        // a range past the end of an existing object: nothing to read, as from a file
        if (statusOf(error) === 416) return Readable.from([]);
        throw error;
      }
    });
  }

  async stat(key: string): Promise<ArchiveObject | null> {
    const name = this.objectKey(key);
    return this.call('stat', key, async () => {
      try {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }));
        return { key, size: res.ContentLength ?? 0, mtime: res.LastModified ?? new Date(0), etag: unquote(res.ETag) };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ArchiveObject> {
    for await (const page of this.pages(prefix, { startAfter: options.startAfter })) {
      for (const o of page.Contents ?? []) {
        yield { key: o.Key!.slice(this.prefix.length), size: o.Size ?? 0, mtime: o.LastModified ?? new Date(0), etag: unquote(o.ETag) };
      }
    }
  }

  async listFolders(folder: string): Promise<string[]> {
    checkFolder(folder);
    if (folder) archiveKeyParts(folder.slice(0, -1));
    const names: string[] = [];
    for await (const page of this.pages(folder, { delimiter: true })) {
      for (const p of page.CommonPrefixes ?? []) names.push(p.Prefix!.slice(this.prefix.length + folder.length, -1));
    }
    return names.sort();
  }

  /** DeleteObjects in batches of 1000, no request per key (S3 reports a missing key as deleted too). */
  async delete(keys: string[]): Promise<number> {
    for (const key of keys) this.objectKey(key);
    await this.deleteObjects(keys);
    return keys.length;
  }

  async deletePrefix(folder: string): Promise<FolderTally> {
    checkFolder(folder);
    const [tally] = await this.tallyFolders([{ folder, expected: -1 }], true);
    return tally;
  }

  async tallyFolders(folders: { folder: string; expected: number }[], remove: boolean): Promise<FolderTally[]> {
    for (const f of folders) {
      checkFolder(f.folder);
      if (f.folder) archiveKeyParts(f.folder.slice(0, -1));
    }
    // a few folders at once; in each, a listed page is deleted while the next one is listed
    return mapConcurrent(folders, FOLDERS_IN_FLIGHT, async ({ folder, expected }) => {
      let objects = 0;
      let bytes = 0;
      let deleting: Promise<void> = Promise.resolve();
      try {
        // with `remove`, everything under the folder goes; only the objects directly in it are counted
        for await (const page of this.pages(folder, { delimiter: !remove })) {
          const doomed: string[] = [];
          for (const o of page.Contents ?? []) {
            const key = o.Key!.slice(this.prefix.length);
            if (!key.slice(folder.length).includes('/')) {
              objects++;
              bytes += o.Size ?? 0;
            }
            if (remove) doomed.push(key);
          }
          await deleting;
          if (doomed.length) {
            deleting = this.deleteObjects(doomed);
            deleting.catch(() => undefined);
          }
        }
      } finally {
        await deleting;
      }
      return { objects, bytes: objects === expected ? null : bytes };
    });
  }

  /** A PUT is all or nothing: no object is ever left half written. */
  async removeAbandoned(folder: string): Promise<string[]> {
    checkFolder(folder);
    return [];
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** The object name of a key; throws when the key would leave the archive. */
  private objectKey(key: string): string {
    archiveKeyParts(key);
    return `${this.prefix}${key}`;
  }

  /** The listing pages under a key prefix, in key order; `delimiter` folds deeper keys into CommonPrefixes. */
  private async *pages(keyPrefix: string, options: { startAfter?: string; delimiter?: boolean }): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.call('list', keyPrefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: `${this.prefix}${keyPrefix}`,
            MaxKeys: LIST_PAGE,
            ContinuationToken: token,
            StartAfter: token || !options.startAfter ? undefined : `${this.prefix}${options.startAfter}`,
            Delimiter: options.delimiter ? '/' : undefined,
          }),
        ),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteObjects(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const res = await this.call('delete', batch[0], () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: `${this.prefix}${k}` })), Quiet: true },
          }),
        ),
      );
      // the request succeeds even when some keys were refused: each one comes back in Errors
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) {
        const named = failed.slice(0, NAMED_FAILURES).map((e) => `${e.Key?.slice(this.prefix.length)}: ${e.Code}`);
        const more = failed.length > NAMED_FAILURES ? `, and ${failed.length - NAMED_FAILURES} more` : '';
        throw new S3StoreError(
          `S3 delete in bucket "${this.bucket}" refused ${failed.length} of ${batch.length} objects (${named.join('; ')}${more})`,
          failed[0].Code ?? 'Error',
          null,
        );
      }
    }
  }

  /** Runs one S3 call (the SDK retries it); a failure becomes an S3StoreError naming the call and key. */
  private async call<T>(operation: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(operation, key, error);
    }
  }

  private failure(operation: string, key: string, error: unknown): S3StoreError {
    if (error instanceof S3StoreError) return error;
    const status = statusOf(error);
    const code = codeOf(error);
    const detail = status ? `${code}, HTTP ${status}` : `${code}${(error as NodeJS.ErrnoException)?.code ? ` ${(error as NodeJS.ErrnoException).code}` : ''}`;
    const attempts = (error as SdkError)?.$metadata?.attempts;
    const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
    return new S3StoreError(`S3 ${operation}${key ? ` ${key}` : ''} in bucket "${this.bucket}" failed${tries} (${detail})`, code, status);
  }
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/"/g, '');
}

function contentType(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.yml') || key.endsWith('.yaml')) return 'application/yaml';
  return 'application/octet-stream';
}
