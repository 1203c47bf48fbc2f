import type { Observable } from 'rxjs';
import type { JobEvent } from './jobs.types';

/**
 * Job events beyond this process: with DATABASE_URL a job's events are published with NOTIFY, so a
 * client watching it on any replica sees its progress; without it a job is only seen where it runs.
 */
export interface JobEventsBus {
  /** `done` goes without its job (a notification is small): the watcher reads the job from the history. */
  publish(event: JobEvent): void;
  /** The events of a job running in another process, up to and including `done`; null without a database. */
  watch(jobId: string): Observable<JobEvent> | null;
}

export const JOB_EVENTS_BUS = Symbol('JOB_EVENTS_BUS');

/** One process: nothing to tell, nothing to hear. */
export class LocalJobEvents implements JobEventsBus {
  publish(): void {}

  watch(): null {
    return null;
  }
}
