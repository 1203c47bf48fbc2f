import { Injectable, Logger } from '@nestjs/common';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../../config/app-config';

const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const FAILURE_WINDOW_MS = 60_000;
const MAX_FAILURES = 10;
const MAX_TRACKED_CLIENTS = 10_000;

export function safeEqual(a: string, b: string): boolean {
  // hashing first gives equal lengths, so the comparison time does not depend on where they differ
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export type FailedAttempt = 'refused' | 'throttled';

/**
 * ADMIN_TOKEN checks for the API (Bearer) and the admin page (signed session cookie + CSRF token),
 * with a per-client limit on failed attempts. Only failures are throttled: a right token or a valid session
 * is accepted whatever came before, so nobody sharing the operator's address (a reverse proxy, a NAT) can
 * lock the operator out. Sessions are stateless HMACs keyed by the token, so changing ADMIN_TOKEN signs
 * everybody out.
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  private readonly failures = new Map<string, number[]>();
  private readonly key: Buffer | null;

  constructor(private readonly config: AppConfig) {
    this.key = config.adminToken
      ? createHmac('sha256', 'dify-log-vault-session').update(config.adminToken).digest()
      : null;
  }

  /**
   * Signs the anonymous page's CSRF token when no ADMIN_TOKEN is set: random, made once per process, so no other
   * site can compute the token (a fixed key would let any page post the admin forms). A token of one process is
   * refused by another: replicas behind a load balancer need ADMIN_TOKEN.
   */
  private readonly anonymousKey = randomBytes(32);

  get enabled(): boolean {
    return this.config.adminToken !== null;
  }

  isRateLimited(client: string, now = Date.now()): boolean {
    const recent = (this.failures.get(client) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    if (recent.length) this.failures.set(client, recent);
    else this.failures.delete(client);
    return recent.length >= MAX_FAILURES;
  }

  /**
   * Counts a wrong credential: 'refused' (answer 401) until the client has failed MAX_FAILURES times within
   * the window, then 'throttled' (answer 429) until the window has passed.
   */
  failedAttempt(client: string, now = Date.now()): FailedAttempt {
    if (this.isRateLimited(client, now)) return 'throttled';
    this.recordFailure(client, now);
    if (this.isRateLimited(client, now)) {
      this.logger.warn(`Throttling failed authentication from ${client}: ${MAX_FAILURES} failures within a minute`);
    }
    return 'refused';
  }

  recordFailure(client: string, now = Date.now()): void {
    if (this.failures.size >= MAX_TRACKED_CLIENTS && !this.failures.has(client)) this.forgetQuietClients(now);
    const list = this.failures.get(client) ?? [];
    list.push(now);
    this.failures.set(client, list.slice(-MAX_FAILURES));
  }

  /** Clients that have not failed within the window are dropped, so many addresses cannot grow the map without bound. */
  private forgetQuietClients(now: number): void {
    for (const [client, times] of this.failures) {
      if (!times.some((t) => now - t < FAILURE_WINDOW_MS)) this.failures.delete(client);
    }
    // still full of active clients: forget the oldest entries rather than grow
    for (const client of this.failures.keys()) {
      if (this.failures.size < MAX_TRACKED_CLIENTS) break;
      this.failures.delete(client);
    }
  }

  /** for tests and monitoring */
  trackedClients(): number {
    return this.failures.size;
  }

  verifyToken(candidate: string | undefined): boolean {
    if (!this.config.adminToken) return true;
    return typeof candidate === 'string' && safeEqual(candidate, this.config.adminToken);
  }

  createSession(now = Date.now()): string {
    const payload = `${now + SESSION_TTL_MS}.${randomBytes(12).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  verifySession(session: string | undefined, now = Date.now()): boolean {
    if (!this.enabled) return true;
    if (!session) return false;
    const cut = session.lastIndexOf('.');
    if (cut <= 0) return false;
    const payload = session.slice(0, cut);
    if (!safeEqual(session.slice(cut + 1), this.sign(payload))) return false;
    const expires = Number(payload.split('.')[0]);
    return Number.isFinite(expires) && expires > now;
  }

  /** The CSRF token that belongs to a session (or to the anonymous page when no token is configured). */
  csrfFor(session: string | undefined): string {
    return this.sign(`csrf:${session ?? 'anonymous'}`);
  }

  verifyCsrf(session: string | undefined, candidate: string | undefined): boolean {
    return typeof candidate === 'string' && safeEqual(candidate, this.csrfFor(session));
  }

  private sign(payload: string): string {
    const key = this.key ?? this.anonymousKey;
    return createHmac('sha256', key).update(payload).digest('base64url');
  }
}
