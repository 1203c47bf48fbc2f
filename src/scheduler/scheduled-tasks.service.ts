import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Cron, Interval, SchedulerRegistry } from '@nestjs/schedule';
import { SourceRegistry } from '../backup/source-registry';
import { AppConfig } from '../config/app-config';
import { SCHEDULE } from '../config/schedule-settings';
import { LogStorageService } from '../log-storage/log-storage.service';
import { Clock } from '../common/clock';
import { JobsService } from '../backup/jobs.service';
import { REPLICAS, Replicas } from '../backup/replicas';
import { StaleSourcesService } from '../backup/stale-sources.service';
import { writesOfGoneReplicas } from '../backup/journal-scope';
import { ReplicationService } from '../backup/replication.service';
import type { Job } from '../backup/jobs.types';
import { ConflictError } from '../common/domain-errors';

export type TaskName = 'backup' | 'retention' | 'compression' | 'replication';

export interface TaskInfo {
  name: TaskName;
  expression: string;
  timezone: string;
  next_run: string | null;
  running: boolean;
  last_started_at: string | null;
  last_finished_at: string | null;
  last_outcome: string | null;
}

export const STALE_CHECK_INTERVAL_MS = 3_600_000;

const TASKS: readonly TaskName[] = ['backup', 'retention', 'compression', 'replication'];

/**
 * The cron tasks. Their expressions and zone are the validated settings read when this file is imported
 * (`SCHEDULE`, from `.env` and the environment); ENABLE_AUTO_LOGGING=false disables them, and the
 * SchedulerModule then registers none at all. A task whose previous run is still going skips its tick.
 * With several replicas on one database a tick runs only on the leader; every tick tries to lead, so
 * when the leader dies another replica takes the schedule over at its next tick.
 */
