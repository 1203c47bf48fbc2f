import type { Pool } from 'pg';
import type { Migration } from './migrations';

/** The advisory lock every replica takes around migrations (any fixed number: "dlvmigr" in ASCII). */
export const MIGRATION_LOCK_KEY = '0x646c766d696772';

export class MigrationError extends Error {}

/**
 * Applies the migrations a database has not seen yet, each in its own transaction, recorded in
 * `schema_migrations`. The session-level advisory lock makes replicas starting at once take turns: the
 * first applies, the others find everything applied. Returns the versions applied by this call.
 */
export async function runMigrations(pool: Pool, migrations: readonly Migration[]): Promise<number[]> {
  const client = await pool.connect();
  const key = BigInt(MIGRATION_LOCK_KEY).toString();
  let released = false;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      const done = new Set(rows.map((r) => r.version));
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const newest = Math.max(0, ...done);
      if (newest > known) {
        throw new MigrationError(`the catalog database has schema version ${newest}; this build knows versions up to ${known}`);
      }
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new MigrationError(`catalog migration ${m.version} (${m.name}) failed: ${(error as Error).message}`);
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  } catch (error) {
    // a connection in an unknown state is not handed back to the pool
    client.release(error as Error);
    released = true;
    throw error;
  } finally {
    if (!released) client.release();
  }
}
