import { Logger } from '@nestjs/common';
import * as os from 'node:os';
import type { Client } from 'pg';
import { APP_VERSION } from '../../common/app-version';
import { PROCESS_STARTED_AT } from '../../common/process-liveness';
import { REPLICA_ID, ReplicaInfo, Replicas } from '../replicas';
import type { StateDatabase } from './state-database';

/** The scheduler leader's advisory lock ("dlvlead" in ASCII), seen in pg_locks as classid/objid. */
const LEADER_LOCK_KEY = BigInt('0x646c766c656164');
const LEADER_CLASSID = Number(LEADER_LOCK_KEY >> 32n);
const LEADER_OBJID = Number(LEADER_LOCK_KEY & 0xffffffffn);

interface ReplicaRow {
  replica: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: Date;
  heartbeat_at: Date;
  leader: boolean;
}

/**
 * Replicas sharing DATABASE_URL: each keeps a row in `replicas` with a heartbeat every quarter of the
 * timeout. The scheduler leader is the replica whose dedicated connection holds a session-level advisory
 * lock: the database releases it when that connection or its process dies, and the next `tryLead` of
 * another replica takes it. Which replica leads is read from pg_locks, never from what a replica claims.
 */
export class PostgresReplicas implements Replicas {
  private readonly logger = new Logger(PostgresReplicas.name);
  private timer: NodeJS.Timeout | null = null;
  private leaderConnection: Client | null = null;
  private leading = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly startedAt = new Date(PROCESS_STARTED_AT);

  constructor(
    private readonly db: StateDatabase,
    private readonly timeoutSeconds: number,
  ) {}

  /** Records this replica and starts its heartbeat. */
  async start(): Promise<void> {
    await this.db.query(
      `INSERT INTO replicas (replica, hostname, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (replica) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
         started_at = excluded.started_at, heartbeat_at = now(), leader_backend_pid = NULL`,
      [REPLICA_ID, os.hostname(), process.pid, APP_VERSION, this.startedAt],
    );
    // rows of replicas long gone
    await this.db.query(`DELETE FROM replicas WHERE heartbeat_at < now() - make_interval(secs => $1)`, [this.timeoutSeconds * 10]);
    this.timer = setInterval(() => void this.beat(), Math.max(1000, (this.timeoutSeconds * 1000) / 4));
    this.timer.unref();
  }

  /** Gives the leadership back and removes this replica's row. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.serial(() => this.dropLeadership());
    await this.db.query('DELETE FROM replicas WHERE replica = $1', [REPLICA_ID]).catch(() => undefined);
  }

  async list(): Promise<ReplicaInfo[]> {
    const rows = await this.db.query<ReplicaRow & Record<string, unknown>>(
      `SELECT r.replica, r.hostname, r.pid, r.version, r.started_at, r.heartbeat_at, (l.pid IS NOT NULL) AS leader
         FROM replicas r
         LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.pid = r.leader_backend_pid
           AND l.classid = $2::bigint::oid AND l.objid = $3::bigint::oid AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        WHERE r.heartbeat_at > now() - make_interval(secs => $1)
        ORDER BY r.started_at, r.replica`,
      [this.timeoutSeconds, LEADER_CLASSID, LEADER_OBJID],
    );
    return rows.map((r) => ({
      replica: r.replica,
      hostname: r.hostname,
      pid: r.pid,
      version: r.version,
      started_at: r.started_at.toISOString(),
      heartbeat_at: r.heartbeat_at.toISOString(),
      leader: r.leader,
      self: r.replica === REPLICA_ID,
    }));
  }

  async liveIds(): Promise<Set<string>> {
    const rows = await this.db.query<{ replica: string }>(`SELECT replica FROM replicas WHERE heartbeat_at > now() - make_interval(secs => $1)`, [
      this.timeoutSeconds,
    ]);
    return new Set(rows.map((r) => r.replica));
  }

  isLeading(): boolean {
    return this.leading;
  }

  tryLead(): Promise<boolean> {
    return this.serial(async () => {
      try {
        if (this.leading && this.leaderConnection) {
          // a connection the server dropped is leadership lost
          await this.leaderConnection.query('SELECT 1');
          return true;
        }
        this.leaderConnection ??= await this.openLeaderConnection();
        const { rows } = await this.leaderConnection.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LEADER_LOCK_KEY.toString()]);
        this.leading = rows[0].ok;
        if (this.leading) this.logger.log(`This replica (${REPLICA_ID}) now leads: scheduled runs happen here`);
      } catch (error) {
        if (this.leading) this.logger.error(`Lost the scheduler leadership: ${this.db.scrub(error)}`);
        else this.logger.warn(`Cannot take part in the leader election: ${this.db.scrub(error)}`);
        await this.dropLeadership();
      }
      return this.leading;
    });
  }

  private async openLeaderConnection(): Promise<Client> {
    const client = await this.db.dedicated('leader');
    const lost = () => {
      if (this.leaderConnection !== client) return;
      if (this.leading) this.logger.error('Lost the scheduler leadership: the leader connection to PostgreSQL closed');
      this.leading = false;
      this.leaderConnection = null;
    };
    client.on('error', lost);
    client.on('end', lost);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await this.db.query('UPDATE replicas SET leader_backend_pid = $2 WHERE replica = $1', [REPLICA_ID, rows[0].pid]);
    return client;
  }

  private async dropLeadership(): Promise<void> {
    const client = this.leaderConnection;
    this.leaderConnection = null;
    this.leading = false;
    // closing the session releases its advisory lock
    await client?.end().catch(() => undefined);
  }

  private async beat(): Promise<void> {
    try {
      // an upsert: a replica paused past the clean-up of long-gone rows comes back
      await this.db.query(
        `INSERT INTO replicas (replica, hostname, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (replica) DO UPDATE SET heartbeat_at = now()`,
        [REPLICA_ID, os.hostname(), process.pid, APP_VERSION, this.startedAt],
      );
      if (this.leading) await this.tryLead();
    } catch (error) {
      this.logger.warn(`Failed to record this replica's heartbeat: ${this.db.scrub(error)}`);
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => undefined).then(work);
    this.queue = next;
    return next;
  }
}
