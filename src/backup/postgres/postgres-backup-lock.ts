import { Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { BackupLock, BackupLockedError, LockClaim, LockHolder } from '../backup-lock';
import type { Job } from '../jobs.types';
import { REPLICA_ID, Replicas } from '../replicas';
import type { StateDatabase } from './state-database';

/** The first key of every source lock ("dlvs" in ASCII); the second is hashtext(source key). */
const SOURCE_LOCK_CLASS = 0x646c7673;

/** The first key of the off-site copy's lock ("dlvr"): its one key is REPLICATION_LOCK_KEY. */
export const REPLICATION_LOCK_CLASS = 0x646c7672;

/** Reads of a refused lock's holder row before answering without the job. */
const HOLDER_READS = 10;
const HOLDER_READ_PAUSE_MS = 30;

interface HolderRow {
  source_key: string;
  job_id: string;
  replica: string;
  owner: LockHolder['owner'];
  since: string;
}

function holderOf(row: HolderRow): LockHolder {
  const [hostname, pid] = [row.replica.slice(0, row.replica.lastIndexOf(':')), Number(row.replica.slice(row.replica.lastIndexOf(':') + 1))];
  return { pid, hostname, instance: row.replica, owner: row.owner, since: row.since, job_id: row.job_id, replica: row.replica };
}

/**
 * The backup lock in PostgreSQL: one session-level advisory lock per source, held on a connection of
 * this process's own while its jobs back the source up, so two replicas never back up one source at
 * once and a killed replica's locks go with its connection. `backup_lock_holders` names the job that
 * holds each lock, for the 409 answer; the advisory lock alone decides. The off-site copy's lock is one
 * more of these under its own first key (REPLICATION_LOCK_CLASS), so it never counts as a backup's.
 */
export class PostgresBackupLock implements BackupLock {
  private readonly logger = new Logger(PostgresBackupLock.name);
  private connection: Client | null = null;
  /** source key -> jobs of this process holding it */
  private readonly held = new Map<string, number>();
  private readonly lostListeners = new Set<(keys: string[]) => void>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: StateDatabase,
    private readonly replicas: Replicas,
    private readonly lockClass = SOURCE_LOCK_CLASS,
    readonly where = 'a source of this archive',
  ) {}

  hold(owner: LockHolder['owner'], claim: LockClaim): Promise<void> {
    return this.serial(async () => {
      const keys = [...new Set(claim.sources)];
      const connection = await this.connect();
      const taken: string[] = [];
      for (const key of keys) {
        if (this.held.has(key)) continue;
        const { rows } = await connection.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [this.lockClass, key]);
        if (!rows[0].ok) {
          for (const k of taken) await this.unlock(connection, k);
          const holder = await this.holder(key);
          throw new BackupLockedError(holder, `source ${key}`);
        }
        taken.push(key);
        try {
          await this.db.query(
            `INSERT INTO backup_lock_holders (source_key, job_id, replica, owner, since) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (source_key) DO UPDATE SET job_id = excluded.job_id, replica = excluded.replica, owner = excluded.owner, since = excluded.since`,
            [key, claim.jobId, REPLICA_ID, owner, new Date().toISOString()],
          );
        } catch (error) {
          // advisory locks stack and these keys are not in `held` yet: give back every one this hold took
          for (const k of taken) await this.unlock(connection, k).catch(() => undefined);
          throw error;
        }
      }
      for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    });
  }

  release(claim: LockClaim): Promise<void> {
    return this.serial(async () => {
      for (const key of new Set(claim.sources)) {
        const count = this.held.get(key);
        if (count === undefined) continue;
        if (count > 1) {
          this.held.set(key, count - 1);
          continue;
        }
        this.held.delete(key);
        await this.db.query('DELETE FROM backup_lock_holders WHERE source_key = $1 AND replica = $2', [key, REPLICA_ID]).catch(() => undefined);
        if (this.connection) await this.unlock(this.connection, key).catch(() => undefined);
      }
    });
  }

  /**
   * Calls `listener` with the keys this process held when the connection holding them is lost: the database
   * has let them go and another replica may take them, so whatever runs under them must stop.
   */
  onLost(listener: (keys: string[]) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** A live holder of any source lock in another process. */
  async otherHolder(): Promise<LockHolder | null> {
    const rows = await this.db.query<HolderRow & Record<string, unknown>>(
      `SELECT h.source_key, h.job_id, h.replica, h.owner, h.since
         FROM backup_lock_holders h
         JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
           AND l.classid = $1::bigint::oid AND l.objid::bigint = (hashtext(h.source_key)::bigint & 4294967295)
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        WHERE h.replica <> $2
        ORDER BY h.since LIMIT 1`,
      [this.lockClass, REPLICA_ID],
    );
    return rows.length ? holderOf(rows[0]) : null;
  }

  /**
   * Every job records its replica, and every replica its heartbeat: a running job of a replica whose
   * heartbeat stopped runs nowhere any more. At start-up, so does one under this replica's own id (an
   * earlier process with the same host name and pid, as in a restarted container).
   */
  async abandonedJobs(running: Job[], when: 'start-up' | 'refresh'): Promise<Job[]> {
    if (!running.length) return [];
    const live = await this.replicas.liveIds();
    return running.filter((job) => {
      if (!job.replica) return when === 'start-up';
      if (job.replica === REPLICA_ID) return when === 'start-up';
      return !live.has(job.replica);
    });
  }

  /** After the jobs drained: gives every lock back by closing their connection. */
  async stop(): Promise<void> {
    await this.serial(async () => {
      const connection = this.connection;
      this.connection = null;
      if (this.held.size) {
        await this.db.query('DELETE FROM backup_lock_holders WHERE replica = $1 AND source_key = ANY($2)', [REPLICA_ID, [...this.held.keys()]]).catch(() => undefined);
      }
      this.held.clear();
      await connection?.end().catch(() => undefined);
    });
  }

  /**
   * Who holds a source's lock, as `backup_lock_holders` names it. The holder writes its row just after taking
   * the lock, so a row may be missing for a moment, or still name the job of a replica that died holding it
   * (a job the history no longer calls running): read again a few times, and never name a job that has ended.
   */
  private async holder(key: string): Promise<LockHolder> {
    for (let attempt = 1; ; attempt++) {
      const rows = await this.db.query<HolderRow & { ended: boolean } & Record<string, unknown>>(
        `SELECT h.source_key, h.job_id, h.replica, h.owner, h.since, coalesce(j.status <> 'running', false) AS ended
           FROM backup_lock_holders h LEFT JOIN jobs j ON j.id = h.job_id
          WHERE h.source_key = $1`,
        [key],
      );
      if (rows.length && !rows[0].ended) return holderOf(rows[0]);
      if (attempt >= HOLDER_READS) break;
      await new Promise((resolve) => setTimeout(resolve, HOLDER_READ_PAUSE_MS));
    }
    return { pid: 0, hostname: 'unknown', instance: 'unknown', owner: 'server', since: new Date().toISOString(), replica: 'unknown' };
  }

  private unlock(connection: Client, key: string): Promise<unknown> {
    return connection.query('SELECT pg_advisory_unlock($1, hashtext($2))', [this.lockClass, key]);
  }

  private async connect(): Promise<Client> {
    if (this.connection) return this.connection;
    const client = await this.db.dedicated('backup-lock');
    const lost = () => {
      if (this.connection !== client) return;
      this.connection = null;
      const keys = [...this.held.keys()];
      this.held.clear();
      if (!keys.length) return;
      this.logger.error(`Lost the connection holding the locks of ${keys.join(', ')} (${this.where}): another replica may now take them too`);
      for (const listener of [...this.lostListeners]) listener(keys);
    };
    client.on('error', lost);
    client.on('end', lost);
    this.connection = client;
    return client;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => undefined).then(work);
    this.queue = next;
    return next;
  }
}
