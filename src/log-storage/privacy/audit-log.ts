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

/**
 * The append-only record of every deletion (`LOGS_DIR/state/audit.jsonl`, one JSON object per line): when,
 * what, how many, through which route, from which client. It holds no conversation content and no secret;
 * an end user appears only as the erasure registry's salted hash.
 */
@Injectable()
export class AuditLog {
  readonly file: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: AppConfig) {
    this.file = path.join(config.logsDir, 'state', 'audit.jsonl');
  }

  record(entry: Omit<AuditEntry, 'at' | 'client'> & { client?: string | null }): Promise<AuditEntry> {
    const full: AuditEntry = { at: new Date().toISOString(), ...entry, client: entry.client ?? null };
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

  /** Newest first; reads the file once, keeping only the lines of the page (memory bounded by the page). */
  async read(limit: number, offset: number): Promise<{ total: number; entries: AuditEntry[] }> {
    const keep = limit + offset;
    const window: string[] = [];
    let total = 0;
    try {
      await fs.access(this.file);
    } catch {
      return { total: 0, entries: [] };
    }
    const lines = createInterface({ input: createReadStream(this.file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      total++;
      window.push(line);
      if (window.length > keep) window.shift();
    }
    const newestFirst = window.reverse().slice(offset, offset + limit);
    return { total, entries: newestFirst.map((l) => JSON.parse(l) as AuditEntry) };
  }
}
