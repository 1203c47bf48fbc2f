import { Writable } from 'node:stream';
import type { AppConfigSnapshots } from './app-config-snapshots';
import type { AuditActor, AuditLog } from './privacy/audit-log';
import type { ErasureRegistry } from './privacy/erasure-registry';
import type { ArchivedConversation } from '../common/conversation-log';
import type { AppConfig } from '../config/app-config';
import { CatalogSource, contentHash, extractCatalogEntry } from './catalog-entry';
import { encodeCursor } from './catalog-query';
import { parseArchivePath } from './archive-paths';
import { ArchiveAccess } from './archive-access';
import { ArchiveExporter } from './archive-export.service';
import { ArchiveFiles, DayFolder, FoundFile } from './archive-files';
import { ArchiveMaintenance } from './archive-maintenance.service';
import { ArchiveReader } from './archive-reader.service';
import type { ArchiveStore } from './archive-store';
import { ArchiveWriter } from './archive-writer.service';
import type { Catalog, CatalogRow, SearchRow } from './catalog';
import { ArchiveNotFoundError, ArchiveQueryError } from './log-storage.errors';
import { LogStorageService } from './log-storage.service';
import { readAhead } from './read-ahead';
import { WriteJournal } from './write-journal';
import { isProcessAlive, PROCESS_ID } from '../common/process-liveness';

type Fake<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? jest.Mock<R, A> : T[K] };

type FakeFiles = Fake<ArchiveFiles> & { readsInFlight: number; readsFramed: boolean };

function fakeFiles(): FakeFiles {
  const fake = {
    writeAtomic: jest.fn().mockResolvedValue({ size: 10, sha256: 'sha', md5: 'md5' }),
    read: jest.fn().mockResolvedValue(null),
    hash: jest.fn().mockResolvedValue(null),
    exists: jest.fn().mockResolvedValue(false),
    catalogEntryOfStored: jest.fn(async (source: CatalogSource) => {
      const read = await fake.read(source.path);
      return read ? extractCatalogEntry({ ...source, etag: 'e'.repeat(32) }, Buffer.from(read.text), read.text) : null;
    }),
    remove: jest.fn().mockResolvedValue(undefined),
    walk: jest.fn(async function* (): AsyncGenerator<FoundFile> {}),
    walkPaths: jest.fn(async function* (): AsyncGenerator<{ path: string; etag?: string }> {}),
    dayFolders: jest.fn(async function* (): AsyncGenerator<DayFolder> {}),
    tallyDirs: jest.fn(async (dirs: { dir: string; expected: number }[]) => dirs.map((d) => ({ files: d.expected, bytes: null }))),
    // every file the slow way unless a test says otherwise
    readStored: jest.fn(async (_mode: string, rows: unknown[]) => rows.map((_r, index) => ({ kind: 'check', index }))),
    removeAbandonedTemps: jest.fn().mockResolvedValue([]),
    isEmpty: jest.fn().mockResolvedValue(true),
    count: jest.fn().mockResolvedValue(null),
    // the real extraction over the fake's reads
    catalogEntries: jest.fn(async (sources: CatalogSource[]) =>
      Promise.all(
        sources.map(async (source) => {
          const read = (await fake.read(source.path)) as { text: string } | null;
          return read ? extractCatalogEntry(source, Buffer.from(read.text), read.text) : { ok: false, reason: 'vanished while reading' };
        }),
      ),
    ),
    // the real checks over the fake's reads
    load: jest.fn((p: string) => ArchiveFiles.prototype.load.call(fake as unknown as ArchiveFiles, p)),
    // a store with batch reads (as the disk) unless a test says otherwise, one read at a time
    readsFramed: true,
    readsInFlight: 1,
    readAhead: jest.fn(<T, R>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<R>) => readAhead(items, fake.readsInFlight, fn)),
    readStoredBytes: jest.fn(async (p: string) => {
      const read = (await fake.read(p)) as { text: string } | null;
      return read ? Buffer.from(read.text) : null;
    }),
  } as unknown as FakeFiles;
  return fake;
}

function fakeCatalog(): Fake<Catalog> {
  return {
    open: jest.fn().mockReturnValue({ needsRebuild: false, reason: null }),
    close: jest.fn(),
    startRebuild: jest.fn(),
    finishRebuild: jest.fn(),
    abortRebuild: jest.fn(),
    upsert: jest.fn().mockReturnValue(1),
    insertMany: jest.fn().mockReturnValue([]),
    findConversation: jest.fn().mockReturnValue(undefined),
    findByConversationId: jest.fn().mockReturnValue(undefined),
    findByPath: jest.fn().mockReturnValue(undefined),
    hasPath: jest.fn().mockReturnValue(false),
    moveFile: jest.fn(),
    deleteByPath: jest.fn().mockReturnValue(0),
    deleteByDir: jest.fn().mockReturnValue(0),
    dirsBefore: jest.fn().mockReturnValue([]),
    markRemoved: jest.fn(),
    hasRemoved: jest.fn().mockReturnValue(false),
    purgeRemoved: jest.fn().mockReturnValue(false),
    summary: jest.fn().mockReturnValue({ files: 0, bytes: 0, directories: [] }),
    count: jest.fn().mockReturnValue(0),
    exportPage: jest.fn().mockReturnValue([]),
    page: jest.fn().mockReturnValue([]),
    pageByPath: jest.fn().mockReturnValue([]),
    uncompressedBefore: jest.fn().mockReturnValue([]),
    search: jest.fn().mockReturnValue([]),
    stats: jest.fn(),
    erase: jest.fn(async (paths: string[]) => paths.length),
    journalWrites: jest.fn(),
    journaledWrites: jest.fn().mockReturnValue([]),
    dropJournaled: jest.fn(),
    settleJournaled: jest.fn().mockResolvedValue(true),
  } as unknown as Fake<Catalog>;
}

