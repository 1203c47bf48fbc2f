import { Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { defer, filter, mergeMap, Observable, Subject, takeWhile } from 'rxjs';
import type { JobEventsBus } from '../job-events';
import type { JobEvent } from '../jobs.types';
import type { StateDatabase } from './state-database';

const CHANNEL = 'vault_job_events';

/**
 * Job events over LISTEN/NOTIFY: every replica publishes its jobs' events on one channel, and listens on a
 * connection of its own (opened when a client first watches a job of another replica).
 */
export class PostgresJobEvents implements JobEventsBus {
  private readonly logger = new Logger(PostgresJobEvents.name);
  private readonly heard = new Subject<JobEvent>();
  private listener: Promise<Client> | null = null;
  /** NOTIFYs go out one after another, so a job's events arrive in the order they happened */
  private sent: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: StateDatabase) {}

  publish(event: JobEvent): void {
    const payload = event.type === 'done' ? { type: 'done', seq: event.seq, job_id: event.job_id } : event;
    this.sent = this.sent
      .then(() => this.db.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(payload)]))
      .catch((error: unknown) => {
        this.logger.warn(`Failed to publish an event of job ${event.job_id}: ${this.db.scrub(error)}`);
      });
  }

  watch(jobId: string): Observable<JobEvent> {
    return defer(() => this.listen()).pipe(
      mergeMap(() => this.heard),
      filter((event) => event.job_id === jobId),
      takeWhile((event) => event.type !== 'done', true),
    );
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    await listener?.then((c) => c.end()).catch(() => undefined);
    this.heard.complete();
  }

  private listen(): Promise<Client> {
    this.listener ??= (async () => {
      const client = await this.db.dedicated('job-events');
      client.on('notification', (message) => {
        if (message.channel !== CHANNEL || !message.payload) return;
        try {
          this.heard.next(JSON.parse(message.payload) as JobEvent);
        } catch {
          // not one of ours
        }
      });
      const lost = () => {
        this.logger.warn('The connection listening for job events closed; the next watcher opens another');
        this.listener = null;
      };
      client.on('error', lost);
      client.on('end', lost);
      await client.query(`LISTEN ${CHANNEL}`);
      return client;
    })().catch((error: unknown) => {
      this.listener = null;
      throw error;
    });
    return this.listener;
  }
}
