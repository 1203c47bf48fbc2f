import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { BackupModule } from '../backup/backup.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { CronRepository } from './cron.repository';
import { ScheduleController } from './schedule.controller';
import { ScheduledTasksService } from './scheduled-tasks.service';

/** The cron tasks (backup, retention, compression, stale check) and GET /api/schedule; nothing else. */
@Module({
  imports: [ScheduleModule.forRoot(), BackupModule, LogStorageModule],
  controllers: [ScheduleController],
  providers: [CronRepository, ScheduledTasksService],
  exports: [ScheduledTasksService],
})
export class SchedulerModule {}
