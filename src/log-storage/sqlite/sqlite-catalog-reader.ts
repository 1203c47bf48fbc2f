import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import type { CatalogEntry, CatalogMessage } from '../catalog-entry';
import { CATALOG_SCHEMA_VERSION } from './catalog-schema';

/** versions whose rows this reader copies: the current one, 4 (before the statistics tables, which it does not read) and 3 (before `md5`, copied as '') */
const READABLE = [String(CATALOG_SCHEMA_VERSION), '4', '3'];

export interface CatalogItem {
  entry: CatalogEntry;
  messages: CatalogMessage[];
}

/**
 * Reads a finished SQLite catalog whole, for copying into another catalog: every live row (rows of
 * removed day folders waiting to be purged are left out) with its messages and full-text fields, in id
 * order, a batch at a time. Throws when the file is missing or not a finished catalog of this version.
 */
export function* readSqliteCatalog(file: string, batchSize = 500): Generator<CatalogItem[]> {
  if (!fs.existsSync(file)) throw new Error(`there is no SQLite catalog at ${file}`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const meta = (key: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
    if (!READABLE.includes(meta('schema_version') ?? '') || meta('complete') !== '1') {
      throw new Error(`the SQLite catalog at ${file} is not a finished catalog of version ${CATALOG_SCHEMA_VERSION}`);
    }
    const rows = db.prepare(
      `SELECT f.*, t.queries, t.answers FROM files f JOIN fts t ON t.rowid = f.id
       WHERE f.id > ? AND NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = f.org_key AND r.day = f.day)
       ORDER BY f.id LIMIT ?`,
    );
    const messages = db.prepare('SELECT message_id, created_at, tokens, latency, rating, error FROM messages WHERE file_id = ? ORDER BY rowid');
    let afterId = 0;
    for (;;) {
      const batch = rows.all(afterId, batchSize) as (Omit<CatalogEntry, 'compressed'> & { id: number; compressed: number; indexed_at: string })[];
      if (!batch.length) return;
      afterId = batch[batch.length - 1].id;
      yield batch.map(({ id, indexed_at: _indexedAt, ...row }) => ({
        entry: { ...row, md5: row.md5 ?? '', compressed: row.compressed === 1 },
        messages: (messages.all(id) as (Omit<CatalogMessage, 'error'> & { error: number })[]).map((m) => ({ ...m, error: m.error === 1 })),
      }));
    }
  } finally {
    db.close();
  }
}
