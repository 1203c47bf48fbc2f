import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import type { CatalogEntry, CatalogMessage } from '../../src/log-storage/catalog-entry';
import { CATALOG_FILE, CATALOG_SCHEMA_VERSION, SQLITE_MIGRATIONS } from '../../src/log-storage/sqlite/catalog-schema';
import { STATS_DROP } from '../../src/log-storage/sqlite/catalog-stats';
import { catalogEntry } from '../support/catalog-entry.fixture';
import { SqliteCatalog } from '../../src/log-storage/sqlite/sqlite-catalog';
import { describeCatalogContract } from './catalog.contract';

jest.setTimeout(60_000);

describeCatalogContract(SqliteCatalog.name, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-catalog-contract-'));
  const file = path.join(dir, CATALOG_FILE);
  const opened: SqliteCatalog[] = [new SqliteCatalog(file)];
  return {
    catalog: opened[0],
    reopen: async () => {
      const next = new SqliteCatalog(file);
      opened.push(next);
      return next;
    },
    dispose: async () => {
      for (const catalog of opened) await catalog.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe(`${SqliteCatalog.name} migrations`, () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-catalog-migration-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A finished catalog with these rows, as schema 4 left it: no statistics tables. */
  async function schema4Catalog(file: string, items: { entry: CatalogEntry; messages: CatalogMessage[] }[]): Promise<void> {
    const current = new SqliteCatalog(file);
    await current.open();
    await current.startRebuild();
    await current.insertMany(items);
    await current.finishRebuild();
    await current.close();
    const db = new Database(file);
    db.exec(`${STATS_DROP} UPDATE meta SET value = '4' WHERE key = 'schema_version'`);
    db.close();
  }

  /** A finished catalog with one row, as schema 3 left it: no md5 column. */
  async function schema3Catalog(file: string): Promise<void> {
    await schema4Catalog(file, [{ entry: catalogEntry('c1'), messages: [] }]);
    const db = new Database(file);
    db.exec("ALTER TABLE files DROP COLUMN md5; UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    db.close();
  }

  it('migrates a finished catalog of schema 3 in place: rows kept, their MD5 empty until saved again', async () => {
    const file = path.join(dir, CATALOG_FILE);
    await schema3Catalog(file);

    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
    expect(await sut.findByConversationId('c1')).toMatchObject({ path: catalogEntry('c1').path, md5: '' });
    await sut.upsert(catalogEntry('c1', { md5: '0123456789abcdef0123456789abcdef' }), []);
    expect((await sut.findByConversationId('c1'))?.md5).toBe('0123456789abcdef0123456789abcdef');
    await sut.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(CATALOG_SCHEMA_VERSION) });
    check.close();
  });

  it('migrates a finished catalog of schema 4 in place: statistics filled from its rows, then kept by every write', async () => {
    const file = path.join(dir, CATALOG_FILE);
    const latencies = (values: (number | null)[]) =>
      values.map((latency, i) => ({ message_id: `m${i}`, created_at: '2024-01-16T12:00:00.000Z', tokens: 5, latency, rating: null, error: false }));
    const items = [
      { entry: catalogEntry('c1', { end_user_id: 'u1', tokens: 3 }), messages: latencies([1, 2.5, 3]) },
      { entry: catalogEntry('c2', { end_user_id: 'u1', likes: 1 }), messages: latencies([4, null]) },
      { entry: catalogEntry('c3', { app_id: 'other', end_user_id: 'u2', errors: 2 }), messages: latencies([10]) },
      { entry: catalogEntry('c4', { organization_id: 'globex', day: '2024-01-17', end_user_id: null, end_user_session: 's' }), messages: latencies([0.5]) },
    ];
    await schema4Catalog(file, items);

    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
    const figures = { messages: 1, likes: 0, dislikes: 0, errors: 0 };
    expect(await sut.stats({})).toEqual({
      rows: [
        { day: '2024-01-16', organization_id: 'acme', app_id: 'bot', ...figures, conversations: 2, messages: 2, end_users: 1, tokens: 13, likes: 1, avg_latency: 2.625, p95_latency: 4 },
        { day: '2024-01-16', organization_id: 'acme', app_id: 'other', ...figures, conversations: 1, end_users: 1, tokens: 10, errors: 2, avg_latency: 10, p95_latency: 10 },
        { day: '2024-01-17', organization_id: 'globex', app_id: 'bot', ...figures, conversations: 1, end_users: 1, tokens: 10, avg_latency: 0.5, p95_latency: 0.5 },
      ],
      totals: { conversations: 4, messages: 4, end_users: 3, tokens: 33, likes: 1, dislikes: 0, errors: 2, avg_latency: 21_000_000 / 6 / 1e6, p95_latency: 10 },
    });
    // the triggers are in place: a later save counts
    await sut.upsert(catalogEntry('c5', { organization_id: 'globex', day: '2024-01-17', end_user_id: 'u3' }), latencies([7]));
    expect((await sut.stats({ organization_id: 'globex' })).rows).toEqual([
      { day: '2024-01-17', organization_id: 'globex', app_id: 'bot', ...figures, conversations: 2, messages: 2, end_users: 2, tokens: 20, avg_latency: 3.75, p95_latency: 7 },
    ]);
    await sut.close();
  });

  it('counts the files written since a moment through an index, also in a catalog of this version made without it', async () => {
    const file = path.join(dir, CATALOG_FILE);
    const plan = () => {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare('EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM files f WHERE f.indexed_at > ?').all('2024-01-01T00:00:00.000Z') as { detail: string }[];
      db.close();
      return rows.map((r) => r.detail).join('; ');
    };
    const made = new SqliteCatalog(file);
    await made.open();
    await made.startRebuild();
    await made.insertMany([{ entry: catalogEntry('c1'), messages: [] }]);
    await made.finishRebuild();
    await made.close();
    expect(plan()).toMatch(/USING COVERING INDEX files_indexed_at/);

    const db = new Database(file);
    db.exec('DROP INDEX files_indexed_at');
    db.close();
    expect(plan()).toMatch(/SCAN f/);
    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
    expect(await sut.countWrittenSince('2000-01-01T00:00:00.000Z')).toBe(1);
    await sut.close();
    expect(plan()).toMatch(/USING COVERING INDEX files_indexed_at/);
  });

  it('rebuilds a catalog of a version no migration leads from, or one whose last rebuild did not finish', async () => {
    const file = path.join(dir, CATALOG_FILE);
    const current = new SqliteCatalog(file);
    await current.open();
    await current.startRebuild();
    await current.finishRebuild();
    await current.close();
    const db = new Database(file);
    db.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    db.close();
    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: true, reason: `catalog schema version 2 is not ${CATALOG_SCHEMA_VERSION}` });
    await sut.close();
  });

  it('opens a schema 3 catalog that another process is migrating at that moment: the step is not applied twice, nothing deleted', async () => {
    const file = path.join(dir, CATALOG_FILE);
    await schema3Catalog(file);
    // the other process: takes the write lock, applies the step, holds it a while (our open waits for it), commits
    const other = spawn(
      process.execPath,
      [
        '-e',
        `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
         const db = new Database(${JSON.stringify(file)});
         db.pragma('busy_timeout = 5000');
         db.exec('BEGIN IMMEDIATE');
         db.exec(${JSON.stringify(SQLITE_MIGRATIONS[0].sql)});
         db.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
         process.stdout.write('holding\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
         db.exec('COMMIT');
         process.stdout.write('committed\\n');
         setInterval(() => undefined, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    other.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      while (!output.includes('holding')) await new Promise((resolve) => setTimeout(resolve, 10));
      const sut = new SqliteCatalog(file);
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      while (!output.includes('committed')) await new Promise((resolve) => setTimeout(resolve, 10));
      // the other process still has the file open: it was not deleted under it
      expect(await sut.findByConversationId('c1')).toMatchObject({ path: catalogEntry('c1').path, md5: '' });
      await sut.close();
    } finally {
      other.kill();
    }
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(CATALOG_SCHEMA_VERSION) });
    expect(check.prepare('SELECT count(*) AS n FROM files').get()).toEqual({ n: 1 });
    check.close();
  });

  it('leaves a catalog it cannot open for another reason alone, and says why', async () => {
    const file = path.join(dir, CATALOG_FILE);
    await schema3Catalog(file);
    // another process holds the write lock for longer than the busy timeout
    const holder = new Database(file);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const sut = new SqliteCatalog(file);
      await expect(sut.open()).rejects.toThrow(`The catalog ${file} could not be opened: database is locked`);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
    expect(await sut.findByConversationId('c1')).toMatchObject({ path: catalogEntry('c1').path });
    await sut.close();
  });

  it('starts afresh a file that is not a database', async () => {
    const file = path.join(dir, CATALOG_FILE);
    fs.writeFileSync(file, 'not a database at all, not even close '.repeat(200));
    const sut = new SqliteCatalog(file);
    expect(await sut.open()).toEqual({ needsRebuild: true, reason: 'catalog was unreadable' });
    await sut.close();
  });
});
