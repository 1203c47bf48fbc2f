import { Logger } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { redactDatabaseUrl, scrubSecret } from '../../common/database-url';
import { runMigrations } from './migration-runner';
import { CATALOG_MIGRATIONS } from './migrations';

export const CONNECT_TIMEOUT_MS = 5_000;
/** how long a pooled statement may go unanswered when no other time is given */
export const QUERY_TIMEOUT_MS = 30_000;

/**
 * A pool on DATABASE_URL with the schema brought up to date (under the migration lock, so replicas starting
 * at once take turns) before the first query; the base of the databases that share that URL. Its statements
 * are short: one left unanswered for `queryTimeoutMs` (a hung server, a cut network) fails, and its
 * connection is dropped, instead of holding up the request or the scheduler's tick that waits on it.
 */
export abstract class MigratedPool {
  protected readonly logger: Logger;
  protected readonly pool: Pool;
  private ready: Promise<void> | null = null;
  private closed = false;

  protected constructor(
    readonly url: string,
    options: { context: string; max: number; applicationName: string; queryTimeoutMs?: number },
  ) {
    this.logger = new Logger(options.context);
    this.pool = new Pool({
      connectionString: url,
      max: options.max,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
      application_name: options.applicationName,
    });
    this.pool.on('error', (error) => this.logger.warn(`An idle PostgreSQL connection failed: ${this.scrub(error)}`));
  }

  /** Runs a query once the schema is up to date. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    await this.migrated();
    return (await this.pool.query<R>(sql, params)).rows;
  }

  /** One transaction on one pooled connection; rolled back when `work` throws. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    await this.migrated();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(error as Error);
      throw error;
    }
  }

  /** The message of an error with DATABASE_URL's secret taken out. */
  scrub(error: unknown): string {
    return scrubSecret(error instanceof Error ? error.message : String(error), this.url);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  protected migrated(): Promise<void> {
    this.ready ??= this.migrate().then(
      (applied) => {
        if (applied.length) this.logger.log(`Applied migrations ${applied.join(', ')} to ${redactDatabaseUrl(this.url)}`);
      },
      (error: unknown) => {
        // tried again by the next query
        this.ready = null;
        throw new Error(`PostgreSQL at ${redactDatabaseUrl(this.url)} cannot be used: ${this.scrub(error)}`);
      },
    );
    return this.ready;
  }

  /**
   * Migrations on a connection of their own, without the statements' timeout: a migration, or the wait for
   * another replica's under the migration lock, may take longer than any statement of the running service.
   */
  private async migrate(): Promise<number[]> {
    const pool = new Pool({ connectionString: this.url, max: 1, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'dify-log-vault-migrations' });
    pool.on('error', (error) => this.logger.warn(`The migration connection to PostgreSQL failed: ${this.scrub(error)}`));
    try {
      return await runMigrations(pool, CATALOG_MIGRATIONS);
    } finally {
      await pool.end().catch(() => undefined);
    }
  }
}
