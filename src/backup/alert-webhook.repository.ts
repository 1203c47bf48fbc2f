import { Injectable } from '@nestjs/common';
import axios from 'axios';
import type { AlertPayload } from './alert.types';

/** The one place alerts leave the process. Redirects are refused: a webhook that moves is a misconfiguration. */
@Injectable()
export class AlertWebhookRepository {
  async post(url: string, payload: AlertPayload, timeoutMs = 10_000): Promise<void> {
    await axios.post(url, payload, {
      timeout: timeoutMs,
      maxRedirects: 0,
      headers: { 'content-type': 'application/json' },
      validateStatus: (status) => status >= 200 && status < 300,
    });
  }
}
