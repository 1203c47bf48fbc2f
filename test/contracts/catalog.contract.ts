import type { Catalog, SearchRow } from '../../src/log-storage/catalog';
import type { CatalogEntry, CatalogMessage } from '../../src/log-storage/catalog-entry';
import type { ArchiveFilter } from '../../src/log-storage/log-storage.types';
import { catalogEntry } from '../support/catalog-entry.fixture';
import { CatalogItem, referenceStats } from './stats-reference';

/** A catalog under test; `reopen` gives a new instance over the same data (a restart). */
export interface CatalogSubject {
  catalog: Catalog;
  reopen(): Promise<Catalog>;
  dispose(): Promise<void>;
}

function messages(latencies: (number | null)[], overrides: Partial<CatalogMessage> = {}): CatalogMessage[] {
  return latencies.map((latency, i) => ({
    message_id: `m${i}`,
    created_at: '2024-01-16T12:00:00.000Z',
    tokens: 5,
    latency,
    rating: null,
    error: false,
    ...overrides,
  }));
}

/**
 * Conversations spread over days, organizations (one without), apps and end users (some known only by a
 * session, some by neither), with latencies across many buckets, some missing: made the same on every run.
 */
function statsItems(count: number, seed: number): CatalogItem[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
  return Array.from({ length: count }, (_, i) => {
    const user = pick(['u1', 'u2', 'u3', 'u4', null]);
    const latencies = Array.from({ length: 1 + Math.floor(next() * 6) }, () => (next() < 0.1 ? null : Math.round(next() * 12_000_000) / 1e6));
    return {
      entry: catalogEntry(`s${seed}-${i}`, {
        day: pick(['2024-01-15', '2024-01-16', '2024-01-17']),
        organization_id: pick(['acme', 'acme', 'Acme', null]),
        app_id: pick(['bot', 'helper']),
        message_count: latencies.length,
        tokens: Math.floor(next() * 1000),
        likes: Math.floor(next() * 2),
        dislikes: Math.floor(next() * 2),
        errors: Math.floor(next() * 2),
        end_user_id: user,
        end_user_session: user === null ? pick([`sess-${i % 3}`, null]) : `sess-${i}`,
      }),
      messages: messages(latencies),
    };
  });
}

/**
 * What every `Catalog` answers, whatever database holds it. An implementation proves itself by running this
 * suite against a fresh, empty database: `describeCatalogContract('PostgresCatalog', async () => ...)`.
 */
