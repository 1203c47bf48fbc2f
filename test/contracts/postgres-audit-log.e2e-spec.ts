import { PostgresAuditLog } from '../../src/log-storage/postgres/postgres-audit-log';
import { PostgresPrivacy } from '../../src/log-storage/postgres/postgres-privacy';
import type { AuditLine } from '../../src/log-storage/privacy/audit-log';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeAuditLogContract } from './audit-log.contract';

jest.setTimeout(120_000);

describeAuditLogContract(PostgresAuditLog.name, async () => {
  const url = await createDatabase('audit_contract');
  const opened = [new PostgresPrivacy(url)];
  return {
    log: opened[0].audit,
    another: async () => {
      const next = new PostgresPrivacy(url);
      opened.push(next);
      return next.audit;
    },
    dispose: async () => {
      for (const p of opened) await p.onApplicationShutdown();
      await dropDatabase(url);
    },
  };
});

describe(`${PostgresAuditLog.name} in PostgreSQL`, () => {
  it('copies the lines of an audit.jsonl once, in their time order among its own entries', async () => {
    const url = await createDatabase('audit_pg');
    const privacy = new PostgresPrivacy(url);
    try {
      const sut = privacy.audit;
      const own = await sut.record({ action: 'lift-erasure', route: 'api', client: '127.0.0.1', scope: { end_user_hash: 'c'.repeat(64), organization_id: null }, counts: { erasures: 1 } });
      const old = { at: '2025-01-01T00:00:00.000Z', action: 'retention-clean', route: 'schedule', client: null, scope: { days_to_keep: 30 }, counts: { files: 4, bytes: 400 } };
      const older = { at: '2024-12-01T00:00:00.000Z', action: 'erase-end-user', route: 'cli', scope: { end_user_hash: 'd'.repeat(64) }, counts: { conversations: 2, days: 1 }, client: null };
      async function* lines(texts: string[]): AsyncGenerator<AuditLine> {
        for (const [i, text] of texts.entries()) yield { line: i + 1, text };
      }
      const file = [JSON.stringify(older), JSON.stringify(old)];
      expect(await sut.importLines(lines(file))).toEqual({ copied: 2, present: 0 });
      expect(await sut.importLines(lines(file))).toEqual({ copied: 0, present: 2 });
      const grown = [...file, JSON.stringify({ ...old, at: '2025-02-01T00:00:00.000Z' })];
      expect(await sut.importLines(lines(grown))).toEqual({ copied: 1, present: 2 });
      const page = await sut.read(50, 0);
      expect(page.total).toBe(4);
      expect(page.entries.map((e) => e.at)).toEqual([own.at, '2025-02-01T00:00:00.000Z', old.at, older.at]);
      // kept as written: the key order of the line too
      expect(JSON.stringify(page.entries[3])).toBe(file[0]);
      await expect(sut.importLines(lines(['{"nothing":1}']))).rejects.toThrow('audit.jsonl line 1 is not an audit entry');
    } finally {
      await privacy.onApplicationShutdown();
      await dropDatabase(url);
    }
  });
});
