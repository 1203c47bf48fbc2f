import { Module } from '@nestjs/common';
import { DifyModule } from '../dify/dify.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { BackupService } from './backup.service';
import { SourceRegistry } from './source-registry';

/** A backup run: Dify client -> normaliser -> archive. Used by the controllers, the scheduler and the CLI. */
@Module({
  imports: [DifyModule, LogStorageModule],
  providers: [BackupService, SourceRegistry],
  exports: [BackupService, SourceRegistry],
})
export class BackupModule {}
