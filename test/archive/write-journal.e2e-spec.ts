import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveFiles } from '../../src/log-storage/archive-files';
import { CATALOG, Catalog, JournaledWrite } from '../../src/log-storage/catalog';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { createTestApp, TestApp } from '../support/test-app';
import { conversation, daysAgo } from './archive-fixtures';

/**
 * The write journal's replay and compression on a real archive (disk + SQLite catalog). A writer killed
 * between its store and its row is played by writing the file directly beside a journal entry of a writer
 * that does not exist.
 */
describe('Write journal on a real archive', () => {
  let t: TestApp;
  let storage: LogStorageService;
  let catalog: Catalog;
  let files: ArchiveFiles;
  const dead = (p: string, since = 1000): JournaledWrite => ({ path: p, org_key: 'acme', app_id: 'support-bot', writer: 'gone.example:1', since });
  const everything = () => true;

  /** Saves v1 of a conversation, then writes v2 over its file as a killed writer would have: returns both. */
  async function cutShortRewrite(id: string, createdAt = '2024-01-16T12:30:29.000Z') {
    const v1 = conversation({ id, created_at: createdAt, messages: [{ query: 'first question', answer: 'one' }] });
    const { path: key } = await storage.saveConversation(v1);
    const v2 = { ...v1, messages: [...v1.messages, { ...v1.messages[0], id: `${v1.messages[0].id}x`, query: 'zebra question' }], dialogue_count: 2 };
    const text = JSON.stringify(v2, null, 2);
    await catalog.journalWrites([dead(key)]);
    fs.writeFileSync(path.join(t.logsDir, key), text);
    return { key, v1, v2, md5: createHash('md5').update(text).digest('hex'), size: Buffer.byteLength(text) };
  }

  beforeEach(async () => {
    t = await createTestApp({ COMPRESS_AFTER_DAYS: '3' });
    storage = t.app.get(LogStorageService);
    catalog = t.app.get(CATALOG);
    files = t.app.get(ArchiveFiles);
  });
  afterEach(() => t.close());

  it("indexes a dead writer's object with the MD5 of the bytes it read, and empties the journal", async () => {
    const { key, md5, size } = await cutShortRewrite('c0ffee00-0000-4000-8000-00000000a001');
    await expect(storage.replayWrites(everything, 'test')).resolves.toEqual({ indexed: 1, dropped: 0, superseded: 0, failed: 0 });
    expect(await catalog.findByPath(key)).toMatchObject({ size, md5, message_count: 2 });
    expect(await catalog.journaledWrites()).toEqual([]);
    expect(await storage.verify({})).toMatchObject({ missing: [], changed: [], unindexed: [] });
  });

  it('indexes nothing when the entry is recorded again while its object is read (a writer of another process)', async () => {
    const { key, v1 } = await cutShortRewrite('c0ffee00-0000-4000-8000-00000000a002');
    const before = await catalog.findByPath(key);
    const theirs: JournaledWrite = { ...dead(key), writer: 'other.example:2', since: Date.now() };
    const read = files.catalogEntryOfStored.bind(files);
    // the other writer records the path between the replay's read and its settling
    jest.spyOn(files, 'catalogEntryOfStored').mockImplementation(async (source) => {
      const extract = await read(source);
      await catalog.journalWrites([theirs]);
      return extract;
    });
    await expect(storage.replayWrites(everything, 'test')).resolves.toMatchObject({ indexed: 0, superseded: 1 });
    // the row is the one written before, not the bytes the replay read; the other writer's entry stays
    expect(await catalog.findByPath(key)).toEqual(before);
    expect((await catalog.findByPath(key))?.message_count).toBe(v1.messages.length);
    expect(await catalog.journaledWrites()).toEqual([theirs]);
  });

  it('goes on past an entry that fails, which stays for the next replay', async () => {
    const first = await cutShortRewrite('c0ffee00-0000-4000-8000-00000000a003');
    const second = await cutShortRewrite('c0ffee00-0000-4000-8000-00000000a004');
    const read = files.catalogEntryOfStored.bind(files);
    jest.spyOn(files, 'catalogEntryOfStored').mockImplementation(async (source) => {
      if (source.path === [first.key, second.key].sort()[0]) throw new Error('EIO: i/o error, read');
      return read(source);
    });
    await expect(storage.replayWrites(everything, 'test')).resolves.toEqual({ indexed: 1, dropped: 0, superseded: 0, failed: 1 });
    expect((await catalog.journaledWrites()).map((w) => w.path)).toEqual([[first.key, second.key].sort()[0]]);
    jest.restoreAllMocks();
    await expect(storage.replayWrites(everything, 'test')).resolves.toMatchObject({ indexed: 1, failed: 0 });
    expect(await catalog.journaledWrites()).toEqual([]);
  });

  it('compresses no file with a journal entry until the entry is settled, so its row never keeps older text', async () => {
    const { key } = await cutShortRewrite('c0ffee00-0000-4000-8000-00000000a005', daysAgo(10));
    expect((await storage.compressOldDays()).compressed_files).toBe(0);
    expect(fs.existsSync(path.join(t.logsDir, key))).toBe(true);
    await storage.replayWrites(everything, 'test');
    expect((await storage.compressOldDays()).compressed_files).toBe(1);
    expect(await catalog.findByConversationId('c0ffee00-0000-4000-8000-00000000a005')).toMatchObject({ path: `${key}.gz`, message_count: 2 });
    expect((await catalog.search({}, 'zebra', null, 10)).map((r) => r.conversation_id)).toEqual(['c0ffee00-0000-4000-8000-00000000a005']);
  });

  describe('a compression cut short', () => {
    /** Saves an old conversation and writes its gzipped file as a compression would, journaled by a dead writer. */
    async function compressionCutShort(id: string, rowMoved: boolean) {
      const conv = conversation({ id, created_at: daysAgo(10), end_user_id: 'eu-gz' });
      const { path: key } = await storage.saveConversation(conv);
      const gz = `${key}.gz`;
      await catalog.journalWrites([dead(gz)]);
      const written = await files.writeAtomic(gz, fs.readFileSync(path.join(t.logsDir, key), 'utf8'));
      if (rowMoved) await catalog.moveFile((await catalog.findByPath(key))!.id, { path: gz, ...written, compressed: true });
      return { key, gz, conv };
    }
    const onDisk = (key: string) => fs.existsSync(path.join(t.logsDir, key));

    it('is finished by the replay after its row moved: the plain file left beside the gzipped one goes', async () => {
      const { key, gz } = await compressionCutShort('c0ffee00-0000-4000-8000-00000000b001', true);
      await expect(storage.replayWrites(everything, 'test')).resolves.toEqual({ indexed: 1, dropped: 0, superseded: 0, failed: 0 });
      expect([onDisk(key), onDisk(gz)]).toEqual([false, true]);
      expect(await catalog.findByConversationId('c0ffee00-0000-4000-8000-00000000b001')).toMatchObject({ path: gz, compressed: 1 });
      expect(await catalog.journaledWrites()).toEqual([]);
      expect(await storage.verify({})).toMatchObject({ missing: [], changed: [], unindexed: [] });
    });

    it('is finished by the replay before its row moved, the plain file unchanged: one gzipped file, indexed', async () => {
      const { key, gz } = await compressionCutShort('c0ffee00-0000-4000-8000-00000000b002', false);
      await expect(storage.replayWrites(everything, 'test')).resolves.toEqual({ indexed: 1, dropped: 0, superseded: 0, failed: 0 });
      expect([onDisk(key), onDisk(gz)]).toEqual([false, true]);
      expect(await catalog.findByConversationId('c0ffee00-0000-4000-8000-00000000b002')).toMatchObject({ path: gz, compressed: 1 });
      expect(await storage.verify({})).toMatchObject({ missing: [], changed: [], unindexed: [] });
    });

    it('leaves the plain file a save rewrote since as the conversation\'s, and the next compression gzips that text', async () => {
      const id = 'c0ffee00-0000-4000-8000-00000000b003';
      const { key, gz, conv } = await compressionCutShort(id, false);
      const newer = { ...conv, messages: [...conv.messages, { ...conv.messages[0], id: `${conv.messages[0].id}y`, query: 'yodel question' }], dialogue_count: 2 };
      await expect(storage.saveConversation(newer)).resolves.toMatchObject({ outcome: 'updated', path: key });
      await expect(storage.replayWrites(everything, 'test')).resolves.toEqual({ indexed: 0, dropped: 1, superseded: 0, failed: 0 });
      expect(await catalog.findByConversationId(id)).toMatchObject({ path: key, compressed: 0, message_count: 2 });
      expect(await catalog.journaledWrites()).toEqual([]);
      expect((await storage.compressOldDays()).compressed_files).toBe(1);
      expect([onDisk(key), onDisk(gz)]).toEqual([false, true]);
      expect(await catalog.findByConversationId(id)).toMatchObject({ path: gz, compressed: 1, message_count: 2 });
      expect((await catalog.search({}, 'yodel', null, 10)).map((r) => r.conversation_id)).toEqual([id]);
      expect(await catalog.journaledWrites()).toEqual([]);
    });

    it('leaves nothing of the end user behind when they are erased before a replay', async () => {
      const { key, gz } = await compressionCutShort('c0ffee00-0000-4000-8000-00000000b004', true);
      await expect(storage.eraseEndUser('eu-gz', { actor: { route: 'cli' } })).resolves.toMatchObject({ conversations: 1 });
      expect([onDisk(key), onDisk(gz)]).toEqual([false, false]);
    });
  });
});
