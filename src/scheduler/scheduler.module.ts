import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { BackupModule } from '../backup/backup.module';
import { AppConfig } from '../config/app-config';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { ScheduleController } from './schedule.controller';
import { ScheduledTasksService } from './scheduled-tasks.service';

/**
 * The cron tasks (backup, retention, compression, replication, stale check) and GET /api/schedule; nothing else.
 * Switched off as a whole by ENABLE_AUTO_LOGGING=false: no cron job or interval is registered then.
 */
@Module({
  imports: [
    ScheduleModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({ cronJobs: config.autoLogging, intervals: config.autoLogging, timeouts: false }),
    }),
    BackupModule,
    LogStorageModule,
  ],
  controllers: [ScheduleController],
  providers: [ScheduledTasksService],
  exports: [ScheduledTasksService],
})
export class SchedulerModule {}
