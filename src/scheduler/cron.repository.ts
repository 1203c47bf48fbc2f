import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';

export interface CronSpec {
  name: string;
  expression: string;
  timezone: string;
  onTick: () => Promise<void>;
}

/** Cron jobs and intervals, registered through Nest's SchedulerRegistry (which stops them on shutdown). */
@Injectable()
export class CronRepository {
  constructor(private readonly registry: SchedulerRegistry) {}

  create(spec: CronSpec): void {
    const job = CronJob.from({
      cronTime: spec.expression,
      timeZone: spec.timezone,
      name: spec.name,
      start: true,
      onTick: () => spec.onTick(),
    });
    this.registry.addCronJob(spec.name, job);
  }

  createInterval(name: string, everyMs: number, fn: () => Promise<void>): void {
    const handle = setInterval(() => void fn(), everyMs);
    handle.unref();
    this.registry.addInterval(name, handle);
  }

  names(): string[] {
    return [...this.registry.getCronJobs().keys()];
  }

  expression(name: string): string | null {
    return this.registry.doesExist('cron', name) ? this.registry.getCronJob(name).cronTime.source.toString() : null;
  }

  nextRun(name: string): Date | null {
    if (!this.registry.doesExist('cron', name)) return null;
    const job = this.registry.getCronJob(name);
    return job.isActive ? job.nextDate().toJSDate() : null;
  }
}
