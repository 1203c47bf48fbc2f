import { randomBytes } from 'node:crypto';
import type { SimContext } from './simulator.context';
import { invalidParam, ok, SimError, SimRequest, SimResponse, unauthorized } from './simulator.http';

/** Dify locks an e-mail after this many wrong passwords (LOGIN_MAX_ERROR_LIMITS). */
export const LOGIN_MAX_ERROR_LIMITS = 5;
const REFRESH_TTL_SECONDS = 30 * 86400;

interface Session {
  accessToken: string;
  refreshToken: string;
  csrfToken: string;
  /** epoch ms */
  accessExpiresAt: number;
  refreshExpiresAt: number;
  revoked: boolean;
}

export interface ConsoleAuthOptions {
  adminApiKey: string | null;
  secureCookies: boolean;
  accessTokenTtlSeconds: number;
  workspaceId: string;
  account: { email: string; password: string };
}

export type ConsoleIdentity = { kind: 'admin-key' } | { kind: 'session' };

const newToken = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Console authentication: admin API key, and login sessions with cookies, CSRF and refresh tokens. */
export class ConsoleAuth {
  private readonly byAccess = new Map<string, Session>();
  private readonly byRefresh = new Map<string, Session>();
  private readonly failures = new Map<string, number>();

  constructor(private readonly options: ConsoleAuthOptions) {}

  cookieName(name: 'access_token' | 'refresh_token' | 'csrf_token'): string {
    return this.options.secureCookies ? `__Host-${name}` : name;
  }

  expireAccessTokens(): void {
    for (const s of this.byAccess.values()) s.accessExpiresAt = 0;
  }

  /** the checks of Dify's `login_required` plus the CSRF check of cookie sessions */
  authenticate(req: SimRequest, ctx: SimContext): ConsoleIdentity {
    const header = req.headers.authorization;
    let bearer: string | undefined;
    if (header) {
      const space = header.indexOf(' ');
      const scheme = space < 0 ? '' : header.slice(0, space).toLowerCase();
      if (scheme !== 'bearer') {
        if (this.options.adminApiKey) throw unauthorized("Invalid Authorization header format. Expected 'Bearer <api-key>' format.");
      } else {
        bearer = header.slice(space + 1).trim();
      }
    }
    if (this.options.adminApiKey && bearer === this.options.adminApiKey && req.headers['x-workspace-id'] === this.options.workspaceId) {
      return { kind: 'admin-key' };
    }
    const cookieSessions = ctx.versionAtLeast(1, 9);
    const token = (cookieSessions ? req.cookies[this.cookieName('access_token')] : undefined) ?? bearer;
    if (!token) throw unauthorized('Unauthorized.');
    const session = this.byAccess.get(token);
    if (!session || session.revoked) throw unauthorized('Invalid token.');
    if (session.accessExpiresAt <= Date.now()) throw unauthorized('Token has expired.');
    if (cookieSessions) {
      const fromHeader = req.headers['x-csrf-token'];
      const fromCookie = req.cookies[this.cookieName('csrf_token')];
      if (!fromHeader || fromHeader !== fromCookie || fromHeader !== session.csrfToken) {
        throw unauthorized('CSRF token is missing or invalid.');
      }
    }
    return { kind: 'session' };
  }

  login(req: SimRequest, ctx: SimContext): SimResponse {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const email = body.email;
    let password = body.password;
    if (typeof email !== 'string' || !email.includes('@')) throw invalidParam(`email: ${String(email)} is not a valid email.`);
    if (typeof password !== 'string') throw invalidParam('password: Field required');
    if (ctx.versionAtLeast(1, 11)) {
      const decoded = decodeBase64Strict(password);
      if (decoded === null) throw new SimError(401, 'authentication_failed', 'Invalid encrypted data');
      password = decoded;
    }
    const key = email.toLowerCase();
    if ((this.failures.get(key) ?? 0) >= LOGIN_MAX_ERROR_LIMITS) {
      throw new SimError(429, 'email_code_login_limit', 'Too many incorrect password attempts. Please try again later.');
    }
    if (key !== this.options.account.email.toLowerCase() || password !== this.options.account.password) {
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      throw new SimError(401, 'authentication_failed', 'Invalid email or password.');
    }
    this.failures.delete(key);
    return this.issue(ctx);
  }

  refresh(req: SimRequest, ctx: SimContext): SimResponse {
    const cookieSessions = ctx.versionAtLeast(1, 9);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = cookieSessions ? req.cookies[this.cookieName('refresh_token')] : typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
    if (!token) return { status: 401, body: { result: 'fail', message: 'No refresh token provided' } };
    const session = this.byRefresh.get(token);
    if (!session || session.revoked || session.refreshExpiresAt <= Date.now()) {
      return { status: 401, body: { result: 'fail', message: 'Invalid refresh token' } };
    }
    // refresh tokens rotate: the old pair stops working
    this.revoke(session);
    return this.issue(ctx);
  }

  logout(req: SimRequest): SimResponse {
    const token = req.cookies[this.cookieName('access_token')] ?? req.headers.authorization?.replace(/^bearer /i, '');
    const session = token ? this.byAccess.get(token) : undefined;
    if (session) this.revoke(session);
    const clear = (name: 'access_token' | 'refresh_token' | 'csrf_token') =>
      `${this.cookieName(name)}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/${this.options.secureCookies ? '; Secure' : ''}; SameSite=Lax`;
    return ok({ result: 'success' }, { cookies: [clear('access_token'), clear('refresh_token'), clear('csrf_token')] });
  }

  private revoke(session: Session): void {
    session.revoked = true;
    this.byAccess.delete(session.accessToken);
    this.byRefresh.delete(session.refreshToken);
  }

  private issue(ctx: SimContext): SimResponse {
    const ttl = this.options.accessTokenTtlSeconds;
    const session: Session = {
      accessToken: `eyJ${newToken(40)}`,
      refreshToken: newToken(48),
      csrfToken: `eyJ${newToken(32)}`,
      accessExpiresAt: Date.now() + ttl * 1000,
      refreshExpiresAt: Date.now() + REFRESH_TTL_SECONDS * 1000,
      revoked: false,
    };
    this.byAccess.set(session.accessToken, session);
    this.byRefresh.set(session.refreshToken, session);
    if (!ctx.versionAtLeast(1, 9)) {
      return ok({ result: 'success', data: { access_token: session.accessToken, refresh_token: session.refreshToken } });
    }
    return ok(
      { result: 'success' },
      {
        cookies: [
          this.cookie('access_token', session.accessToken, ttl, true),
          this.cookie('refresh_token', session.refreshToken, REFRESH_TTL_SECONDS, true),
          this.cookie('csrf_token', session.csrfToken, ttl, false),
        ],
      },
    );
  }

  private cookie(name: 'access_token' | 'refresh_token' | 'csrf_token', value: string, maxAge: number, httpOnly: boolean): string {
    const expires = new Date(Date.now() + maxAge * 1000).toUTCString();
    return [
      `${this.cookieName(name)}=${value}`,
      `Expires=${expires}`,
      `Max-Age=${maxAge}`,
      ...(this.options.secureCookies ? ['Secure'] : []),
      ...(httpOnly ? ['HttpOnly'] : []),
      'Path=/',
      'SameSite=Lax',
    ].join('; ');
  }
}

function decodeBase64Strict(value: string): string | null {
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) return null;
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;
}
