import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DifyModule } from '../dify/dify.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { AlertWebhookRepository } from './alert-webhook.repository';
import { AlertsService } from './alerts.service';
import { BackupLock } from './backup-lock';
import { BackupService } from './backup.service';
import { RedactionModule } from './redaction.module';
import { CheckpointRepository } from './checkpoint.repository';
import { CheckpointService } from './checkpoint.service';
import { JobHistoryRepository } from './job-history.repository';
import { JobHistoryService } from './job-history.service';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { ServerPresence } from './server-presence';
import { SourceBackupService } from './source-backup.service';
import { SourceRegistry } from './source-registry';
import { SourcesController } from './sources.controller';
import { SourcesService } from './sources.service';
import { StaleSourcesService } from './stale-sources.service';
import { WorkspaceBackupService } from './workspace-backup.service';

/**
 * Backup runs for every trigger (HTTP, admin page, CLI, cron): jobs and their history, catch-up from
 * checkpoints, the cross-process lock, alerts; one run goes Dify client -> normaliser -> archive.
 */
@Module({
  imports: [DifyModule, LogStorageModule, RedactionModule],
  controllers: [JobsController, SourcesController],
  providers: [
    Clock,
    SourceRegistry,
    BackupService,
    AlertWebhookRepository,
    AlertsService,
    BackupLock,
    CheckpointRepository,
    CheckpointService,
    JobHistoryRepository,
    JobHistoryService,
    WorkspaceBackupService,
    SourceBackupService,
    JobsService,
    StaleSourcesService,
    SourcesService,
    ServerPresence,
  ],
  exports: [Clock, SourceRegistry, JobsService, SourcesService, StaleSourcesService, AlertsService, BackupLock, CheckpointService, ServerPresence],
})
export class BackupModule {}
