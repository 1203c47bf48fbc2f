import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../config/app-config';
import { BackupLockedError, FileBackupLock } from './backup-lock';

describe(FileBackupLock.name, () => {
  let logsDir: string;
  let sut: FileBackupLock;
  let other: FileBackupLock;

  beforeEach(() => {
    logsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-lock-'));
    const config = { logsDir } as AppConfig;
    sut = new FileBackupLock(config);
    other = new FileBackupLock(config);
  });
  afterEach(async () => {
    await sut.onApplicationShutdown();
    await other.onApplicationShutdown();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const refusal = async () => {
    const error = await other.hold('server', { jobId: 'other', sources: ['acme/alpha'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupLockedError);
    return error as BackupLockedError;
  };

  it('names the oldest job still holding the archive lock, for the 409 answer', async () => {
    await sut.hold('server', { jobId: 'first', sources: ['acme/alpha'] });
    await sut.hold('server', { jobId: 'second', sources: ['acme/beta'] });
    expect((await refusal()).jobId).toBe('first');

    await sut.release({ jobId: 'first', sources: ['acme/alpha'] });
    const refused = await refusal();
    expect(refused.jobId).toBe('second');
    expect(refused.message).toMatch(/^another server \(pid \d+ on .+\) holds the backup lock of this archive \(.+backup\.lock\); try again/);
    expect(fs.readdirSync(path.join(logsDir, 'state'))).toEqual(['backup.lock']);

    await sut.release({ jobId: 'second', sources: ['acme/beta'] });
    await other.hold('server', { jobId: 'other', sources: ['acme/alpha'] });
    expect(JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'backup.lock'), 'utf8'))).toMatchObject({ job_id: 'other', pid: process.pid });
  });

  it('lets one of two processes racing to take over a dead holder\'s lock have it, every time', async () => {
    // a pid that has just exited: its lock is stale on this host
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    const file = path.join(logsDir, 'state', 'replication.lock');
    const config = { logsDir } as AppConfig;
    const [first, second] = [new FileBackupLock(config, 'replication.lock'), new FileBackupLock(config, 'replication.lock')];
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 200; attempt++) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const stale = { pid: deadPid, hostname: os.hostname(), instance: `dead-${attempt}`, owner: 'cli', since: '2025-10-15T01:00:00.000Z' };
      fs.writeFileSync(file, `${JSON.stringify(stale)}\n`);
      const results = await Promise.allSettled([
        first.hold('server', { jobId: 'first', sources: ['replication'] }),
        second.hold('server', { jobId: 'second', sources: ['replication'] }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected' && r.reason instanceof BackupLockedError).length;
      outcomes.push(`${won} won, ${refused} refused`);
      await first.release({ jobId: 'first', sources: ['replication'] });
      await second.release({ jobId: 'second', sources: ['replication'] });
    }
    expect(outcomes.filter((o) => o !== '1 won, 1 refused')).toEqual([]);
    expect(fs.readdirSync(path.join(logsDir, 'state'))).toEqual([]);
  });
});
