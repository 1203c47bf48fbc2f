import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { RESULT_PREFIX, WorkerResult, WorkerTask } from './worker';

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** Runs a scenario in a fresh Node process (bench/worker.js next to this file) and returns what it measured. */
export function runWorker(task: WorkerTask): Promise<WorkerResult> {
  const script = path.join(__dirname, 'worker.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(task)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(new Error(`worker ${task.kind} exited with ${code}: ${(err || out).trim().slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkerResult);
    });
  });
}

/** Wall time of a shell command (sh -c), in ms; throws when it fails. */
export function timeShell(command: string, cwd?: string): number {
  const start = process.hrtime.bigint();
  const res = spawnSync('sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const took = elapsedMs(start);
  if (res.status !== 0) throw new Error(`baseline failed (${res.status}): ${command}: ${res.stderr?.toString().trim()}`);
  return took;
}

export function shell(command: string, cwd?: string): string {
  const res = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`command failed (${res.status}): ${command}: ${res.stderr?.trim()}`);
  return res.stdout;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** GET /health/ready: the catalog check's status and message. */
function catalogReadiness(port: number): Promise<{ status: string; message?: string } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/ready', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { details?: { catalog?: { status: string; message?: string } } }).details?.catalog ?? null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => {
      req.destroy();
      resolve(null);
    });
  });
}

export interface StartupTiming {
  /** until GET /health answered 200 */
  ms: number;
  rssKb: number | null;
  /** with `untilReady`: until the readiness catalog check was up, and a message it gave before */
  readyMs?: number;
  rebuildMessage?: string;
}

/**
 * Spawns the built service and measures the time until `GET /health` answers 200 (and, with `untilReady`,
 * until `/health/ready` reports the catalog up), then stops it. Peak RSS comes from /proc/<pid>/status
 * (VmHWM) just before it is stopped.
 */
export async function timeStartup(
  entry: string,
  env: Record<string, string>,
  cwd: string,
  limitMs = 60_000,
  untilReady = false,
): Promise<StartupTiming> {
  const port = await freePort();
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, [entry], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
  try {
    for (;;) {
      if (exited) throw new Error(`service exited before answering: ${err.trim().slice(-1000)}`);
      if (await healthy(port)) break;
      if (elapsedMs(start) > limitMs) throw new Error(`service did not answer /health within ${limitMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = elapsedMs(start);
    if (!untilReady) return { ms, rssKb: vmHwmKb(child.pid) };
    let rebuildMessage: string | undefined;
    for (;;) {
      if (exited) throw new Error(`service exited before it was ready: ${err.trim().slice(-1000)}`);
      const catalog = await catalogReadiness(port);
      if (catalog?.status === 'up') break;
      if (catalog?.message && !rebuildMessage && /rebuilding, [1-9]/.test(catalog.message)) rebuildMessage = catalog.message;
      if (elapsedMs(start) > limitMs) throw new Error(`the catalog was not ready within ${limitMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { ms, rssKb: vmHwmKb(child.pid), readyMs: elapsedMs(start), rebuildMessage };
  } finally {
    if (!exited) child.kill('SIGTERM');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
    if (!exited) child.kill('SIGKILL');
  }
}

function vmHwmKb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
