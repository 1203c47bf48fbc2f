import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write';
import { AppConfig } from '../../config/app-config';

interface ErasureRecord {
  /** sha256 of the salt and the end user's id or session, hex */
  hash: string;
  /** null: every organization */
  organization_id: string | null;
  /** null: every app */
  app_id: string | null;
  erased_at: string;
}

interface ErasureFile {
  salt: string;
  erasures: ErasureRecord[];
}

/** What a backup knows of a conversation when it decides whether to keep it. */
export interface ConversationOwner {
  organization_id?: string | null;
  app_id?: string | null;
  from_end_user_id?: unknown;
  from_end_user_session_id?: unknown;
}

/**
 * The end users whose conversations were erased, so that no later backup brings them back: kept in
 * `LOGS_DIR/state/erasures.json` as salted hashes (the salt is made once, at random), never the ids.
 */
@Injectable()
export class ErasureRegistry {
  private readonly file: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: AppConfig) {
    this.file = path.join(config.logsDir, 'state', 'erasures.json');
  }

  /** The salted hash that stands for an end user in the registry and the audit log. */
  async hashOf(endUser: string): Promise<string> {
    return hash((await this.load()).salt, endUser);
  }

  /** Records an erasure (idempotent for the same scope). */
  remember(endUser: string, scope: { organizationId?: string | null; appId?: string | null }): Promise<void> {
    return this.update((file) => {
      const record = { hash: hash(file.salt, endUser), organization_id: scope.organizationId ?? null, app_id: scope.appId ?? null };
      const known = file.erasures.some((e) => e.hash === record.hash && e.organization_id === record.organization_id && e.app_id === record.app_id);
      if (!known) file.erasures.push({ ...record, erased_at: new Date().toISOString() });
      return undefined;
    });
  }

  /** Lifts the erasures of an end user (of one organization when given); returns how many were lifted. */
  forget(endUser: string, organizationId?: string): Promise<number> {
    return this.update((file) => {
      const h = hash(file.salt, endUser);
      const before = file.erasures.length;
      file.erasures = file.erasures.filter((e) => !(e.hash === h && (organizationId === undefined || e.organization_id === organizationId)));
      return before - file.erasures.length;
    });
  }

  async count(): Promise<number> {
    return (await this.load()).erasures.length;
  }

  /** A test for one backup run: true for a conversation of an erased end user (read once per run). */
  async matcher(): Promise<(conversation: ConversationOwner) => boolean> {
    const file = await this.load();
    if (file.erasures.length === 0) return () => false;
    const byHash = new Map<string, ErasureRecord[]>();
    for (const e of file.erasures) byHash.set(e.hash, [...(byHash.get(e.hash) ?? []), e]);
    return (c) => {
      for (const id of [c.from_end_user_id, c.from_end_user_session_id]) {
        if (typeof id !== 'string' || id === '') continue;
        for (const e of byHash.get(hash(file.salt, id)) ?? []) {
          if ((e.organization_id === null || e.organization_id === (c.organization_id ?? null)) && (e.app_id === null || e.app_id === c.app_id)) return true;
        }
      }
      return false;
    };
  }

  private async update<T>(change: (file: ErasureFile) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const file = await this.load();
      const result = change(file);
      await writeFileAtomic(this.file, JSON.stringify(file, null, 2), { mode: 0o600 });
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<ErasureFile> {
    try {
      return JSON.parse(await fs.readFile(this.file, 'utf8')) as ErasureFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const fresh: ErasureFile = { salt: randomBytes(32).toString('hex'), erasures: [] };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(fresh, null, 2), { mode: 0o600 });
    return fresh;
  }
}

function hash(salt: string, endUser: string): string {
  return createHash('sha256').update(`${salt}:${endUser}`).digest('hex');
}
