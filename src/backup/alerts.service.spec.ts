import { ConsoleLogger, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import type { AlertWebhookRepository } from './alert-webhook.repository';
import type { AlertPayload } from './alert.types';
import { AlertsService } from './alerts.service';

class FakeWebhook implements Pick<AlertWebhookRepository, 'post'> {
  posts: { url: string; payload: AlertPayload }[] = [];
  failures = 0;
  async post(url: string, payload: AlertPayload) {
    this.posts.push({ url, payload });
    if (this.failures-- > 0) throw Object.assign(new Error('boom'), { code: 'ECONNREFUSED' });
  }
}

describe(AlertsService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  const make = (webhookUrl: string | null, webhook = new FakeWebhook()) => {
    const sut = new AlertsService({ alerts: { webhookUrl, staleHours: 36 } } as AppConfig, webhook as unknown as AlertWebhookRepository);
    sut.retryDelaysMs = [1, 1];
    return { sut, webhook };
  };

  it('posts the Slack-compatible payload with secrets and query strings removed', async () => {
    const { sut, webhook } = make('http://127.0.0.1:9/hook');
    sut.notify(
      {
        event: 'backup_failed',
        text: 'backup failed: GET http://dify.local/console/api/apps?page=2 refused key adm-secret-1',
        app_id: 'a',
        job_id: 'j',
        details: { admin_api_key: 'adm-secret-1', error: 'refused adm-secret-1', count: 2 },
      },
      ['adm-secret-1'],
    );
    await sut.flush();
    expect(webhook.posts).toEqual([
      {
        url: 'http://127.0.0.1:9/hook',
        payload: {
          text: 'backup failed: GET http://dify.local/console/api/apps refused key [redacted]',
          event: 'backup_failed',
          app_id: 'a',
          organization_id: null,
          job_id: 'j',
          details: { error: 'refused [redacted]', count: 2 },
        },
      },
    ]);
  });

  it('retries with backoff, then gives up without throwing', async () => {
    const { sut, webhook } = make('http://127.0.0.1:9/hook');
    webhook.failures = 1;
    sut.notify({ event: 'source_stale', text: 'stale' });
    await sut.flush();
    expect(webhook.posts).toHaveLength(2);

    webhook.posts = [];
    webhook.failures = 10;
    sut.notify({ event: 'source_stale', text: 'stale' });
    await sut.flush();
    expect(webhook.posts).toHaveLength(3);
  });

  it('sends nothing without ALERT_WEBHOOK_URL, and stops retrying on shutdown', async () => {
    const { sut, webhook } = make(null);
    sut.notify({ event: 'backup_failed', text: 'x' });
    await sut.flush();
    expect(webhook.posts).toEqual([]);

    const slow = make('http://127.0.0.1:9/hook');
    slow.sut.retryDelaysMs = [60_000];
    slow.webhook.failures = 5;
    slow.sut.notify({ event: 'backup_failed', text: 'x' });
    await new Promise((r) => setImmediate(r));
    slow.sut.onApplicationShutdown();
    await slow.sut.flush();
    expect(slow.webhook.posts).toHaveLength(1);
  });
});
