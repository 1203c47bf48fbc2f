import { Injectable } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { AppConfig } from '../../config/app-config';

/** How a deletion was asked for. */
/** `service`: a call from code that embeds the service (ConversationLogService). */
export type AuditRoute = 'api' | 'admin' | 'cli' | 'schedule' | 'service';

/** Who asked, as far as the service can tell: the route and, over HTTP, the client address. */
export interface AuditActor {
  route: AuditRoute;
  client?: string | null;
}

export interface AuditEntry {
  at: string;
  action: 'erase-end-user' | 'lift-erasure' | 'retention-clean';
  route: AuditRoute;
  client: string | null;
  /** what the action covered: an organization, an app, an end user's salted hash, a retention cut-off; never content */
  scope: Record<string, string | number | null>;
  /** how many of each thing it removed */
  counts: Record<string, number>;
}

export type NewAuditEntry = Omit<AuditEntry, 'at' | 'client'> & { client?: string | null };

export interface AuditPage {
  total: number;
  entries: AuditEntry[];
}

/**
 * The append-only record of every deletion: when, what, how many, through which route, from which client.
 * It holds no conversation content and no secret; an end user appears only as the erasure registry's salted
 * hash. Kept in `LOGS_DIR/state/audit.jsonl`, or in PostgreSQL when DATABASE_URL is set.
 */
export abstract class AuditLog {
  abstract record(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first. */
  abstract read(limit: number, offset: number): Promise<AuditPage>;
}

/** The entry as it is stored, keys in the order the file has always had them. */
export function auditEntry(entry: NewAuditEntry, at: Date = new Date()): AuditEntry {
  return { at: at.toISOString(), ...entry, client: entry.client ?? null };
}

/** One line of `audit.jsonl`, as read back: its number (from 1) and its text. */
export interface AuditLine {
  line: number;
  text: string;
}

/** `LOGS_DIR/state/audit.jsonl`, one JSON object per line. */
@Injectable()
export class FileAuditLog extends AuditLog {
  readonly file: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: AppConfig) {
    super();
    this.file = path.join(config.logsDir, 'state', 'audit.jsonl');
  }

  record(entry: NewAuditEntry): Promise<AuditEntry> {
    const full = auditEntry(entry);
    const write = this.queue.then(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      // O_APPEND: one write per line, so two processes on one LOGS_DIR never interleave inside a line
      const handle = await fs.open(this.file, 'a', 0o600);
      try {
        await handle.write(`${JSON.stringify(full)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    this.queue = write.catch(() => undefined);
    return write.then(() => full);
  }

  /** Reads the file once, keeping only the lines of the page (memory bounded by the page). */
  async read(limit: number, offset: number): Promise<AuditPage> {
    const keep = limit + offset;
    const window: string[] = [];
    let total = 0;
    for await (const { text } of this.lines()) {
      total++;
      window.push(text);
      if (window.length > keep) window.shift();
    }
    const newestFirst = window.reverse().slice(offset, offset + limit);
    return { total, entries: newestFirst.map((l) => JSON.parse(l) as AuditEntry) };
  }

  /** Every entry, oldest first, with its line number (blank lines are counted, not given). */
  async *lines(): AsyncGenerator<AuditLine> {
    try {
      await fs.access(this.file);
    } catch {
      return;
    }
    const lines = createInterface({ input: createReadStream(this.file, 'utf8'), crlfDelay: Infinity });
    let line = 0;
    for await (const text of lines) {
      line++;
      if (text.trim()) yield { line, text };
    }
  }
}