const conv: ArchivedConversation = {
  conversation_id: 'c1',
  app_id: 'bot',
  organization_id: 'acme',
  name: 'n',
  status: 'normal',
  from_source: 'api',
  from_end_user_id: null,
  from_end_user_session_id: null,
  created_at: '2024-01-16T12:30:29.000Z',
  updated_at: '2024-01-16T12:30:29.000Z',
  dialogue_count: 0,
  messages: [],
  logged_at: '2024-01-20T00:00:00.000Z',
  app_mode: 'chat',
  app_name: 'Bot',
  access_mode: 'service',
};
const PATH = 'conversations/acme/2024/01/16/conversation_c1_2024-01-16T12-30-29-000Z.json';

function row(overrides: Partial<CatalogRow> = {}): CatalogRow & { org_from_path: number } {
  return {
    id: 1, path: PATH, org_key: 'acme', organization_id: 'acme', app_id: 'bot', conversation_id: 'c1', day: '2024-01-16',
    dir: 'conversations/acme/2024/01/16', name: 'n', size: 10, sha256: 'sha', md5: 'md5', content_hash: contentHash(conv), compressed: 0,
    created_at: conv.created_at, updated_at: conv.updated_at, message_count: 0, tokens: 0, avg_latency: null, from_source: 'api',
    end_user_id: null, end_user_session: null, likes: 0, dislikes: 0, errors: 0, org_from_path: 0, ...overrides,
  };
}

