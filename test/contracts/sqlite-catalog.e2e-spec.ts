import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { CATALOG_FILE, CATALOG_SCHEMA_VERSION, SQLITE_MIGRATIONS } from '../../src/log-storage/sqlite/catalog-schema';
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

  /** A finished catalog with one row, as schema 3 left it: no md5 column. */
  async function schema3Catalog(file: string): Promise<void> {
    const current = new SqliteCatalog(file);
    await current.open();
    await current.startRebuild();
    await current.insertMany([{ entry: catalogEntry('c1'), messages: [] }]);
    await current.finishRebuild();
    await current.close();
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
