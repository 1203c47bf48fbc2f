import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { chatApp, seedConversations, sourceEnv } from '../hardening/hardening-kit';
import { readArchive } from '../support/archive';
import { waitUntil } from '../support/processes';
import { makeTempDir } from '../support/test-app';
import { builtCli, runCli, startCli } from './cli-kit';

describe('CLI (node dist/cli.js) against the Dify simulator', () => {
  let cli: string;
  let sim: DifySimulator;
  let app: SimulatedApp;
  let logsDir: string;
  let cwd: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    cli = await builtCli();
  }, 300_000);
  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 12);
    logsDir = makeTempDir();
    cwd = makeTempDir('vault-cli-cwd-');
    env = { ...sourceEnv(sim, app), LOGS_DIR: logsDir, BACKFILL_FROM: '2d' };
  });
  afterEach(async () => {
    await sim.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('test checks the credentials without backing anything up', async () => {
    const sut = await runCli(cli, ['test'], env, cwd);
    expect(sut).toMatchObject({ code: 0, stderr: '' });
    expect(sut.stdout).toBe(`acme/${app.id}: ok: Connected to "${app.name}" (chat) in console-admin mode\n1 of 1 sources ok\n`);
    expect(fs.existsSync(path.join(logsDir, 'conversations'))).toBe(false);
  });

  it('test exits 1 on refused credentials and never prints them', async () => {
    const wrongKey = 'wrong-admin-key-0123456789';
    const sut = await runCli(cli, ['test', '--json'], { ...env, DIFY_ADMIN_API_KEY: wrongKey }, cwd);
    expect(sut.code).toBe(1);
    const answer = JSON.parse(sut.stdout);
    expect(answer).toMatchObject({ success: false, results: [{ ok: false, app_id: app.id, organization_id: 'acme', error_kind: 'DifyAuthError' }] });
    for (const secret of [wrongKey, sim.adminApiKey!]) expect(sut.stdout + sut.stderr).not.toContain(secret);
  });

  it('backup saves every conversation, prints only the result when piped, exits 0', async () => {
    const sut = await runCli(cli, ['backup'], env, cwd);
    expect(sut).toMatchObject({ code: 0, stderr: '' });
    const lines = sut.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^job [0-9a-f-]{36}: backing up 1 sources from their checkpoints$/);
    expect(lines[1]).toMatch(new RegExp(`^acme/${app.id}: succeeded: `));
    expect(lines.at(-1)).toMatch(/^job [0-9a-f-]{36} succeeded: /);
    expect(lines).toHaveLength(3);
    expect(readArchive(logsDir)).toHaveLength(12);
  });

  it('backup exits 3 while another live process holds the backup lock', async () => {
    const lockFile = path.join(logsDir, 'state', 'backup.lock');
    fs.mkdirSync(path.dirname(lockFile), { recursive: true });
    const holder = { pid: process.pid, hostname: os.hostname(), instance: 'the-server', owner: 'server', since: new Date().toISOString() };
    fs.writeFileSync(lockFile, JSON.stringify(holder));
    const sut = await runCli(cli, ['backup'], env, cwd);
    expect(sut.code).toBe(3);
    expect(sut.stderr).toMatch(/^refused: another server \(pid \d+ on .+\) holds the backup lock of this archive/);
    expect(sut.stdout).toBe('');
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toEqual(holder);
  });

  it('backup exits 4 with one line on SIGINT, and the next run resumes', async () => {
    sim.setLatency(300);
    const started = startCli(cli, ['backup'], env, cwd);
    const lockFile = path.join(logsDir, 'state', 'backup.lock');
    await waitUntil('the CLI to take the backup lock', () => fs.existsSync(lockFile), { intervalMs: 20 });
    started.child.kill('SIGINT');
    const sut = await started.done;
    expect(sut.code).toBe(4);
    // besides the service's own warning lines (stderr, uncoloured when piped), one line says what happened
    const own = sut.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('[Nest] '));
    expect(own).toEqual([expect.stringMatching(/^interrupted: job [0-9a-f-]{36} stopped after the conversations in flight; the next backup resumes from the checkpoint$/)]);
    expect(fs.existsSync(lockFile)).toBe(false);

    sim.setLatency(0);
    const resumed = await runCli(cli, ['backup'], env, cwd);
    expect(resumed.code).toBe(0);
    expect(readArchive(logsDir)).toHaveLength(12);
  });
});
