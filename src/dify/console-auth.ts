import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CookieJar } from './cookie-jar';
import type { DifyHttp, DifyRequest, DifyResponse } from './dify-http';
import { isUnauthorized } from './dify-http';
import { noConsoleApiError } from './dify-error-text';
import {
  DifyAuthError,
  DifyBadRequestError,
  DifyBadResponseError,
  DifyError,
  DifyForbiddenError,
  DifyNotFoundError,
} from './dify.errors';

/** How console requests are authenticated. */
export interface ConsoleAuth {
  request<T>(req: DifyRequest): Promise<DifyResponse<T>>;
}

/** Where the console API should be: the URL and the source field holding it. */
export interface ConsoleBase {
  url: string;
  field: string;
}

/** A path every Dify console API answers without credentials and without side effects. */
const PROBE_PATH = '/system-features';

/**
 * Proves a console API answers at the base URL before any credential is sent (a failed login counts towards
 * Dify's account lock): a URL without `/console/api` reaches Dify's web front end or nothing, which answers
 * HTML, a redirect or 404 where the console answers JSON.
 */
export async function probeConsoleApi(http: DifyHttp, base: ConsoleBase): Promise<void> {
  const guarded = new DifyAuthError('the probe path is guarded', 401);
  let res: DifyResponse<unknown>;
  try {
    // retried like any read (a proxy's 502 passes); it carries no credential, so it never counts as a login
    res = await http.request<unknown>({ path: PROBE_PATH, on401: () => guarded });
  } catch (error) {
    // a console that guards the probe path is still a console
    if (error === guarded || error instanceof DifyForbiddenError) return;
    if (error instanceof DifyNotFoundError) throw noConsoleApiError(base.url, base.field, `404 for ${PROBE_PATH}`);
    if (error instanceof DifyBadResponseError && error.difyStatus !== undefined && error.difyStatus < 300) {
      throw noConsoleApiError(base.url, base.field, 'it answered a page that is not JSON');
    }
    if (error instanceof DifyBadResponseError && error.difyStatus !== undefined && error.difyStatus < 400) {
      throw noConsoleApiError(base.url, base.field, `it answered a redirect (${error.difyStatus})`);
    }
    if (error instanceof DifyBadRequestError && error.difyStatus !== undefined) {
      throw noConsoleApiError(base.url, base.field, `${error.difyStatus} for ${PROBE_PATH}`);
    }
    throw error;
  }
  if (!res.data || typeof res.data !== 'object') throw noConsoleApiError(base.url, base.field, 'it answered JSON that is not an object');
}

/** Runs `probe` once; a failed probe runs again on the next call. */
function once(probe: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | null = null;
  return () =>
    (pending ??= probe().catch((error: unknown) => {
      pending = null;
      throw error;
    }));
}

/**
 * Admin keys that have worked, per console, held in memory as fingerprints (never the key): Dify answers a
 * wrong key and a wrong workspace id with the same 401, and a key that worked before points at the workspace.
 */
export class WorkedAdminKeys {
  private readonly fingerprints = new Set<string>();

  private fingerprint(consoleUrl: string, adminApiKey: string): string {
    return createHash('sha256').update(`${consoleUrl.replace(/\/+$/, '')}\n${adminApiKey}`).digest('hex');
  }

  has(consoleUrl: string, adminApiKey: string): boolean {
    return this.fingerprints.has(this.fingerprint(consoleUrl, adminApiKey));
  }

  add(consoleUrl: string, adminApiKey: string): void {
    this.fingerprints.add(this.fingerprint(consoleUrl, adminApiKey));
  }
}

/** Self-hosted ADMIN_API_KEY: a bearer header plus the workspace header, no CSRF. */
export class AdminKeyAuth implements ConsoleAuth {
  private readonly probe: () => Promise<void>;
  private worked = false;

