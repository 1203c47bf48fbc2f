import { Module } from '@nestjs/common';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { ArchiveController } from './archive.controller';

@Module({
  imports: [LogStorageModule],
  controllers: [ArchiveController],
})
export class ConversationLogsModule {}
