import type Database from 'better-sqlite3';
import { refreshStaleP95, STATS_DROP, STATS_FILL, STATS_TABLES, STATS_TRIGGERS } from './catalog-stats';

/**
 * The SQLite catalog's tables. A change of the tables is a new version with a migration from the one
 * before (below); a change of what is extracted from a file bumps `CATALOG_ENTRY_VERSION` too, which
 * rebuilds every catalog (SQLite and PostgreSQL) from the files.
 */

/** The file's version; an older one with migrations up to this one is migrated in place, any other rebuilt. */
export const CATALOG_SCHEMA_VERSION = 5;

/** What a catalog row holds of a file; a catalog built with another one is rebuilt from the files at start-up. */
export const CATALOG_ENTRY_VERSION = 3;

/** `sql`, then `after`, take a catalog of version `to - 1` to version `to`, keeping its rows. */
export interface SqliteMigration {
  to: number;
  name: string;
  sql: string;
  after?: (db: Database.Database) => void;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    to: 4,
    name: "the stored bytes' MD5 (an object's ETag); '' for rows catalogued before it, which verify checks by sha256",
    sql: "ALTER TABLE files ADD COLUMN md5 TEXT NOT NULL DEFAULT ''",
  },
  {
    to: 5,
    name: 'statistics kept per day, organization and app by triggers, filled from the rows',
    sql: STATS_TABLES + STATS_FILL + STATS_TRIGGERS,
    after: refreshStaleP95,
  },
];
export const CATALOG_FILE = 'catalog.sqlite';

export const DROP_ALL =
  'DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS messages; DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS dirs; DROP TABLE IF EXISTS removed_dirs; ' + STATS_DROP;

/**
 * The write journal (see `Catalog.journalWrites`): made when missing, outside the schema version, and never
 * dropped by a rebuild (its entries name objects a rebuild may not have listed yet).
 */
export const WRITE_JOURNAL_TABLE = `
CREATE TABLE IF NOT EXISTS write_journal (
  path TEXT PRIMARY KEY,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  writer TEXT NOT NULL,
  since INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The messages, also the table of a rebuild's message stage (`message-stage.ts`): the same definition, so
 * that the rows are taken in by a plain `INSERT INTO messages SELECT * FROM` the stage.
 */
export const MESSAGES_TABLE = `CREATE TABLE messages (
  file_id INTEGER NOT NULL,
  day TEXT NOT NULL,
  org_key TEXT NOT NULL,
  app_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  latency REAL,
  rating TEXT,
  error INTEGER NOT NULL
)`;

/** The tables, with the constraints a bulk load relies on (a second file of a conversation is refused). */
export const TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  org_key TEXT NOT NULL,
  organization_id TEXT,
  app_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  day TEXT NOT NULL,
  dir TEXT NOT NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  md5 TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL,
  compressed INTEGER NOT NULL,
  org_from_path INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  message_count INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  avg_latency REAL,
  from_source TEXT,
  end_user_id TEXT,
  end_user_session TEXT,
  likes INTEGER NOT NULL,
  dislikes INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  indexed_at TEXT NOT NULL
);
CREATE UNIQUE INDEX files_conversation ON files (org_key, conversation_id);
${MESSAGES_TABLE};
CREATE VIRTUAL TABLE fts USING fts5 (name, queries, answers, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE dirs (dir TEXT PRIMARY KEY, org_key TEXT NOT NULL, day TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE removed_dirs (org_key TEXT NOT NULL, day TEXT NOT NULL, dir TEXT NOT NULL, PRIMARY KEY (org_key, day));
`;

/**
 * The files written since a moment (the off-site copy's pending_files, read on every status): without it each
 * read scans the whole catalog. IF NOT EXISTS: the catalog also creates it when it opens (see SqliteCatalog.open).
 */
export const INDEXED_AT_INDEX = 'CREATE INDEX IF NOT EXISTS files_indexed_at ON files (indexed_at);';

/**
 * The indexes and the triggers that keep the per-folder totals: created after a bulk load (cheaper than
 * keeping them up to date row by row), with the totals computed once.
 */
export const INDEXES_AND_TRIGGERS = `
${INDEXED_AT_INDEX}
CREATE INDEX files_conversation_id ON files (conversation_id);
CREATE INDEX files_day ON files (day, path);
CREATE INDEX files_dir ON files (dir);
CREATE INDEX files_created ON files (created_at, id);
CREATE INDEX files_org_day ON files (org_key, day);
CREATE INDEX messages_file ON messages (file_id);
CREATE INDEX messages_group ON messages (day, org_key, app_id, latency);
CREATE INDEX messages_latency ON messages (latency, day, org_key, app_id);
INSERT INTO dirs (dir, org_key, day, files, bytes) SELECT dir, org_key, day, COUNT(*), SUM(size) FROM files GROUP BY dir;
CREATE TRIGGER files_dirs_insert AFTER INSERT ON files BEGIN
  INSERT INTO dirs (dir, org_key, day, files, bytes)
    SELECT new.dir, new.org_key, new.day, 1, new.size
    WHERE NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = new.org_key AND r.day = new.day)
    ON CONFLICT (dir) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER files_dirs_delete AFTER DELETE ON files BEGIN
  UPDATE dirs SET files = files - 1, bytes = bytes - old.size WHERE dir = old.dir;
  DELETE FROM dirs WHERE dir = old.dir AND files <= 0;
END;
CREATE TRIGGER files_dirs_update AFTER UPDATE OF dir, size ON files BEGIN
  UPDATE dirs SET files = files - 1, bytes = bytes - old.size WHERE dir = old.dir;
  DELETE FROM dirs WHERE dir = old.dir AND files <= 0;
  INSERT INTO dirs (dir, org_key, day, files, bytes)
    SELECT new.dir, new.org_key, new.day, 1, new.size
    WHERE NOT EXISTS (SELECT 1 FROM removed_dirs r WHERE r.org_key = new.org_key AND r.day = new.day)
    ON CONFLICT (dir) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
`;
