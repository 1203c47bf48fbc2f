import { NestFactory } from '@nestjs/core';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppModule } from '../../src/app.module';
import type { ArchivedConversation } from '../../src/common/conversation-log';
import { loadAppConfig } from '../../src/config/app-config';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { runDir, waitUntil } from '../support/processes';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * `dist/cli.js` compiled once per jest run into the run folder, next to links to node_modules and
 * package.json, so the CLI runs as `node dist/cli.js` exactly as in production.
 */
export async function builtCli(): Promise<string> {
  const dir = path.join(runDir(), 'cli-build');
  const ready = path.join(dir, 'ready');
  const cli = path.join(dir, 'dist', 'cli.js');
  try {
    fs.mkdirSync(dir);
  } catch {
    await waitUntil('the CLI build of another suite', () => fs.existsSync(ready), { timeoutMs: 300_000, intervalMs: 500 });
    return cli;
  }
  for (const name of ['node_modules', 'views', 'public', 'package.json']) fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(dir, 'dist')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  fs.writeFileSync(ready, '');
  return cli;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliRun>;
}

/** Starts `node <cli> ...args` in `cwd` (no .env there) with exactly `env` plus PATH; stdout and stderr are pipes. */
export function startCli(cli: string, args: string[], env: Record<string, string>, cwd: string): CliProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<CliRun>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(cli: string, args: string[], env: Record<string, string>, cwd: string): Promise<CliRun> {
  return startCli(cli, args, env, cwd).done;
}

/** Writes conversations through the service itself (files and catalog), then closes it. */
export async function seedArchive(logsDir: string, conversations: ArchivedConversation[]): Promise<void> {
  const config = loadAppConfig({ NODE_ENV: 'test', ENABLE_AUTO_LOGGING: 'false', LOGS_DIR: logsDir });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false });
  try {
    const storage = app.get(LogStorageService);
    for (const c of conversations) await storage.saveConversation(c);
  } finally {
    await app.close();
  }
}
