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

