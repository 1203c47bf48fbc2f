import * as tls from 'node:tls';
import { DifyError, DifyUnavailableError, DifyWrongUrlError } from './dify.errors';

/**
 * Wording shared by every place that reports a Dify failure (run results, alerts, the admin page), so that
 * a mistake in the configuration is never announced as something the next run will fix.
 */

/** False for mistakes a retry cannot fix (bad credentials, a wrong URL); true for anything else. */
export function isRetryable(error: unknown): boolean {
  return error instanceof DifyError ? error.retryable : true;
}

/** "will not succeed on retry: fix admin_api_key" or "the next run retries". */
export function retryAdvice(error: unknown): string {
  if (isRetryable(error)) return 'the next run retries';
  const field = error instanceof DifyError && error.field ? error.field : 'the source configuration';
  return `will not succeed on retry: fix ${field}`;
}

/** A run result's error text, with the advice appended when no retry can fix it. */
export function withRetryAdvice(text: string, error: unknown): string {
  return isRetryable(error) ? text : `${text}; ${retryAdvice(error)}`;
}

/** `https://` sent to a port that speaks plain HTTP: OpenSSL's "wrong version number" and its relatives. */
export function isTlsToPlainHttp(code: string | undefined, message: string | undefined): boolean {
  return (
    code === 'EPROTO' ||
    /^ERR_SSL_/.test(code ?? '') ||
    /wrong version number|packet length too long|unknown protocol|http request/i.test(message ?? '')
  );
}

export function tlsToPlainHttpError(baseUrl: string, field: string): DifyWrongUrlError {
  const url = new URL(baseUrl);
  return new DifyWrongUrlError(
    `Dify at ${url.host} answers plain HTTP, not HTTPS: use http:// in ${field} (or the port that serves HTTPS)`,
    undefined,
    undefined,
    field,
  );
}

export function plainHttpToTlsError(baseUrl: string, field: string): DifyWrongUrlError {
  const url = new URL(baseUrl);
  return new DifyWrongUrlError(
    `Dify at ${url.host} expects HTTPS (TLS) on this port, not plain HTTP: use https:// in ${field}`,
    undefined,
    undefined,
    field,
  );
}

/** Whether `host:port` completes a TLS handshake (any certificate): one connection, nothing sent. */
export function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, servername: isIp(host) ? undefined : host, rejectUnauthorized: false });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * A plain-HTTP request that lost its connection (reset, hang-up) may have met a TLS port: asks the port
 * itself once, and names the scheme when that is the cause. Any other error is returned as it is.
 */
export async function explainLostConnection(error: DifyError, baseUrl: string, field: string, timeoutMs: number): Promise<DifyError> {
  if (!(error instanceof DifyUnavailableError) || !/\((ECONNRESET|EPIPE|network error)\)$/.test(error.message)) return error;
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:') return error;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  return (await speaksTls(host, port, timeoutMs)) ? plainHttpToTlsError(baseUrl, field) : error;
}

/** No console API at this URL (it answered HTML, a redirect or 404 where the console answers JSON). */
export function noConsoleApiError(baseUrl: string, field: string, answered: string): DifyWrongUrlError {
  const url = new URL(baseUrl);
  const shown = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return new DifyWrongUrlError(
    `No Dify console API at ${shown} (${answered}): the console API is usually at ${url.origin}/console/api; check ${field}`,
    undefined,
    undefined,
    field,
  );
}
