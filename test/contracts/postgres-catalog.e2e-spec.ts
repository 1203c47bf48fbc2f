import { Client } from 'pg';
import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { createDatabase, dropDatabase } from '../support/postgres';
import { catalogEntry } from '../support/catalog-entry.fixture';
import { describeCatalogContract } from './catalog.contract';
import { CatalogItem, referenceStats } from './stats-reference';

jest.setTimeout(120_000);

describeCatalogContract(PostgresCatalog.name, async () => {
  const url = await createDatabase('catalog_contract');
  const opened: PostgresCatalog[] = [new PostgresCatalog({ url, ftsLanguage: 'simple' })];
  return {
    catalog: opened[0],
    reopen: async () => {
      const next = new PostgresCatalog({ url, ftsLanguage: 'simple' });
      opened.push(next);
      return next;
    },
    dispose: async () => {
      for (const catalog of opened) await catalog.close();
      await dropDatabase(url);
    },
  };
});

describe(`${PostgresCatalog.name} statistics with two replicas writing at once`, () => {
  let url: string;
  const catalogs: PostgresCatalog[] = [];
  beforeEach(async () => {
    url = await createDatabase('catalog_stats_concurrency');
  });
  afterEach(async () => {
    for (const catalog of catalogs.splice(0)) await catalog.close();
    await dropDatabase(url);
  });

  it('stays exact when both save, save again and delete conversations of the same groups', async () => {
    const [a, b] = [0, 1].map(() => new PostgresCatalog({ url, ftsLanguage: 'simple', poolSize: 4 }));
    catalogs.push(a, b);
    await a.open();
    await a.startRebuild();
    await a.finishRebuild();
    await b.open();
    const item = (id: string, i: number, round: number) => ({
      entry: catalogEntry(id, { app_id: i % 2 ? 'bot' : 'helper', end_user_id: `u${(i + round) % 5}`, tokens: i + round, message_count: 3 }),
      messages: [0, 1, 2].map((k) => ({
        message_id: `m${k}`,
        created_at: '2024-01-16T12:00:00.000Z',
        tokens: 1,
        latency: ((i * 7 + k * 13 + round * 5) % 40) / 4,
        rating: null,
        error: false,
      })),
    });
    const live = new Map<string, CatalogItem>();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const replica = i % 2 ? a : b;
      const first = item(`c${i}`, i, 0);
      const second = item(`c${i}`, i, 1);
      live.set(`c${i}`, second);
      writes.push(replica.upsert(first.entry, first.messages).then(() => (i % 2 ? b : a).upsert(second.entry, second.messages)));
    }
    await Promise.all(writes);
    await Promise.all(
      [3, 4, 5, 6].map((i) => {
        live.delete(`c${i}`);
        return (i % 2 ? a : b).deleteByPath(catalogEntry(`c${i}`).path);
      }),
    );
    for (const query of [{}, { app_id: 'bot' }]) {
      expect(await a.stats(query)).toEqual(referenceStats([...live.values()], query));
    }
  });

  it("counts what the other replica saves while one rebuilds: the rebuild's fill at its end replaces the statistics", async () => {
    const [a, b] = [0, 1].map(() => new PostgresCatalog({ url, ftsLanguage: 'simple', poolSize: 2 }));
    catalogs.push(a, b);
    await a.open();
    await a.startRebuild();
    await a.finishRebuild();
    await b.open();
    const item = (id: string, user: string, latencies: number[]): CatalogItem => ({
      entry: catalogEntry(id, { end_user_id: user, message_count: latencies.length }),
      messages: latencies.map((latency, k) => ({ message_id: `m${k}`, created_at: '2024-01-16T12:00:00.000Z', tokens: 1, latency, rating: null, error: false })),
    });
    const loaded = [item('c1', 'u1', [1, 2]), item('c2', 'u2', [3])];
    const saved = item('c3', 'u1', [7, 8, 9]);
    await a.startRebuild();
    await a.insertMany(loaded);
    await b.upsert(saved.entry, saved.messages);
    await a.finishRebuild();
    expect(await b.stats({})).toEqual(referenceStats([...loaded, saved], {}));
  });
});

