import { Inject, Injectable } from '@nestjs/common';
import { REPLICAS, Replicas } from '../backup/replicas';
import { ReplicationService } from '../backup/replication.service';
import { SourceFreshnessService } from '../health/source-freshness.service';
import { LogStorageService } from '../log-storage/log-storage.service';
import { MetricsService } from './metrics.service';

/** One scrape: reads the archive summary and the sources' state now, then renders every metric. */
@Injectable()
export class MetricsExporter {
  constructor(
    private readonly metrics: MetricsService,
    private readonly storage: LogStorageService,
    private readonly freshness: SourceFreshnessService,
    @Inject(REPLICAS) private readonly replicas: Replicas,
    private readonly replication: ReplicationService,
  ) {}

  async scrape(): Promise<string> {
    const summary = await this.storage.getSummary();
    this.metrics.observeArchive({ files: summary.total_files, bytes: summary.total_size_bytes });
    this.metrics.observeSources(this.freshness.list(), this.freshness.staleHours);
    this.metrics.observeLeadership(this.replicas.isLeading());
    this.metrics.observeReplication(await this.replication.status());
    return this.metrics.render();
  }
}
