import type { PoolClient } from 'pg';
import type { StateDatabase } from './state-database';

export interface JsonRowsTable<T> {
  /** a table of the state migrations: a text key, a jsonb document, and the extra columns `columns` fills */
  table: 'jobs' | 'checkpoints' | 'verify_runs';
  keyColumn: 'id' | 'key';
  docColumn: 'job' | 'state' | 'run';
  order: string;
  key(item: T): string;
  /** further columns kept beside the document, for queries and indexes */
  columns?: (item: T) => Record<string, unknown>;
  /** the transaction-level advisory lock that makes read-change-write one step across replicas */
  lockKey: string;
}

/**
 * A list of JSON documents kept one row each. `update` reads, changes and writes under a
 * transaction-level advisory lock, writing only the rows that changed, so replicas never lose each
 * other's writes.
 */
export class JsonRows<T> {
  constructor(
    private readonly db: StateDatabase,
    private readonly spec: JsonRowsTable<T>,
  ) {}

  async load(): Promise<T[]> {
    const rows = await this.db.query<{ doc: T }>(`SELECT ${this.spec.docColumn} AS doc FROM ${this.spec.table} ORDER BY ${this.spec.order}`);
    return rows.map((r) => r.doc);
  }

  save(items: T[]): Promise<void> {
    return this.update(() => items).then(() => undefined);
  }

  update(change: (stored: T[]) => T[]): Promise<T[]> {
    return this.db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.spec.lockKey]);
      const { rows } = await c.query<{ doc: T }>(`SELECT ${this.spec.docColumn} AS doc FROM ${this.spec.table} ORDER BY ${this.spec.order}`);
      const stored = rows.map((r) => r.doc);
      const before = new Map(stored.map((item) => [this.spec.key(item), JSON.stringify(item)]));
      const next = change(structuredClone(stored));
      const keep = new Set<string>();
      for (const item of next) {
        const key = this.spec.key(item);
        keep.add(key);
        if (before.get(key) !== JSON.stringify(item)) await this.write(c, key, item);
      }
      const gone = [...before.keys()].filter((k) => !keep.has(k));
      if (gone.length) await c.query(`DELETE FROM ${this.spec.table} WHERE ${this.spec.keyColumn} = ANY($1::text[])`, [gone]);
      return next;
    });
  }

  private async write(c: PoolClient, key: string, item: T): Promise<void> {
    const extra = Object.entries(this.spec.columns?.(item) ?? {});
    const names = [this.spec.keyColumn, this.spec.docColumn, ...extra.map(([n]) => n)];
    const values = [key, JSON.stringify(item), ...extra.map(([, v]) => v)];
    const updates = names.slice(1).map((n) => `${n} = excluded.${n}`);
    await c.query(
      `INSERT INTO ${this.spec.table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) ` +
        `ON CONFLICT (${this.spec.keyColumn}) DO UPDATE SET ${updates.join(', ')}`,
      values,
    );
  }
}
