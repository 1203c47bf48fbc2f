import { backoffDelayMs, parseRetryAfterMs, retryDecision, RETRY_AFTER_CAP_MS } from './retry';

describe(retryDecision.name, () => {
  const policy = { maxRetries: 3, retryBaseMs: 100 };
  const half = () => 0.5;
  const sut = (failure: Parameters<typeof retryDecision>[0], retries = 0) =>
    retryDecision(failure, retries, policy, half, 0);

  it.each([400, 401, 403, 404, 301, 302, 422])('never retries HTTP %i', (status) => {
    expect(sut({ kind: 'status', status })).toEqual({ retry: false });
  });

  it.each([429, 500, 502, 503, 504])('retries HTTP %i', (status) => {
    expect(sut({ kind: 'status', status }).retry).toBe(true);
  });

  it('retries network errors and timeouts up to maxRetries', () => {
    expect(sut({ kind: 'network', code: 'ECONNREFUSED' }, 2).retry).toBe(true);
    expect(sut({ kind: 'network', code: 'ECONNRESET' }, 3)).toEqual({ retry: false });
    expect(sut({ kind: 'timeout' }, 0).retry).toBe(true);
  });

  it('retries a body that is not JSON only a few times', () => {
    expect(sut({ kind: 'bad-body' }, 1).retry).toBe(true);
    expect(sut({ kind: 'bad-body' }, 2)).toEqual({ retry: false });
  });

  it('backs off exponentially with jitter', () => {
    expect(sut({ kind: 'status', status: 503 }, 0)).toEqual({ retry: true, delayMs: 75 });
    expect(sut({ kind: 'status', status: 503 }, 1)).toEqual({ retry: true, delayMs: 150 });
    expect(sut({ kind: 'status', status: 503 }, 2)).toEqual({ retry: true, delayMs: 300 });
    expect(backoffDelayMs(1, 100, () => 0)).toBe(50);
    expect(backoffDelayMs(1, 100, () => 1)).toBe(100);
  });

  it('waits at least what Retry-After asks on 429, capped', () => {
    expect(sut({ kind: 'status', status: 429, retryAfter: '2' })).toEqual({ retry: true, delayMs: 2000 });
    expect(sut({ kind: 'status', status: 429, retryAfter: '3600' })).toEqual({ retry: true, delayMs: RETRY_AFTER_CAP_MS });
    expect(sut({ kind: 'status', status: 429, retryAfter: 'soon' })).toEqual({ retry: true, delayMs: 75 });
  });
});

describe(parseRetryAfterMs.name, () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('1')).toBe(1000);
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfterMs(undefined)).toBeNull();
    expect(parseRetryAfterMs('later')).toBeNull();
  });
});
