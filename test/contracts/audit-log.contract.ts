import type { AuditLog, NewAuditEntry } from '../../src/log-storage/privacy/audit-log';

/** An audit log under test over fresh, empty storage; `another` opens a second instance over the same storage. */
export interface AuditLogSubject {
  log: AuditLog;
  another(): Promise<AuditLog>;
  dispose(): Promise<void>;
}

const erase = (n: number, client?: string | null): NewAuditEntry => ({
  action: 'erase-end-user',
  route: 'api',
  ...(client !== undefined ? { client } : {}),
  scope: { end_user_hash: `${n}`.padStart(64, '0'), organization_id: null, app_id: null },
  counts: { conversations: n, days: 1 },
});

/**
 * What every `AuditLog` does, wherever it keeps its entries, as `GET /api/audit` offers them: newest first,
 * paged by limit and offset, with the total. `describeAuditLogContract('PostgresAuditLog', async () => ...)`.
 */
export function describeAuditLogContract(name: string, create: () => Promise<AuditLogSubject>): void {
  describe(`AuditLog contract: ${name}`, () => {
    let subject: AuditLogSubject;
    let sut: AuditLog;

    beforeEach(async () => {
      subject = await create();
      sut = subject.log;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('starts empty', async () => {
      expect(await sut.read(50, 0)).toEqual({ total: 0, entries: [] });
      expect(await sut.read(50, 10)).toEqual({ total: 0, entries: [] });
    });

    it('records an entry with its time and client, and reads it back as recorded, keys in order', async () => {
      const before = new Date().toISOString();
      const recorded = await sut.record(erase(1, '127.0.0.1'));
      expect(recorded.at >= before && recorded.at <= new Date().toISOString()).toBe(true);
      expect(Object.keys(recorded)).toEqual(['at', 'action', 'route', 'client', 'scope', 'counts']);
      const withoutClient = await sut.record({ action: 'retention-clean', route: 'cli', scope: { days_to_keep: 10, first_day: null }, counts: { files: 3, bytes: 2048 } });
      expect(withoutClient.client).toBeNull();
      const page = await sut.read(50, 0);
      expect(page.total).toBe(2);
      expect(JSON.stringify(page.entries)).toBe(JSON.stringify([withoutClient, recorded]));
    });

    it('pages newest first, with the total on every page and a partial last page', async () => {
      const recorded = [];
      for (let n = 1; n <= 7; n++) recorded.push(await sut.record(erase(n)));
      const newestFirst = [...recorded].reverse();
      expect(await sut.read(3, 0)).toEqual({ total: 7, entries: newestFirst.slice(0, 3) });
      expect(await sut.read(3, 3)).toEqual({ total: 7, entries: newestFirst.slice(3, 6) });
      expect(await sut.read(3, 6)).toEqual({ total: 7, entries: newestFirst.slice(6) });
      expect(await sut.read(3, 7)).toEqual({ total: 7, entries: [] });
      expect(await sut.read(500, 0)).toEqual({ total: 7, entries: newestFirst });
      expect((await sut.read(1, 1)).entries[0].counts).toEqual({ conversations: 6, days: 1 });
    });

    it('shows what another instance recorded, and loses no entry of two writing at once', async () => {
      const other = await subject.another();
      await other.record(erase(100));
      expect((await sut.read(50, 0)).entries.map((e) => e.counts.conversations)).toEqual([100]);
      await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? other : sut).record(erase(i + 1))));
      const page = await sut.read(500, 0);
      expect(page.total).toBe(31);
      expect(page.entries.map((e) => e.counts.conversations).sort((a, b) => a - b)).toEqual([...Array.from({ length: 30 }, (_, i) => i + 1), 100]);
    });
  });
}
