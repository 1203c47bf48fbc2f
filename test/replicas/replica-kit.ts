/**
 * Several replicas of the service as real processes (`node dist/main.js`) sharing one PostgreSQL
 * (DATABASE_URL) and one S3 bucket (ARCHIVE_STORAGE=s3), each with a LOGS_DIR of its own, as on
 * separate machines. Used by the two-replica e2e and by anything that measures fail-over.
 *
 *   const set = await startReplicaSet({ env: sourceEnv(sim, app) });
 *   const a = await set.start();  const b = await set.start();
 *   const leader = await set.waitForLeader();
 *   await set.kill(leader);        // SIGKILL: the database releases its locks
 *   await set.close();
 */
import { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { Client } from 'pg';
import { buildService, ServiceProcess, startService, waitFor } from '../hardening/process';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { listKeys, s3ArchiveEnv } from '../support/s3-bucket';
import { createDatabase, dropDatabase } from '../support/postgres';
import { makeTempDir } from '../support/test-app';

export const S3_PREFIX = 'vault/';

export interface Replica extends ServiceProcess {
  /** `<host name>:<pid>`, as the jobs record it */
  id: string;
  logsDir: string;
}

export interface ReplicaInfo {
  replica: string;
  pid: number;
  leader: boolean;
  self: boolean;
}

export interface ReplicaSetOptions {
  /** environment every replica gets (the Dify source, the schedule, ...) */
  env: Record<string, string>;
  /** a build to reuse (its cleanup stays the caller's); default: a fresh build of src/ */
  buildDir?: string;
  /** Authorization header for the API calls when ADMIN_TOKEN is in env */
  token?: string;
}

export interface ReplicaSet {
  /** the shared database's URL, with a password in it (never to be logged) */
  databaseUrl: string;
  s3: S3Instance;
  bucket: string;
  client: S3Client;
  /** every replica started, dead or alive, oldest first */
  replicas: Replica[];
  /** Starts one more replica (`extra` on top of the set's environment) and waits until it listens. */
  start(extra?: Record<string, string>): Promise<Replica>;
  /** SIGTERM, and waits for the exit. */
  stop(replica: Replica): Promise<number | string>;
  /** SIGKILL, and waits for the exit: a replica lost with everything in flight. */
  kill(replica: Replica): Promise<number | string>;
  /** GET /api/replicas of this replica. */
  listReplicas(on: Replica): Promise<{ leader: string | null; replicas: ReplicaInfo[] }>;
  /** Polls until the live replicas agree on one leader among `among` (default: the running ones); returns it. */
  waitForLeader(among?: Replica[], timeoutMs?: number): Promise<Replica>;
  /** JSON API call with the set's token. */
  api(on: Replica, route: string, init?: RequestInit): Promise<{ status: number; body: any }>;
  /** Raw API call with the set's token (for exports). */
  raw(on: Replica, route: string, init?: RequestInit): Promise<Response>;
  /** Keys of the bucket under the archive prefix, sorted. */
  objectKeys(): Promise<string[]>;
  /** A client on the shared database (the caller ends it). */
  database(): Promise<Client>;
  /** Kills what is left, drops the database and the bucket, removes the build and the LOGS_DIRs. */
  close(): Promise<void>;
}

export function isAlive(p: ServiceProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** One PostgreSQL database, one bucket and a build; replicas are started with `start()`. */
export async function startReplicaSet(options: ReplicaSetOptions): Promise<ReplicaSet> {
  const build = options.buildDir ? null : buildService();
  const buildDir = options.buildDir ?? build!.dir;
  const s3 = await startS3();
  const client = s3Client(s3);
  const bucket = await createBucket(client, 'replicas');
  // a password in the URL, as in production: the test server trusts loopback, so it is never asked for, but
  // the replicas hold it and must never print it
  const plainUrl = new URL(await createDatabase('replicas'));
  plainUrl.password = `pg-${randomBytes(12).toString('hex')}`;
  const databaseUrl = plainUrl.toString();
  const replicas: Replica[] = [];
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  const raw = (on: Replica, route: string, init?: RequestInit) =>
    fetch(`${on.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...auth, ...((init?.headers as Record<string, string>) ?? {}) } });
  const api = async (on: Replica, route: string, init?: RequestInit) => {
    const res = await raw(on, route, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body: body as any };
  };
  const listReplicas = async (on: Replica) => (await api(on, '/api/replicas')).body as { leader: string | null; replicas: ReplicaInfo[] };

  const set: ReplicaSet = {
    databaseUrl,
    s3,
    bucket,
    client,
    replicas,
    async start(extra = {}) {
      const logsDir = makeTempDir('vault-replica-');
      const p = await startService(buildDir, {
        NODE_ENV: 'production',
        ...options.env,
        DATABASE_URL: databaseUrl,
        LOGS_DIR: logsDir,
        ...s3ArchiveEnv(s3, bucket, { S3_ADDRESS_STYLE: 'path', S3_PREFIX }),
        ...extra,
      });
      // kept from the moment it runs, so close() stops it even when the checks below throw
      const replica: Replica = { ...p, id: '', logsDir };
      replicas.push(replica);
      const self = (await listReplicas(replica)).replicas.find((r) => r.self);
      if (!self) throw new Error(`the replica on ${p.url} does not list itself in GET /api/replicas`);
      replica.id = self.replica;
      return replica;
    },
    async stop(replica) {
      if (isAlive(replica)) replica.child.kill('SIGTERM');
      return replica.exited;
    },
    async kill(replica) {
      if (isAlive(replica)) replica.child.kill('SIGKILL');
      return replica.exited;
    },
    listReplicas,
    async waitForLeader(among = replicas.filter(isAlive), timeoutMs = 60_000) {
      let leader: Replica | undefined;
      await waitFor(
        async () => {
          const views = await Promise.all(among.map((r) => listReplicas(r).catch(() => null)));
          const ids = new Set(views.map((v) => v?.leader ?? null));
          const [id] = [...ids];
          leader = ids.size === 1 && id ? among.find((r) => r.id === id) : undefined;
          return leader !== undefined;
        },
        `one leader among ${among.map((r) => r.id).join(', ')}`,
        timeoutMs,
      );
      return leader!;
    },
    api,
    raw,
    objectKeys: () => listKeys(client, bucket, S3_PREFIX),
    async database() {
      const db = new Client({ connectionString: databaseUrl });
      await db.connect();
      return db;
    },
    async close() {
      for (const r of replicas) if (isAlive(r)) r.child.kill('SIGKILL');
      await Promise.all(replicas.map((r) => r.exited));
      await dropDatabase(databaseUrl).catch(() => undefined);
      await deleteBucket(client, bucket).catch(() => undefined);
      client.destroy();
      build?.cleanup();
      for (const r of replicas) fs.rmSync(r.logsDir, { recursive: true, force: true });
    },
  };
  return set;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: any;
}

/** A server-sent events stream read as it arrives: `events` grows, `ended` resolves when the server closes it. */
export interface LiveSse {
  status: number;
  events: SseEvent[];
  ended: Promise<void>;
  /** true once the server closed the stream */
  isEnded(): boolean;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<LiveSse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.trim()) events.push(parseBlock(block));
        }
      });
      let over = false;
      const ended = new Promise<void>((done) => {
        const end = () => {
          over = true;
          done();
        };
        res.on('end', end);
        res.on('close', end);
      });
      resolve({ status: res.statusCode ?? 0, events, ended, isEnded: () => over, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

function parseBlock(block: string): SseEvent {
  const event: SseEvent = { data: null };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const field = line.slice(0, i);
    const value = line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
    else if (field === 'data') data.push(value);
  }
  const text = data.join('\n');
  try {
    event.data = JSON.parse(text);
  } catch {
    event.data = text;
  }
  return event;
}
