import { Module } from '@nestjs/common';
import { BackupModule } from '../backup/backup.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { SchedulerModule } from '../scheduler/scheduler.module';
import { ArchiveController } from './archive.controller';
import { BackupController } from './backup.controller';
import { ConversationLogService } from './conversation-log.service';

@Module({
  imports: [BackupModule, LogStorageModule, SchedulerModule],
  controllers: [ArchiveController, BackupController],
  providers: [ConversationLogService],
  exports: [ConversationLogService],
})
export class ConversationLogsModule {}
