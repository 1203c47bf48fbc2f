import { Logger } from '@nestjs/common';
import { Pool, PoolClient } from 'pg';
import { redactDatabaseUrl, scrubSecret } from '../../common/database-url';
import { runMigrations } from './migration-runner';
import { CATALOG_MIGRATIONS } from './migrations';

const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A small pool on DATABASE_URL for the erasures and the audit log, with the schema brought up to date
 * (under the migration lock, so replicas starting at once take turns) before the first query.
 */
export class PrivacyDatabase {
  private readonly logger = new Logger(PrivacyDatabase.name);
  private readonly pool: Pool;
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(readonly url: string) {
    this.pool = new Pool({ connectionString: url, max: 3, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'dify-log-vault-privacy' });
    this.pool.on('error', (error) => this.logger.warn(`An idle PostgreSQL connection failed: ${this.scrub(error)}`));
  }

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

  scrub(error: unknown): string {
    return scrubSecret(error instanceof Error ? error.message : String(error), this.url);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  private migrated(): Promise<void> {
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
