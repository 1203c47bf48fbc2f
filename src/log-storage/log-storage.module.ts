import { Module } from '@nestjs/common';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';
import { AppConfigSnapshots } from './app-config-snapshots';
import { ArchiveAccess } from './archive-access';
import { ArchiveExporter } from './archive-export.service';
import { ArchiveFiles } from './archive-files';
import { ArchiveMaintenance } from './archive-maintenance.service';
import { ArchiveReader } from './archive-reader.service';
import { ARCHIVE_STORE, ArchiveStore } from './archive-store';
import { ArchiveWriter } from './archive-writer.service';
import { CATALOG, Catalog } from './catalog';
import { FsArchiveStore } from './fs/fs-archive-store';
import { LogStorageService } from './log-storage.service';
import { CATALOG_FILE } from './sqlite/catalog-schema';
import { SqliteCatalog } from './sqlite/sqlite-catalog';

/**
 * The archive: conversation files, their catalog, and everything read from them. The store and the catalog
 * are chosen here, behind their tokens (today: the LOGS_DIR directory and a SQLite file in it).
 */
@Module({
  providers: [
    {
      provide: ARCHIVE_STORE,
      useFactory: (config: AppConfig): ArchiveStore => new FsArchiveStore(config.logsDir),
      inject: [AppConfig],
    },
    {
      provide: CATALOG,
      useFactory: (config: AppConfig): Catalog => new SqliteCatalog(path.join(path.resolve(config.logsDir), CATALOG_FILE)),
      inject: [AppConfig],
    },
    ArchiveAccess,
    ArchiveFiles,
    ArchiveReader,
    ArchiveExporter,
    ArchiveWriter,
    ArchiveMaintenance,
    LogStorageService,
    AppConfigSnapshots,
  ],
  exports: [LogStorageService, AppConfigSnapshots],
})
export class LogStorageModule {}
