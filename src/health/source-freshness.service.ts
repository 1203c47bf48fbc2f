import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SourcesService } from '../backup/sources.service';
import { freshnessOf, SourceFreshness } from './source-freshness';

/** How recent each configured source's backups are, read from the sources' public state on every call. */
@Injectable()
export class SourceFreshnessService {
  private readonly startedAt = new Date();

  constructor(
    private readonly config: AppConfig,
    private readonly sources: SourcesService,
  ) {}

  get staleHours(): number {
    return this.config.alerts.staleHours;
  }

  list(): SourceFreshness[] {
    const now = new Date();
    return this.sources.list().map((s) => freshnessOf(s, now, this.startedAt, this.staleHours));
  }
}
