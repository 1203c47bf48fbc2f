import { Module } from '@nestjs/common';
import { CatalogRepository } from './catalog.repository';
import { LogFilesRepository } from './log-files.repository';
import { LogStorageService } from './log-storage.service';

/** The archive: conversation files, their SQLite catalog, and everything read from them. */
@Module({
  providers: [LogFilesRepository, CatalogRepository, LogStorageService],
  exports: [LogStorageService],
})
export class LogStorageModule {}
