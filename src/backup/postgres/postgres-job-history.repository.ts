import type { JobHistoryRepository } from '../job-history.repository';
import type { Job } from '../jobs.types';
import { JsonRows } from './json-rows';
import type { StateDatabase } from './state-database';

/** "dlvjobs" in ASCII */
const JOBS_LOCK_KEY = BigInt('0x646c766a6f6273').toString();

/** The job history in PostgreSQL (table `jobs`, one row per job), shared by every replica. */
export class PostgresJobHistoryRepository implements JobHistoryRepository {
  private readonly rows: JsonRows<Job>;

  constructor(db: StateDatabase) {
    this.rows = new JsonRows<Job>(db, {
      table: 'jobs',
      keyColumn: 'id',
      docColumn: 'job',
      order: 'started_at DESC, id',
      key: (job) => job.id,
      columns: (job) => ({ started_at: job.started_at, status: job.status, replica: job.replica ?? null }),
      lockKey: JOBS_LOCK_KEY,
    });
  }

  load(): Promise<Job[]> {
    return this.rows.load();
  }

  save(jobs: Job[]): Promise<void> {
    return this.rows.save(jobs);
  }

  update(change: (stored: Job[]) => Job[]): Promise<Job[]> {
    return this.rows.update(change);
  }
}
