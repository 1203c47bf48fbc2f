import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { APP_VERSION } from '../common/app-version';
import { ReadinessResponseDto } from './dto/health-responses.dto';
import {
  ArchiveStoreHealthIndicator,
  CatalogHealthIndicator,
  DatabaseHealthIndicator,
  DiskSpaceHealthIndicator,
  LogsDirHealthIndicator,
  SourcesHealthIndicator,
} from './readiness.indicators';

/** Runs every readiness check; `ok` is false when any is down (or the service is shutting down). */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly catalog: CatalogHealthIndicator,
    private readonly archive: ArchiveStoreHealthIndicator,
    private readonly logsDir: LogsDirHealthIndicator,
    private readonly disk: DiskSpaceHealthIndicator,
    private readonly sources: SourcesHealthIndicator,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  async check(): Promise<{ ok: boolean; body: ReadinessResponseDto }> {
    let result: HealthCheckResult;
    try {
      result = await this.health.check([
        () => this.catalog.check('catalog'),
        () => this.archive.check('archive'),
        () => this.logsDir.check('logs_dir'),
        () => this.disk.check('disk'),
        () => this.sources.check('sources'),
        ...(this.database.enabled ? [() => this.database.check('database')] : []),
      ]);
    } catch (error) {
      // terminus reports a failed check as a 503 exception carrying the same result
      if (!(error instanceof ServiceUnavailableException)) throw error;
      result = error.getResponse() as HealthCheckResult;
    }
    return {
      ok: result.status === 'ok',
      body: { status: result.status, version: APP_VERSION, info: { ...result.info }, error: { ...result.error }, details: { ...result.details } },
    };
  }
}
