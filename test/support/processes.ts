/**
 * Throwaway external services for the tests: one run folder per jest run, daemons spawned detached
 * with their pids recorded there, and a watchdog that kills them when the jest process dies without
 * running its global teardown. Everything listens on 127.0.0.1 only.
 *
 * Files in the run folder (VAULT_TEST_RUN_DIR):
 *   pids            one "pid name" line per daemon (name = the process's /proc/<pid>/comm)
 *   <svc>.json      connection details of a started service, shared by all suites and workers
 *   <svc>.lock/     taken (mkdir) by the one worker that starts the service
 *   <svc>.error     why the start failed, so that the other workers fail at once too
 */
import { ChildProcess, execFile, spawn, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const RUN_DIR_ENV = 'VAULT_TEST_RUN_DIR';
/** Set by .ci/run: every daemon's pid is appended there too, so a trap can kill them if jest crashes. */
export const PIDS_FILE_ENV = 'VAULT_TEST_PIDS_FILE';

const WATCHDOG = path.join(__dirname, 'watchdog.js');

/**
 * The run folder shared by all suites of this jest run (made by the global setup). A suite run
 * without the global setup gets a private one, watched on its own process and removed when it exits.
 */
export function runDir(): string {
  const existing = process.env[RUN_DIR_ENV];
  if (existing && fs.existsSync(existing)) return existing;
  const dir = createRunDir(process.pid);
  process.env[RUN_DIR_ENV] = dir;
  return dir;
}

/** Makes a run folder and starts a detached watchdog on `ownerPid` (the jest process). */
export function createRunDir(ownerPid: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-test-run-'));
  fs.writeFileSync(path.join(dir, 'pids'), '');
  const watchdog = spawn(process.execPath, [WATCHDOG, String(ownerPid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  // not in `pids`: it exits by itself once the run folder is gone, and must outlive a crashed jest
  if (watchdog.pid) fs.writeFileSync(path.join(dir, 'watchdog.pid'), String(watchdog.pid));
  return dir;
}

export function recordPid(dir: string, pid: number, name: string): void {
  const line = `${pid} ${name.slice(0, 15)}\n`;
  fs.appendFileSync(path.join(dir, 'pids'), line);
  const ciFile = process.env[PIDS_FILE_ENV];
  if (ciFile) {
    try {
      fs.appendFileSync(ciFile, line);
    } catch {
      /* CI's list is a second safety net only */
    }
  }
}

/** True when `pid` is alive (not a zombie) and still the process we started (its comm is `name`). */
export function isOurProcess(pid: number, name: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<comm>) <state> ..."
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return comm === name.slice(0, 15) && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** How each kind of daemon is stopped: throwaway data, so Ceph is killed outright. */
export function stopSignal(name: string): NodeJS.Signals {
  if (name === 'postgres') return 'SIGQUIT'; // immediate shutdown, backends exit with it
  if (name.startsWith('ceph-') || name === 'radosgw') return 'SIGKILL'; // memstore: nothing to keep
  return 'SIGTERM';
}

/** SIGTERM (or `signal`) each process, then SIGKILL whatever is still alive after `graceMs`. */
export async function killPids(entries: { pid: number; name: string; signal?: NodeJS.Signals }[], graceMs = 3000): Promise<void> {
  const alive = entries.filter((e) => isOurProcess(e.pid, e.name));
  for (const e of alive) {
    try {
      process.kill(e.pid, e.signal ?? 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive.some((e) => isOurProcess(e.pid, e.name))) await sleep(100);
  for (const e of alive) {
    if (!isOurProcess(e.pid, e.name)) continue;
    try {
      process.kill(e.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function readPids(dir: string): { pid: number; name: string }[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, 'pids'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter((p) => p.length === 2 && /^\d+$/.test(p[0]))
    .map(([pid, name]) => ({ pid: Number(pid), name }));
}

export interface Daemon {
  pid: number;
  name: string;
  child: ChildProcess;
  logFile: string;
  /** last lines of its stdout/stderr log, for error messages */
  tail(lines?: number): string;
  exited(): boolean;
}

/** Spawns a long-running process detached (own session), output to `logFile`, pid recorded. */
export function spawnDaemon(
  dir: string,
  command: string,
  args: string[],
  logFile: string,
  options: SpawnOptions = {},
): Daemon {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  if (!child.pid) throw new Error(`could not start ${command}`);
  let hasExited = false;
  child.on('exit', () => (hasExited = true));
  child.on('error', () => (hasExited = true));
  child.unref();
  const name = path.basename(command).slice(0, 15);
  recordPid(dir, child.pid, name);
  return {
    pid: child.pid,
    name,
    child,
    logFile,
    tail: (lines = 15) => tailFile(logFile, lines),
    exited: () => hasExited,
  };
}

export function tailFile(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true; throws `describe()` on timeout or when `failed()` says so. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 60_000, intervalMs = 200, failed }: { timeoutMs?: number; intervalMs?: number; failed?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
export function run(command: string, args: string[], options: { timeoutMs?: number; input?: string; cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, cwd: options.cwd, env: options.env, uid: options.uid, gid: options.gid },
      (error, stdout, stderr) => {
        if (error) {
          const out = `${stderr}\n${stdout}`.trim().split('\n').slice(-10).join('\n');
          reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}): ${out}`));
        } else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Once per run folder: the first caller (across workers) runs `start` and writes its result to
 * `<name>.json`; the others wait for that file. A failure is written to `<name>.error` so every
 * waiting suite fails with the same message.
 */
export async function startOnce<T>(name: string, start: (dir: string) => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const dir = runDir();
  const jsonFile = path.join(dir, `${name}.json`);
  const errorFile = path.join(dir, `${name}.error`);
  const readError = () => (fs.existsSync(errorFile) ? fs.readFileSync(errorFile, 'utf8') : undefined);
  if (fs.existsSync(jsonFile)) return JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as T;
  let owner = false;
  try {
    fs.mkdirSync(path.join(dir, `${name}.lock`));
    owner = true;
  } catch {
    /* someone else is starting it */
  }
  if (owner) {
    try {
      const result = await start(dir);
      const tmp = `${jsonFile}.${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(result, null, 2));
      fs.renameSync(tmp, jsonFile);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fs.writeFileSync(errorFile, message);
      throw error;
    }
  }
  await waitUntil(`waiting for ${name} started by another test worker`, () => fs.existsSync(jsonFile), {
    timeoutMs,
    failed: readError,
  });
  return JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as T;
}

/** Kills every recorded process of the run folder and removes it (global teardown, watchdog). */
export async function destroyRunDir(dir: string): Promise<void> {
  await stopContainersOf(dir);
  // the watchdog exits by itself once the run folder is gone
  const daemons = readPids(dir);
  await killPids(
    daemons.map((e) => ({ ...e, signal: stopSignal(e.name) })),
  );
  for (const extra of listExtraDirs(dir)) fs.rmSync(extra, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Folders outside the run folder that belong to it (e.g. a postgres-owned data folder). */
export function registerExtraDir(dir: string, extra: string): void {
  fs.appendFileSync(path.join(dir, 'extra-dirs'), `${extra}\n`);
}

function listExtraDirs(dir: string): string[] {
  try {
    return fs
      .readFileSync(path.join(dir, 'extra-dirs'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(os.tmpdir() + path.sep));
  } catch {
    return [];
  }
}

/** Containers and images made by the podman helper in this run (ids in `containers`, tags in `images`). */
async function stopContainersOf(dir: string): Promise<void> {
  const read = (file: string) => {
    try {
      return fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const ids = read('containers').filter((l) => /^[0-9a-f]{12,64}$/.test(l));
  const images = read('images').filter((l) => /^localhost\/vault-test-[a-z0-9-]+(:[a-z0-9.-]+)?$/.test(l));
  if (ids.length > 0) {
    await run('podman', ['rm', '--force', '--time', '0', '--ignore', ...ids], { timeoutMs: 60_000 }).catch(() => undefined);
  }
  if (images.length > 0) {
    await run('podman', ['rmi', '--force', '--ignore', ...images], { timeoutMs: 60_000 }).catch(() => undefined);
  }
}
