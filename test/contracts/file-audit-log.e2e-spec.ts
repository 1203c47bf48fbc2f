import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAppConfig } from '../../src/config/app-config';
import { FileAuditLog } from '../../src/log-storage/privacy/audit-log';
import { makeTempDir } from '../support/test-app';
import { describeAuditLogContract } from './audit-log.contract';

jest.setTimeout(60_000);

describeAuditLogContract(FileAuditLog.name, async () => {
  const logsDir = makeTempDir('audit-contract-');
  const config = loadAppConfig({ NODE_ENV: 'test', LOGS_DIR: logsDir });
  return {
    log: new FileAuditLog(config),
    another: async () => new FileAuditLog(config),
    dispose: async () => fs.rmSync(logsDir, { recursive: true, force: true }),
  };
});

describe(`${FileAuditLog.name} on disk`, () => {
  it('appends one JSON line per entry to LOGS_DIR/state/audit.jsonl and gives them back oldest first with their line numbers', async () => {
    const logsDir = makeTempDir('audit-file-');
    try {
      const sut = new FileAuditLog(loadAppConfig({ NODE_ENV: 'test', LOGS_DIR: logsDir }));
      const first = await sut.record({ action: 'lift-erasure', route: 'cli', scope: { end_user_hash: 'a'.repeat(64), organization_id: null }, counts: { erasures: 1 } });
      const second = await sut.record({ action: 'retention-clean', route: 'schedule', scope: { days_to_keep: 3 }, counts: { files: 1, bytes: 10 } });
      const file = path.join(logsDir, 'state', 'audit.jsonl');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8')).toBe(`${JSON.stringify(first)}\n${JSON.stringify(second)}\n`);
      fs.appendFileSync(file, '\n');
      const third = await sut.record({ action: 'retention-clean', route: 'api', client: '::1', scope: { days_to_keep: 2 }, counts: { files: 2, bytes: 20 } });
      const lines = [];
      for await (const line of sut.lines()) lines.push(line);
      expect(lines).toEqual([
        { line: 1, text: JSON.stringify(first) },
        { line: 2, text: JSON.stringify(second) },
        { line: 4, text: JSON.stringify(third) },
      ]);
      expect((await sut.read(50, 0)).total).toBe(3);
    } finally {
      fs.rmSync(logsDir, { recursive: true, force: true });
    }
  });
});
