import * as os from 'node:os';
import { APP_VERSION } from '../common/app-version';
import { PROCESS_ID, PROCESS_STARTED_AT } from '../common/process-liveness';

/** This process among the replicas: `<host name>:<pid>`, recorded on every job it runs. */
export const REPLICA_ID = PROCESS_ID;

export interface ReplicaInfo {
  replica: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: string;
  heartbeat_at: string;
  /** holds the scheduler leadership: scheduled runs happen on this replica only */
  leader: boolean;
  /** the replica answering this request */
  self: boolean;
}

/**
 * The replicas of the service and the scheduler leadership. With DATABASE_URL each replica records a
 * heartbeat in PostgreSQL and the leader is the one holding an advisory lock; without it this process is
 * the only replica and always leads.
 */
export interface Replicas {
  /** The live replicas (heartbeat within REPLICA_TIMEOUT_SECONDS), oldest first. */
  list(): Promise<ReplicaInfo[]>;
  /** Takes the leadership when free (keeps it when held) and says whether this replica leads now. */
  tryLead(): Promise<boolean>;
  /** Whether this replica led at the last check. */
  isLeading(): boolean;
  /** Ids of the replicas whose heartbeat is live. */
  liveIds(): Promise<Set<string>>;
}

export const REPLICAS = Symbol('REPLICAS');

/** One process, no database: it is the only replica and the leader. */
export class SingleReplica implements Replicas {
  private readonly startedAt = new Date(PROCESS_STARTED_AT).toISOString();

  async list(): Promise<ReplicaInfo[]> {
    return [
      {
        replica: REPLICA_ID,
        hostname: os.hostname(),
        pid: process.pid,
        version: APP_VERSION,
        started_at: this.startedAt,
        heartbeat_at: new Date().toISOString(),
        leader: true,
        self: true,
      },
    ];
  }

  async tryLead(): Promise<boolean> {
    return true;
  }

  isLeading(): boolean {
    return true;
  }

  async liveIds(): Promise<Set<string>> {
    return new Set([REPLICA_ID]);
  }
}
