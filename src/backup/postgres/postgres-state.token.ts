/**
 * The state replicas share in PostgreSQL (DATABASE_URL); null in the container when it is not set.
 * A file of its own: the token is needed without loading the PostgreSQL driver.
 */
export const POSTGRES_STATE = Symbol('POSTGRES_STATE');
