import { Logger } from '@nestjs/common';
import { CookieJar } from './cookie-jar';
import type { DifyHttp, DifyRequest, DifyResponse } from './dify-http';
import { isUnauthorized } from './dify-http';
import { DifyAuthError, DifyBadResponseError, DifyError } from './dify.errors';

/** How console requests are authenticated. */
export interface ConsoleAuth {
  request<T>(req: DifyRequest): Promise<DifyResponse<T>>;
}

/** Self-hosted ADMIN_API_KEY: a bearer header plus the workspace header, no CSRF. */
export class AdminKeyAuth implements ConsoleAuth {
  constructor(
    private readonly http: DifyHttp,
    private readonly adminApiKey: string,
    private readonly workspaceId: string,
  ) {}

  request<T>(req: DifyRequest): Promise<DifyResponse<T>> {
    return this.http.request<T>({
      ...req,
      headers: { ...req.headers, Authorization: `Bearer ${this.adminApiKey}`, 'X-WORKSPACE-ID': this.workspaceId },
    });
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

  constructor(
    private readonly http: DifyHttp,
    private readonly credentials: LoginCredentials,
  ) {}

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
