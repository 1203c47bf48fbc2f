import type { PoolClient } from 'pg';
import {
  ConversationOwner,
  ErasureRecord,
  ErasureRegistry,
  ErasureScope,
  ErasureState,
  erasureMatcher,
  newSalt,
  saltedHash,
} from '../privacy/erasure-registry';
import type { PrivacyDatabase } from './privacy-database';

/** "dlveras" in ASCII: one change of the erasures at a time over all replicas. */
const ERASURES_LOCK_KEY = BigInt('0x646c7665726173').toString();

/** A salt that differs from the one the database hashes with, while it holds erasures made with it. */
export class SaltConflictError extends Error {}

export interface ErasureCopy {
  copied: number;
  present: number;
}

/**
 * The erasure registry in PostgreSQL (tables `erasures` and `erasure_salt`), shared by every replica: one
 * salt for all of them, made by the first that needs it, so a hash made on one replica matches on another.
 * The salt never leaves the database except into this process's hashing.
 */
export class PostgresErasureRegistry extends ErasureRegistry {
  constructor(private readonly db: PrivacyDatabase) {
    super();
  }

  async hashOf(endUser: string): Promise<string> {
    return saltedHash(await this.db.transaction((c) => this.salt(c)), endUser);
  }

  async remember(endUser: string, scope: ErasureScope): Promise<void> {
    await this.db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [ERASURES_LOCK_KEY]);
      const salt = await this.salt(c);
      await c.query('INSERT INTO erasures (hash, organization_id, app_id, erased_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        saltedHash(salt, endUser),
        scope.organizationId ?? null,
        scope.appId ?? null,
        new Date().toISOString(),
      ]);
    });
  }

  forget(endUser: string, organizationId?: string): Promise<number> {
    return this.db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [ERASURES_LOCK_KEY]);
      const hash = saltedHash(await this.salt(c), endUser);
      const deleted =
        organizationId === undefined
          ? await c.query('DELETE FROM erasures WHERE hash = $1', [hash])
          : await c.query('DELETE FROM erasures WHERE hash = $1 AND organization_id = $2', [hash, organizationId]);
      return deleted.rowCount ?? 0;
    });
  }

  async count(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM erasures');
    return row.n;
  }

  async matcher(): Promise<(conversation: ConversationOwner) => boolean> {
    return erasureMatcher(await this.snapshot());
  }

  /** The salt and every record, read in one snapshot. */
  async snapshot(): Promise<ErasureState> {
    // the salt is made outside the snapshot: in REPEATABLE READ, an insert racing another replica's (or another
    // app's backup starting at the same moment) fails with "could not serialize access due to concurrent update"
    await this.db.query('INSERT INTO erasure_salt (id, salt) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [newSalt()]);
    return this.db.transaction(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const { rows: salts } = await c.query<{ salt: string }>('SELECT salt FROM erasure_salt WHERE id = 1');
      const salt = salts[0].salt;
      const { rows } = await c.query<ErasureRecord>(
        'SELECT hash, organization_id, app_id, erased_at FROM erasures ORDER BY erased_at, hash, organization_id NULLS FIRST, app_id NULLS FIRST',
      );
      return { salt, erasures: rows };
    });
  }

  /**
   * Takes over another registry's salt and records (a copy from LOGS_DIR/state/erasures.json), so its hashes
   * still match. Adds only the records not there yet. Refuses a different salt while the database holds
   * erasures made with its own: those could not be matched any more.
   */
  importState(state: ErasureState): Promise<ErasureCopy> {
    return this.db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [ERASURES_LOCK_KEY]);
      const { rows } = await c.query<{ salt: string }>('SELECT salt FROM erasure_salt WHERE id = 1');
      if (rows.length === 0) {
        await c.query('INSERT INTO erasure_salt (id, salt) VALUES (1, $1)', [state.salt]);
      } else if (rows[0].salt !== state.salt) {
        const { rows: held } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM erasures');
        if (held[0].n > 0) {
          throw new SaltConflictError(`PostgreSQL already holds ${held[0].n} erasures hashed with another salt; the erasures were not copied`);
        }
        await c.query('UPDATE erasure_salt SET salt = $1 WHERE id = 1', [state.salt]);
      }
      let copied = 0;
      for (const e of state.erasures) {
        const inserted = await c.query('INSERT INTO erasures (hash, organization_id, app_id, erased_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          e.hash,
          e.organization_id,
          e.app_id,
          e.erased_at,
        ]);
        copied += inserted.rowCount ?? 0;
      }
      return { copied, present: state.erasures.length - copied };
    });
  }

  /** The shared salt, made now if no replica has made it yet (the first insert wins; the others read it). */
  private async salt(c: PoolClient): Promise<string> {
    await c.query('INSERT INTO erasure_salt (id, salt) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [newSalt()]);
    const { rows } = await c.query<{ salt: string }>('SELECT salt FROM erasure_salt WHERE id = 1');
    return rows[0].salt;
  }
}
