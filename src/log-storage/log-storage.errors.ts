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
