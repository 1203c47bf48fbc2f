import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-write';
import { ConflictError } from '../common/domain-errors';
import { isProcessAlive, PROCESS_STARTED_AT } from '../common/process-liveness';
import { AppConfig } from '../config/app-config';
import type { Job } from './jobs.types';

export interface LockHolder {
  pid: number;
  hostname: string;
  /** one per BackupLock, so two services in one process (tests) are told apart */
  instance: string;
  /** `cli` for `node dist/cli.js backup`, else `server` */
  owner: 'server' | 'cli';
  since: string;
  /** the job holding it (the oldest of this process's jobs holding it, for the archive's file lock) */
  job_id?: string;
  /** `<host name>:<pid>`, when the lock is per source (PostgreSQL) */
  replica?: string;
}

/** The sources a job takes the lock for (a file lock covers the whole archive; PostgreSQL locks each source). */
export interface LockClaim {
  jobId: string;
  sources: string[];
}

/**
 * The cross-process backup lock: held while a job backs its sources up, so two processes never back up one
 * source at the same time. `<LOGS_DIR>/state/backup.lock` for the whole archive, or one advisory lock per
 * source in PostgreSQL when DATABASE_URL is set.
 */
export interface BackupLock {
  /** Takes the lock (or joins this process's hold of it); throws BackupLockedError when another process has it. */
  hold(owner: LockHolder['owner'], claim: LockClaim): Promise<void>;
  release(claim: LockClaim): Promise<void>;
  /** A live holder other than this process, or null. */
  otherHolder(): Promise<LockHolder | null>;
  /**
   * Of the jobs the shared history says are running but this process does not run, those no live
   * process runs any more (cut off by a crash or a kill). At `start-up` of this process, or on a `refresh`
   * of the history later on.
   */
  abandonedJobs(running: Job[], when: 'start-up' | 'refresh'): Promise<Job[]>;
  /**
   * Where the lock can be lost while held (a PostgreSQL session cut off): calls `listener` with the keys lost,
   * and returns the call that stops listening.
   */
  onLost?(listener: (keys: string[]) => void): () => void;
  /** Where the lock lives, for messages. */
  readonly where: string;
}

export const BACKUP_LOCK = Symbol('BACKUP_LOCK');

/** The holder's heartbeat: a lock of another host not touched for this long is stale. */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 60_000;
/** Tries at taking a lock that is stale or being taken over by another process, before giving up. */
const TAKE_ATTEMPTS = 50;
const TAKEOVER_PAUSE_MS = 10;
/** A takeover guard older than this was left by a process killed while taking over. */
const GUARD_STALE_MS = 10_000;

/** Whether two reads of the lock file name one holder (null: absent or unreadable). */
function sameHolder(a: LockHolder | null, b: LockHolder | null): boolean {
  if (!a || !b) return a === b;
  return a.instance === b.instance && a.since === b.since && a.pid === b.pid;
}

export class BackupLockedError extends ConflictError {
  constructor(
    readonly holder: LockHolder,
    where: string,
  ) {
    super(
      holder.replica && holder.job_id
        ? `job ${holder.job_id} (${holder.owner === 'cli' ? 'a CLI backup' : 'a server'}, pid ${holder.pid} on ${holder.hostname}, since ${holder.since}) ` +
            `is backing up ${where}; try again when it has finished`
        : holder.replica
          ? `another replica is backing up ${where}; try again when it has finished`
          : `another ${holder.owner === 'cli' ? 'CLI backup' : 'server'} (pid ${holder.pid} on ${holder.hostname}, since ${holder.since}) ` +
            `holds the backup lock of this archive (${where}); try again when it has finished`,
    );
    this.name = 'BackupLockedError';
    this.jobId = holder.job_id;
  }
}

/**
 * The archive's cross-process backup lock, `<LOGS_DIR>/state/backup.lock` (pid, host, since), held while
 * this process runs backup jobs, so a server and a CLI never back up one archive at the same time. A lock
 * whose process is gone (or, from another host, whose heartbeat stopped) is stale and taken over. The
 * off-site copy takes the same kind of lock under another name (`replication.lock`).
 */
@Injectable()
export class FileBackupLock implements BackupLock, OnApplicationShutdown {
  private readonly logger = new Logger(FileBackupLock.name);
  readonly file: string;
  private readonly instance = randomUUID();
  private holds = 0;
  /** the jobs of this process holding the lock, oldest first: the file names the first, for the 409 answer */
  private readonly jobs: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(config: AppConfig, name = 'backup.lock') {
    this.file = path.join(path.resolve(config.logsDir), 'state', name);
  }

  get where(): string {
    return this.file;
  }

  hold(owner: LockHolder['owner'], claim?: LockClaim): Promise<void> {
    return this.serial(async () => {
      if (this.holds === 0) await this.acquire(owner, claim?.jobId);
      this.holds++;
      if (claim) this.jobs.push(claim.jobId);
    });
  }

