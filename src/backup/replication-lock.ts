import { ConflictError } from '../common/domain-errors';
import type { BackupLock, LockHolder } from './backup-lock';

/**
 * One off-site copy at a time on an archive, across every process on it (servers, the CLI): the backup lock's
 * mechanism under a name of its own, `<LOGS_DIR>/state/replication.lock` (a holder whose pid is gone is taken
 * over), or with DATABASE_URL an advisory lock of its own in PostgreSQL (given back by the database when its
 * holder's connection dies). The holder names its job, for the 409 answer.
 */
export type ReplicationLock = BackupLock;

export const REPLICATION_LOCK = Symbol('REPLICATION_LOCK');

/** The one key the copy's lock is taken for (a source key always holds a `/`, so it is never one). */
export const REPLICATION_LOCK_KEY = 'replication';

/** A copy refused because another one, in another process, holds the replication lock: 409 with its job id. */
export class ReplicationLockedError extends ConflictError {
  constructor(readonly holder: LockHolder) {
    const who = `${holder.owner === 'cli' ? 'a CLI copy' : 'a server'}, pid ${holder.pid} on ${holder.hostname}, since ${holder.since}`;
    super(
      holder.job_id
        ? `replication job ${holder.job_id} (${who}) is copying this archive; try again when it has finished`
        : `another process (${who}) is copying this archive; try again when it has finished`,
      'replication',
    );
    this.jobId = holder.job_id;
  }
}
