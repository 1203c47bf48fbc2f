import { Module } from '@nestjs/common';
import { DifyModule } from '../dify/dify.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { ArchiveController } from './archive.controller';
import { BackupController } from './backup.controller';

@Module({
  imports: [DifyModule, LogStorageModule],
  controllers: [ArchiveController, BackupController],
})
export class ConversationLogsModule {}
