import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../support/test-app';
import { buildService, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(120_000);

/** Runs `node dist/main.js` expecting it to refuse to start. */
function runToExit(buildDir: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(buildDir, 'dist', 'main.js')], {
      cwd: buildDir,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `chattr +i` makes a folder unwritable even for root (tests run as root, where chmod stops nothing). */
function immutable(dir: string, on: boolean): boolean {
  try {
    execFileSync('chattr', [on ? '+i' : '-i', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('Hardening: start-up checks of LOGS_DIR and retention (real processes)', () => {
  let build: ReturnType<typeof buildService>;
  let tmp: string;
  const running: ServiceProcess[] = [];

  beforeAll(() => {
    build = buildService();
    tmp = makeTempDir();
  });
  afterAll(() => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    immutable(path.join(tmp, 'frozen'), false);
    build?.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a LOGS_DIR that cannot be created (its parent is a regular file) stops start-up with one line and exit code 1', async () => {
    fs.writeFileSync(path.join(tmp, 'a-file'), 'not a folder');
    const logsDir = path.join(tmp, 'a-file', 'logs');
    const run = await runToExit(build.dir, { LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false' });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`not writable: ${logsDir} (ENOTDIR)\n`);
    expect(run.stdout).toBe('');
  });

  it('a LOGS_DIR that exists but refuses writes even to root (chattr +i) stops start-up with one line and exit code 1', async () => {
    const logsDir = path.join(tmp, 'frozen');
    fs.mkdirSync(logsDir);
    // where the file system has no immutable flag (tmpfs, overlay without it), the regular-file case above stands alone
    if (!immutable(logsDir, true)) return;
    const run = await runToExit(build.dir, { LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false' });
    immutable(logsDir, false);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`not writable: ${logsDir} (EPERM)\n`);
    expect(run.stdout).toBe('');
  });

  it('LOG_RETENTION_DAYS at or below DIFY_RETENTION_DAYS: a start-up warning, and the overview says so with the policy and the next clean-up', async () => {
    const logsDir = path.join(tmp, 'short');
    const p = await startService(build.dir, { LOGS_DIR: logsDir, LOG_RETENTION_DAYS: '7', DIFY_RETENTION_DAYS: '30', CLEANUP_CRON: '0 3 * * 0' });
    running.push(p);
    const warning =
      'LOG_RETENTION_DAYS=7 keeps the archive no longer than Dify keeps its own logs (DIFY_RETENTION_DAYS=30): ' +
      'the archive holds nothing Dify has not still got; set LOG_RETENTION_DAYS above 30';
    await waitFor(() => p.output.join('').includes(warning), 'the start-up retention warning');
    const page = await fetch(`${p.url}/admin`).then((r) => r.text());
    // handlebars escapes `=` as &#x3D;
    expect(page).toContain(`<p class="warning" data-role="retention-warning">${warning.replaceAll('=', '&#x3D;')}</p>`);
    expect(page).toContain('Conversations older than 7 days are removed from the archive (LOG_RETENTION_DAYS); Dify keeps its own logs 30 days.');
    expect(page).toMatch(/Next clean-up <time datetime="\d{4}-\d\d-\d\dT03:00:00\.000Z"/);
    p.child.kill('SIGTERM');
    await p.exited;

    // above Dify's retention, or Dify's unknown (0): the policy without a warning
    for (const env of [{ LOG_RETENTION_DAYS: '90', DIFY_RETENTION_DAYS: '30' }, { LOG_RETENTION_DAYS: '7', DIFY_RETENTION_DAYS: '0' }]) {
      const q = await startService(build.dir, { LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false', ...env });
      running.push(q);
      const html = await fetch(`${q.url}/admin`).then((r) => r.text());
      expect(html).toContain(`Conversations older than ${env.LOG_RETENTION_DAYS} days are removed from the archive`);
      expect(html).toContain('No scheduled clean-up (ENABLE_AUTO_LOGGING=false)');
      expect(html).not.toContain('retention-warning');
      expect(q.output.join('')).not.toContain('keeps the archive no longer than Dify');
      q.child.kill('SIGTERM');
      await q.exited;
    }
  });
});
