/**
 * A real PostgreSQL for the tests: Debian's server, `initdb` into a temp folder, listening on
 * 127.0.0.1:<free port> and a socket in the same folder, durability switched off for speed.
 *
 * Usage in a suite:
 *   let url: string;
 *   beforeAll(async () => { url = await createDatabase('catalog'); });   // fresh database per suite
 *   afterAll(async () => { await dropDatabase(url); });
 *
 * The server is started by the first suite that asks for it (once per jest run, shared by all
 * workers) and stopped by the global teardown, or by the watchdog if jest dies.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { registerExtraDir, run, spawnDaemon, startOnce, waitUntil, freePort } from './processes';
import { MissingDependencyError, POSTGRES_REQUIREMENT } from './requires';

export interface PostgresInstance {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** folder holding the Unix socket */
  socketDir: string;
  dataDir: string;
  pid: number;
  /** postgres://<user>@127.0.0.1:<port>/postgres, for administration */
  adminUrl: string;
  startMs: number;
}

const SUPERUSER = 'postgres';

/** The bin folder of the newest installed server (/usr/lib/postgresql/<major>/bin), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const majors = fs
    .readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, 'bin', 'postgres')) && fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? path.join(root, majors[0], 'bin') : undefined;
}

/** The run's PostgreSQL: started on first use, shared by every later suite and worker. */
export async function startPostgres(): Promise<PostgresInstance> {
  if (!postgresBinDir()) throw new MissingDependencyError(POSTGRES_REQUIREMENT);
  return startOnce('postgres', (runDir) => startPostgresServer(runDir));
}

/**
 * initdb + postgres in a fresh temp folder; the pid is recorded in `pidsDir` (the run folder).
 * As root the server runs as the `postgres` user (initdb refuses root), so its folder is its own
 * temp folder owned by that user, outside the root-only run folder.
 */
export async function startPostgresServer(pidsDir: string): Promise<PostgresInstance> {
  const bin = postgresBinDir();
  if (!bin) throw new MissingDependencyError(POSTGRES_REQUIREMENT);
  const started = Date.now();
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? userIds(SUPERUSER) : undefined;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-test-pg-'));
  registerExtraDir(pidsDir, base);
  const dataDir = path.join(base, 'data');
  const socketDir = path.join(base, 'socket');
  fs.mkdirSync(socketDir);
  if (owner) {
    for (const p of [base, socketDir]) fs.chownSync(p, owner.uid, owner.gid);
  }
  fs.chmodSync(base, 0o700);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', HOME: base };

  await run(
    path.join(bin, 'initdb'),
    ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions'],
    { ...asOwner, env, cwd: base, timeoutMs: 120_000 },
  );
  const port = await freePort();
  const logFile = path.join(base, 'postgres.log');
  fs.writeFileSync(logFile, '');
  if (owner) fs.chownSync(logFile, owner.uid, owner.gid);
  const server = spawnDaemon(
    pidsDir,
    path.join(bin, 'postgres'),
    [
      '-D', dataDir,
      '-p', String(port),
      '-k', socketDir,
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=64MB',
    ],
    logFile,
    { ...asOwner, env, cwd: base },
  );
  const adminUrl = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  await waitUntil(
    'PostgreSQL',
    async () => {
      const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    { timeoutMs: 60_000, intervalMs: 100, failed: () => (server.exited() ? `postgres exited:\n${server.tail()}` : undefined) },
  );
  return {
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
    socketDir,
    dataDir,
    pid: server.pid,
    adminUrl,
    startMs: Date.now() - started,
  };
}

/**
 * A fresh, empty database on the run's server (started if needed); returns its postgres:// URL.
 * `prefix` is a hint for its name, which gets a random suffix.
 */
export async function createDatabase(prefix = 'suite'): Promise<string> {
  return createDatabaseOn(await startPostgres(), prefix);
}

/** A fresh, empty database on the given server (the bench's own, say); returns its postgres:// URL. */
export async function createDatabaseOn(pg: PostgresInstance, prefix: string): Promise<string> {
  const safe = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 40) || 'suite';
  const name = `${safe}_${randomBytes(5).toString('hex')}`;
  await withClient(pg.adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  return `postgres://${pg.user}@${pg.host}:${pg.port}/${name}`;
}

/** Drops a database made by createDatabase(), closing its leftover connections. */
export async function dropDatabase(url: string): Promise<void> {
  return dropDatabaseOn(await startPostgres(), url);
}

/** Drops a database of the given server, closing its leftover connections. */
export async function dropDatabaseOn(pg: PostgresInstance, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a test database: ${name}`);
  await withClient(pg.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function userIds(user: string): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new MissingDependencyError(`${POSTGRES_REQUIREMENT} (no '${user}' user to run the server as root)`);
  }
}
