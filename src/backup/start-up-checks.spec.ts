import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { archiveWriteProblem, retentionPolicy, retentionWarning } from './start-up-checks';

describe('start-up checks', () => {
  const config = (retentionDays: number, dify: number) => ({ retentionDays, dify: { retentionDays: dify, timeoutMs: 1, maxRetries: 0, retryBaseMs: 1, concurrency: 1 } });

  it('warns when the archive keeps no longer than Dify itself, not when longer or when Dify\'s retention is unknown', () => {
    expect(retentionWarning(config(30, 30))).toBe(
      'LOG_RETENTION_DAYS=30 keeps the archive no longer than Dify keeps its own logs (DIFY_RETENTION_DAYS=30): the archive holds nothing Dify has not still got; set LOG_RETENTION_DAYS above 30',
    );
    expect(retentionWarning(config(7, 30))).toContain('LOG_RETENTION_DAYS=7');
    expect(retentionWarning(config(31, 30))).toBeNull();
    expect(retentionWarning(config(7, 0))).toBeNull();
    expect(retentionPolicy(config(7, 0))).toBe(
      'Conversations older than 7 days are removed from the archive (LOG_RETENTION_DAYS); how long Dify keeps its logs is not set (DIFY_RETENTION_DAYS=0).',
    );
  });

  it('creates a missing LOGS_DIR and leaves no probe behind; names the path and the code when it cannot', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-probe-'));
    try {
      expect(await archiveWriteProblem(path.join(tmp, 'logs'))).toBeNull();
      expect(fs.readdirSync(path.join(tmp, 'logs', 'state'))).toEqual([]);
      fs.writeFileSync(path.join(tmp, 'file'), '');
      expect(await archiveWriteProblem(path.join(tmp, 'file', 'logs'))).toBe(`not writable: ${path.join(tmp, 'file', 'logs')} (ENOTDIR)`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
