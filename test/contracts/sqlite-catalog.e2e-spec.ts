import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { CATALOG_FILE, CATALOG_SCHEMA_VERSION } from '../../src/log-storage/sqlite/catalog-schema';
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

  it('migrates a finished catalog of schema 3 in place: rows kept, their MD5 empty until saved again', async () => {
    const file = path.join(dir, CATALOG_FILE);
    const current = new SqliteCatalog(file);
    await current.open();
    await current.startRebuild();
    await current.insertMany([{ entry: catalogEntry('c1'), messages: [] }]);
    await current.finishRebuild();
    await current.close();
    // the file as schema 3 left it: no md5 column
    const db = new Database(file);
    db.exec("ALTER TABLE files DROP COLUMN md5; UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    db.close();

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
});
