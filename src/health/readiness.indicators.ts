import { Inject, Injectable } from '@nestjs/common';
import type { PostgresState } from '../backup/postgres/postgres-state';
import { POSTGRES_STATE } from '../backup/postgres/postgres-state.token';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { LogStorageService } from '../log-storage/log-storage.service';
import { HealthProbeRepository } from './health-probe.repository';
import { SourceFreshnessService } from './source-freshness.service';

const MB = 1024 * 1024;

/** The error's code (ENOSPC, EACCES...) or class name: never a path or a message that could carry one. */
function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
  return error instanceof Error ? error.name : 'error';
}

/** The catalog answers a query; while it is being rebuilt, how far the rebuild has got. */
@Injectable()
export class CatalogHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly storage: LogStorageService,
  ) {}

  async check(key: 'catalog'): Promise<HealthIndicatorResult<'catalog'>> {
    const session = this.indicator.check(key);
    const rebuild = this.storage.rebuildProgress();
    if (rebuild) {
      return session.down({ message: `rebuilding, ${rebuild.done} of ${rebuild.total ?? 'unknown'}`, done: rebuild.done, total: rebuild.total });
    }
    try {
      return session.up({ conversations: await this.storage.countConversations() });
    } catch (error) {
      return session.down({ message: `the catalog does not answer (${reason(error)})` });
    }
  }
}

/** A file can be created and removed under LOGS_DIR/state. */
@Injectable()
export class LogsDirHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly probe: HealthProbeRepository,
  ) {}

  async check(key: 'logs_dir'): Promise<HealthIndicatorResult<'logs_dir'>> {
    const session = this.indicator.check(key);
    try {
      await this.probe.probeWritable();
      return session.up({ writable: true });
    } catch (error) {
      return session.down({ writable: false, message: `LOGS_DIR is not writable (${reason(error)})` });
    }
  }
}

/** The LOGS_DIR file system has at least MIN_FREE_DISK_MB free. */
@Injectable()
export class DiskSpaceHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly probe: HealthProbeRepository,
    private readonly config: AppConfig,
  ) {}

  async check(key: 'disk'): Promise<HealthIndicatorResult<'disk'>> {
    const session = this.indicator.check(key);
    const minFreeMb = this.config.observability.minFreeDiskMb;
    try {
      const freeMb = Math.floor((await this.probe.freeBytes()) / MB);
      const data = { free_mb: freeMb, min_free_mb: minFreeMb };
      return freeMb >= minFreeMb
        ? session.up(data)
        : session.down({ ...data, message: `less than MIN_FREE_DISK_MB (${minFreeMb} MB) free on the LOGS_DIR file system` });
    } catch (error) {
      return session.down({ min_free_mb: minFreeMb, message: `free space cannot be read (${reason(error)})` });
    }
  }
}

/** No source has gone without a successful backup for ALERT_STALE_HOURS. */
@Injectable()
export class SourcesHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly freshness: SourceFreshnessService,
  ) {}

  async check(key: 'sources'): Promise<HealthIndicatorResult<'sources'>> {
    const session = this.indicator.check(key);
    const thresholdHours = this.freshness.staleHours;
    try {
      const sources = this.freshness.list();
      const stale = sources.filter((s) => s.stale).map((s) => s.label);
      const data = { sources: sources.length, stale, stale_after_hours: thresholdHours };
      return stale.length
        ? session.down({ ...data, message: `${stale.length} of ${sources.length} sources have had no successful backup for ${thresholdHours} h` })
        : session.up(data);
    } catch (error) {
      return session.down({ stale_after_hours: thresholdHours, message: `the sources' state cannot be read (${reason(error)})` });
    }
  }
}

/** The archive's store answers: the S3 bucket exists and takes the credentials (always up on a filesystem). */
@Injectable()
export class ArchiveStoreHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly storage: LogStorageService,
    private readonly config: AppConfig,
  ) {}

  async check(key: 'archive'): Promise<HealthIndicatorResult<'archive'>> {
    const session = this.indicator.check(key);
    const storage = this.config.archive.storage;
    try {
      await this.storage.checkArchive();
      return session.up({ storage });
    } catch (error) {
      // the store's own message names the bucket and the endpoint, never a credential
      return session.down({ storage, message: error instanceof Error ? error.message : 'the archive store does not answer' });
    }
  }
}

/** With DATABASE_URL: the database that holds the state answers. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    @Inject(POSTGRES_STATE) private readonly state: PostgresState | null,
  ) {}

  get enabled(): boolean {
    return this.state !== null;
  }

  async check(key: 'database'): Promise<HealthIndicatorResult<'database'>> {
    const session = this.indicator.check(key);
    try {
      await this.state?.db.ping();
      return session.up();
    } catch (error) {
      return session.down({ message: `PostgreSQL does not answer (${reason(error)})` });
    }
  }
}
