import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { errorName } from '../backup/job-outcome';
import { REPLICA_ID, REPLICAS, Replicas } from '../backup/replicas';
import { Clock } from '../common/clock';
import { DomainError, NotFoundError } from '../common/domain-errors';
import { LogStorageService } from '../log-storage/log-storage.service';
import { VERIFY_RUN_REPOSITORY, VerifyRun, VerifyRunRepository } from './verify-run.repository';

/** Checks kept for their pages after they finished. */
const KEPT_RUNS = 10;
/** How often the progress of a running check is written where every replica reads it. */
export const PROGRESS_WRITE_MS = 1000;

/**
 * The archive checks (`verify`) the admin page starts: run in the background on the replica that was asked,
 * one at a time among the replicas (a second request joins the check under way), their progress and results
 * kept in the repository (memory, or PostgreSQL with DATABASE_URL) so that any replica shows them. A check
 * whose replica is gone shows as failed. A check reads the archive and changes nothing, so it is not a job
 * of the shared history.
 */
@Injectable()
export class VerifyRuns {
  private readonly logger = new Logger(VerifyRuns.name);
  /** the writes of this process's checks, one after another (the last one written wins) */
  private writes: Promise<unknown> = Promise.resolve();
  /** the checks this process runs now */
  private readonly running = new Set<string>();

  constructor(
    private readonly storage: LogStorageService,
    private readonly clock: Clock,
    @Inject(VERIFY_RUN_REPOSITORY) private readonly repository: VerifyRunRepository,
    @Inject(REPLICAS) private readonly replicas: Replicas,
  ) {}

  /** Starts a check, or returns the one under way on any live replica (whichever method it uses). */
  async start(sha256: boolean): Promise<VerifyRun> {
    const live = await this.replicas.liveIds();
    const run: VerifyRun = {
      id: randomUUID(),
      sha256,
      status: 'running',
      started_at: this.clock.now().toISOString(),
      finished_at: null,
      checked: 0,
      result: null,
      error: null,
      replica: REPLICA_ID,
    };
    let joined: VerifyRun | undefined;
    await this.repository.update((stored) => {
      joined = stored.find((r) => r.status === 'running' && this.isLive(r, live));
      return joined ? stored : [run, ...stored].slice(0, KEPT_RUNS);
    });
    if (joined) return joined;
    this.running.add(run.id);
    this.logger.log(`Started archive check ${run.id} from the admin page (${sha256 ? 'sha256' : 'size and ETag'})`);
    let lastWrite = 0;
    void this.storage
      .verify({
        sha256,
        onProgress: (checked) => {
          run.checked = checked;
          const now = Date.now();
          if (now - lastWrite < PROGRESS_WRITE_MS) return;
          lastWrite = now;
          this.write(run);
        },
      })
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
      )
      .then(() => {
        this.running.delete(run.id);
        this.write(run);
      });
    return { ...run };
  }

  async get(id: string): Promise<VerifyRun> {
    const run = (await this.repository.load()).find((r) => r.id === id);
    if (!run) throw new NotFoundError(`no archive check has id ${id}; the last ${KEPT_RUNS} checks are kept`, 'id');
    return this.seen(run);
  }

  async latest(): Promise<VerifyRun | null> {
    const [run] = await this.repository.load();
    return run ? this.seen(run) : null;
  }

  /** Resolves once the writes of this process's checks so far are done (for shutdown and tests). */
  async settled(): Promise<void> {
    await this.writes;
  }

  /** A running check as its replica left it: failed when that replica is gone. */
  private async seen(run: VerifyRun): Promise<VerifyRun> {
    if (run.status !== 'running' || this.isLive(run, await this.replicas.liveIds())) return run;
    return { ...run, status: 'failed', error: `the replica running it (${run.replica}) is gone` };
  }

  /**
   * Whether the replica of a running check still runs it: this process knows its own checks (a check with its
   * id and not among them was run by an earlier process of the same host and pid, as in a restarted container);
   * another replica's runs while its heartbeat is live.
   */
  private isLive(run: VerifyRun, live: Set<string>): boolean {
    return run.replica === REPLICA_ID ? this.running.has(run.id) : live.has(run.replica);
  }

  /** Writes the run as it is now, after this process's earlier writes; a failed write waits for the next. */
  private write(run: VerifyRun): void {
    const snapshot = structuredClone(run);
    this.writes = this.writes
      .then(() => this.repository.update((stored) => stored.map((r) => (r.id === snapshot.id ? snapshot : r))))
      .catch((error: unknown) => this.logger.warn(`Could not record the progress of archive check ${run.id}: ${errorName(error)}`));
  }
}
