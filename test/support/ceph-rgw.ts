/**
 * A real S3 endpoint for the tests: a throwaway one-node Ceph cluster (one monitor, one memstore
 * OSD, a RADOS Gateway with the beast frontend) on 127.0.0.1, everything in a temp folder.
 *
 * Usage in a suite:
 *   let s3: S3Instance; let client: S3Client; let bucket: string;
 *   beforeAll(async () => {
 *     s3 = await startS3();          // reuses the run's gateway, or starts it (~13 s, once per jest run)
 *     client = s3Client(s3);
 *     bucket = await createBucket(client);
 *   });
 *   afterAll(async () => { await deleteBucket(client, bucket); client.destroy(); });
 *
 * The cluster is started lazily by the first suite that calls startS3() and stopped by the global
 * teardown (or by the watchdog if jest dies); a jest run that selects no S3 suite starts no Ceph.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort, run, spawnDaemon, startOnce, waitUntil } from './processes';
import { requireBinaries, S3_REQUIREMENT } from './requires';

export interface S3Instance {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** the cluster's folder: ceph.conf, logs (log/), admin sockets (run/) */
  dir: string;
  /** ceph.conf of the cluster, for `ceph -c` / `radosgw-admin -c` in a test */
  conf: string;
  pids: { mon: number; osd: number; rgw: number };
  /** milliseconds the cold start took, in total and per step */
  startMs: number;
  timings: Record<string, number>;
}

export const S3_ACCESS_KEY = 'VAULTTESTACCESSKEY01';
export const S3_SECRET_KEY = 'vault-test-secret-key-0123456789abcdefghij';
export const S3_REGION = 'us-east-1';

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'];

/** The run's S3 gateway: started on first use, shared by every later suite and worker. */
export async function startS3(): Promise<S3Instance> {
  requireBinaries(BINARIES, S3_REQUIREMENT);
  return startOnce('s3', (runDir) => startCephRgw(path.join(runDir, 'ceph'), runDir));
}

/**
 * Starts a one-node Ceph cluster with a RADOS Gateway in `dir` (made if missing); its pids are
 * recorded in `pidsDir` (the run folder), whose teardown or watchdog kills them.
 */
