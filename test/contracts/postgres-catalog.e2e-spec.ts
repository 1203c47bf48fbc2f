import { Client } from 'pg';
import { catalogEntry } from '../support/catalog-entry.fixture';
import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeCatalogContract } from './catalog.contract';

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