describe(LogStorageService.name, () => {
  let files: FakeFiles;
  let catalog: Fake<Catalog>;
  let store: Fake<Pick<ArchiveStore, 'close' | 'delete'>>;
  let erasures: Fake<ErasureRegistry>;
  let audit: Fake<Pick<AuditLog, 'record'>>;
  let sut: LogStorageService;

  beforeEach(() => {
    files = fakeFiles();
    catalog = fakeCatalog();
    const config = { logTimezone: 'UTC', compressAfterDays: null, retentionDays: 30 } as unknown as AppConfig;
    const f = files as unknown as ArchiveFiles;
    const c = catalog as unknown as Catalog;
    const access = new ArchiveAccess();
    const journal = new WriteJournal(c, f, access);
    store = { close: jest.fn(), delete: jest.fn(async (keys: string[]) => keys.length) };
    erasures = {
      hashOf: jest.fn().mockResolvedValue('hash'),
      remember: jest.fn().mockResolvedValue(undefined),
      forget: jest.fn().mockResolvedValue(0),
      count: jest.fn().mockResolvedValue(0),
      matcher: jest.fn(),
    };
    audit = { record: jest.fn().mockResolvedValue(undefined) };
    sut = new LogStorageService(
      access,
      new ArchiveReader(f, c),
      new ArchiveExporter(f, c),
      new ArchiveWriter(config, access, f, c, journal),
      new ArchiveMaintenance(config, access, f, c),
      journal,
      store as unknown as ArchiveStore,
      c,
      { verify: jest.fn().mockResolvedValue({ checked: 0, missing: [], changed: [] }) } as unknown as AppConfigSnapshots,
      erasures as unknown as ErasureRegistry,
      audit as unknown as AuditLog,
    );
    sut.now = () => new Date('2024-01-20T10:00:00.000Z');
  });

  describe('onModuleInit', () => {
    it('rebuilds only when the catalog asks for it', async () => {
      await sut.onModuleInit();
      expect(catalog.startRebuild).not.toHaveBeenCalled();
      catalog.open.mockResolvedValue({ needsRebuild: true, reason: 'catalog is missing' });
      await sut.onModuleInit();
      expect(catalog.startRebuild).toHaveBeenCalledTimes(1);
      expect(catalog.finishRebuild).toHaveBeenCalledTimes(1);
    });

    it('does not wait for the removal of temp files left by interrupted writes', async () => {
      let removed!: (paths: string[]) => void;
      files.removeAbandonedTemps.mockReturnValue(new Promise<string[]>((resolve) => (removed = resolve)));
      await sut.onModuleInit();
      expect(catalog.open).toHaveBeenCalled();
      removed(['conversations/acme/2024/01/16/a.json.1.abcd1234.tmp']);
    });
  });

  describe('replayAtStartUp: the write journal', () => {
    /** a pid of this host that no process has now */
    const deadPid = () => {
      let pid = 4_000_000;
      while (isProcessAlive(pid)) pid++;
      return pid;
    };
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    const journaled = (path: string, writer: string, since = Date.now()) => ({ path, org_key: 'acme', app_id: 'bot', writer, since });

    it('indexes the stored object of a dead writer of this host and drops the entry of one never stored', async () => {
      const gone = `${host}:${deadPid()}`;
      const other = 'conversations/acme/2024/01/16/conversation_c2_2024-01-16T12-30-29-000Z.json';
      catalog.journaledWrites.mockResolvedValue([journaled(PATH, gone, 1000), journaled(other, gone, 1000)]);
      files.read.mockImplementation(async (p: string) => (p === PATH ? { text: JSON.stringify(conv), size: 10, sha256: 'sha' } : null));
      await sut.replayAtStartUp();
      expect(catalog.settleJournaled).toHaveBeenCalledTimes(1);
      expect(catalog.settleJournaled.mock.calls[0][0]).toEqual(journaled(PATH, gone, 1000));
      expect(catalog.settleJournaled.mock.calls[0][1]).toMatchObject({ path: PATH, conversation_id: 'c1', org_key: 'acme' });
      expect(catalog.dropJournaled).toHaveBeenCalledWith([journaled(other, gone, 1000)]);
    });

    it('is not replayed by a start-up alone (a read-only command leaves the journal to the writers)', async () => {
      catalog.journaledWrites.mockResolvedValue([journaled(PATH, `${host}:${deadPid()}`, 1000)]);
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 10, sha256: 'sha' });
      await sut.onModuleInit();
      expect(catalog.journaledWrites).not.toHaveBeenCalled();
      await sut.replayAtStartUp();
      expect(catalog.settleJournaled).toHaveBeenCalledTimes(1);
    });

    it('leaves the entries of running processes and of other hosts alone', async () => {
      catalog.journaledWrites.mockResolvedValue([journaled(PATH, PROCESS_ID), journaled(PATH, `${host}:${process.ppid}`), journaled(PATH, 'elsewhere.example:1')]);
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 10, sha256: 'sha' });
      await sut.replayAtStartUp();
      expect(catalog.settleJournaled).not.toHaveBeenCalled();
      expect(catalog.dropJournaled).not.toHaveBeenCalled();
    });
  });

  describe('saveConversation', () => {
    it('journals the key before the object is stored', async () => {
      const order: string[] = [];
      catalog.journalWrites.mockImplementation(async () => void order.push('journal'));
      files.writeAtomic.mockImplementation(async () => {
        order.push('store');
        return { size: 10, sha256: 'sha', md5: 'md5' };
      });
      catalog.upsert.mockImplementation(async () => (order.push('row'), 1));
      await sut.saveConversation(conv);
      expect(order).toEqual(['journal', 'store', 'row']);
      expect(catalog.journalWrites).toHaveBeenCalledWith([{ path: PATH, org_key: 'acme', app_id: 'bot', writer: PROCESS_ID, since: expect.any(Number) }]);
    });

    it('does not store the object when the journal cannot be written', async () => {
      catalog.journalWrites.mockRejectedValue(new Error('SQLITE_FULL: database or disk is full'));
      await expect(sut.saveConversation(conv)).rejects.toThrow('SQLITE_FULL');
      expect(files.writeAtomic).not.toHaveBeenCalled();
    });

    it('creates a new file and records it', async () => {
      await expect(sut.saveConversation(conv)).resolves.toEqual({ outcome: 'created', path: PATH });
      expect(files.writeAtomic).toHaveBeenCalledWith(PATH, JSON.stringify(conv, null, 2));
      expect(catalog.upsert.mock.calls[0][0]).toMatchObject({ path: PATH, sha256: 'sha', size: 10, content_hash: contentHash(conv) });
    });

    it('leaves an unchanged conversation alone', async () => {
      catalog.findConversation.mockResolvedValue(row());
      files.exists.mockResolvedValue(true);
      await expect(sut.saveConversation({ ...conv, logged_at: 'later' })).resolves.toEqual({ outcome: 'unchanged', path: PATH });
      expect(files.writeAtomic).not.toHaveBeenCalled();
    });

    it('rewrites a changed conversation where it lies, gzipped or not', async () => {
      catalog.findConversation.mockResolvedValue(row({ path: `${PATH}.gz`, content_hash: 'old' }));
      files.exists.mockResolvedValue(true);
      await expect(sut.saveConversation(conv)).resolves.toEqual({ outcome: 'updated', path: `${PATH}.gz` });
      expect(files.writeAtomic).toHaveBeenCalledWith(`${PATH}.gz`, expect.any(String));
      expect(catalog.upsert.mock.calls[0][0]).toMatchObject({ compressed: true, path: `${PATH}.gz` });
    });

    it('writes a fresh file when the catalogued one has gone', async () => {
      catalog.findConversation.mockResolvedValue(row({ path: 'conversations/acme/2024/01/15/conversation_c1_2024-01-15T00-00-00-000Z.json' }));
      await expect(sut.saveConversation(conv)).resolves.toEqual({ outcome: 'created', path: PATH });
    });

    it('fails cleanly on a disk error without touching the catalog', async () => {
      files.writeAtomic.mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
      await expect(sut.saveConversation(conv)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(catalog.upsert).not.toHaveBeenCalled();
    });

    it('serialises saves of one conversation', async () => {
      let active = 0;
      let most = 0;
      files.writeAtomic.mockImplementation(async () => {
        most = Math.max(most, ++active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
        return { size: 1, sha256: 's', md5: 'm' };
      });
      await Promise.all(Array.from({ length: 5 }, (_, i) => sut.saveConversation({ ...conv, name: `v${i}` })));
      expect(most).toBe(1);
    });

    it('refuses a document without the fields the archive needs', async () => {
      await expect(sut.saveConversation({ ...conv, created_at: 'soon' })).rejects.toThrow('created_at is not a date');
      expect(files.writeAtomic).not.toHaveBeenCalled();
    });
  });

  describe('eraseEndUser', () => {
    const actor: AuditActor = { route: 'cli' };

    beforeEach(() => {
      catalog.exportPage.mockResolvedValue([row({ end_user_id: 'u1' })]);
    });

    it('remembers the end user before deleting anything, then records the audit entry', async () => {
      const forgetPaths = jest.fn().mockResolvedValue(undefined);
      await expect(sut.eraseEndUser('u1', { actor, forgetPaths })).resolves.toMatchObject({ conversations: 1, remembered: true });
      expect(erasures.remember).toHaveBeenCalledWith('u1', { organizationId: null, appId: null });
      const rememberedAt = erasures.remember.mock.invocationCallOrder[0];
      expect(rememberedAt).toBeLessThan(store.delete.mock.invocationCallOrder[0]);
      expect(rememberedAt).toBeLessThan(catalog.erase.mock.invocationCallOrder[0]);
      expect(rememberedAt).toBeLessThan(forgetPaths.mock.invocationCallOrder[0]);
      // with the gzipped form a compression cut short may have left beside the file
      expect(store.delete).toHaveBeenCalledWith([PATH, `${PATH}.gz`]);
      expect(audit.record).toHaveBeenCalledWith(expect.objectContaining({ action: 'erase-end-user', counts: { conversations: 1, days: 1 } }));
    });

    it('deletes nothing and records no audit entry when the erasure cannot be remembered', async () => {
      erasures.remember.mockRejectedValue(new Error('connection terminated unexpectedly'));
      const forgetPaths = jest.fn().mockResolvedValue(undefined);
      const failure = sut.eraseEndUser('u1', { actor, forgetPaths });
      await expect(failure).rejects.toThrow('The erasure could not be recorded, so nothing was deleted');
      await expect(failure.catch((e: Error) => (e.cause as Error).message)).resolves.toBe('connection terminated unexpectedly');
      expect(store.delete).not.toHaveBeenCalled();
      expect(catalog.erase).not.toHaveBeenCalled();
      expect(forgetPaths).not.toHaveBeenCalled();
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('neither remembers nor deletes on a dry run', async () => {
      await expect(sut.eraseEndUser('u1', { actor, dryRun: true })).resolves.toMatchObject({ conversations: 1, remembered: false });
      expect(erasures.remember).not.toHaveBeenCalled();
      expect(store.delete).not.toHaveBeenCalled();
    });
  });

  describe('cleanOldLogs', () => {
    const folders: DayFolder[] = [
      { dir: 'conversations/acme/2024/01/09', organization_id: 'acme', day: '2024-01-09' },
      { dir: 'conversations/acme/2024/01/10', organization_id: 'acme', day: '2024-01-10' },
      { dir: 'conversations/acme/2024/01/20', organization_id: 'acme', day: '2024-01-20' },
    ];
    const catalogued = (before: string) =>
      folders.filter((f) => f.day < before).map((f) => ({ dir: f.dir, org_key: 'acme', day: f.day, files: 1, bytes: 7 }));
    beforeEach(() => {
      files.dayFolders.mockImplementation(async function* () {
        yield* folders;
      });
      catalog.dirsBefore.mockImplementation(async (before: string) => catalogued(before));
    });

    it('deletes day D iff D < today − N and keeps the catalog in step', async () => {
      const result = await sut.cleanOldLogs({ daysToKeep: 10 });
      expect(result).toEqual({
        success: true,
        message: 'Deleted 1 files in 1 day folders before 2024-01-10',
        deleted_files: 1,
        deleted_size_bytes: 7,
        dry_run: false,
        first_day: '2024-01-09',
        last_day: '2024-01-09',
      });
      expect(files.tallyDirs).toHaveBeenCalledWith([{ dir: 'conversations/acme/2024/01/09', expected: 1 }], true);
      expect(catalog.markRemoved).toHaveBeenCalledWith(catalogued('2024-01-10'));
    });

    it('changes nothing in a dry run', async () => {
      const result = await sut.cleanOldLogs({ daysToKeep: 1, dryRun: true });
      expect(result).toMatchObject({ dry_run: true, deleted_files: 2, first_day: '2024-01-09', last_day: '2024-01-10' });
      expect(files.tallyDirs).toHaveBeenCalledWith(expect.any(Array), false);
      expect(catalog.markRemoved).not.toHaveBeenCalled();
    });

    it('counts what is on disk: sizes from the catalog when the count matches, else from the files', async () => {
      files.tallyDirs.mockResolvedValue([
        { files: 1, bytes: null },
        { files: 3, bytes: 100 },
      ]);
      const result = await sut.cleanOldLogs({ daysToKeep: 1, dryRun: true });
      expect(result).toMatchObject({ deleted_files: 4, deleted_size_bytes: 107 });
    });

    it('hides from the catalog only the folders that are gone when removal fails', async () => {
      files.tallyDirs.mockRejectedValue(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
      // 01-09 went before the failure, 01-10 is still there
      files.dayFolders
        .mockImplementationOnce(async function* () {
          yield* folders;
        })
        .mockImplementationOnce(async function* () {
          yield* folders.slice(1);
        });
      await expect(sut.cleanOldLogs({ daysToKeep: 1 })).rejects.toMatchObject({ code: 'EACCES' });
      expect(catalog.markRemoved).toHaveBeenCalledTimes(1);
      expect(catalog.markRemoved).toHaveBeenCalledWith(catalogued('2024-01-10'));
    });

    it('also hides catalogued folders no longer on disk, and purges their rows in the background', async () => {
      files.dayFolders.mockImplementation(async function* () {});
      catalog.hasRemoved.mockResolvedValueOnce(true);
      catalog.purgeRemoved.mockResolvedValueOnce(true).mockResolvedValueOnce(false);
      const result = await sut.cleanOldLogs({ daysToKeep: 1 });
      expect(result).toMatchObject({ deleted_files: 0, first_day: null });
      expect(catalog.markRemoved).toHaveBeenCalledWith(catalogued('2024-01-19'));
      // the purge runs in the background: wait for it to finish rather than for a fixed time
      while (catalog.purgeRemoved.mock.calls.length < 2) await new Promise((r) => setImmediate(r));
      expect(catalog.purgeRemoved).toHaveBeenCalledTimes(2);
    });

    it.each([0, -1, 1.5, 36501, Number.NaN])('refuses days_to_keep %p', async (days) => {
      await expect(sut.cleanOldLogs({ daysToKeep: days })).rejects.toEqual(
        new ArchiveQueryError('days_to_keep', 'days_to_keep must be an integer from 1 to 36500'),
      );
    });
  });

  describe('exportStream', () => {
    it('checks arguments before any stream exists', () => {
      expect(() => sut.exportStream({ start_date: '2024-01-05', end_date: '2024-01-01' }, 'json')).toThrow('end_date must not be before start_date');
      expect(() => sut.exportStream({}, 'xml' as never)).toThrow('format must be one of: json, ndjson, csv');
    });

    it('stops reading files when the consumer goes away', async () => {
      const rows = Array.from({ length: 200 }, (_, i) => row({ id: i + 1, path: `p${String(i).padStart(4, '0')}` }));
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : rows));
      files.read.mockImplementation(async () => ({ text: JSON.stringify({ ...conv, padding: 'x'.repeat(10_000) }), size: 1, sha256: 's' }));
      const stream = sut.exportStream({}, 'ndjson');
      await new Promise<void>((resolve) => {
        stream.once('data', () => {
          stream.destroy();
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 20));
      expect(files.read.mock.calls.length).toBeLessThan(20);
    });

    it('streams the seed shape and skips files that vanished', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a' }), row({ path: 'b' })]));
      files.read.mockImplementation(async (p: string) => (p === 'a' ? { text: JSON.stringify(conv), size: 1, sha256: 's' } : null));
      let text = '';
      for await (const chunk of sut.exportStream({}, 'json')) text += chunk;
      expect(JSON.parse(text)).toEqual({ success: true, conversations: [conv], count: 1 });
    });
  });

  describe('exportStream from stored bytes', () => {
    const bytes = (text: string, items: number) => ({ kind: 'bytes' as const, data: Buffer.from(text), items });

    it('frames JSON around stored runs and checked files, dropping only the first comma', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a' }), row({ path: 'b' }), row({ path: 'c' }), row({ path: 'd' })]));
      files.readStored.mockResolvedValue([bytes(',{"n":1},{"n":2}', 2), { kind: 'check', index: 2 }, bytes(',{"n":4}', 1)]);
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 1, sha256: 's' });
      let text = '';
      for await (const chunk of sut.exportStream({}, 'json')) text += chunk;
      expect(JSON.parse(text)).toEqual({ success: true, conversations: [{ n: 1 }, { n: 2 }, conv, { n: 4 }], count: 4 });
      expect(files.readStored).toHaveBeenCalledWith('json', expect.any(Array), []);
    });

    it('asks the store to add the organization of a seed-format file', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a' }), { ...row({ path: 'b', organization_id: null }), org_from_path: 1 }]));
      for await (const _chunk of sut.exportStream({}, 'ndjson'));
      expect(files.readStored.mock.calls[0][1]).toEqual([
        { path: 'a', size: 10, insert: undefined },
        { path: 'b', size: 10, insert: '"organization_id":null,' },
      ]);
    });

    it('starts JSON with a checked file as well', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a' }), row({ path: 'b' })]));
      files.readStored.mockResolvedValue([{ kind: 'check', index: 0 }, bytes(',{"n":2}', 1)]);
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 1, sha256: 's' });
      let text = '';
      for await (const chunk of sut.exportStream({}, 'json')) text += chunk;
      expect(JSON.parse(text)).toEqual({ success: true, conversations: [conv, { n: 2 }], count: 2 });
    });

    it('asks for no more batches once the consumer is gone', async () => {
      const rows = Array.from({ length: 200 }, (_, i) => row({ id: i + 1, path: `p${String(i).padStart(4, '0')}`, size: 100_000 }));
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : rows));
      files.readStored.mockImplementation(async (_mode, batch) => [bytes('x'.repeat(100_000 * batch.length), batch.length)]);
      const stream = sut.exportStream({}, 'ndjson');
      await new Promise<void>((resolve) => {
        stream.once('data', () => {
          stream.destroy();
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 20));
      const requested = files.readStored.mock.calls.reduce((n, call) => n + call[1].length, 0);
      expect(requested).toBeLessThan(40);
    });

    it('keeps CSV on the parsing path', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a' })]));
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 1, sha256: 's' });
      let text = '';
      for await (const chunk of sut.exportStream({}, 'csv')) text += chunk;
      expect(text.startsWith('conversation_id,')).toBe(true);
      expect(files.readStored).not.toHaveBeenCalled();
    });
  });

  describe('exportStream from a store without batch reads', () => {
    /** reads that finish when the test says, counting how many run at once */
    function gatedReads(texts: Record<string, string | null>) {
      let running = 0;
      let peak = 0;
      const waiting: (() => void)[] = [];
      files.readStoredBytes.mockImplementation(async (p: string) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => waiting.push(resolve));
        running--;
        return texts[p] === null ? null : Buffer.from(texts[p] ?? '');
      });
      return {
        peak: () => peak,
        /** lets the reads go, newest first, until the export is done */
        async drain(done: Promise<unknown>) {
          let finished = false;
          void done.finally(() => (finished = true));
          while (!finished) {
            await new Promise((r) => setImmediate(r));
            waiting.pop()?.();
          }
        },
      };
    }

    beforeEach(() => {
      files.readsFramed = false;
      files.readsInFlight = 3;
    });

    it('keeps `readsInFlight` objects in flight and writes them in catalog order, each framed as the batch path frames it', async () => {
      const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : names.map((p) => row({ path: p, size: `{"n":"${p}"}`.length }))));
      const reads = gatedReads(Object.fromEntries(names.map((p) => [p, `{"n":"${p}"}`])));
      const text = (async () => {
        let out = '';
        for await (const chunk of sut.exportStream({}, 'json')) out += chunk;
        return out;
      })();
      await reads.drain(text);
      expect(JSON.parse(await text)).toEqual({ success: true, conversations: names.map((n) => ({ n })), count: names.length });
      expect(reads.peak()).toBe(3);
      expect(files.readStored).not.toHaveBeenCalled();
    });

    it('loads and checks an object whose bytes do not pass, skips a gone one, and adds the organization of a seed-format file', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) =>
        after
          ? []
          : [row({ path: 'a', size: 2 }), row({ path: 'b', size: 999 }), row({ path: 'gone', size: 2 }), { ...row({ path: 'd', size: 9, organization_id: null }), org_from_path: 1 }],
      );
      const reads = gatedReads({ a: '{}', b: JSON.stringify(conv), gone: null, d: '{"n":"d"}' });
      files.read.mockImplementation(async (p: string) => (p === 'b' ? { text: JSON.stringify(conv), size: 1, sha256: 's' } : null));
      const text = (async () => {
        let out = '';
        for await (const chunk of sut.exportStream({}, 'ndjson')) out += chunk;
        return out;
      })();
      await reads.drain(text);
      expect((await text).trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([{}, conv, { organization_id: null, n: 'd' }]);
    });

    it('ends with the failure of the store instead of a shorter export', async () => {
      catalog.exportPage.mockImplementation(async (_f, after) => (after ? [] : [row({ path: 'a', size: 2 }), row({ path: 'b', size: 2 })]));
      const { ArchiveStoreError } = await import('./archive-store');
      files.readStoredBytes.mockImplementation(async (p: string) => {
        if (p === 'b') throw new ArchiveStoreError('S3 get b failed (InternalError, HTTP 500)');
        return Buffer.from('{}');
      });
      const chunks: string[] = [];
      const out = new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk.toString());
          done();
        },
      });
      await expect(sut.exportTo({}, 'ndjson', out)).rejects.toThrow('S3 get b failed');
      expect(chunks.join('')).toBe('{}\n');
    });
  });

  describe('verify', () => {
    const listed = (path: string, size: number, etag?: string) => ({ path, size, etag });

    it('compares sizes and ETags from the listing with the catalog, downloading only mismatches and rows without an MD5', async () => {
      const paths = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `conversations/acme/2024/01/16/conversation_${n}_2024-01-16T12-30-29-000Z.json`);
      const [a, b, c, d, e, f] = paths;
      catalog.pageByPath.mockImplementation(async (after: string | null) =>
        after ? [] : [row({ id: 1, path: a, size: 5, md5: 'a'.repeat(32) }), row({ id: 2, path: b, size: 5, md5: 'b'.repeat(32) }), row({ id: 3, path: c, size: 5, md5: '', sha256: 'sha-c' }), row({ id: 4, path: d, size: 5 }), row({ id: 6, path: f, size: 5, md5: 'f'.repeat(32) })],
      );
      files.walk.mockImplementation(async function* () {
        yield listed(a, 5, 'a'.repeat(32));
        yield listed(b, 5, '0'.repeat(32));
        yield listed(c, 5, 'c'.repeat(32));
        yield listed(e, 5, 'e'.repeat(32));
        yield listed(f, 6, 'f'.repeat(32));
      });
      files.hash.mockImplementation(async (p: string) => (p === c ? { size: 5, sha256: 'sha-c' } : p === b ? { size: 5, sha256: 'sha-b-now' } : null));
      files.read.mockImplementation(async (p: string) =>
        p === b ? { text: JSON.stringify({ ...conv, conversation_id: 'b' }), size: 5, sha256: 's' } : p === e ? { text: JSON.stringify({ ...conv, conversation_id: 'e' }), size: 5, sha256: 's' } : p === f ? { text: 'not json', size: 6, sha256: 's' } : null,
      );
      const result = await sut.verify();
      expect(result).toMatchObject({
        method: 'etag',
        checked: 6,
        by_etag: 2,
        by_sha256: 2,
        sha256_fallback: 2,
        missing: [d],
        changed: [b],
        unindexed: [e],
        corrupt: [f],
      });
      // a, and d (gone), were never read; b (same size, another ETag) was hashed before being called changed
      expect(files.hash.mock.calls.map((call) => call[0]).sort()).toEqual([b, c]);
      expect(files.read.mock.calls.map((call) => call[0]).sort()).toEqual([b, e, f].sort());
    });

    it('downloads and hashes every object with sha256, and on a store whose listing has no ETags', async () => {
      catalog.pageByPath.mockImplementation(async (after: string | null) => (after ? [] : [row({ path: 'conversations/x/a.json', sha256: 'sha-a', md5: 'a'.repeat(32) }), row({ id: 2, path: 'conversations/x/b.json', sha256: 'sha-b' })]));
      files.walk.mockImplementation(async function* () {
        yield listed('conversations/x/a.json', 10, 'a'.repeat(32));
        yield listed('conversations/x/b.json', 10);
      });
      files.hash.mockImplementation(async (p: string) => ({ size: 10, sha256: p.endsWith('a.json') ? 'sha-a' : 'sha-b' }));
      expect(await sut.verify({ sha256: true })).toMatchObject({ method: 'sha256', checked: 2, by_etag: 0, by_sha256: 2, sha256_fallback: 0, missing: [], changed: [] });
      expect(files.hash).toHaveBeenCalledTimes(2);
      files.hash.mockClear();
      // without sha256: b has no ETag (a disk), so it is hashed; a is compared by its ETag
      expect(await sut.verify()).toMatchObject({ method: 'etag', checked: 2, by_etag: 1, by_sha256: 1, sha256_fallback: 0, changed: [] });
      expect(files.hash.mock.calls.map((call) => call[0])).toEqual(['conversations/x/b.json']);
    });
  });

  describe('search', () => {
    it('returns a next cursor only when there is more', async () => {
      const hits: SearchRow[] = [1, 2, 3].map((id) => ({ ...row({ id, created_at: `2024-01-1${id}T00:00:00.000Z` }), snippet: null }));
      catalog.search.mockResolvedValue(hits);
      const page = await sut.search({ limit: 2 });
      expect(catalog.search).toHaveBeenCalledWith({}, null, null, 3);
      expect(page.results).toHaveLength(2);
      expect(page.next_cursor).toBe(encodeCursor({ created_at: hits[1].created_at, id: 2 }));
      catalog.search.mockResolvedValue(hits.slice(0, 1));
      expect((await sut.search({ limit: 2 })).next_cursor).toBeNull();
    });

    it('names the bad parameter', async () => {
      await expect(sut.search({ cursor: 'nonsense' })).rejects.toMatchObject({ field: 'cursor' });
      await expect(sut.search({ q: '()' })).rejects.toMatchObject({ field: 'q' });
      await expect(sut.search({ limit: 0 })).rejects.toMatchObject({ field: 'limit' });
      await expect(sut.search({ organization_id: '../x' })).rejects.toMatchObject({ field: 'organization_id' });
    });
  });

  describe('getConversation', () => {
    it('refuses a path outside the layout and answers not found for a missing file', async () => {
      await expect(sut.getConversation({ path: '../../etc/passwd' })).rejects.toMatchObject({ field: 'path' });
      await expect(sut.getConversation({ path: PATH })).rejects.toBeInstanceOf(ArchiveNotFoundError);
      await expect(sut.getConversation({ conversation_id: 'c9' })).rejects.toBeInstanceOf(ArchiveNotFoundError);
    });
  });

  describe('compressOldDays', () => {
    it('does nothing when compression is off', async () => {
      expect(await sut.compressOldDays()).toMatchObject({ compressed_files: 0, before_day: null });
      expect(catalog.uncompressedBefore).not.toHaveBeenCalled();
    });

    it('writes the gzipped file, repoints the catalog, then removes the plain file', async () => {
      catalog.uncompressedBefore.mockResolvedValueOnce([row()]).mockResolvedValue([]);
      catalog.findByPath.mockResolvedValue(row());
      files.read.mockResolvedValue({ text: '{}', size: 100, sha256: 'plain' });
      files.writeAtomic.mockResolvedValue({ size: 30, sha256: 'gz', md5: 'gzmd5' });
      const result = await sut.compressOldDays(3);
      expect(catalog.uncompressedBefore).toHaveBeenCalledWith('2024-01-17', 0, 200);
      expect(result).toEqual({ success: true, compressed_files: 1, bytes_before: 100, bytes_after: 30, before_day: '2024-01-17' });
      expect(files.writeAtomic).toHaveBeenCalledWith(`${PATH}.gz`, '{}');
      expect(catalog.moveFile).toHaveBeenCalledWith(1, { path: `${PATH}.gz`, size: 30, sha256: 'gz', md5: 'gzmd5', compressed: true });
      expect(files.remove).toHaveBeenCalledWith(PATH);
      // journaled before the gzipped file is stored, the entry dropped only once the plain file is gone
      const [[[entry]]] = catalog.journalWrites.mock.calls;
      expect(entry).toMatchObject({ path: `${PATH}.gz`, org_key: 'acme', app_id: 'bot' });
      expect(catalog.journalWrites.mock.invocationCallOrder[0]).toBeLessThan(files.writeAtomic.mock.invocationCallOrder[0]);
      expect(catalog.dropJournaled).toHaveBeenCalledWith([entry]);
      expect(files.remove.mock.invocationCallOrder[0]).toBeLessThan(catalog.dropJournaled.mock.invocationCallOrder[0]);
    });
  });

  describe('reindex', () => {
    it('indexes good files and reports every skipped one with its reason', async () => {
      const good = PATH;
      const mismatched = 'conversations/other/2024/01/16/conversation_c1_2024-01-16T12-30-29-000Z.json';
      files.walkPaths.mockImplementation(async function* () {
        yield { path: good, etag: 'e'.repeat(32) };
        yield { path: mismatched };
        yield { path: 'conversations/readme.md' };
      });
      files.read.mockResolvedValue({ text: JSON.stringify(conv), size: 1, sha256: 's' });
      const result = await sut.reindex();
      expect(result.indexed).toBe(1);
      expect(result.skipped).toEqual([
        { path: 'conversations/readme.md', reason: 'not an archive file name' },
        { path: mismatched, reason: 'its conversation_id or organization_id does not match the path' },
      ]);
      expect(catalog.insertMany.mock.calls[0][0].map((i) => i.entry.path)).toEqual([good]);
      // the MD5 comes from the listing's ETag (a store without ETags, or a multipart ETag, leaves it empty)
      expect(catalog.insertMany.mock.calls[0][0][0].entry.md5).toBe('e'.repeat(32));
      expect(extractCatalogEntry({ path: good, etag: 'abc-2', info: parseArchivePath(good)! }, Buffer.from(JSON.stringify(conv)), JSON.stringify(conv))).toMatchObject({
        ok: true,
        entry: { md5: '' },
      });
      expect(catalog.finishRebuild).toHaveBeenCalled();
      expect(catalog.abortRebuild).not.toHaveBeenCalled();
    });

    it('ends the bulk load when reading the files fails, and fails the rebuild', async () => {
      files.walkPaths.mockImplementation(async function* () {
        yield { path: PATH };
      });
      files.catalogEntries.mockRejectedValue(new Error('the store failed'));
      await expect(sut.reindex()).rejects.toThrow('the store failed');
      expect(catalog.abortRebuild).toHaveBeenCalled();
      expect(catalog.finishRebuild).not.toHaveBeenCalled();
    });
  });
});
