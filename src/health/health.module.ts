import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { BackupModule } from '../backup/backup.module';
import { HealthProbeRepository } from './health-probe.repository';
import { HealthController } from './health.controller';
import {
  ArchiveStoreHealthIndicator,
  CatalogHealthIndicator,
  DatabaseHealthIndicator,
  DiskSpaceHealthIndicator,
  LogsDirHealthIndicator,
  SourcesHealthIndicator,
} from './readiness.indicators';
import { ReadinessService } from './readiness.service';
import { SourceFreshnessService } from './source-freshness.service';

/** GET /health (liveness) and GET /health/ready (readiness, with @nestjs/terminus). */
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty' }), LogStorageModule, BackupModule],
  controllers: [HealthController],
  providers: [
    HealthProbeRepository,
    SourceFreshnessService,
    CatalogHealthIndicator,
    ArchiveStoreHealthIndicator,
    DatabaseHealthIndicator,
    LogsDirHealthIndicator,
    DiskSpaceHealthIndicator,
    SourcesHealthIndicator,
    ReadinessService,
  ],
  exports: [SourceFreshnessService],
})
export class HealthModule {}