  constructor(
    private readonly http: DifyHttp,
    private readonly adminApiKey: string,
    private readonly workspaceId: string,
    private readonly base: ConsoleBase,
    private readonly workedKeys: WorkedAdminKeys = new WorkedAdminKeys(),
  ) {
    this.probe = once(() => probeConsoleApi(http, base));
  }

  async request<T>(req: DifyRequest): Promise<DifyResponse<T>> {
    await this.probe();
    const res = await this.http.request<T>({
      ...req,
      headers: { ...req.headers, Authorization: `Bearer ${this.adminApiKey}`, 'X-WORKSPACE-ID': this.workspaceId },
      on401: (code) => this.unauthorized(code),
    });
    if (!this.worked) {
      this.workedKeys.add(this.base.url, this.adminApiKey);
      this.worked = true;
    }
    return res;
  }

  private unauthorized(code: string | undefined): DifyAuthError {
    if (this.workedKeys.has(this.base.url, this.adminApiKey)) {
      return new DifyAuthError(
        'Dify console rejected the workspace id for an admin key that has worked before (401): check workspace_id first, then admin_api_key',
        401,
        code,
        'workspace_id',
      );
    }
    return new DifyAuthError(
      'Dify console rejected the admin key or the workspace id (401): check admin_api_key and workspace_id (Dify answers both mistakes with the same 401)',
      401,
      code,
      'admin_api_key',
    );
  }
}

export type PasswordEncoding = 'base64' | 'plain';

export interface LoginCredentials {
  email: string;
  password: string;
  /** decided once, before the first login */
  encoding: () => Promise<PasswordEncoding>;
}

const SESSION_EXPIRED = 'Dify console rejected the login session (401) even after logging in again';

/**
 * A console login session: logs in once (never retried: five failures lock the e-mail for a day), keeps
 * the cookies and sends `X-CSRF-Token` on every request; on a 401 refreshes once, then logs in again once.
 * Servers before ~1.9 answer tokens in the body instead: those are sent as a bearer header.
 */
export class LoginSessionAuth implements ConsoleAuth {
  private readonly logger = new Logger(LoginSessionAuth.name);
  private readonly jar = new CookieJar();
  private bearer: string | null = null;
  private refreshToken: string | null = null;
  private generation = 0;
  private loggedIn: Promise<void> | null = null;
  private recovering: Promise<void> | null = null;
  private readonly probe: () => Promise<void>;

  constructor(
    private readonly http: DifyHttp,
    private readonly credentials: LoginCredentials,
    base?: ConsoleBase,
  ) {
    this.probe = base ? once(() => probeConsoleApi(http, base)) : () => Promise.resolve();
  }

  /** Everything a message must never contain. */
  secrets(): string[] {
    return [
      this.credentials.password,
      Buffer.from(this.credentials.password, 'utf8').toString('base64'),
      ...this.jar.values(),
      ...(this.bearer ? [this.bearer] : []),
      ...(this.refreshToken ? [this.refreshToken] : []),
    ];
  }

  async request<T>(req: DifyRequest): Promise<DifyResponse<T>> {
    await this.ensureLoggedIn();
    const generation = this.generation;
    try {
      return await this.send<T>(req);
    } catch (error) {
      if (!isUnauthorized(error)) throw error;
    }
    await this.recover(generation);
    try {
      return await this.send<T>(req);
    } catch (error) {
      if (isUnauthorized(error)) throw new DifyAuthError(SESSION_EXPIRED, 401, (error as DifyError).difyCode, 'password');
      throw error;
    }
  }

  private send<T>(req: DifyRequest): Promise<DifyResponse<T>> {
    return this.http.request<T>({
      ...req,
      headers: { ...req.headers, ...this.sessionHeaders() },
      on401: (code) => new DifyAuthError('Dify console rejected the login session (401)', 401, code, 'password'),
    });
  }

