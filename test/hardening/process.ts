import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Compiles src/ once into a temp folder that links node_modules, views and public from the project,
 * so the service runs as `node <dir>/dist/main.js`, exactly as in production.
 */
export function buildService(): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-build-'));
  for (const name of ['node_modules', 'views', 'public', 'package.json']) {
    fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(dir, 'dist')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: string[];
  /** what the service wrote to stdout alone */
  stdout: string[];
  /** resolves with the exit code or signal */
  exited: Promise<number | string>;
}

/** Starts `node dist/main.js` with exactly `env` (plus PATH) and waits until it listens. */
export async function startService(buildDir: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(buildDir, 'dist', 'main.js')], {
    cwd: buildDir,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const stdout: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output.push(text);
      stdout.push(text);
      if (text.includes('Listening on')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    void exited.then((how) => reject(new Error(`the service exited (${how}) before listening:\n${output.join('')}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, output, stdout, exited };
}

/** Runs `node dist/cli.js ...args` to completion. */
export function runCliProcess(buildDir: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(buildDir, 'cli.js', args, env);
}

/** Runs `node dist/<script> ...args` with exactly `env` (plus PATH) to completion. */
export function runProcess(
  buildDir: string,
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(buildDir, 'dist', script), ...args], {
      cwd: buildDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts `node dist/cli.js ...args` in the background, for a test that kills it mid-run; `exited` resolves with the exit code or signal. */
export function startCliProcess(buildDir: string, args: string[], env: Record<string, string>): { child: ChildProcess; output: string[]; exited: Promise<number | string> } {
  const child = spawn(process.execPath, [path.join(buildDir, 'dist', 'cli.js'), ...args], {
    cwd: buildDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  return { child, output, exited };
}
