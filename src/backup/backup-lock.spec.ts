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
});
