/**
 * The erasures and the audit log in PostgreSQL (DATABASE_URL); null in the container when it is not set.
 * A file of its own: the token is needed without loading the PostgreSQL driver.
 */
export const POSTGRES_PRIVACY = Symbol('POSTGRES_PRIVACY');
