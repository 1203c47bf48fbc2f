import { ArchiveStoreError } from './archive-store';

/** A caller's mistake in a query to the archive; `field` names the parameter to fix. */
export class ArchiveQueryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveQueryError';
  }
}

/** The asked-for conversation is not in the archive. */
export class ArchiveNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveNotFoundError';
  }
}

/** The catalog is being rebuilt from the files: its answers would be partial, so none is given (503). */
export class CatalogRebuildingError extends Error {
  constructor(readonly progress: { done: number; total: number | null }) {
    super(
      `The catalog is being rebuilt from the files (${progress.done.toLocaleString('en-US')} of ${
        progress.total === null ? 'a count still being taken' : progress.total.toLocaleString('en-US')
      } files); try again when it has finished`,
    );
    this.name = 'CatalogRebuildingError';
  }
}

const STORAGE_FAILURES = new Set([
  'ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE',
  // the SQLite catalog (and its write journal) on a full, read-only or failing disk
  'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN',
  // PostgreSQL: disk_full, insufficient_resources, out_of_memory (SQLSTATE class 53)
  '53100', '53000', '53200',
]);

/**
 * A failure of the disk itself (full, read-only, no permission), of the catalog's storage (SQLite on a full
 * disk, PostgreSQL out of space), or of the object store after its retries (5xx, SlowDown, timeouts, refused
 * credentials): every further write would most likely fail the same way.
 */
export function isStorageFailure(error: unknown): error is NodeJS.ErrnoException {
  if (error instanceof ArchiveStoreError) return true;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return false;
  // SQLite's extended codes: SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, ...
  return STORAGE_FAILURES.has(code) || STORAGE_FAILURES.has(code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1'));
}
