import type { VerifyResult } from '../log-storage/log-storage.types';

/** One check of the archive started from the admin page: its progress while it runs, then its result. */
export interface VerifyRun {
  id: string;
  sha256: boolean;
  status: 'running' | 'succeeded' | 'failed';
  started_at: string;
  finished_at: string | null;
  /** files checked so far */
  checked: number;
  result: VerifyResult | null;
  /** why the check stopped (status `failed`) */
  error: string | null;
  /** the replica running the check, `<host name>:<pid>` */
  replica: string;
}

/**
 * Where the admin page's archive checks are kept, newest first: in this process's memory, or in PostgreSQL
 * when DATABASE_URL is set, so that a page behind a load balancer follows a check whichever replica runs it.
 */
export interface VerifyRunRepository {
  load(): Promise<VerifyRun[]>;
  /** Read-change-write as one step (across replicas); resolves with the runs written. */
  update(change: (stored: VerifyRun[]) => VerifyRun[]): Promise<VerifyRun[]>;
}

export const VERIFY_RUN_REPOSITORY = Symbol('VERIFY_RUN_REPOSITORY');

/** The checks of this process only, until it stops. */
export class MemoryVerifyRunRepository implements VerifyRunRepository {
  private runs: VerifyRun[] = [];

  async load(): Promise<VerifyRun[]> {
    return structuredClone(this.runs);
  }

  async update(change: (stored: VerifyRun[]) => VerifyRun[]): Promise<VerifyRun[]> {
    this.runs = structuredClone(change(structuredClone(this.runs)));
    return structuredClone(this.runs);
  }
}
