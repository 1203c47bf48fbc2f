import { Global, Module } from '@nestjs/common';
import { VAULT_EVENTS } from '../common/vault-events';
import { BackupModule } from '../backup/backup.module';
import { HealthModule } from '../health/health.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { MetricsAuthGuard } from './metrics-auth.guard';
import { MetricsExporter } from './metrics-exporter.service';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/**
 * GET /metrics, and the MetricsService every module reports to through the VAULT_EVENTS token
 * (global, so that the modules that report need not import this one).
 */
@Global()
@Module({
  imports: [HealthModule, LogStorageModule, BackupModule],
  controllers: [MetricsController],
  providers: [MetricsService, { provide: VAULT_EVENTS, useExisting: MetricsService }, MetricsExporter, MetricsAuthGuard],
  exports: [MetricsService, VAULT_EVENTS],
})
export class MetricsModule {}
