import { Logger } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { redactDatabaseUrl, scrubSecret } from '../../common/database-url';
import { runMigrations } from './migration-runner';
import { CATALOG_MIGRATIONS } from './migrations';

export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A pool on DATABASE_URL with the schema brought up to date (under the migration lock, so replicas starting
 * at once take turns) before the first query; the base of the databases that share that URL.
 */
export abstract class MigratedPool {
  protected readonly logger: Logger;
  protected readonly pool: Pool;
  private ready: Promise<void> | null = null;
  private closed = false;

  protected constructor(
    readonly url: string,
    options: { context: string; max: number; applicationName: string },
  ) {
    this.logger = new Logger(options.context);
    this.pool = new Pool({ connectionString: url, max: options.max, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: options.applicationName });
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
    this.ready ??= runMigrations(this.pool, CATALOG_MIGRATIONS).then(
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
}