@Injectable()
export class ScheduledTasksService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ScheduledTasksService.name);
  private readonly state = new Map<TaskName, { running: boolean; startedAt: string | null; finishedAt: string | null; outcome: string | null }>();

  constructor(
    private readonly config: AppConfig,
    private readonly cron: SchedulerRegistry,
    private readonly jobs: JobsService,
    private readonly registry: SourceRegistry,
    private readonly storage: LogStorageService,
    private readonly stale: StaleSourcesService,
    private readonly clock: Clock,
    @Inject(REPLICAS) private readonly replicas: Replicas,
    private readonly replication: ReplicationService,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.autoLogging) {
      this.logger.log('Automatic backups are off (ENABLE_AUTO_LOGGING=false): no cron job registered');
      return;
    }
    for (const task of this.describe()) {
      this.logger.log(`Registered ${task.name} task "${task.expression}" (${task.timezone}), next run ${task.next_run}`);
    }
    void this.replicas.tryLead();
  }

  /** The tasks that will run, with their next run, for the admin page and GET /api/schedule. */
  describe(): TaskInfo[] {
    const jobs = this.cron.getCronJobs();
    return TASKS.flatMap((name) => {
      const job = jobs.get(name);
      if (!job?.isActive) return [];
      const s = this.state.get(name);
      return [
        {
          name,
          expression: String(job.cronTime.source),
          timezone: job.cronTime.timeZone ?? this.config.schedule.timezone,
          next_run: job.nextDate().toJSDate().toISOString(),
          running: s?.running ?? false,
          last_started_at: s?.startedAt ?? null,
          last_finished_at: s?.finishedAt ?? null,
          last_outcome: s?.outcome ?? null,
        },
      ];
    });
  }

  nextRun(name: TaskName): string | null {
    return this.describe().find((t) => t.name === name)?.next_run ?? null;
  }

  /** The backup tick: a catch-up of every configured source from its checkpoint. */
  @Cron(SCHEDULE.backupCron, { name: 'backup', timeZone: SCHEDULE.timezone, disabled: !SCHEDULE.enabled })
  runBackup(): Promise<void> {
    return this.guarded('backup', async () => {
      const sources = this.registry.list();
      if (!sources.length) return 'no sources configured';
      // marks interrupted the jobs of replicas that died, and indexes what they stored without a catalog row,
      // before catching up where they stopped
      await this.jobs.refresh();
      await this.replayWritesOfGoneReplicas();
      const job = await this.jobs.runBackup({ sources, trigger: 'scheduled' });
      return `job ${job.id} ${job.status}`;
    });
  }

  /** The write journal's entries of replicas that died (see WriteJournal); a failure is logged, the tick goes on. */
  private async replayWritesOfGoneReplicas(): Promise<void> {
    try {
      await this.storage.replayWrites(writesOfGoneReplicas(await this.replicas.liveIds()), 'replicas gone');
    } catch (error) {
      this.logger.warn(`Failed write journal replay for replicas gone: ${(error as Error).message}`);
    }
  }

  /** The retention tick: removes archive days older than LOG_RETENTION_DAYS. */
  @Cron(SCHEDULE.cleanupCron, { name: 'retention', timeZone: SCHEDULE.timezone, disabled: !SCHEDULE.enabled })
  runRetention(): Promise<void> {
    return this.guarded('retention', async () => {
      const result = await this.storage.cleanOldLogs({ daysToKeep: this.config.retentionDays, actor: { route: 'schedule' } });
      return `deleted ${result.deleted_files} files (${result.deleted_size_bytes} bytes)`;
    });
  }

  /** The compression tick: gzips day folders older than COMPRESS_AFTER_DAYS. */
  @Cron(SCHEDULE.compressCron, {
    name: 'compression',
    timeZone: SCHEDULE.timezone,
    disabled: !SCHEDULE.enabled || !SCHEDULE.compression,
  })
  runCompression(): Promise<void> {
    return this.guarded('compression', async () => {
      const result = await this.storage.compressOldDays(this.config.compressAfterDays);
      return `compressed ${result.compressed_files} files (${result.bytes_before} -> ${result.bytes_after} bytes)`;
    });
  }

  /**
   * The off-site copy tick (REPLICATE_CRON): the archive's new and changed files to the replica bucket, as a
   * replication job. A backup running here or in another process skips the tick (the next one copies).
   */
  @Cron(SCHEDULE.replicateCron ?? '0 4 * * *', {
    name: 'replication',
    timeZone: SCHEDULE.timezone,
    disabled: !SCHEDULE.enabled || SCHEDULE.replicateCron === null,
  })
  runReplication(): Promise<void> {
    return this.guarded('replication', async () => {
      if (!this.replication.configured) return 'no replica bucket configured';
      let job: Job;
      try {
        job = await this.replication.run({ trigger: 'scheduled' });
      } catch (error) {
        // a copy or a backup under way: this tick is skipped, the next one copies
        if (error instanceof ConflictError) return `skipped: ${error.message}`;
        throw error;
      }
      if (job.status === 'failed') throw new Error(`job ${job.id} failed: ${job.replication?.error ?? job.message}`);
      return `job ${job.id} ${job.status}: ${job.message}`;
    });
  }

  @Interval('stale-sources', STALE_CHECK_INTERVAL_MS)
  async checkStale(): Promise<void> {
    try {
      await this.stale.check();
    } catch (e) {
      this.logger.error(`Failed stale-source check: ${e instanceof Error ? e.name : 'error'}`);
    }
  }

  private async guarded(name: TaskName, work: () => Promise<string>): Promise<void> {
    const s = this.state.get(name) ?? { running: false, startedAt: null, finishedAt: null, outcome: null };
    this.state.set(name, s);
    if (s.running) {
      this.logger.warn(`Skipped ${name} task: the run started ${s.startedAt} is still going`);
      return;
    }
    s.running = true;
    if (!(await this.replicas.tryLead().catch(() => false))) {
      s.running = false;
      this.logger.debug(`Skipped ${name} task: another replica leads`);
      return;
    }
    s.startedAt = this.clock.now().toISOString();
    this.logger.log(`Started ${name} task`);
    try {
      s.outcome = await work();
      this.logger.log(`Finished ${name} task: ${s.outcome}`);
    } catch (e) {
      s.outcome = `failed: ${e instanceof Error ? e.message : String(e)}`;
      this.logger.error(`Failed ${name} task: ${s.outcome}`);
    } finally {
      s.running = false;
      s.finishedAt = this.clock.now().toISOString();
    }
  }
}
