import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArchiveStoreError } from './archive-store';
import { isStorageFailure } from './log-storage.errors';

/** The error a real SQLite statement throws. */
function sqliteError(run: (db: Database.Database) => void, file = ':memory:'): unknown {
  const db = new Database(file);
  try {
    run(db);
  } catch (error) {
    return error;
  } finally {
    db.close();
  }
  throw new Error('the statement did not fail');
}

describe(isStorageFailure.name, () => {
  it('stops a run on a full or read-only catalog: every further save would fail the same way', () => {
    const full = sqliteError((db) => {
      db.pragma('max_page_count = 8');
      db.exec('CREATE TABLE t (v TEXT)');
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      for (let i = 0; i < 1000; i++) insert.run('x'.repeat(1000));
    });
    expect((full as { code: string }).code).toBe('SQLITE_FULL');
    expect(isStorageFailure(full)).toBe(true);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-readonly-'));
    try {
      const file = path.join(dir, 'catalog.sqlite');
      new Database(file).exec('CREATE TABLE t (v TEXT)');
      const readonly = (() => {
        const db = new Database(file, { readonly: true });
        try {
          db.exec("INSERT INTO t VALUES ('x')");
        } catch (error) {
          return error;
        } finally {
          db.close();
        }
        throw new Error('the statement did not fail');
      })();
      expect((readonly as { code: string }).code).toMatch(/^SQLITE_READONLY/);
      expect(isStorageFailure(readonly)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts extended SQLite codes, the disk and the object store, and nothing a retry of one conversation could fix', () => {
    expect(isStorageFailure(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }))).toBe(true);
    expect(isStorageFailure(Object.assign(new Error('no space'), { code: 'ENOSPC' }))).toBe(true);
    expect(isStorageFailure(Object.assign(new Error('could not extend file'), { code: '53100' }))).toBe(true);
    expect(isStorageFailure(new ArchiveStoreError('PUT failed after its retries: SlowDown'))).toBe(true);

    const constraint = sqliteError((db) => {
      db.exec('CREATE TABLE t (v TEXT UNIQUE)');
      db.exec("INSERT INTO t VALUES ('x'); INSERT INTO t VALUES ('x')");
    });
    expect((constraint as { code: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(isStorageFailure(constraint)).toBe(false);
    expect(isStorageFailure(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
    expect(isStorageFailure(new Error('bad JSON'))).toBe(false);
    expect(isStorageFailure(null)).toBe(false);
  });
});