  private sessionHeaders(): Record<string, string | undefined> {
    const csrf = this.jar.get('csrf_token');
    return {
      Cookie: this.jar.header(),
      'X-CSRF-Token': csrf,
      Authorization: this.bearer ? `Bearer ${this.bearer}` : undefined,
    };
  }

  private ensureLoggedIn(): Promise<void> {
    this.loggedIn ??= this.login().catch((error: unknown) => {
      this.loggedIn = null;
      throw error;
    });
    return this.loggedIn;
  }

  /** One refresh, then one fresh login, shared by every request that saw the same 401. */
  private recover(seenGeneration: number): Promise<void> {
    if (this.generation !== seenGeneration) return Promise.resolve();
    this.recovering ??= (async () => {
      try {
        if (await this.refresh()) {
          this.logger.log('Console session refreshed');
        } else {
          this.logger.log('Console session could not be refreshed; logging in again');
          this.jar.clear();
          this.bearer = null;
          await this.login();
        }
        this.generation++;
      } finally {
        this.recovering = null;
      }
    })();
    return this.recovering;
  }

  private async refresh(): Promise<boolean> {
    try {
      const res = await this.http.request<Record<string, unknown> | null>({
        method: 'POST',
        path: '/refresh-token',
        headers: this.sessionHeaders(),
        body: this.refreshToken ? { refresh_token: this.refreshToken } : undefined,
        retry: 'connection',
        allowEmpty: true,
      });
      this.jar.store(res.headers['set-cookie']);
      this.takeBodyTokens(res.data);
      return true;
    } catch (error) {
      if (error instanceof DifyError && error.difyStatus !== undefined && error.difyStatus < 500) return false;
      throw error;
    }
  }

  private async login(): Promise<void> {
    // never spend a login attempt (they count towards the account lock) on a URL that is not the console API
    await this.probe();
    const encoding = await this.credentials.encoding();
    const password =
      encoding === 'base64' ? Buffer.from(this.credentials.password, 'utf8').toString('base64') : this.credentials.password;
    const failed = (status: number) => (code: string | undefined) =>
      new DifyAuthError(`Dify login failed for this e-mail (${status}${code && status !== 401 ? `, ${code}` : ''})`, status, code, 'password');
    let res: DifyResponse<Record<string, unknown> | null>;
    try {
      res = await this.http.request<Record<string, unknown> | null>({
        method: 'POST',
        path: '/login',
        body: { email: this.credentials.email, password, remember_me: true },
        retry: 'connection',
        on401: failed(401),
      });
    } catch (error) {
      // 400/403 on login: rate limit, frozen account, wrong encoding. Say so without echoing anything sent.
      if (error instanceof DifyError && !(error instanceof DifyAuthError) && error.difyStatus && error.difyStatus < 500) {
        throw failed(error.difyStatus)(error.difyCode);
      }
      throw error;
    }
    const result = res.data && typeof res.data === 'object' ? res.data.result : undefined;
    if (result !== undefined && result !== 'success') {
      throw new DifyAuthError(`Dify login failed for this e-mail (${String(result)})`, res.status, undefined, 'password');
    }
    this.jar.store(res.headers['set-cookie']);
    this.takeBodyTokens(res.data);
    if (!this.bearer && !this.jar.has('access_token')) {
      throw new DifyBadResponseError('Dify login succeeded but answered neither session cookies nor tokens', res.status);
    }
    this.logger.log(`Logged in to the Dify console (${this.bearer ? 'bearer token' : 'cookie session'})`);
  }

  /** Servers before ~1.9 answer `{ data: { access_token, refresh_token } }`. */
  private takeBodyTokens(body: unknown): void {
    const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
    if (!data || typeof data !== 'object') return;
    const { access_token: access, refresh_token: refresh } = data as Record<string, unknown>;
    if (typeof access === 'string' && access) this.bearer = access;
    if (typeof refresh === 'string' && refresh) this.refreshToken = refresh;
  }
}
