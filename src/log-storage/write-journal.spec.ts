import { PROCESS_ID } from '../common/process-liveness';
import { ArchiveAccess } from './archive-access';
import type { ArchiveFiles } from './archive-files';
import type { Catalog, JournaledWrite } from './catalog';
import { WriteJournal } from './write-journal';

const path = (i: number) => `conversations/acme/2024/01/16/conversation_c${i}_2024-01-16T12-30-29-000Z.json`;

/** A catalog whose journal writes wait until released, recording each statement's entries. */
class SlowJournal {
  statements: JournaledWrite[][] = [];
  entries: JournaledWrite[] = [];
  private releases: (() => void)[] = [];
  async journalWrites(writes: JournaledWrite[]): Promise<void> {
    this.statements.push(writes);
    await new Promise<void>((resolve) => this.releases.push(resolve));
    this.entries.push(...writes);
  }
  async journaledWrites(): Promise<JournaledWrite[]> {
    return this.entries;
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

describe(WriteJournal.name, () => {
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the entries recorded while a statement is under way together in the next one', async () => {
    const catalog = new SlowJournal();
    const sut = new WriteJournal(catalog as unknown as Catalog, { readsInFlight: 1 } as ArchiveFiles, new ArchiveAccess());
    const first = sut.record(path(0), { org_key: 'acme', app_id: 'bot' });
    await settle();
    const rest = Array.from({ length: 7 }, (_, i) => sut.record(path(i + 1), { org_key: 'acme', app_id: 'bot' }));
    await settle();
    expect(catalog.statements.map((s) => s.length)).toEqual([1]);
    catalog.release();
    await first;
    await settle();
    expect(catalog.statements.map((s) => s.length)).toEqual([1, 7]);
    catalog.release();
    await Promise.all(rest);
    expect(catalog.entries.map((e) => e.path)).toEqual(Array.from({ length: 8 }, (_, i) => path(i)));
    expect(catalog.entries.every((e) => e.writer === PROCESS_ID && e.org_key === 'acme' && e.app_id === 'bot')).toBe(true);
  });

  it('never replays a write this process has in flight, and replays it once settled (left by a failed store)', async () => {
    const catalog = Object.assign(new SlowJournal(), {
      settled: [] as string[],
      async settleJournaled(write: JournaledWrite) {
        this.settled.push(write.path);
        return true;
      },
    });
    const stored = { ok: true, entry: { path: path(1) }, messages: [] };
    const files = { readsInFlight: 1, catalogEntryOfStored: async () => stored } as unknown as ArchiveFiles;
    const sut = new WriteJournal(catalog as unknown as Catalog, files, new ArchiveAccess());
    const recorded = sut.record(path(1), { org_key: 'acme', app_id: 'bot' });
    await settle();
    catalog.release();
    await recorded;
    await expect(sut.replay(() => true, 'test')).resolves.toEqual({ indexed: 0, dropped: 0, superseded: 0, failed: 0 });
    expect(catalog.settled).toEqual([]);
    // the store failed: the entry stays, and is replayed once this process is done with the path
    sut.settle(path(1));
    await expect(sut.replay(() => true, 'test')).resolves.toEqual({ indexed: 1, dropped: 0, superseded: 0, failed: 0 });
    expect(catalog.settled).toEqual([path(1)]);
  });
});
