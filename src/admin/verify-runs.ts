import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { errorName } from '../backup/job-outcome';
import { Clock } from '../common/clock';
import { DomainError, NotFoundError } from '../common/domain-errors';
import { LogStorageService } from '../log-storage/log-storage.service';
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
}

/** Checks kept for their pages after they finished. */
const KEPT_RUNS = 10;

/**
 * The archive checks (`verify`) the admin page starts: run in the background, one at a time in this process
 * (a second request joins the check under way), their progress and results kept in memory for their pages.
 * A check reads the archive and changes nothing, so it is not a job of the shared history.
 */
@Injectable()
export class VerifyRuns {
  private readonly logger = new Logger(VerifyRuns.name);
  /** newest first */
  private runs: VerifyRun[] = [];

  constructor(
    private readonly storage: LogStorageService,
    private readonly clock: Clock,
  ) {}

  /** Starts a check, or returns the one under way (whichever method it uses). */
  start(sha256: boolean): VerifyRun {
    const running = this.runs.find((r) => r.status === 'running');
    if (running) return { ...running };
    const run: VerifyRun = { id: randomUUID(), sha256, status: 'running', started_at: this.clock.now().toISOString(), finished_at: null, checked: 0, result: null, error: null };
    this.runs = [run, ...this.runs].slice(0, KEPT_RUNS);
    this.logger.log(`Started archive check ${run.id} from the admin page (${sha256 ? 'sha256' : 'size and ETag'})`);
    void this.storage
      .verify({ sha256, onProgress: (checked) => (run.checked = checked) })
      .then(
        (result) => {
          run.result = result;
          run.checked = result.checked;
          run.finished_at = this.clock.now().toISOString();
          run.status = 'succeeded';
        },
        (error: unknown) => {
          // a refusal names its reason (the catalog being rebuilt); anything else only its kind, never a path or key
          run.error = error instanceof DomainError ? error.message : `the check stopped on an error (${error instanceof Error ? error.name : 'unknown'})`;
          run.finished_at = this.clock.now().toISOString();
          run.status = 'failed';
          this.logger.error(`Failed archive check ${run.id}: ${errorName(error)}`);
        },
      );
    return { ...run };
  }

  get(id: string): VerifyRun {
    const run = this.runs.find((r) => r.id === id);
    if (!run) throw new NotFoundError(`no archive check has id ${id}; checks are kept until the service restarts`, 'id');
    return { ...run };
  }

  latest(): VerifyRun | null {
    return this.runs[0] ? { ...this.runs[0] } : null;
  }
}
