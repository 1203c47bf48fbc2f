import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DifyModule } from '../dify/dify.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { AlertWebhookRepository } from './alert-webhook.repository';
import { AlertsService } from './alerts.service';
import { AppConfig } from '../config/app-config';
import { BACKUP_LOCK, BackupLock, FileBackupLock } from './backup-lock';
import { BackupService } from './backup.service';
import { RedactionModule } from './redaction.module';
import { CHECKPOINT_REPOSITORY, CheckpointRepository, FileCheckpointRepository } from './checkpoint.repository';
import { CheckpointService } from './checkpoint.service';
import { FileJobHistoryRepository, JOB_HISTORY_REPOSITORY, JobHistoryRepository } from './job-history.repository';
import { JobHistoryService } from './job-history.service';
import { JOB_EVENTS_BUS, JobEventsBus, LocalJobEvents } from './job-events';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import type { PostgresState } from './postgres/postgres-state';
import { POSTGRES_STATE } from './postgres/postgres-state.token';
import { REPLICAS, Replicas, SingleReplica } from './replicas';
import { ReplicasController } from './replicas.controller';
import { ServerPresence } from './server-presence';
import { ReplicationController } from './replication.controller';
import { REPLICATION_LOCK, ReplicationLock } from './replication-lock';
import { REPLICATION_STORES, ReplicationService, ReplicationStores } from './replication.service';
import { ARCHIVE_STORE, ArchiveStore } from '../log-storage/archive-store';
import { newS3ArchiveStore } from '../log-storage/s3/s3-archive-store.lazy';
import { SourceBackupService } from './source-backup.service';
import { SourceRegistry } from './source-registry';
import { SourcesController } from './sources.controller';
import { SourcesService } from './sources.service';
import { StaleSourcesService } from './stale-sources.service';
import { WorkspaceBackupService } from './workspace-backup.service';

/* The PostgreSQL driver and the AWS SDK are loaded only when configured (see LogStorageModule). */
/* eslint-disable @typescript-eslint/no-require-imports */
const postgresState = (): typeof import('./postgres/postgres-state') => require('./postgres/postgres-state');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Backup runs for every trigger (HTTP, admin page, CLI, cron): jobs and their history, catch-up from
 * checkpoints, the cross-process locks (backups, and the off-site copy), alerts, the replicas; one run goes Dify client -> normaliser ->
 * archive. The job history, checkpoints, lock and replicas are chosen here, behind their tokens: files in
 * LOGS_DIR/state, or PostgreSQL when DATABASE_URL is set.
 */
@Module({
  imports: [DifyModule, LogStorageModule, RedactionModule],
  controllers: [JobsController, SourcesController, ReplicasController, ReplicationController],
  providers: [
    {
      provide: POSTGRES_STATE,
      useFactory: (config: AppConfig): PostgresState | null =>
        config.catalog.databaseUrl ? new (postgresState().PostgresState)(config.catalog.databaseUrl, config.catalog.replicaTimeoutSeconds) : null,
      inject: [AppConfig],
    },
    {
      provide: BACKUP_LOCK,
      useFactory: (config: AppConfig, state: PostgresState | null): BackupLock => state?.lock ?? new FileBackupLock(config),
      inject: [AppConfig, POSTGRES_STATE],
    },
    {
      provide: REPLICATION_LOCK,
      useFactory: (config: AppConfig, state: PostgresState | null): ReplicationLock => state?.replicationLock ?? new FileBackupLock(config, 'replication.lock'),
      inject: [AppConfig, POSTGRES_STATE],
    },
    {
      provide: JOB_HISTORY_REPOSITORY,
      useFactory: (config: AppConfig, state: PostgresState | null): JobHistoryRepository => state?.jobs ?? new FileJobHistoryRepository(config),
      inject: [AppConfig, POSTGRES_STATE],
    },
    {
      provide: CHECKPOINT_REPOSITORY,
      useFactory: (config: AppConfig, state: PostgresState | null): CheckpointRepository => state?.checkpoints ?? new FileCheckpointRepository(config),
      inject: [AppConfig, POSTGRES_STATE],
    },
    {
      provide: JOB_EVENTS_BUS,
      useFactory: (state: PostgresState | null): JobEventsBus => state?.events ?? new LocalJobEvents(),
      inject: [POSTGRES_STATE],
    },
    {
      provide: REPLICAS,
      useFactory: (state: PostgresState | null): Replicas => state?.replicas ?? new SingleReplica(),
      inject: [POSTGRES_STATE],
    },
    Clock,
    SourceRegistry,
    BackupService,
    AlertWebhookRepository,
    AlertsService,
    CheckpointService,
    JobHistoryService,
    WorkspaceBackupService,
    SourceBackupService,
    JobsService,
    StaleSourcesService,
    SourcesService,
    ServerPresence,
    {
      provide: REPLICATION_STORES,
      useFactory: (config: AppConfig, archive: ArchiveStore): ReplicationStores | null =>
        config.replication.s3 ? { source: archive, target: newS3ArchiveStore(config.replication.s3), settings: config.replication.s3 } : null,
      inject: [AppConfig, ARCHIVE_STORE],
    },
    ReplicationService,
  ],
  exports: [ReplicationService, Clock, SourceRegistry, JobsService, SourcesService, StaleSourcesService, AlertsService, BACKUP_LOCK, REPLICAS, POSTGRES_STATE, CheckpointService, ServerPresence],
})
export class BackupModule {}
