import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../support/test-app';
import { buildService, runProcess } from './process';

jest.setTimeout(120_000);

describe('Start-up with a bad configuration (real processes)', () => {
  let build: ReturnType<typeof buildService>;
  let logsDir: string;

  beforeAll(() => {
    build = buildService();
    logsDir = makeTempDir();
  });
  afterAll(() => {
    build?.cleanup();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  it.each([
    ['main.js', [], { BACKUP_CRON: 'every day' }, 'BACKUP_CRON must be a cron expression'],
    ['main.js', [], { CRON_TIMEZONE: 'Nowhere' }, 'CRON_TIMEZONE must be an IANA time zone'],
    ['main.js', [], { PORT: 'abc' }, 'PORT must be'],
    ['cli.js', ['verify'], { CLEANUP_CRON: '61 * * * *' }, 'CLEANUP_CRON must be a cron expression'],
  ])('%s %j with %j exits 1 with one line naming the variable', async (script, args, env, message) => {
    const sut = await runProcess(build.dir, script, args, { LOGS_DIR: logsDir, ...env });
    expect(sut.code).toBe(1);
    const lines = sut.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
    expect(sut.stdout).toBe('');
  });

  it('reads the cron settings from .env like every other variable', async () => {
    fs.writeFileSync(path.join(build.dir, '.env'), 'BACKUP_CRON=not a cron\n');
    try {
      const sut = await runProcess(build.dir, 'main.js', [], { LOGS_DIR: logsDir });
      expect(sut.code).toBe(1);
      expect(sut.stderr.trim()).toMatch(/^Invalid configuration: BACKUP_CRON must be a cron expression/);
    } finally {
      fs.rmSync(path.join(build.dir, '.env'));
    }
  });
});
