import { createHash } from 'node:crypto';
import { AuditEntry, AuditLine, AuditLog, AuditPage, auditEntry, NewAuditEntry } from '../privacy/audit-log';
import type { PrivacyDatabase } from './privacy-database';

export interface AuditCopy {
  copied: number;
  present: number;
}

/**
 * The audit log in PostgreSQL (table `audit_log`, one row per deletion), shared by every replica. Each entry
 * is kept as the JSON it was recorded as, so it reads back as it does from `audit.jsonl`; newest first by
 * its time, then by the order rows were added.
 */
export class PostgresAuditLog extends AuditLog {
  constructor(private readonly db: PrivacyDatabase) {
    super();
  }

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const full = auditEntry(entry);
    await this.db.query('INSERT INTO audit_log (at, action, entry) VALUES ($1, $2, $3::json)', [full.at, full.action, JSON.stringify(full)]);
    return full;
  }

  read(limit: number, offset: number): Promise<AuditPage> {
    return this.db.transaction(async (c) => {
      // the total and the page from one snapshot
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows: count } = await c.query<{ total: number }>('SELECT count(*)::int AS total FROM audit_log');
      const { rows } = await c.query<{ entry: string }>('SELECT entry::text AS entry FROM audit_log ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2', [limit, offset]);
      return { total: count[0].total, entries: rows.map((r) => JSON.parse(r.entry) as AuditEntry) };
    });
  }

  /**
   * Copies the lines of an `audit.jsonl`, oldest first. Each keeps its place in the file as its origin, so a
   * second copy of the same file (or of the file grown since) adds only the lines not copied yet.
   */
  importLines(lines: AsyncIterable<AuditLine>): Promise<AuditCopy> {
    return this.db.transaction(async (c) => {
      let copied = 0;
      let present = 0;
      for await (const { line, text } of lines) {
        const entry = JSON.parse(text) as AuditEntry;
        if (typeof entry.at !== 'string' || typeof entry.action !== 'string') throw new Error(`audit.jsonl line ${line} is not an audit entry`);
        const origin = `audit.jsonl:${line}:${createHash('sha256').update(text).digest('hex')}`;
        const inserted = await c.query('INSERT INTO audit_log (at, action, entry, origin) VALUES ($1, $2, $3::json, $4) ON CONFLICT (origin) DO NOTHING', [
          entry.at,
          entry.action,
          text,
          origin,
        ]);
        if (inserted.rowCount) copied++;
        else present++;
      }
      return { copied, present };
    });
  }
}
