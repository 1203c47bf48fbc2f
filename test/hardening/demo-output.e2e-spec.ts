import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../support/test-app';
import { buildService, freePort, waitFor } from './process';

jest.setTimeout(180_000);

/** The rows of a standard terminal: what "fits on one screen" means for a first `npm run demo`. */
const SCREEN_ROWS = 24;

describe('npm run demo (node dist/demo.js)', () => {
  let build: ReturnType<typeof buildService>;

  beforeAll(() => {
    build = buildService();
  });
  afterAll(() => build?.cleanup());

  it('prints its start-up, the first backup of the whole workspace and where to look, all on one screen', async () => {
    const port = await freePort();
    const logsDir = makeTempDir();
    const child = spawn(process.execPath, [path.join(build.dir, 'dist', 'demo.js')], {
      cwd: build.dir,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOGS_DIR: logsDir, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)));
    try {
      await waitFor(() => output.includes('Ready: admin page') || child.exitCode !== null, 'the demo to be ready', 120_000);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    // the server's shutdown hooks end the process by the signal it was sent
    expect([0, 'SIGTERM']).toContain(await exited);

    const lines = output.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toContainEqual(expect.stringMatching(/apps, backed up as one whole-workspace source$/));
    expect(lines).toContainEqual(expect.stringMatching(/Source workspace-[0-9a-f-]+ "Demo workspace": whole workspace, console-admin, 127\.0\.0\.1:\d+$/));
    // a first backup of an empty archive: every conversation counted once, none unchanged, one file each
    const first = lines.map((l) => /First backup: 1 source: 1 succeeded; (\d+) conversations seen, (\d+) saved, (\d+) unchanged, 0 failed$/.exec(l)).find(Boolean);
    expect(first).toBeTruthy();
    const [seen, saved, unchanged] = first!.slice(1).map(Number);
    const files = fs.readdirSync(path.join(logsDir, 'conversations'), { recursive: true }).map(String).filter((f) => /conversation_[^/]+\.json(\.gz)?$/.test(f));
    expect({ seen, saved, unchanged }).toEqual({ seen: files.length, saved: files.length, unchanged: 0 });
    expect(files.length).toBeGreaterThan(100);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`Ready: admin page http://127\\.0\\.0\\.1:${port}/admin`)));
    expect(lines.filter((l) => /\bERROR\b/.test(l))).toEqual([]);
    expect(lines.filter((l) => l.includes('\u001b['))).toEqual([]);
    expect([lines.length <= SCREEN_ROWS, lines]).toEqual([true, lines]);
  });
});