describe(`${PostgresCatalog.name} pending files`, () => {
  it("counts the files written since a moment through an index made for the count's comparison (COLLATE \"C\")", async () => {
    const url = await createDatabase('catalog_indexed_at');
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    const check = new Client({ connectionString: url });
    try {
      await sut.open();
      await sut.startRebuild();
      await sut.insertMany([{ entry: catalogEntry('c1'), messages: [] }]);
      await sut.finishRebuild();
      expect(await sut.countWrittenSince('2000-01-01T00:00:00.000Z')).toBe(1);
      await check.connect();
      // a table this small is read whole when it may be: asked not to, the planner shows whether an index serves the comparison
      await check.query('SET enable_seqscan = off');
      const { rows } = await check.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT COUNT(*) FROM files f WHERE f.indexed_at COLLATE "C" > '2024-01-01'`);
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/files_indexed_at/);
    } finally {
      await check.end();
      await sut.close();
      await dropDatabase(url);
    }
  });

  it("stamps written files with the database's clock, the one the off-site copy reads when it starts, whatever the writer's clock says", async () => {
    const url = await createDatabase('catalog_clock');
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    try {
      await sut.open();
      await sut.startRebuild();
      await sut.insertMany([{ entry: catalogEntry('c1'), messages: [] }]);
      await sut.finishRebuild();
      const copyStarted = await sut.clock();
      expect(Math.abs(Date.parse(copyStarted) - Date.now())).toBeLessThan(3_600_000);
      // this writer's clock is 25 years behind: stamped with it, the file would look written long before the copy
      // only Date: the database client keeps its own timers
      jest.useFakeTimers({
        now: new Date('2001-01-01T00:00:00.000Z'),
        doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
      });
      try {
        await sut.upsert(catalogEntry('c2'), []);
        await sut.moveFile((await sut.findByConversationId('c1'))!.id, { path: catalogEntry('c1').path, size: 1, sha256: 'x', md5: '', compressed: false });
      } finally {
        jest.useRealTimers();
      }
      expect(await sut.countWrittenSince(copyStarted)).toBe(2);
    } finally {
      await sut.close();
      await dropDatabase(url);
    }
  });
});


describe(`${PostgresCatalog.name} full-text documents`, () => {
  it("keeps one document per file with the file's date keys through saves, moves, deletions, erasure, purges and a rebuild", async () => {
    const url = await createDatabase('catalog_documents');
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    const check = new Client({ connectionString: url });
    const zebra = (id: string, day: string, hour: string, organization_id = 'acme') =>
      catalogEntry(id, { day, organization_id, created_at: `${day}T${hour}:00:00.000Z`, queries: `zebra ${id}` });
    // the documents' keys and the texts' rows against the files' own, row for row
    const expectInStep = async () => {
      const files = await check.query('SELECT id AS file_id, created_at, org_key, day FROM files ORDER BY id');
      const documents = await check.query('SELECT file_id, created_at, org_key, day FROM file_documents ORDER BY file_id');
      const texts = await check.query('SELECT file_id FROM file_texts ORDER BY file_id');
      expect(documents.rows).toEqual(files.rows);
      expect(texts.rows).toEqual(files.rows.map((r) => ({ file_id: r.file_id })));
      return files.rows.length;
    };
    const hits = async (text: string) => (await sut.search({}, text, null, 20)).map((r) => `${r.conversation_id}@${r.day}`);
    try {
      await sut.open();
      await sut.startRebuild();
      await sut.finishRebuild();
      await check.connect();
      for (const [id, day, hour] of [['a', '2024-01-16', '10'], ['b', '2024-01-16', '11'], ['c', '2024-01-17', '09'], ['d', '2024-01-10', '09']]) {
        await sut.upsert(zebra(id, day, hour), []);
      }
      await sut.upsert(zebra('e', '2024-01-16', '12', 'globex'), []);
      expect(await expectInStep()).toBe(5);

      await sut.upsert(zebra('a', '2024-01-18', '08'), []);
      await sut.upsert(catalogEntry('b', { created_at: '2024-01-16T13:00:00.000Z', queries: 'horse' }), []);
      const c = (await sut.findConversation('acme', 'c'))!;
      await sut.moveFile(c.id, { path: `${c.path}.gz`, size: 50, sha256: 'gz', md5: 'gz', compressed: true });
      expect(await expectInStep()).toBe(5);
      expect(await hits('zebra')).toEqual(['a@2024-01-18', 'c@2024-01-17', 'e@2024-01-16', 'd@2024-01-10']);
      expect(await hits('horse')).toEqual(['b@2024-01-16']);

      expect(await sut.erase([`${c.path}.gz`])).toBe(1);
      expect(await sut.deleteByPath(zebra('e', '2024-01-16', '12', 'globex').path)).toBe(1);
      expect(await sut.deleteByDir(zebra('a', '2024-01-18', '08').dir)).toBe(1);
      await sut.markRemoved([{ dir: zebra('d', '2024-01-10', '09').dir, org_key: 'acme', day: '2024-01-10' }]);
      while (await sut.purgeRemoved(10));
      expect(await expectInStep()).toBe(1);
      expect(await hits('zebra')).toEqual([]);

      await sut.startRebuild();
      await sut.insertMany([{ entry: zebra('r1', '2024-01-20', '10'), messages: [] }, { entry: zebra('r2', '2024-01-19', '23', 'globex'), messages: [] }]);
      await sut.finishRebuild();
      expect(await expectInStep()).toBe(2);
      expect(await hits('zebra')).toEqual(['r1@2024-01-20', 'r2@2024-01-19']);
    } finally {
      await check.end();
      await sut.close();
      await dropDatabase(url);
    }
  });
});

describe(`${PostgresCatalog.name} deadlocks between replicas`, () => {
  let url: string;
  let blocker: Client;
  let check: Client;
  const catalogs: PostgresCatalog[] = [];
  beforeEach(async () => {
    url = await createDatabase('catalog_deadlock');
    blocker = new Client({ connectionString: url });
    check = new Client({ connectionString: url });
    await Promise.all([blocker.connect(), check.connect()]);
  });
  afterEach(async () => {
    for (const catalog of catalogs.splice(0)) await catalog.close();
    await Promise.all([blocker.end(), check.end()]);
    await dropDatabase(url);
  });

  /** Until a statement starting with `query` waits for a lock held by another transaction of this database. */
  const waitingOnLock = async (query: string) => {
    for (let i = 0; i < 3000; i++) {
      const { rows } = await check.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND starts_with(query, $1)",
        [query],
      );
      if (rows.length) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no statement ${query} waited for a lock`);
  };
  const deadlocks = async () => (await check.query('SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n as number;

  it("erases, tried again, when the database breaks its deadlock with another replica's load of the same two day folders taken in the other order", async () => {
    const [a, b] = [0, 1].map(() => new PostgresCatalog({ url, ftsLanguage: 'simple', poolSize: 2 }));
    catalogs.push(a, b);
    await a.open();
    await b.open();
    const [day1, day2] = ['2024-01-16', '2024-01-17'];
    const x = catalogEntry('x', { day: day1, size: 10 });
    const y = catalogEntry('y', { day: day2, size: 20 });
    const z1 = catalogEntry('z1', { day: day2, size: 40 });
    const z2 = catalogEntry('z2', { day: day1, size: 80 });
    await a.startRebuild();
    await a.insertMany([x, y, z2].map((entry) => ({ entry, messages: [] })));
    const before = await deadlocks();

    // another transaction holds z2's row: replica A's load takes the total of day 2 (z1), then waits for z2
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM files WHERE conversation_id = $1 FOR UPDATE', ['z2']);
    const load = a.insertMany([z1, { ...z2, size: 160 }].map((entry) => ({ entry, messages: [] })));
    await waitingOnLock('SELECT f.id');
    // replica B's erasure takes the total of day 1 (x), then waits for day 2's, held by the load
    const erasure = b.erase([x.path, y.path]);
    await waitingOnLock('DELETE FROM files');
    // let go, the load saves z2 into day 1 and waits for the erasure: a deadlock, which the erasure (waiting
    // longest) is chosen to break
    await blocker.query('COMMIT');
    const [loaded, erased] = await Promise.allSettled([load, erasure]);
    expect(loaded).toEqual({ status: 'fulfilled', value: [] });
    expect(erased).toEqual({ status: 'fulfilled', value: 2 });
    await a.finishRebuild();

    expect(await a.summary()).toEqual({ files: 2, bytes: 200, directories: [z2.dir, z1.dir] });
    expect((await b.page(0, 10)).map((r) => `${r.conversation_id}:${r.size}`).sort()).toEqual(['z1:40', 'z2:160']);
    expect((await b.stats({})).totals).toMatchObject({ conversations: 2 });
    // the deadlock happened in the database; a victim's statistics reach the view when its connection ends
    for (const catalog of catalogs.splice(0)) await catalog.close();
    for (let i = 0; i < 500 && (await deadlocks()) === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await deadlocks()).toBeGreaterThan(before);
  });
});