export async function startCephRgw(dir: string, pidsDir: string): Promise<S3Instance> {
  requireBinaries(BINARIES, S3_REQUIREMENT);
  const started = Date.now();
  const timings: Record<string, number> = {};
  let last = started;
  const mark = (step: string) => {
    timings[step] = Date.now() - last;
    last = Date.now();
  };
  for (const sub of ['run', 'log', 'mon', 'osd', 'rgw']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const conf = path.join(dir, 'ceph.conf');
  const fsid = randomUUID();
  const monPort = await freePort();
  const rgwPort = await freePort();
  const clientSection = [
    // without these the gateway and radosgw-admin hang at start against an auth-less monitor
    'ms mon client mode = crc secure',
    'ms client mode = crc secure',
    `rgw data = ${dir}/rgw`,
  ];
  fs.writeFileSync(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      `mon host = v2:127.0.0.1:${monPort}`,
      'mon initial members = a',
      'public addr = 127.0.0.1',
      'ms bind ipv6 = false',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'auth supported = none',
      `run dir = ${dir}/run`,
      `admin socket = ${dir}/run/$name.asok`,
      `log file = ${dir}/log/$name.log`,
      `pid file = ${dir}/run/$name.pid`,
      `keyring = ${dir}/keyring`,
      'osd objectstore = memstore',
      'memstore device bytes = 2147483648',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'osd pool default pg autoscale mode = off',
      'mon max pg per osd = 1000',
      // commit map changes at once instead of batching them for a second: halves the cold start
      'paxos propose interval = 0.05',
      'paxos min wait = 0.01',
      'mon allow pool delete = true',
      'mon warn on pool no redundancy = false',
      'osd crush chooseleaf type = 0',
      '',
      '[mon.a]',
      `mon data = ${dir}/mon`,
      '',
      '[osd.0]',
      `osd data = ${dir}/osd`,
      '',
      '[client.rgw]',
      `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
      ...clientSection,
      '',
      '[client.rgwadmin]',
      ...clientSection,
      '',
    ].join('\n'),
  );
  const log = (name: string) => path.join(dir, 'log', `${name}.out`);
  const ceph = (...args: string[]) => run('ceph', ['-c', conf, '--connect-timeout', '10', ...args], { timeoutMs: 30_000 });

  // monitor
  await run('monmaptool', ['--create', '--add', 'a', `v2:127.0.0.1:${monPort}`, '--fsid', fsid, path.join(dir, 'monmap')]);
  await run('ceph-mon', ['-c', conf, '-i', 'a', '--mkfs', '--monmap', path.join(dir, 'monmap')]);
  const mon = spawnDaemon(pidsDir, 'ceph-mon', ['-c', conf, '-i', 'a', '-f'], log('mon'));
  const died = (d: { exited(): boolean; tail(): string; name: string }) => () =>
    d.exited() ? `${d.name} exited:\n${d.tail()}` : undefined;
  await waitUntil('Ceph monitor', async () => (await ceph('mon', 'stat'), true), { timeoutMs: 30_000, failed: died(mon) });
  mark('mon');

  // one OSD
  const osdUuid = randomUUID();
  const osdId = (await ceph('osd', 'new', osdUuid)).stdout.trim();
  await run('ceph-osd', ['-c', conf, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
  const osd = spawnDaemon(pidsDir, 'ceph-osd', ['-c', conf, '-i', osdId, '-f'], log('osd'));
  await waitUntil(
    'Ceph OSD',
    async () => JSON.parse((await ceph('osd', 'stat', '-f', 'json')).stdout).num_up_osds === 1,
    { timeoutMs: 60_000, intervalMs: 300, failed: died(osd) },
  );
  mark('osd');

  // gateway
  const rgw = spawnDaemon(pidsDir, 'radosgw', ['-c', conf, '-n', 'client.rgw', '-f'], log('rgw'));
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  await waitUntil('RADOS Gateway', async () => (await httpStatus(endpoint)) === 200, {
    timeoutMs: 90_000,
    intervalMs: 250,
    failed: died(rgw),
  });
  mark('rgw');
  await run('radosgw-admin', [
    '-c', conf, '-n', 'client.rgwadmin',
    'user', 'create', '--uid=vault-test', '--display-name=vault test',
    `--access-key=${S3_ACCESS_KEY}`, `--secret-key=${S3_SECRET_KEY}`,
  ], { timeoutMs: 60_000 });
  mark('user');

  const instance: S3Instance = {
    endpoint,
    region: S3_REGION,
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    dir,
    conf,
    pids: { mon: mon.pid, osd: osd.pid, rgw: rgw.pid },
    startMs: 0,
    timings,
  };
  // the first bucket write creates the data and index pools (2-3 s): do it here, once
  const client = s3Client(instance);
  try {
    const warm = `warmup-${randomBytes(4).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: warm }));
    await client.send(new PutObjectCommand({ Bucket: warm, Key: 'warmup', Body: 'ok' }));
    await deleteBucket(client, warm);
  } finally {
    client.destroy();
  }
  mark('firstWrite');
  instance.startMs = Date.now() - started;
  return instance;
}

/** An S3 client for the gateway: path-style, checksums only where the API requires them. */
export function s3Client(s3: S3Instance, overrides: S3ClientConfig = {}): S3Client {
  // AWS SDK v3 warns on every process under Node 22; the tests run on the project's Node 20
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    ...overrides,
  });
}

/** Creates a fresh, uniquely named bucket (`<prefix>-<random>`) and returns its name. */
export async function createBucket(client: S3Client, prefix = 'suite'): Promise<string> {
  const safe = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'suite';
  const bucket = `${safe}-${randomBytes(6).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Deletes every object (and version) of the bucket, then the bucket; a missing bucket is fine. */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    for (;;) {
      const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1000 }));
      const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
      if (objects.length === 0) {
        const rest = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
        const keys = (rest.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        continue;
      }
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchBucket') return;
    throw error;
  }
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