  release(claim?: LockClaim): Promise<void> {
    return this.serial(async () => {
      if (this.holds === 0) return;
      const index = claim ? this.jobs.indexOf(claim.jobId) : -1;
      if (index >= 0) this.jobs.splice(index, 1);
      if (--this.holds > 0) {
        // the job the file names has finished: name one that still holds the lock
        if (index === 0) await this.renameJob();
        return;
      }
      this.jobs.length = 0;
      this.stopHeartbeat();
      const current = await this.read();
      if (current?.instance === this.instance) await fs.unlink(this.file).catch(() => undefined);
    });
  }

  async otherHolder(): Promise<LockHolder | null> {
    const current = await this.read();
    if (!current || current.instance === this.instance) return null;
    return (await this.isStale(current)) ? null : current;
  }

  /**
   * One lock for the archive tells only whether some other process backs up: at start-up, running jobs
   * are cut off unless one does; later a job of another process may not hold the lock yet, so none is.
   */
  async abandonedJobs(running: Job[], when: 'start-up' | 'refresh'): Promise<Job[]> {
    if (when === 'refresh' || !running.length) return [];
    return (await this.otherHolder()) ? [] : running;
  }

  /** After the modules are destroyed: the jobs drained during destroy still held the lock until then. */
  async onApplicationShutdown(): Promise<void> {
    if (this.holds > 0) {
      this.holds = 1;
      await this.release();
    }
  }

  private async acquire(owner: LockHolder['owner'], jobId: string | undefined): Promise<void> {
    const mine: LockHolder = {
      pid: process.pid,
      hostname: os.hostname(),
      instance: this.instance,
      owner,
      since: new Date().toISOString(),
      ...(jobId ? { job_id: jobId } : {}),
    };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
      try {
        await fs.writeFile(this.file, `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o600 });
        this.startHeartbeat();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = await this.read();
      if (current && !(await this.isStale(current))) throw new BackupLockedError(current, this.file);
      if (await this.takeOver(current, mine)) {
        this.startHeartbeat();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, TAKEOVER_PAUSE_MS));
    }
    throw new Error(`the backup lock ${this.file} could not be taken`);
  }

  /**
   * Replaces the stale holder `stale` with `mine`, under the guard file `<lock>.takeover` (created `wx`): two
   * processes that both judged one holder stale would otherwise both remove it, the second removing the
   * first's fresh lock. Inside the guard the lock file is read again and replaced (atomically, so it never goes
   * missing) only when it still names the stale holder. False when the guard is busy or the holder changed:
   * the caller tries again from the start.
   */
  private async takeOver(stale: LockHolder | null, mine: LockHolder): Promise<boolean> {
    const guard = `${this.file}.takeover`;
    if (!(await this.takeGuard(guard))) return false;
    try {
      const current = await this.read();
      if (!sameHolder(current, stale)) return false;
      // gone since (released): the next try creates it as usual
      if (!current && !(await fs.stat(this.file).then(() => true, () => false))) return false;
      this.logger.warn(`Taking over the stale lock ${path.basename(this.file)}${stale ? ` of pid ${stale.pid} on ${stale.hostname}` : ''}`);
      await writeFileAtomic(this.file, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
      return true;
    } finally {
      await fs.unlink(guard).catch(() => undefined);
    }
  }

  /**
   * The guard is held for a read and a rename; one older than GUARD_STALE_MS was left by a process killed in
   * between, and is removed (two takers removing one abandoned guard at once is the only race left, after a
   * kill inside those few milliseconds).
   */
  private async takeGuard(guard: string): Promise<boolean> {
    try {
      await fs.writeFile(guard, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const mtime = await fs.stat(guard).then((s) => s.mtimeMs, () => null);
    if (mtime !== null && Date.now() - mtime > GUARD_STALE_MS) await fs.unlink(guard).catch(() => undefined);
    return false;
  }

  /** Rewrites this process's lock file (atomically) naming the oldest job still holding it. */
  private async renameJob(): Promise<void> {
    const current = await this.read();
    if (current?.instance !== this.instance) return;
    const next: LockHolder = { ...current };
    delete next.job_id;
    if (this.jobs.length) next.job_id = this.jobs[0];
    try {
      await writeFileAtomic(this.file, `${JSON.stringify(next)}\n`, { mode: 0o600 });
    } catch (error) {
      this.logger.warn(`Could not name the running job in the backup lock: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }

  private async isStale(holder: LockHolder): Promise<boolean> {
    if (holder.hostname !== os.hostname()) {
      const mtime = await fs.stat(this.file).then((s) => s.mtimeMs, () => 0);
      return Date.now() - mtime > STALE_AFTER_MS;
    }
    if (!isProcessAlive(holder.pid)) return true;
    // this pid, but written before this process started: a previous process of the same pid (containers)
    return holder.pid === process.pid && Date.parse(holder.since) < PROCESS_STARTED_AT;
  }

  /** null when absent; an unreadable lock file (a crash while writing it) counts as absent. */
  private async read(): Promise<LockHolder | null> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as LockHolder;
      return typeof parsed?.pid === 'number' && typeof parsed.instance === 'string' ? parsed : null;
    } catch {
      return null;
    }
  }

  private startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      const now = new Date();
      void fs.utimes(this.file, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => undefined).then(work);
    this.queue = next;
    return next;
  }
}