export function describeCatalogContract(name: string, create: () => Promise<CatalogSubject>): void {
  describe(`Catalog contract: ${name}`, () => {
    let subject: CatalogSubject;
    let sut: Catalog;
    const entry = (id: string, overrides: Partial<CatalogEntry> = {}) => catalogEntry(id, overrides);

    beforeEach(async () => {
      subject = await create();
      sut = subject.catalog;
      expect(await sut.open()).toMatchObject({ needsRebuild: true });
      await sut.startRebuild();
      await sut.finishRebuild();
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('asks for a rebuild only until one has finished', async () => {
      await sut.upsert(entry('c1'), []);
      await sut.close();
      sut = await subject.reopen();
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      expect(await sut.count()).toBe(1);
      await sut.startRebuild();
      expect(await sut.count()).toBe(0);
      await sut.close();
      sut = await subject.reopen();
      expect(await sut.open()).toMatchObject({ needsRebuild: true });
    });

    it('upserts by organization and conversation id, keeping the row id and replacing details', async () => {
      const id = await sut.upsert(entry('c1'), messages([1]));
      expect(await sut.upsert(entry('c1', { name: 'renamed', queries: 'zebra' }), messages([2, 3]))).toBe(id);
      expect(await sut.findConversation('acme', 'c1')).toMatchObject({ id, name: 'renamed' });
      expect(await sut.findByPath(entry('c1').path)).toMatchObject({ id });
      expect(await sut.hasPath(entry('c1').path)).toBe(true);
      expect((await sut.search({}, 'zebra', null, 10)).map((r) => r.conversation_id)).toEqual(['c1']);
      expect(await sut.search({}, 'hello', null, 10)).toEqual([]);
      expect((await sut.stats({})).totals).toMatchObject({ conversations: 1, messages: 1, avg_latency: 2.5 });
      // the same conversation of another organization is another row
      await sut.upsert(entry('c1', { organization_id: 'globex', updated_at: '2024-01-17T00:00:00.000Z' }), []);
      expect(await sut.count()).toBe(2);
      expect(await sut.findByConversationId('c1')).toMatchObject({ organization_id: 'globex' });
      expect(await sut.findByConversationId('c1', 'acme')).toMatchObject({ organization_id: 'acme' });
      expect(await sut.findConversation(null, 'c1')).toBeUndefined();
    });

    it('deletes by path and by day folder, keeping the summary in step', async () => {
      await sut.upsert(entry('a', { size: 10 }), []);
      await sut.upsert(entry('b', { size: 20 }), []);
      await sut.upsert(entry('c', { day: '2024-01-17', size: 40 }), []);
      await sut.upsert(entry('d', { organization_id: null, size: 80 }), []);
      expect(await sut.summary()).toEqual({
        files: 4,
        bytes: 150,
        directories: ['conversations/2024/01/16', 'conversations/acme/2024/01/16', 'conversations/acme/2024/01/17'],
      });
      expect(await sut.summary('acme')).toEqual({ files: 3, bytes: 70, directories: ['conversations/acme/2024/01/16', 'conversations/acme/2024/01/17'] });
      expect(await sut.deleteByPath(entry('a').path)).toBe(1);
      expect(await sut.deleteByPath(entry('a').path)).toBe(0);
      expect(await sut.deleteByDir('conversations/acme/2024/01/17')).toBe(1);
      expect(await sut.summary('acme')).toEqual({ files: 1, bytes: 20, directories: ['conversations/acme/2024/01/16'] });
      expect(await sut.hasPath(entry('a').path)).toBe(false);
    });

    it('erases rows for good: no search hit, stat or folder total keeps them', async () => {
      await sut.upsert(entry('gone', { size: 10, queries: 'quokka secret', end_user_id: 'eu-1' }), messages([1, 2]));
      await sut.upsert(entry('kept', { size: 20, queries: 'quokka public' }), messages([3]));
      expect(await sut.erase([entry('gone').path, 'conversations/acme/2024/01/16/conversation_none.json'])).toBe(1);
      expect(await sut.erase([entry('gone').path])).toBe(0);
      expect((await sut.search({}, 'quokka', null, 10)).map((r) => r.conversation_id)).toEqual(['kept']);
      expect(await sut.search({}, 'secret', null, 10)).toEqual([]);
      expect(await sut.count({ user: 'eu-1' })).toBe(0);
      expect((await sut.stats({})).totals).toMatchObject({ conversations: 1, messages: 1 });
      expect(await sut.summary()).toEqual({ files: 1, bytes: 20, directories: ['conversations/acme/2024/01/16'] });
    });

    it('keeps a write journal: an entry recorded again replaces it, the row of its path removes it, a rebuild and a restart keep it', async () => {
      const journaled = (id: string, writer: string, since: number) => ({ path: entry(id).path, org_key: 'acme', app_id: 'app', writer, since });
      await sut.journalWrites([journaled('c1', 'host-a:1', 1000), journaled('c2', 'host-a:1', 1000), journaled('c3', 'host-b:2', 2000)]);
      await sut.journalWrites([journaled('c2', 'host-b:2', 3000)]);
      expect(await sut.journaledWrites()).toEqual([journaled('c1', 'host-a:1', 1000), journaled('c2', 'host-b:2', 3000), journaled('c3', 'host-b:2', 2000)]);
      // the row of c1 takes its entry along; dropping c2 as it was first recorded leaves the entry recorded since
      await sut.upsert(entry('c1'), messages([1]));
      await sut.dropJournaled([journaled('c2', 'host-a:1', 1000), journaled('c3', 'host-b:2', 2000)]);
      expect(await sut.journaledWrites()).toEqual([journaled('c2', 'host-b:2', 3000)]);
      await sut.startRebuild();
      await sut.finishRebuild();
      await sut.close();
      sut = await subject.reopen();
      await sut.open();
      expect(await sut.journaledWrites()).toEqual([journaled('c2', 'host-b:2', 3000)]);
    });

    it("removes with a save's row only the journal entry that save recorded: another writer's newer entry of the path stays", async () => {
      const journaled = (id: string, writer: string, since: number) => ({ path: entry(id).path, org_key: 'acme', app_id: 'app', writer, since });
      await sut.journalWrites([journaled('c1', 'host-a:1', 1000)]);
      // another live process records the same path before the first one's row is written
      await sut.journalWrites([journaled('c1', 'host-b:2', 2000)]);
      await sut.upsert(entry('c1', { size: 11 }), messages([1]), { writer: 'host-a:1', since: 1000 });
      expect((await sut.findByConversationId('c1'))?.size).toBe(11);
      expect(await sut.journaledWrites()).toEqual([journaled('c1', 'host-b:2', 2000)]);
      // its own row takes its own entry along
      await sut.upsert(entry('c1', { size: 12 }), messages([1]), { writer: 'host-b:2', since: 2000 });
      expect((await sut.findByConversationId('c1'))?.size).toBe(12);
      expect(await sut.journaledWrites()).toEqual([]);
    });

    it("settles a journal entry only as it was listed: the row with it in one transaction, none when it was recorded again or removed", async () => {
      const journaled = (id: string, writer: string, since: number) => ({ path: entry(id).path, org_key: 'acme', app_id: 'app', writer, since });
      await sut.upsert(entry('c1', { size: 10 }), messages([1]));
      await sut.journalWrites([journaled('c1', 'host-a:1', 1000), journaled('c2', 'host-a:1', 1000)]);
      // another writer recorded c1 again after the replay listed it: the replay's row and drop are refused
      await sut.journalWrites([journaled('c1', 'host-b:2', 2000)]);
      expect(await sut.settleJournaled(journaled('c1', 'host-a:1', 1000), entry('c1', { size: 99 }), messages([1, 2]))).toBe(false);
      expect(await sut.findByPath(entry('c1').path)).toMatchObject({ size: 10, message_count: 1 });
      expect(await sut.journaledWrites()).toEqual([journaled('c1', 'host-b:2', 2000), journaled('c2', 'host-a:1', 1000)]);
      // as listed: the entry leaves and the row is written; a second settle of it writes nothing
      expect(await sut.settleJournaled(journaled('c2', 'host-a:1', 1000), entry('c2', { size: 20 }), messages([1]))).toBe(true);
      expect(await sut.findByPath(entry('c2').path)).toMatchObject({ size: 20 });
      expect(await sut.settleJournaled(journaled('c2', 'host-a:1', 1000), entry('c2', { size: 30 }), messages([1]))).toBe(false);
      expect(await sut.findByPath(entry('c2').path)).toMatchObject({ size: 20 });
      expect(await sut.journaledWrites()).toEqual([journaled('c1', 'host-b:2', 2000)]);
    });

    it("leaves the journal alone when a rebuild inserts a path's row (a replay settles it)", async () => {
      const journaled = { path: entry('c1').path, org_key: 'acme', app_id: 'app', writer: 'host-a:1', since: 1000 };
      await sut.journalWrites([journaled]);
      await sut.startRebuild();
      await sut.insertMany([{ entry: entry('c1'), messages: messages([1]) }]);
      await sut.finishRebuild();
      expect(await sut.journaledWrites()).toEqual([journaled]);
    });

    it('moves a row to its gzipped file', async () => {
      const id = await sut.upsert(entry('c1', { size: 100 }), []);
      await sut.moveFile(id, { path: `${entry('c1').path}.gz`, size: 40, sha256: 'gz', md5: 'gzmd5', compressed: true });
      expect(await sut.findByConversationId('c1')).toMatchObject({ path: `${entry('c1').path}.gz`, size: 40, sha256: 'gz', md5: 'gzmd5', compressed: 1 });
      expect(await sut.uncompressedBefore('2099-01-01', 0, 10)).toEqual([]);
      expect((await sut.summary()).bytes).toBe(40);
    });

    it('filters, and searches newest first with keyset paging and snippets', async () => {
      for (let i = 0; i < 7; i++) {
        const createdAt = i < 4 ? '2024-01-16T12:00:00.000Z' : `2024-01-1${i}T00:00:00.000Z`;
        await sut.upsert(entry(`c${i}`, { created_at: createdAt, queries: i % 2 ? 'the quick zebra' : 'a slow turtle', likes: i % 2 }), []);
      }
      const seen: string[] = [];
      let cursor: { created_at: string; id: number } | null = null;
      for (;;) {
        const rows = await sut.search({}, null, cursor, 3);
        if (!rows.length) break;
        seen.push(...rows.map((r) => r.conversation_id));
        const last = rows[rows.length - 1];
        cursor = { created_at: last.created_at, id: last.id };
      }
      expect(seen).toEqual(['c3', 'c2', 'c1', 'c0', 'c6', 'c5', 'c4']);
      const hits = await sut.search({}, 'zeb', null, 10);
      expect(hits.map((r) => r.conversation_id)).toEqual(['c3', 'c1', 'c5']);
      expect(hits[0].snippet).toContain('«zebra»');
      expect((await sut.search({}, null, null, 1))[0].snippet).toBe('the quick zebra');
      expect(await sut.search({}, '!!', null, 10)).toEqual([]);
      expect(await sut.count({ rating: 'like' })).toBe(3);
      expect(await sut.count({ keyword: 'turtle' })).toBe(4);
      expect(await sut.count({ app_id: 'bot', from_source: 'api', user: 'eu', organization_id: 'acme' })).toBe(7);
      expect(await sut.count({ start_date: '2024-01-17' })).toBe(0);
    });

    it('cuts a snippet from the field holding the hit, whatever its case or script, and from the name when no field holds one', async () => {
      const save = (id: string, queries: string, answers: string, created_at: string) => sut.upsert(entry(id, { queries, answers, created_at }), []);
      await save('answer', 'nothing to see', 'The PARCEL left the depot on Monday.', '2024-01-16T12:03:00.000Z');
      await save('upper', 'Where is my PARCEL?', 'It is on its way.', '2024-01-16T12:02:00.000Z');
      await save('folded', 'Où est le colis', 'Le Parcel est à Zürich', '2024-01-16T12:01:00.000Z');
      await save('phrase', 'parcel_tracking numbers', 'no parcel here', '2024-01-16T12:00:00.000Z');
      const snippets = async (text: string) => (await sut.search({}, text, null, 10)).map((r) => `${r.conversation_id}: ${r.snippet}`);
      expect(await snippets('parcel')).toEqual([
        'answer: The «PARCEL» left the depot on Monday.',
        'upper: Where is my «PARCEL»?',
        'folded: Le «Parcel» est à Zürich',
        'phrase: «parcel»_tracking numbers',
      ]);
      expect(await snippets('zurich')).toEqual(['folded: Le Parcel est à «Zürich»']);
      expect(await snippets('parcel_tracking')).toEqual(['phrase: «parcel_tracking» numbers']);
      expect(await snippets('name folded')).toEqual(['folded: «name» «folded»']);
    });

    it('pages exports in day and path order, after a key', async () => {
      await sut.upsert(entry('b', { day: '2024-01-17' }), []);
      await sut.upsert(entry('a', { day: '2024-01-17' }), []);
      await sut.upsert(entry('z', { day: '2024-01-15' }), []);
      await sut.upsert(entry('y', { day: '2024-01-18' }), []);
      const filter = { start_date: '2024-01-15', end_date: '2024-01-17' };
      const first = await sut.exportPage(filter, null, 2);
      expect(first.map((r) => r.conversation_id)).toEqual(['z', 'a']);
      expect(first[0]).toEqual({
        id: expect.any(Number),
        conversation_id: 'z',
        organization_id: 'acme',
        day: '2024-01-15',
        path: entry('z', { day: '2024-01-15' }).path,
        size: 100,
        compressed: 0,
        org_from_path: 0,
      });
      const rest = await sut.exportPage(filter, { day: first[1].day, path: first[1].path }, 2);
      expect(rest.map((r) => r.conversation_id)).toEqual(['b']);
    });

    it('walks every row in id order for verification', async () => {
      const ids = [];
      for (const id of ['c', 'a', 'b']) ids.push(await sut.upsert(entry(id), []));
      const first = await sut.page(0, 2);
      expect(first.map((r) => r.conversation_id)).toEqual(['c', 'a']);
      expect((await sut.page(first[1].id, 2)).map((r) => r.conversation_id)).toEqual(['b']);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    });

    it('walks every live row in path order, byte by byte as an object store lists keys, after a path', async () => {
      // '-' < 'A' < '_' < 'a' in bytes, whatever the database's locale
      for (const org of ['a_b', 'Acme', 'acme', 'a-b']) await sut.upsert(entry(`c-${org}`, { organization_id: org }), []);
      await sut.upsert(entry('old', { day: '2024-01-10' }), []);
      await sut.markRemoved([{ dir: entry('old', { day: '2024-01-10' }).dir, org_key: 'acme', day: '2024-01-10' }]);
      const first = await sut.pageByPath(null, 3);
      expect(first.map((r) => r.organization_id)).toEqual(['Acme', 'a-b', 'a_b']);
      const rest = await sut.pageByPath(first[2].path, 3);
      expect(rest.map((r) => r.conversation_id)).toEqual(['c-acme']);
      expect(await sut.pageByPath(rest[0].path, 3)).toEqual([]);
    });

    it('keeps the MD5 of the stored bytes from saves, rebuilds and moves; a row without one has ""', async () => {
      await sut.upsert(entry('c1', { md5: '0123456789abcdef0123456789abcdef' }), []);
      expect((await sut.findByConversationId('c1'))?.md5).toBe('0123456789abcdef0123456789abcdef');
      await sut.upsert(entry('c1', { md5: '' }), []);
      expect((await sut.findByPath(entry('c1').path))?.md5).toBe('');
      await sut.startRebuild();
      await sut.insertMany([{ entry: entry('c2', { md5: 'fedcba9876543210fedcba9876543210' }), messages: [] }]);
      await sut.finishRebuild();
      expect((await sut.pageByPath(null, 10)).map((r) => [r.conversation_id, r.md5])).toEqual([['c2', 'fedcba9876543210fedcba9876543210']]);
      expect((await sut.page(0, 10))[0].md5).toBe('fedcba9876543210fedcba9876543210');
    });

    it('computes per-group and total figures, p95 by nearest rank', async () => {
      await sut.upsert(entry('c1', { likes: 1, tokens: 7 }), messages(Array.from({ length: 20 }, (_, i) => i + 1)));
      await sut.upsert(entry('c2', { app_id: 'other', end_user_id: 'eu2', errors: 1 }), messages([100, null]));
      await sut.upsert(entry('c3', { day: '2024-01-17', end_user_id: null, end_user_session: 'sess' }), messages([4]));
      const { rows, totals } = await sut.stats({ start_date: '2024-01-16', end_date: '2024-01-16' });
      expect(rows).toEqual([
        { day: '2024-01-16', organization_id: 'acme', app_id: 'bot', conversations: 1, messages: 1, end_users: 1, tokens: 7, likes: 1, dislikes: 0, errors: 0, avg_latency: 10.5, p95_latency: 19 },
        { day: '2024-01-16', organization_id: 'acme', app_id: 'other', conversations: 1, messages: 1, end_users: 1, tokens: 10, likes: 0, dislikes: 0, errors: 1, avg_latency: 100, p95_latency: 100 },
      ]);
      expect(totals).toMatchObject({ conversations: 2, messages: 2, end_users: 2, tokens: 17, likes: 1, errors: 1, p95_latency: 20 });
      expect((await sut.stats({})).totals).toMatchObject({ conversations: 3, end_users: 3 });
      expect((await sut.stats({ app_id: 'nope' })).totals).toEqual({
        conversations: 0, messages: 0, end_users: 0, tokens: 0, likes: 0, dislikes: 0, errors: 0, avg_latency: null, p95_latency: null,
      });
    });

    describe('statistics, kept in step with every write', () => {
      const queries = [
        {},
        { start_date: '2024-01-16' },
        { start_date: '2024-01-15', end_date: '2024-01-16' },
        { organization_id: 'acme' },
        { organization_id: 'acme', app_id: 'helper', end_date: '2024-01-16' },
        { app_id: 'bot' },
        { app_id: 'nope' },
      ];
      /** the conversations the catalog holds, by organization and conversation id */
      let live: Map<string, CatalogItem>;
      const key = (item: CatalogItem) => `${item.entry.org_key}\n${item.entry.conversation_id}`;
      const save = async (items: CatalogItem[]) => {
        await sut.insertMany(items);
        for (const item of items) live.set(key(item), item);
      };
      const expectStats = async () => {
        for (const query of queries) {
          expect({ query, ...(await sut.stats(query)) }).toEqual({ query, ...referenceStats([...live.values()], query) });
        }
      };

      beforeEach(async () => {
        live = new Map();
        await save(statsItems(60, 1));
        await sut.upsert(statsItems(1, 2)[0].entry, statsItems(1, 2)[0].messages);
        live.set(key(statsItems(1, 2)[0]), statsItems(1, 2)[0]);
      });

      it('after saves, and after a conversation is saved again with other figures, users and day', async () => {
        await expectStats();
        const again = [...live.values()].slice(0, 12).map((item, i) => {
          const other = statsItems(12, 3)[i];
          return {
            entry: { ...other.entry, organization_id: item.entry.organization_id, org_key: item.entry.org_key, conversation_id: item.entry.conversation_id },
            messages: other.messages,
          };
        });
        // a day or app that changes moves the conversation to another group (its path changes with the day)
        for (const item of again) {
          const dir = `conversations/${item.entry.org_key ? `${item.entry.org_key}/` : ''}${item.entry.day.replace(/-/g, '/')}`;
          Object.assign(item.entry, { dir, path: `${dir}/conversation_${item.entry.conversation_id}_x.json` });
          await sut.upsert(item.entry, item.messages);
          live.set(key(item), item);
        }
        await expectStats();
        // saved again without any latency: the group's p95 and average follow
        const first = [...live.values()][0];
        const bare = { entry: { ...first.entry, message_count: 1 }, messages: messages([null]) };
        await sut.upsert(bare.entry, bare.messages);
        live.set(key(bare), bare);
        await expectStats();
      });

      it('after deletions by path and by day folder, erasure, and removal of day folders', async () => {
        const byDay = (day: string, org: string) => [...live.values()].filter((i) => i.entry.day === day && i.entry.org_key === org);
        for (const item of [...live.values()].slice(0, 5)) {
          expect(await sut.deleteByPath(item.entry.path)).toBe(1);
          live.delete(key(item));
        }
        await expectStats();
        const folder = byDay('2024-01-15', 'acme');
        expect(await sut.deleteByDir(folder[0].entry.dir)).toBe(folder.length);
        for (const item of folder) live.delete(key(item));
        await expectStats();
        const erased = [...live.values()].filter((i) => i.entry.end_user_id === 'u2');
        expect(await sut.erase(erased.map((i) => i.entry.path))).toBe(erased.length);
        for (const item of erased) live.delete(key(item));
        await expectStats();
        // a removed day folder is left out at once, and stays out while and after it is purged
        const removed = byDay('2024-01-16', '');
        await sut.markRemoved([{ dir: removed[0].entry.dir, org_key: '', day: '2024-01-16' }]);
        for (const item of removed) live.delete(key(item));
        await expectStats();
        await sut.purgeRemoved(2);
        await expectStats();
        while (await sut.purgeRemoved(2));
        await expectStats();
      });

      it('after a rebuild from batches', async () => {
        await sut.startRebuild();
        const items = [...live.values()];
        for (let i = 0; i < items.length; i += 7) await sut.insertMany(items.slice(i, i + 7));
        await sut.finishRebuild();
        await expectStats();
        await save(statsItems(10, 4));
        await expectStats();
      });
    });

    it('rebuilds from batches, reporting a second file of one conversation instead of keeping both', async () => {
      await sut.upsert(entry('old'), []);
      await sut.startRebuild();
      expect(await sut.count()).toBe(0);
      const duplicates = await sut.insertMany([
        { entry: entry('c1'), messages: [] },
        { entry: entry('c2'), messages: messages([1]) },
        { entry: entry('c1', { day: '2024-01-17' }), messages: [] },
      ]);
      await sut.finishRebuild();
      expect(duplicates).toEqual([{ path: entry('c1', { day: '2024-01-17' }).path, duplicateOf: entry('c1').path }]);
      expect(await sut.count()).toBe(2);
      expect(await sut.hasPath(entry('old').path)).toBe(false);
      expect(await sut.hasRemoved()).toBe(false);
    });

    it('counts the rows written after a time: saves, rewrites (once each) and moves into a gzipped file, never a removed folder\'s', async () => {
      /** the next millisecond of the clock the rows are stamped with */
      const nextMs = async () => {
        const now = Date.now();
        while (Date.now() <= now) await new Promise((r) => setTimeout(r, 1));
        return new Date(Date.now()).toISOString();
      };
      await sut.upsert(entry('before'), []);
      const moved = await sut.upsert(entry('moved'), []);
      await sut.upsert(entry('rewritten'), []);
      await sut.upsert(entry('old', { day: '2024-01-10' }), []);
      const since = await nextMs();
      await nextMs();
      expect(await sut.countWrittenSince(since)).toBe(0);
      await sut.upsert(entry('new'), []);
      await sut.upsert(entry('rewritten', { name: 'second' }), []);
      await sut.upsert(entry('rewritten', { name: 'third' }), []);
      await sut.moveFile(moved, { path: `${entry('moved').path}.gz`, size: 40, sha256: 'gz', md5: 'gzmd5', compressed: true });
      await sut.upsert(entry('old', { day: '2024-01-10', name: 'again' }), []);
      expect(await sut.countWrittenSince(since)).toBe(4);
      await sut.markRemoved([{ dir: 'conversations/acme/2024/01/10', org_key: 'acme', day: '2024-01-10' }]);
      expect(await sut.countWrittenSince(since)).toBe(3);
      expect(await sut.countWrittenSince(await nextMs())).toBe(0);
    });

    it('hides removed day folders from every read at once, purges them in batches, across a restart', async () => {
      const old = (id: string) => entry(id, { day: '2024-01-10', queries: 'zebra' });
      for (let i = 0; i < 5; i++) await sut.upsert(old(`old-${i}`), messages([1]));
      await sut.upsert(entry('new', { queries: 'zebra' }), messages([1]));
      expect(await sut.dirsBefore('2024-01-11')).toEqual([{ dir: 'conversations/acme/2024/01/10', org_key: 'acme', day: '2024-01-10', files: 5, bytes: 500 }]);
      await sut.markRemoved([{ dir: 'conversations/acme/2024/01/10', org_key: 'acme', day: '2024-01-10' }]);
      expect(await sut.hasRemoved()).toBe(true);
      expect(await sut.count()).toBe(1);
      expect(await sut.summary()).toEqual({ files: 1, bytes: 100, directories: ['conversations/acme/2024/01/16'] });
      expect(await sut.dirsBefore('2024-01-11')).toEqual([]);
      expect((await sut.search({}, 'zebra', null, 10)).map((r) => r.conversation_id)).toEqual(['new']);
      expect((await sut.exportPage({}, null, 10)).map((r) => r.conversation_id)).toEqual(['new']);
      expect((await sut.page(0, 10)).map((r) => r.conversation_id)).toEqual(['new']);
      expect((await sut.stats({})).totals).toMatchObject({ conversations: 1, messages: 1 });
      expect(await sut.findConversation('acme', 'old-0')).toBeUndefined();
      expect(await sut.hasPath(old('old-0').path)).toBe(false);

      expect(await sut.purgeRemoved(2)).toBe(true);
      await sut.close();
      sut = await subject.reopen();
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      expect(await sut.hasRemoved()).toBe(true);
      expect(await sut.count()).toBe(1);
      let steps = 0;
      while (await sut.purgeRemoved(2)) steps++;
      expect(steps).toBeLessThan(5);
      expect(await sut.hasRemoved()).toBe(false);
      // saved again into the folder: an ordinary folder once more
      await sut.upsert(old('old-0'), []);
      expect(await sut.summary()).toMatchObject({ files: 2, directories: ['conversations/acme/2024/01/10', 'conversations/acme/2024/01/16'] });
    });

    it('breaks ties in search, export and stats the same way: newest id first, then byte order of the text keys', async () => {
      const at = '2024-01-16T12:00:00.000Z';
      const ids: Record<string, number> = {};
      for (const id of ['b', 'B', 'a', 'é', '_x', 'Z']) ids[id] = await sut.upsert(entry(id, { created_at: at, app_id: id === 'B' ? 'Bot' : 'bot' }), []);
      await sut.upsert(entry('o', { organization_id: 'Acme' }), []);
      await sut.upsert(entry('n', { organization_id: null }), []);
      const seen: string[] = [];
      let cursor: { created_at: string; id: number } | null = null;
      for (;;) {
        const rows = await sut.search({ organization_id: 'acme' }, null, cursor, 4);
        if (!rows.length) break;
        seen.push(...rows.map((r) => r.conversation_id));
        cursor = { created_at: rows[rows.length - 1].created_at, id: rows[rows.length - 1].id };
      }
      expect(seen).toEqual(['Z', '_x', 'é', 'a', 'B', 'b']);
      // paths compare byte by byte: upper case before '_' before lower case before any non-ASCII letter
      const exported = await sut.exportPage({ organization_id: 'acme' }, null, 10);
      expect(exported.map((r) => r.conversation_id)).toEqual(['B', 'Z', '_x', 'a', 'b', 'é']);
      expect((await sut.exportPage({ organization_id: 'acme' }, { day: exported[2].day, path: exported[2].path }, 10)).map((r) => r.conversation_id)).toEqual([
        'a', 'b', 'é',
      ]);
      expect((await sut.summary()).directories).toEqual(['conversations/2024/01/16', 'conversations/Acme/2024/01/16', 'conversations/acme/2024/01/16']);
      expect((await sut.stats({})).rows.map((r) => [r.organization_id, r.app_id])).toEqual([
        [null, 'bot'], ['Acme', 'bot'], ['acme', 'Bot'], ['acme', 'bot'],
      ]);
    });

    it('finds words of any script as words or word prefixes, without case or Latin diacritics', async () => {
      await sut.upsert(entry('fr', { queries: 'Où est le Café? Crème brûlée', answers: 'naïve' }), []);
      await sut.upsert(entry('zh', { queries: '你好世界 東京タワー', answers: 'ok' }), []);
      await sut.upsert(entry('ru', { queries: 'Привет, МИР', answers: 'ok' }), []);
      await sut.upsert(entry('de', { queries: 'Straße ÄRGER', answers: 'snake_case_name x² ٣٤' }), []);
      await sut.upsert(entry('mail', { queries: 'write to support@example.com or see https://docs.example.org/a-b', answers: 'v1.2.3 and 3.14' }), []);
      const found = async (text: string) => (await sut.search({}, text, null, 10)).map((r) => r.conversation_id).sort();
      expect(await found('cafe')).toEqual(['fr']);
      expect(await found('CAFÉ crè')).toEqual(['fr']);
      expect(await found('brulee NAIV')).toEqual(['fr']);
      expect(await found('café zebra')).toEqual([]);
      expect(await found('你好')).toEqual(['zh']);
      expect(await found('你好世界')).toEqual(['zh']);
      expect(await found('世界')).toEqual([]);
      expect(await found('東京')).toEqual(['zh']);
      expect(await found('мир привет')).toEqual(['ru']);
      expect(await found('при')).toEqual(['ru']);
      expect(await found('strasse')).toEqual([]);
      expect(await found('straße ärg')).toEqual(['de']);
      expect(await found('snake_case')).toEqual(['de']);
      expect(await found('case name')).toEqual(['de']);
      expect(await found('٣٤')).toEqual(['de']);
      expect(await found('example')).toEqual(['mail']);
      expect(await found('docs')).toEqual(['mail']);
      expect(await found('support example com')).toEqual(['mail']);
      expect(await found('3 14')).toEqual(['mail']);
      expect(await found('v1')).toEqual(['mail']);
      expect(await found('ok')).toEqual(['ru', 'zh']);
      expect(await found('nam')).toEqual(['de', 'fr', 'mail', 'ru', 'zh']);
      expect(await sut.count({ keyword: 'wor' })).toBe(0);
      expect(await sut.count({ keyword: 'OK' })).toBe(2);
      const [hit] = await sut.search({}, 'brul', null, 10);
      expect(hit.snippet).toBe('Où est le Café? Crème «brûlée»');
      const [chinese] = await sut.search({}, '東京', null, 10);
      expect(chinese.snippet).toContain('«東京タワー»');
    });

    /** Every page of a search, as `conversation_id@day`, newest first, two rows a page. */
    const searchAll = async (catalog: Catalog, filter: ArchiveFilter, text: string | null): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: { created_at: string; id: number } | null = null;
      for (;;) {
        const rows: SearchRow[] = await catalog.search(filter, text, cursor, 2);
        if (!rows.length) return seen;
        seen.push(...rows.map((r) => `${r.conversation_id}@${r.day}`));
        cursor = { created_at: rows[rows.length - 1].created_at, id: rows[rows.length - 1].id };
      }
    };
    /**
     * A text search with dates and organization only, and the same search narrowed by a field of the file
     * row every entry shares (app "bot"): both must page alike, whichever way a catalog chooses its pages.
     */
    const textSearch = async (filter: ArchiveFilter, text: string): Promise<string[]> => {
      const alone = await searchAll(sut, filter, text);
      expect({ filter, text, hits: await searchAll(sut, { ...filter, app_id: 'bot' }, text) }).toEqual({ filter, text, hits: alone });
      return alone;
    };
    /** The summary against the rows themselves: the per-folder totals are kept exact. */
    const expectSummaryOfRows = async () => {
      const rows = await sut.page(0, 1000);
      const summary = await sut.summary();
      expect({ files: summary.files, bytes: summary.bytes, directories: summary.directories }).toEqual({
        files: rows.length,
        bytes: rows.reduce((sum, r) => sum + r.size, 0),
        directories: [...new Set(rows.map((r) => r.dir))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      });
    };

    it('searches text with dates and organization exactly after re-saves, erasure, removal, deletion and a rebuild', async () => {
      const at = (day: string, hour: string) => `${day}T${hour}:00:00.000Z`;
      const zebra = (id: string, day: string, hour: string, organization_id: string | null = 'acme') =>
        entry(id, { day, organization_id, created_at: at(day, hour), queries: `zebra ${id}`, size: 10 });
      await sut.upsert(zebra('a', '2024-01-16', '10'), []);
      await sut.upsert(zebra('b', '2024-01-16', '11'), []);
      await sut.upsert(zebra('c', '2024-01-17', '09'), []);
      await sut.upsert(zebra('d', '2024-01-10', '09'), []);
      await sut.upsert(zebra('e', '2024-01-16', '12', 'globex'), []);
      await sut.upsert(entry('f', { queries: 'no stripes here' }), []);
      expect(await textSearch({}, 'zebra')).toEqual(['c@2024-01-17', 'e@2024-01-16', 'b@2024-01-16', 'a@2024-01-16', 'd@2024-01-10']);
      expect(await textSearch({ organization_id: 'acme', start_date: '2024-01-16', end_date: '2024-01-16' }, 'zeb')).toEqual(['b@2024-01-16', 'a@2024-01-16']);

      // saved again on another day and at another time, and with other words: the search follows the row
      await sut.upsert(zebra('a', '2024-01-18', '08'), []);
      await sut.upsert(entry('b', { created_at: at('2024-01-16', '11'), queries: 'horse', size: 10 }), []);
      await sut.upsert(zebra('e', '2024-01-16', '12', 'acme'), []);
      expect(await textSearch({}, 'zebra')).toEqual(['a@2024-01-18', 'c@2024-01-17', 'e@2024-01-16', 'e@2024-01-16', 'd@2024-01-10']);
      expect(await textSearch({ organization_id: 'globex' }, 'zebra')).toEqual(['e@2024-01-16']);
      expect(await textSearch({ organization_id: 'acme', start_date: '2024-01-16', end_date: '2024-01-17' }, 'zebra')).toEqual(['c@2024-01-17', 'e@2024-01-16']);
      await expectSummaryOfRows();

      expect(await sut.erase([zebra('c', '2024-01-17', '09').path])).toBe(1);
      await sut.markRemoved([{ dir: zebra('d', '2024-01-10', '09').dir, org_key: 'acme', day: '2024-01-10' }]);
      expect(await textSearch({}, 'zebra')).toEqual(['a@2024-01-18', 'e@2024-01-16', 'e@2024-01-16']);
      expect(await textSearch({ end_date: '2024-01-15' }, 'zebra')).toEqual([]);
      while (await sut.purgeRemoved(10));
      expect(await sut.deleteByPath(zebra('e', '2024-01-16', '12', 'globex').path)).toBe(1);
      expect(await sut.deleteByDir(zebra('a', '2024-01-18', '08').dir)).toBe(1);
      expect(await textSearch({}, 'zebra')).toEqual(['e@2024-01-16']);
      expect(await textSearch({}, 'horse')).toEqual(['b@2024-01-16']);
      await expectSummaryOfRows();

      await sut.startRebuild();
      await sut.insertMany([
        { entry: zebra('r1', '2024-01-20', '10'), messages: [] },
        { entry: zebra('r2', '2024-01-19', '23', 'globex'), messages: [] },
      ]);
      await sut.finishRebuild();
      expect(await textSearch({}, 'zebra')).toEqual(['r1@2024-01-20', 'r2@2024-01-19']);
      expect(await textSearch({ organization_id: 'acme' }, 'zebra')).toEqual(['r1@2024-01-20']);
      await expectSummaryOfRows();
    });

    it('stays exact while two instances save the same conversations at once, each on its own day', async () => {
      const other = await subject.reopen();
      expect(await other.open()).toEqual({ needsRebuild: false, reason: null });
      const save = (catalog: Catalog, id: string, day: string, size: number) =>
        catalog.upsert(entry(id, { day, created_at: `${day}T12:00:00.000Z`, queries: `zebra ${id}`, size }), messages([1]));
      const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
      await Promise.all(ids.flatMap((id, i) => [save(sut, id, '2024-01-16', 10 + i), save(other, id, '2024-01-17', 100 + i)]));
      const rows = await sut.page(0, 100);
      expect(rows.map((r) => r.conversation_id).sort()).toEqual([...ids].sort());
      await expectSummaryOfRows();
      for (const day of ['2024-01-16', '2024-01-17']) {
        const onDay = rows.filter((r) => r.day === day).map((r) => `${r.conversation_id}@${day}`);
        expect((await textSearch({ start_date: day, end_date: day }, 'zebra')).sort()).toEqual(onDay.sort());
      }
      expect((await sut.stats({})).totals).toMatchObject({ conversations: 12, messages: 12 });
    });

    it('a save into a removed folder drops its old rows first', async () => {
      await sut.upsert(entry('a', { day: '2024-01-10' }), []);
      await sut.upsert(entry('b', { day: '2024-01-10' }), []);
      await sut.markRemoved([{ dir: 'conversations/acme/2024/01/10', org_key: 'acme', day: '2024-01-10' }]);
      await sut.upsert(entry('a', { day: '2024-01-10' }), []);
      expect(await sut.count()).toBe(1);
      expect(await sut.summary()).toEqual({ files: 1, bytes: 100, directories: ['conversations/acme/2024/01/10'] });
      expect(await sut.hasRemoved()).toBe(false);
    });
  });
}
