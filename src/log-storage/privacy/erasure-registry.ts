import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write';
import { withFileLock } from '../../common/file-lock';
import { AppConfig } from '../../config/app-config';

export interface ErasureRecord {
  /** sha256 of the salt and the end user's id or session, hex */
  hash: string;
  /** null: every organization */
  organization_id: string | null;
  /** null: every app */
  app_id: string | null;
  erased_at: string;
}

/** Everything a registry holds: the salt (secret: never logged or answered) and the erasures under it. */
export interface ErasureState {
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

export interface ErasureScope {
  organizationId?: string | null;
  appId?: string | null;
}

/**
 * The end users whose conversations were erased, so that no later backup brings them back, kept as salted
 * hashes (the salt is made once, at random, and never leaves the registry), never the ids: in
 * `LOGS_DIR/state/erasures.json`, or in PostgreSQL when DATABASE_URL is set.
 */
export abstract class ErasureRegistry {
  /** The salted hash that stands for an end user in the registry and the audit log. */
  abstract hashOf(endUser: string): Promise<string>;
  /** Records an erasure (idempotent for the same scope). */
  abstract remember(endUser: string, scope: ErasureScope): Promise<void>;
  /** Lifts the erasures of an end user (of one organization when given); returns how many were lifted. */
  abstract forget(endUser: string, organizationId?: string): Promise<number>;
  abstract count(): Promise<number>;
  /** A test for one backup run: true for a conversation of an erased end user (read once per run). */
  abstract matcher(): Promise<(conversation: ConversationOwner) => boolean>;
}

export function saltedHash(salt: string, endUser: string): string {
  return createHash('sha256').update(`${salt}:${endUser}`).digest('hex');
}

export function newSalt(): string {
  return randomBytes(32).toString('hex');
}

/** Whether two records cover the same end user and scope. */
export function sameErasure(a: Omit<ErasureRecord, 'erased_at'>, b: Omit<ErasureRecord, 'erased_at'>): boolean {
  return a.hash === b.hash && a.organization_id === b.organization_id && a.app_id === b.app_id;
}

/** The backup's test over a snapshot of the registry. */
export function erasureMatcher({ salt, erasures }: ErasureState): (conversation: ConversationOwner) => boolean {
  if (erasures.length === 0) return () => false;
  const byHash = new Map<string, ErasureRecord[]>();
  for (const e of erasures) byHash.set(e.hash, [...(byHash.get(e.hash) ?? []), e]);
  return (c) => {
    for (const id of [c.from_end_user_id, c.from_end_user_session_id]) {
      if (typeof id !== 'string' || id === '') continue;
      for (const e of byHash.get(saltedHash(salt, id)) ?? []) {
        if ((e.organization_id === null || e.organization_id === (c.organization_id ?? null)) && (e.app_id === null || e.app_id === c.app_id)) return true;
      }
    }
    return false;
  };
}

/** `LOGS_DIR/state/erasures.json` (mode 0600): `{ salt, erasures }`. */
@Injectable()
export class FileErasureRegistry extends ErasureRegistry {
  readonly file: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: AppConfig) {
    super();
    this.file = path.join(config.logsDir, 'state', 'erasures.json');
  }

  async hashOf(endUser: string): Promise<string> {
    return saltedHash((await this.load()).salt, endUser);
  }

  remember(endUser: string, scope: ErasureScope): Promise<void> {
    return this.update((file) => {
      const record = { hash: saltedHash(file.salt, endUser), organization_id: scope.organizationId ?? null, app_id: scope.appId ?? null };
      if (!file.erasures.some((e) => sameErasure(e, record))) file.erasures.push({ ...record, erased_at: new Date().toISOString() });
      return undefined;
    });
  }

  forget(endUser: string, organizationId?: string): Promise<number> {
    return this.update((file) => {
      const h = saltedHash(file.salt, endUser);
      const before = file.erasures.length;
      file.erasures = file.erasures.filter((e) => !(e.hash === h && (organizationId === undefined || e.organization_id === organizationId)));
      return before - file.erasures.length;
    });
  }

  async count(): Promise<number> {
    return (await this.load()).erasures.length;
  }

  async matcher(): Promise<(conversation: ConversationOwner) => boolean> {
    return erasureMatcher(await this.load());
  }

  /** The salt and the records, for copying them elsewhere; null when the file does not exist (nothing was ever erased). */
  async snapshot(): Promise<ErasureState | null> {
    try {
      return JSON.parse(await fs.readFile(this.file, 'utf8')) as ErasureState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Read, change, write as one step, under `erasures.json.lock` so another process's write is never lost. */
  private update<T>(change: (file: ErasureState) => T): Promise<T> {
    const run = this.queue.then(() =>
      withFileLock(`${this.file}.lock`, async () => {
        const file = await this.loadLocked();
        const result = change(file);
        await writeFileAtomic(this.file, JSON.stringify(file, null, 2), { mode: 0o600 });
        return result;
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<ErasureState> {
    return (await this.snapshot()) ?? withFileLock(`${this.file}.lock`, () => this.loadLocked());
  }

  /** The stored state, or a fresh salt written once: under the lock, so two processes never make two salts. */
  private async loadLocked(): Promise<ErasureState> {
    const stored = await this.snapshot();
    if (stored) return stored;
    const fresh: ErasureState = { salt: newSalt(), erasures: [] };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(fresh, null, 2), { mode: 0o600 });
    return fresh;
  }
}
