import { Module } from '@nestjs/common';
import { BackupModule } from '../backup/backup.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { ArchiveController } from './archive.controller';
import { BackupController } from './backup.controller';
import { ConversationLogService } from './conversation-log.service';
import { PrivacyController } from './privacy.controller';
import { ScheduledBackupController } from './scheduled-backup.controller';
import { ScheduledBackupService } from './scheduled-backup.service';

/** Every /api/conversation-logs route: backups (one app, or the seed's "scheduled" set) and the archive. */
@Module({
  imports: [BackupModule, LogStorageModule],
  controllers: [ArchiveController, BackupController, ScheduledBackupController, PrivacyController],
  providers: [ConversationLogService, ScheduledBackupService],
  exports: [ConversationLogService],
})
export class ConversationLogsModule {}
