import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../../config/app-config';
import type { CatalogMessage } from '../catalog-entry';
import { catalogEntry } from '../../../test/support/catalog-entry.fixture';
import { CATALOG_FILE, CATALOG_SCHEMA_VERSION } from './catalog-schema';
import { stageMessages } from './message-stage';
import { SqliteCatalog } from './sqlite-catalog';

const entry = catalogEntry;

function messages(latencies: (number | null)[]): CatalogMessage[] {
  return latencies.map((latency, i) => ({ message_id: `m${i}`, created_at: '2024-01-16T12:00:00.000Z', tokens: 5, latency, rating: null, error: false }));
}

describe(SqliteCatalog.name, () => {
  let dir: string;
  let sut: SqliteCatalog;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-repo-'));
    sut = new SqliteCatalog(path.join(dir, CATALOG_FILE));
  });
  afterEach(async () => {
    await sut.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('asks for a rebuild when missing, old or unfinished, and not once rebuilt', async () => {
    expect(await sut.open()).toEqual({ needsRebuild: true, reason: 'catalog is missing' });
    await sut.startRebuild();
    await sut.close();
    expect(await sut.open()).toEqual({ needsRebuild: true, reason: 'the last rebuild did not finish' });
    await sut.startRebuild();
    await sut.finishRebuild();
    await sut.close();
    expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
    await sut.close();
    const raw = new Database(path.join(dir, CATALOG_FILE));
    raw.prepare("UPDATE meta SET value = '0' WHERE key = 'schema_version'").run();
    raw.close();
    expect((await sut.open()).reason).toBe(`catalog schema version 0 is not ${CATALOG_SCHEMA_VERSION}`);
  });

  it('loads the rows of many bulk calls, readable once the rebuild is finished, from another connection too', async () => {
    await sut.open();
    await sut.startRebuild();
    for (let batch = 0; batch < 3; batch++) {
      await sut.insertMany(Array.from({ length: 4 }, (_, i) => ({ entry: entry(`c${batch}-${i}`, { queries: `word${batch}` }), messages: messages([batch]) })));
    }
    await sut.finishRebuild();
    expect(await sut.count()).toBe(12);
    expect((await sut.search({}, 'word2', null, 10)).map((r) => r.conversation_id).sort()).toEqual(['c2-0', 'c2-1', 'c2-2', 'c2-3']);
    const other = new Database(path.join(dir, CATALOG_FILE), { readonly: true });
    try {
      expect(other.prepare('SELECT COUNT(*) AS n FROM messages').get()).toEqual({ n: 12 });
      expect(other.prepare("SELECT value FROM meta WHERE key = 'complete'").get()).toEqual({ value: '1' });
    } finally {
      other.close();
    }
  });

  it('after an aborted rebuild keeps it unfinished and commits ordinary writes again', async () => {
    await sut.open();
    await sut.startRebuild();
    await sut.insertMany([{ entry: entry('half'), messages: [] }]);
    await sut.abortRebuild();
    await sut.upsert(entry('later'), []);
    const other = new Database(path.join(dir, CATALOG_FILE), { readonly: true });
    try {
      expect(other.prepare('SELECT conversation_id FROM files').all()).toEqual([{ conversation_id: 'later' }]);
    } finally {
      other.close();
    }
    await sut.close();
    expect(await sut.open()).toEqual({ needsRebuild: true, reason: 'the last rebuild did not finish' });
  });

  it('takes in the messages threads staged under the ids given, drops those of a refused second file and removes the stage', async () => {
    await sut.open();
    expect(sut.messageStage()).toBeNull();
    await sut.startRebuild();
    const stage = sut.messageStage()!;
    expect(path.dirname(stage)).toBe(dir);
    const open = (file: string) => new Database(file);
    const extract = (id: string, latencies: number[], day?: string) => ({ ok: true as const, entry: entry(id, day ? { day } : {}), messages: messages(latencies) });
    // two threads, each with a file of its own; the second file of c1 comes with id 4
    const first = stageMessages(open, { file: stage, firstId: 1 }, 1, [extract('c1', [1, 2]), { ok: false, reason: 'not valid JSON' }]);
    const second = stageMessages(open, { file: stage, firstId: 3 }, 2, [extract('c2', [3]), extract('c1', [99], '2024-01-17')]);
    expect(first[0]).toMatchObject({ ok: true, id: 1, messages: [] });
    expect(second[1]).toMatchObject({ ok: true, id: 4, messages: [] });
    const loaded = [...first, ...second].flatMap((x) => (x.ok ? [x] : []));
    expect(await sut.insertMany(loaded)).toEqual([{ path: entry('c1', { day: '2024-01-17' }).path, duplicateOf: entry('c1').path }]);
    await sut.finishRebuild();
    expect(fs.readdirSync(dir).filter((name) => name.includes('.messages'))).toEqual([]);
    expect(sut.messageStage()).toBeNull();
    const other = new Database(path.join(dir, CATALOG_FILE), { readonly: true });
    try {
      expect(other.prepare('SELECT f.conversation_id, m.latency FROM messages m JOIN files f ON f.id = m.file_id ORDER BY m.latency').all()).toEqual([
        { conversation_id: 'c1', latency: 1 },
        { conversation_id: 'c1', latency: 2 },
        { conversation_id: 'c2', latency: 3 },
      ]);
    } finally {
      other.close();
    }
    expect((await sut.stats({})).totals).toMatchObject({ conversations: 2, p95_latency: 3 });
  });

  it('removes what a killed rebuild staged when the next one starts, and after an aborted one', async () => {
    await sut.open();
    await sut.startRebuild();
    const open = (file: string) => new Database(file);
    stageMessages(open, { file: sut.messageStage()!, firstId: 1 }, 7, [{ ok: true, entry: entry('gone'), messages: messages([5]) }]);
    await sut.close();
    expect(fs.readdirSync(dir)).toContain(`${CATALOG_FILE}.messages-7`);
    await sut.open();
    await sut.startRebuild();
    expect(fs.readdirSync(dir)).not.toContain(`${CATALOG_FILE}.messages-7`);
    stageMessages(open, { file: sut.messageStage()!, firstId: 1 }, 8, [{ ok: true, entry: entry('half'), messages: messages([5]) }]);
    await sut.abortRebuild();
    expect(fs.readdirSync(dir).filter((name) => name.includes('.messages'))).toEqual([]);
    await sut.startRebuild();
    await sut.finishRebuild();
    expect((await sut.stats({})).totals).toMatchObject({ conversations: 0, p95_latency: null });
  });

  describe('with a fresh catalog', () => {
    beforeEach(async () => {
      await sut.open();
      await sut.startRebuild();
      await sut.finishRebuild();
    });

    it('upserts by organization and conversation id, keeping the row id and replacing details', async () => {
      const first = await sut.upsert(entry('c1'), messages([1, 2]));
      const second = await sut.upsert(entry('c1', { name: 'renamed', queries: 'zebra' }), messages([3]));
      expect(second).toBe(first);
      expect((await sut.findConversation('acme', 'c1'))?.name).toBe('renamed');
      expect((await sut.search({}, 'zebra', null, 10)).map((r) => r.conversation_id)).toEqual(['c1']);
      expect(await sut.search({}, 'hello', null, 10)).toEqual([]);
      expect((await sut.stats({})).totals.p95_latency).toBe(3);
      expect(await sut.count()).toBe(1);
    });

    it('summarises and deletes by day folder', async () => {
      await sut.upsert(entry('c1'), []);
      await sut.upsert(entry('c2', { day: '2024-01-17' }), []);
      await sut.upsert(entry('c3', { organization_id: null }), []);
      expect(await sut.summary()).toEqual({
        files: 3,
        bytes: 300,
        directories: ['conversations/2024/01/16', 'conversations/acme/2024/01/16', 'conversations/acme/2024/01/17'],
      });
      expect((await sut.summary('acme')).files).toBe(2);
      expect(await sut.deleteByDir('conversations/acme/2024/01/16')).toBe(1);
      expect((await sut.summary()).files).toBe(2);
      expect(await sut.deleteByPath(entry('c2', { day: '2024-01-17' }).path)).toBe(1);
      expect((await sut.search({}, 'hello', null, 10)).map((r) => r.conversation_id)).toEqual(['c3']);
    });

    it('reports a second file of one conversation in a batch insert instead of keeping both', async () => {
      const duplicates = await sut.insertMany([
        { entry: entry('c1'), messages: [] },
        { entry: entry('c1', { day: '2024-01-17' }), messages: [] },
      ]);
      expect(duplicates).toEqual([{ path: entry('c1', { day: '2024-01-17' }).path, duplicateOf: entry('c1').path }]);
      expect(await sut.count()).toBe(1);
    });

    it('pages search results newest first without losing rows that share a timestamp', async () => {
      for (let i = 0; i < 7; i++) await sut.upsert(entry(`c${i}`, { created_at: i < 4 ? '2024-01-16T12:00:00.000Z' : `2024-01-1${i}T00:00:00.000Z` }), []);
      const seen: string[] = [];
      let cursor = null;
      for (;;) {
        const rows = await sut.search({}, null, cursor, 3);
        if (!rows.length) break;
        seen.push(...rows.map((r) => r.conversation_id));
        const last = rows[rows.length - 1];
        cursor = { created_at: last.created_at, id: last.id };
      }
      expect(seen).toEqual(['c3', 'c2', 'c1', 'c0', 'c6', 'c5', 'c4']);
    });

    it('pages exports in day and path order', async () => {
      await sut.upsert(entry('b', { day: '2024-01-17' }), []);
      await sut.upsert(entry('a', { day: '2024-01-17' }), []);
      await sut.upsert(entry('z', { day: '2024-01-15' }), []);
      const first = await sut.exportPage({ start_date: '2024-01-15', end_date: '2024-01-17' }, null, 2);
      expect(first.map((r) => r.conversation_id)).toEqual(['z', 'a']);
      const rest = await sut.exportPage({ start_date: '2024-01-15', end_date: '2024-01-17' }, { day: first[1].day, path: first[1].path }, 2);
      expect(rest.map((r) => r.conversation_id)).toEqual(['b']);
    });

    it('computes per-group and total p95 by nearest rank', async () => {
      await sut.upsert(entry('c1'), messages(Array.from({ length: 20 }, (_, i) => i + 1)));
      await sut.upsert(entry('c2', { app_id: 'other', end_user_id: 'eu2' }), messages([100, null]));
      const { rows, totals } = await sut.stats({ start_date: '2024-01-16', end_date: '2024-01-16' });
      expect(rows.map((r) => [r.app_id, r.avg_latency, r.p95_latency])).toEqual([
        ['bot', 10.5, 19],
        ['other', 100, 100],
      ]);
      expect(totals).toMatchObject({ conversations: 2, messages: 2, end_users: 2, p95_latency: 20 });
      expect((await sut.stats({ app_id: 'nope' })).totals).toMatchObject({ conversations: 0, messages: 0, avg_latency: null, p95_latency: null });
    });

    it('moves a row to its gzipped file', async () => {
      const id = await sut.upsert(entry('c1'), []);
      await sut.moveFile(id, { path: `${entry('c1').path}.gz`, size: 40, sha256: 'gz', md5: 'gzmd5', compressed: true });
      expect(await sut.findByConversationId('c1')).toMatchObject({ path: `${entry('c1').path}.gz`, size: 40, compressed: 1 });
      expect(await sut.uncompressedBefore('2099-01-01', 0, 10)).toEqual([]);
    });
  });
});
