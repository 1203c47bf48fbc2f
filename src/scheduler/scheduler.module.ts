import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { BackupModule } from '../backup/backup.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { AlertWebhookRepository } from './alert-webhook.repository';
import { AlertsService } from './alerts.service';
import { BackupLock } from './backup-lock';
import { CheckpointRepository } from './checkpoint.repository';
import { CheckpointService } from './checkpoint.service';
import { Clock } from './clock';
import { CronRepository } from './cron.repository';
import { JobHistoryRepository } from './job-history.repository';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { ScheduleController } from './schedule.controller';
import { ScheduledBackupController } from './scheduled-backup.controller';
import { ScheduledBackupService } from './scheduled-backup.service';
import { ScheduledTasksService } from './scheduled-tasks.service';
import { SourcesController } from './sources.controller';
import { SourcesService } from './sources.service';
import { StaleSourcesService } from './stale-sources.service';

/** Scheduled backups that lose nothing: cron tasks from config, checkpoints, jobs with progress and history, alerts. */
@Module({
  imports: [ScheduleModule.forRoot(), BackupModule, LogStorageModule],
  controllers: [JobsController, SourcesController, ScheduledBackupController, ScheduleController],
  providers: [
    Clock,
    AlertWebhookRepository,
    AlertsService,
    BackupLock,
    CheckpointRepository,
    CheckpointService,
    JobHistoryRepository,
    JobsService,
    StaleSourcesService,
    CronRepository,
    ScheduledTasksService,
    ScheduledBackupService,
    SourcesService,
  ],
  exports: [JobsService, ScheduledTasksService, SourcesService, AlertsService, BackupLock],
})
export class SchedulerModule {}
