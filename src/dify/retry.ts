/** Pure retry decisions for the Dify HTTP layer: what is worth retrying and how long to wait. */

/** Longest wait a `Retry-After` header may impose on one attempt. */
export const RETRY_AFTER_CAP_MS = 30_000;

/** Network error codes that mean the request may not have reached Dify, or its answer was lost. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ERR_CANCELED',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

export type Failure =
  | { kind: 'status'; status: number; retryAfter?: string | null }
  | { kind: 'network'; code: string }
  | { kind: 'timeout' }
  | { kind: 'bad-body' };

/** Bodies that are not JSON are retried fewer times than transient faults. */
export const BAD_BODY_MAX_RETRIES = 2;

export function isRetryableFailure(failure: Failure): boolean {
  switch (failure.kind) {
    case 'status':
      return failure.status === 429 || (failure.status >= 500 && failure.status <= 599);
    case 'network':
      return TRANSIENT_NETWORK_CODES.has(failure.code) || !failure.code;
    case 'timeout':
    case 'bad-body':
      return true;
  }
}

/** Exponential backoff with "equal jitter": half fixed, half random, so parallel clients spread out. */
export function backoffDelayMs(retry: number, baseMs: number, random: () => number = Math.random): number {
  const exp = Math.min(baseMs * 2 ** Math.max(0, retry - 1), 60_000);
  return Math.round(exp / 2 + (exp / 2) * random());
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export interface RetryPolicy {
  maxRetries: number;
  retryBaseMs: number;
  retryAfterCapMs?: number;
}

/**
 * Whether to try again after `retriesSoFar` retries, and after how long.
 * 400/401/403/404 and redirects are never retried; 429 waits at least what `Retry-After` asks (capped).
 */
export function retryDecision(
  failure: Failure,
  retriesSoFar: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
  nowMs = Date.now(),
): { retry: false } | { retry: true; delayMs: number } {
  if (!isRetryableFailure(failure)) return { retry: false };
  const limit = failure.kind === 'bad-body' ? Math.min(policy.maxRetries, BAD_BODY_MAX_RETRIES) : policy.maxRetries;
  if (retriesSoFar >= limit) return { retry: false };
  let delayMs = backoffDelayMs(retriesSoFar + 1, policy.retryBaseMs, random);
  if (failure.kind === 'status' && failure.status === 429) {
    const asked = parseRetryAfterMs(failure.retryAfter, nowMs);
    if (asked !== null) delayMs = Math.max(delayMs, Math.min(asked, policy.retryAfterCapMs ?? RETRY_AFTER_CAP_MS));
  }
  return { retry: true, delayMs };
}
