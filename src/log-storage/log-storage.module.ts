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
import { newS3ArchiveStore } from './s3/s3-archive-store.lazy';
import { LogStorageService } from './log-storage.service';
import { AuditLog, FileAuditLog } from './privacy/audit-log';
import { ErasureRegistry, FileErasureRegistry } from './privacy/erasure-registry';
import type { PostgresPrivacy } from './postgres/postgres-privacy';
import { POSTGRES_PRIVACY } from './postgres/postgres-privacy.token';
import { CATALOG_FILE } from './sqlite/catalog-schema';
import { SqliteCatalog } from './sqlite/sqlite-catalog';
import { WriteJournal } from './write-journal';

/*
 * The AWS SDK and the PostgreSQL driver take about 35 MB of memory once loaded: their modules are required
 * only by the factories that use them, so an archive of files and SQLite never loads either.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const postgresCatalog = (): typeof import('./postgres/postgres-catalog') => require('./postgres/postgres-catalog');
const postgresPrivacy = (): typeof import('./postgres/postgres-privacy') => require('./postgres/postgres-privacy');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The archive: conversation files, their catalog, and everything read from them. The store, the catalog, the
 * erasures and the audit log are chosen here, behind their tokens (the LOGS_DIR directory; the catalog, the
 * erasures and the audit log in PostgreSQL when DATABASE_URL is set, else a SQLite file and files in LOGS_DIR).
 */
@Module({
  providers: [
    {
      provide: ARCHIVE_STORE,
      useFactory: (config: AppConfig): ArchiveStore =>
        config.archive.storage === 's3' ? newS3ArchiveStore(config.archive.s3) : new FsArchiveStore(config.logsDir),
      inject: [AppConfig],
    },
    {
      provide: CATALOG,
      useFactory: (config: AppConfig): Catalog =>
        config.catalog.databaseUrl
          ? new (postgresCatalog().PostgresCatalog)({ url: config.catalog.databaseUrl, ftsLanguage: config.catalog.ftsLanguage })
          : new SqliteCatalog(path.join(path.resolve(config.logsDir), CATALOG_FILE)),
      inject: [AppConfig],
    },
    ArchiveAccess,
    ArchiveFiles,
    ArchiveReader,
    ArchiveExporter,
    ArchiveWriter,
    WriteJournal,
    ArchiveMaintenance,
    LogStorageService,
    AppConfigSnapshots,
    {
      provide: POSTGRES_PRIVACY,
      useFactory: (config: AppConfig): PostgresPrivacy | null => (config.catalog.databaseUrl ? new (postgresPrivacy().PostgresPrivacy)(config.catalog.databaseUrl) : null),
      inject: [AppConfig],
    },
    {
      provide: ErasureRegistry,
      useFactory: (config: AppConfig, pg: PostgresPrivacy | null): ErasureRegistry => pg?.erasures ?? new FileErasureRegistry(config),
      inject: [AppConfig, POSTGRES_PRIVACY],
    },
    {
      provide: AuditLog,
      useFactory: (config: AppConfig, pg: PostgresPrivacy | null): AuditLog => pg?.audit ?? new FileAuditLog(config),
      inject: [AppConfig, POSTGRES_PRIVACY],
    },
  ],
  exports: [LogStorageService, AppConfigSnapshots, ErasureRegistry, AuditLog, ARCHIVE_STORE],
})
export class LogStorageModule {}
