import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli';
import { conversation } from '../archive/archive-fixtures';
import { listAllFiles } from '../support/archive';
import { requireBinaries } from '../support/requires';
import { makeTempDir } from '../support/test-app';
import { builtCli, CliRun, runCli, seedArchive } from './cli-kit';

const EXIT_CODES = ['0  done', '1  failed', '2  usage', '3  locked', '4  interrupted'];

describe('CLI (node dist/cli.js)', () => {
  let cli: string;
  let logsDir: string;
  let cwd: string;
  const run = (...args: string[]): Promise<CliRun> => runCli(cli, args, { LOGS_DIR: logsDir }, cwd);

  beforeAll(async () => {
    cli = await builtCli();
  }, 300_000);
  beforeEach(() => {
    logsDir = makeTempDir();
    cwd = makeTempDir('vault-cli-cwd-');
  });
  afterEach(() => {
    fs.rmSync(logsDir, { recursive: true, force: true });
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  describe('help', () => {
    it.each([['--help'], ['-h'], ['help']])('%s lists every command with its flags, an example and the exit codes', async (flag) => {
      const sut = await run(flag);
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      for (const command of Object.values(COMMANDS)) {
        expect(sut.stdout).toContain(`  ${command.name}  ${command.summary}`);
        expect(sut.stdout).toContain(`e.g. ${command.examples[0]}`);
        for (const flagName of Object.keys(command.flags)) expect(sut.stdout).toContain(`--${flagName}`);
      }
      for (const line of EXIT_CODES) expect(sut.stdout).toContain(line);
    });

    it.each(Object.keys(COMMANDS))('%s --help describes its flags with examples', async (name) => {
      const command = COMMANDS[name];
      const sut = await run(name, '--help');
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      expect(sut.stdout.split('\n')[0]).toBe(`usage: npm run cli -- ${name}${Object.keys(command.flags).length ? ' [flags]' : ''}`);
      for (const [flagName, flag] of Object.entries(command.flags)) {
        expect(sut.stdout).toMatch(new RegExp(`^  --${flagName}\\b.* ${escape(flag.description)}$`, 'm'));
      }
      for (const example of command.examples) expect(sut.stdout).toContain(`  ${example}\n`);
      for (const line of EXIT_CODES) expect(sut.stdout).toContain(line);
      expect((await run('help', name)).stdout).toBe(sut.stdout);
    });
  });

  describe('usage errors: exit code 2, naming what is wrong', () => {
    it.each([
      [['frobnicate'], 'unknown command frobnicate; run `npm run cli -- --help` for the commands and their flags'],
      [[], 'no command given'],
      [['export', '--bogus'], 'unknown option --bogus; run `npm run cli -- export --help`'],
      [['clean', '--dry-run=yes'], '--dry-run takes no value'],
      [['search', '--query'], '--query needs a value'],
      [['verify', 'now'], 'unexpected argument now'],
      [['verify', '--sha256=yes'], '--sha256 takes no value'],
      [['export', '--start-date', '2024-13-01', '--end-date', '2024-01-02'], '--start-date must be a date in the form YYYY-MM-DD'],
      [['export', '--start-date', '2024-01-05', '--end-date', '2024-01-02'], '--end-date must not be before --start-date'],
      [['export', '--end-date', '2024-01-02'], '--start-date is required; run'],
      [['export', '--start-date', '2024-01-01', '--end-date', '2024-01-02', '--format', 'xml'], '--format must be one of: json, ndjson, csv'],
      [['export', '--start-date', '2024-01-01', '--end-date', '2024-01-02', '--bom'], '--bom is only allowed with --format=csv'],
      [['export', '--start-date', '2024-01-01', '--end-date', '2024-01-02', '--keyword', '***'], '--keyword must contain a letter or digit'],
      [['clean', '--days', '0'], '--days must be an integer from 1 to 36500; run `npm run cli -- clean --help`'],
      [['search', '--limit', '101'], '--limit must be an integer from 1 to 100'],
      [['search', '--rating', 'meh'], '--rating must be one of: like, dislike'],
      [['summary', '--organization', '../etc'], '--organization must be 1 to 64 characters'],
      [['backup', '--app', 'nope'], 'no configured source matches --app nope'],
    ])('%j', async (args, message) => {
      const sut = await run(...args);
      expect(sut.code).toBe(2);
      expect(sut.stderr).toContain(message);
      expect(sut.stderr).not.toMatch(/days_to_keep|start_date|end_date|organization_id|dry_run/);
      expect(sut.stdout).toBe('');
    });
  });

  it('version prints the version of package.json', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(await run('version')).toEqual({ code: 0, signal: null, stdout: `dify-log-vault ${version}\n`, stderr: '' });
  });

  it('names the variable the user set when the configuration is wrong (exit code 1)', async () => {
    const sut = await runCli(cli, ['summary'], { LOGS_DIR: logsDir, DIFY_APP_ID: 'support', DIFY_API_URL: 'ftp://dify.test/v1', DIFY_API_KEY: 'app-secret-key' }, cwd);
    expect(sut.code).toBe(1);
    expect(sut.stderr).toContain('DIFY_* variables (app_id support): DIFY_API_URL must be an absolute http:// or https:// URL');
    expect(sut.stderr).not.toContain('app-secret-key');
  });

  describe('on an archive', () => {
    const january = [
      conversation({ created_at: '2024-01-15T09:00:00.000Z', name: 'Refund for order 1042', messages: [{ query: 'I want a refund', answer: 'Sure' }] }),
      conversation({ created_at: '2024-01-16T10:00:00.000Z', app_id: 'sales-bot', messages: [{ query: 'Pricing?', answer: 'Ten euros' }] }),
      conversation({ created_at: '2024-01-17T11:00:00.000Z', from_source: 'console', messages: [{ query: 'Hello', answer: 'Hi' }] }),
    ];
    beforeEach(() => seedArchive(logsDir, january));

    it('export --format ndjson streams to stdout, and --out writes the same bytes to a file', async () => {
      const sut = await run('export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--format', 'ndjson');
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      const lines = sut.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { conversation_id: string });
      expect(lines.map((l) => l.conversation_id).sort()).toEqual(january.map((c) => c.conversation_id).sort());

      const file = path.join(cwd, 'january.ndjson');
      const toFile = await run('export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--format', 'ndjson', '--out', 'january.ndjson');
      expect(toFile).toMatchObject({ code: 0, stderr: '' });
      expect(toFile.stdout).toBe(`wrote ${Buffer.byteLength(sut.stdout)} bytes of ndjson to ${file}\n`);
      expect(fs.readFileSync(file, 'utf8')).toBe(sut.stdout);
      expect(fs.readdirSync(cwd)).toEqual(['january.ndjson']);
    });

    it('export applies the API filters and formats: --app, --from-source, csv with --bom', async () => {
      const byApp = await run('export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--app', 'sales-bot');
      expect(JSON.parse(byApp.stdout)).toMatchObject({ success: true, count: 1, conversations: [{ app_id: 'sales-bot' }] });
      const bySource = await run('export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--from-source', 'console', '--format', 'ndjson');
      expect(bySource.stdout.trimEnd().split('\n')).toHaveLength(1);
      const csv = await run('export', '--start-date', '2024-01-16', '--end-date', '2024-01-16', '--format', 'csv', '--bom');
      expect(csv.code).toBe(0);
      expect(csv.stdout.startsWith('\uFEFF')).toBe(true);
      expect(csv.stdout).toContain('Ten euros');
    });

    it('export --out to a folder that does not exist fails with exit code 1 and leaves nothing', async () => {
      const sut = await run('export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--out', 'missing/out.json');
      expect(sut.code).toBe(1);
      expect(sut.stderr).toMatch(/^failed: ENOENT/);
      expect(fs.readdirSync(cwd)).toEqual([]);
    });

    it('search finds by full text; --json answers as the API does', async () => {
      const sut = await run('search', '--query', 'refund');
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      expect(sut.stdout).toContain('Refund for order 1042');
      expect(sut.stdout.trimEnd().split('\n').at(-1)).toBe('1 results');
      const json = JSON.parse((await run('search', '--limit', '2', '--json')).stdout);
      expect(json.results).toHaveLength(2);
      expect(json.next_cursor).toEqual(expect.any(String));
      const next = JSON.parse((await run('search', '--limit', '2', '--cursor', json.next_cursor, '--json')).stdout);
      expect(next).toMatchObject({ success: true, next_cursor: null });
      expect(next.results).toHaveLength(1);
    });

    it('summary --json is the API answer; without it, a short text', async () => {
      const json = await run('summary', '--json');
      expect(json).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(json.stdout)).toMatchObject({ success: true, total_files: 3, directories: expect.arrayContaining(['conversations/acme/2024/01/16']) });
      expect((await run('summary')).stdout).toMatch(/^files: 3\nsize: .+\nday folders: 3 \(/);
    });

    it('loads neither the PostgreSQL driver nor the AWS SDK for an archive of files (every command registered, the whole service booted)', async () => {
      // a module preloaded into the CLI's process writes the driver modules it required, as the process exits
      const preload = path.join(cwd, 'loaded.js');
      const written = path.join(cwd, 'loaded.json');
      fs.writeFileSync(
        preload,
        `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(written)}, JSON.stringify(Object.keys(require.cache).filter((f) => /node_modules[\\\\/](pg|@aws-sdk)[\\\\/]/.test(f)).map((f) => f.replace(/.*node_modules[\\\\/]/, '')))))`,
      );
      const loaded = async (env: Record<string, string>) => {
        await runCli(cli, ['summary', '--json'], { LOGS_DIR: logsDir, NODE_OPTIONS: `--require ${preload}`, ...env }, cwd);
        return JSON.parse(fs.readFileSync(written, 'utf8')) as string[];
      };
      expect(await loaded({})).toEqual([]);
      // the same check sees the SDK when the archive is in a bucket (here one that cannot be reached)
      const s3 = { ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-b', S3_ENDPOINT: 'http://127.0.0.1:9', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' };
      expect(await loaded(s3)).toContainEqual(expect.stringMatching(/^@aws-sdk[\\/]client-s3[\\/]/));
    });

    it('clean --dry-run reports what it would delete and deletes nothing', async () => {
      const before = listAllFiles(logsDir).sort();
      const sut = await run('clean', '--days', '30', '--dry-run', '--json');
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(sut.stdout)).toMatchObject({ dry_run: true, deleted_files: 3, first_day: '2024-01-15', last_day: '2024-01-17' });
      expect(listAllFiles(logsDir).sort()).toEqual(before);
      expect(JSON.parse((await run('summary', '--json')).stdout).total_files).toBe(3);
    });

    it('erase-user --dry-run reports and keeps; erase-user erases, audited; a missing --end-user is a usage error', async () => {
      const before = listAllFiles(logsDir).sort();
      const dry = await run('erase-user', '--end-user', 'user-1', '--app', 'sales-bot', '--dry-run', '--json');
      expect(dry).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, conversations: 1, days: ['2024-01-16'] });
      expect(listAllFiles(logsDir).sort()).toEqual(before);

      const sut = await run('erase-user', '--end-user', 'eu-1');
      expect(sut).toMatchObject({ code: 0, stderr: '' });
      expect(sut.stdout).toBe('Erased 3 conversations of this end user; later backups skip them\nconversations 3, days 2024-01-15 to 2024-01-17\n');
      expect(JSON.parse((await run('summary', '--json')).stdout).total_files).toBe(0);
      const audit = fs.readFileSync(path.join(logsDir, 'state', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(audit).toEqual([expect.objectContaining({ action: 'erase-end-user', route: 'cli', client: null, counts: { conversations: 3, days: 3 } })]);

      expect(await run('erase-user', '--dry-run')).toMatchObject({ code: 2, stderr: expect.stringContaining('--end-user is required') });
    });

    it('verify exits 0 on an intact archive and 1 naming a tampered file', async () => {
      expect(await run('verify')).toMatchObject({ code: 0, stdout: 'checked 3: missing 0, changed 0, unindexed 0, corrupt 0\n' });
      const hashed = await run('verify', '--sha256', '--json');
      expect(hashed.code).toBe(0);
      expect(JSON.parse(hashed.stdout)).toMatchObject({ method: 'sha256', checked: 3, by_sha256: 3, by_etag: 0 });
      const file = listAllFiles(logsDir).find((f) => f.includes(`conversation_${january[1].conversation_id}_`))!;
      const text = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, text.replace('Ten euros', 'Nine euros'));
      const sut = await run('verify');
      expect(sut.code).toBe(1);
      expect(sut.stdout).toContain(`changed ${path.relative(logsDir, file)}`);
      expect(sut.stdout).toContain('checked 3: missing 0, changed 1');
    });

    it('reindex rebuilds the catalog and, piped, prints nothing but the result', async () => {
      const sut = await run('reindex');
      expect(sut.code).toBe(0);
      expect(sut.stderr).toBe('');
      expect(sut.stdout).toMatch(/^indexed 3 files, skipped 0, in \d+ ms\n$/);
    });

    it('reindex on a terminal draws one progress line (bar, count, rate; redrawn at most every 100 ms), clears it, then prints the result', async () => {
      // script(1) gives the CLI a pseudo-terminal: what a person at a shell sees
      requireBinaries(['script'], "The terminal test needs script(1) from Debian's bsdutils: apt-get install bsdutils");
      const command = [process.execPath, cli, 'reindex'].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
      const sut = spawnSync('script', ['-qec', command, '/dev/null'], {
        cwd,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOGS_DIR: logsDir, TERM: 'xterm' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(sut.status).toBe(0);
      const screen = sut.stdout;
      expect(screen).toMatch(/\r\x1b\[2K\[[#-]{24}\] +\d{1,3}% [0-3]\/3 files \(\d+\/s\)/);
      // the line is cleared before the result, which stands on its own
      expect(screen).toMatch(/\r\x1b\[2Kindexed 3 files, skipped 0, in \d+ ms\r?\n$/);
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
