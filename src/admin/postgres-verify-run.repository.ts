import { JsonRows } from '../backup/postgres/json-rows';
import type { StateDatabase } from '../backup/postgres/state-database';
import type { VerifyRun, VerifyRunRepository } from './verify-run.repository';

/** "dlvvrfy" in ASCII */
const VERIFY_RUNS_LOCK_KEY = BigInt('0x646c7676726679').toString();

/** The admin page's archive checks in PostgreSQL (table `verify_runs`, migration 12), shared by every replica. */
export function postgresVerifyRuns(db: StateDatabase): VerifyRunRepository {
  return new JsonRows<VerifyRun>(db, {
    table: 'verify_runs',
    keyColumn: 'id',
    docColumn: 'run',
    order: 'started_at DESC, id',
    key: (run) => run.id,
    columns: (run) => ({ started_at: run.started_at, status: run.status, replica: run.replica }),
    lockKey: VERIFY_RUNS_LOCK_KEY,
  });
}
