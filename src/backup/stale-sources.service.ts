import { Injectable, Logger } from '@nestjs/common';
import { SourceRegistry } from './source-registry';
import { AppConfig } from '../config/app-config';
import { AlertsService } from './alerts.service';
import { CheckpointService } from './checkpoint.service';
import { orgAppLabel } from '../common/org-app-label';
import { Clock } from '../common/clock';

const HOUR_MS = 3_600_000;

/** Alerts once per ALERT_STALE_HOURS period about a configured source with no successful run for that long. */
@Injectable()
export class StaleSourcesService {
  private readonly logger = new Logger(StaleSourcesService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly registry: SourceRegistry,
    private readonly checkpoints: CheckpointService,
    private readonly alerts: AlertsService,
    private readonly clock: Clock,
  ) {}

  /** Returns the keys of the sources found stale. */
  async check(): Promise<string[]> {
    const now = this.clock.now();
    const limitMs = this.config.alerts.staleHours * HOUR_MS;
    const stale: string[] = [];
    for (const source of this.registry.list()) {
      const state = this.checkpoints.get(source);
      const since = state.last_success_at ?? state.first_seen_at;
      const age = now.getTime() - Date.parse(since);
      if (age <= limitMs) continue;
      stale.push(state.key);
      const alerted = state.stale_alerted_at ? Date.parse(state.stale_alerted_at) : null;
      if (alerted !== null && alerted >= Date.parse(since) && now.getTime() - alerted < limitMs) continue;
      const hours = Math.floor(age / HOUR_MS);
      const what = state.last_success_at ? `last successful backup ${state.last_success_at}` : `never backed up successfully (known since ${state.first_seen_at})`;
      this.alerts.notify({
        event: 'source_stale',
        text: `:warning: Dify Log Vault: ${orgAppLabel(source)} has had no successful backup for ${hours} h (${what}). Conversations Dify purges meanwhile are lost.`,
        app_id: source.app_id,
        organization_id: source.organization_id ?? null,
        details: {
          last_success_at: state.last_success_at,
          last_outcome: state.last_outcome,
          last_run_job_id: state.last_run_job_id,
          stale_hours: hours,
          threshold_hours: this.config.alerts.staleHours,
        },
      });
      await this.checkpoints.update(source, { stale_alerted_at: now.toISOString() });
    }
    if (stale.length) this.logger.warn(`Found ${stale.length} stale sources: ${stale.join(', ')}`);
    return stale;
  }
}
