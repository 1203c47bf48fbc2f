import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AlertWebhookRepository } from './alert-webhook.repository';
import type { AlertEvent, AlertPayload } from './alert.types';
import { redactText, redactValue } from '../common/redact';

export interface AlertInput {
  event: AlertEvent;
  text: string;
  app_id?: string | null;
  organization_id?: string | null;
  job_id?: string | null;
  details?: Record<string, unknown>;
}

/** Delays between delivery attempts; the first attempt is immediate. */
export const ALERT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];

/**
 * Sends alerts to ALERT_WEBHOOK_URL in the background. Delivery is retried with backoff and never
 * blocks or fails a backup; every string is redacted (no query strings, no known secret).
 */
@Injectable()
export class AlertsService implements OnApplicationShutdown {
  private readonly logger = new Logger(AlertsService.name);
  private readonly pending = new Set<Promise<void>>();
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;
  retryDelaysMs = ALERT_RETRY_DELAYS_MS;

  constructor(
    private readonly config: AppConfig,
    private readonly webhook: AlertWebhookRepository,
  ) {}

  get enabled(): boolean {
    return !!this.config.alerts.webhookUrl;
  }

  /** Fire and forget. `secrets` are masked wherever they appear. */
  notify(input: AlertInput, secrets: string[] = []): void {
    const payload: AlertPayload = {
      text: redactText(input.text, secrets),
      event: input.event,
      app_id: input.app_id ?? null,
      organization_id: input.organization_id ?? null,
      job_id: input.job_id ?? null,
      details: redactValue(input.details ?? {}, secrets) as Record<string, unknown>,
    };
    this.logger.warn(`Alert ${payload.event}: ${payload.text}`);
    const url = this.config.alerts.webhookUrl;
    if (!url || this.stopped) return;
    const delivery = this.deliver(url, payload).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves when every delivery under way has succeeded or given up. */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const [timer, cancel] of this.waits) {
      clearTimeout(timer);
      cancel();
    }
    this.waits.clear();
  }

  private async deliver(url: string, payload: AlertPayload): Promise<void> {
    const host = safeHost(url);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.webhook.post(url, payload);
        if (attempt > 0) this.logger.log(`Finished alert delivery to ${host} after ${attempt + 1} attempts`);
        return;
      } catch (error) {
        const reason = describeFailure(error);
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined || this.stopped) {
          this.logger.error(`Failed to deliver alert ${payload.event} to ${host} after ${attempt + 1} attempts: ${reason}`);
          return;
        }
        this.logger.warn(`Alert delivery to ${host} failed (${reason}); retrying in ${delay} ms`);
        if (!(await this.sleep(delay))) return;
      }
    }
  }

  /** false when shutdown cancelled the wait */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve(false);
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve(!this.stopped);
      }, ms);
      timer.unref();
      this.waits.set(timer, () => resolve(false));
    });
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the webhook';
  }
}

function describeFailure(error: unknown): string {
  const e = error as { response?: { status?: number }; code?: string; message?: string };
  if (e?.response?.status) return `HTTP ${e.response.status}`;
  if (e?.code) return e.code;
  return 'request failed';
}
