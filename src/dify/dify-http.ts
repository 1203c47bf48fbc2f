import { Logger } from '@nestjs/common';
import { HttpService, type HttpModuleOptions } from '@nestjs/axios';
import type { AxiosResponse } from 'axios';
import { firstValueFrom } from 'rxjs';
import type { VaultEvents } from '../common/vault-events';
import type { AppConfig } from '../config/app-config';
import {
  DifyBadRequestError,
  DifyBadResponseError,
  DifyError,
  DifyForbiddenError,
  DifyNotFoundError,
  DifyUnavailableError,
  DifyAuthError,
} from './dify.errors';
import { explainLostConnection, isTlsToPlainHttp, tlsToPlainHttpError } from './dify-error-text';
import { Failure, retryDecision, RetryPolicy } from './retry';

export interface DifyHttpOptions extends RetryPolicy {
  /** e.g. https://api.dify.ai/v1 or https://cloud.dify.ai/console/api */
  baseUrl: string;
  /** the source field holding `baseUrl`, named in "unreachable" errors */
  urlField: string;
  timeoutMs: number;
  /** the error thrown for a 401, unless a request overrides it */
  on401: (code: string | undefined) => DifyError;
  /** strings that must never leak into an error message (keys, passwords, cookies, tokens) */
  secrets: () => string[];
  /** how a timer waits; tests may shorten it */
  sleep?: (ms: number) => Promise<void>;
  /** told of every attempt and retry */
  events?: Pick<VaultEvents, 'recordDifyRequest' | 'recordRetry'>;
}

export interface DifyRequest {
  method?: 'GET' | 'POST';
  /** appended to the base URL, starting with `/` */
  path: string;
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  headers?: Record<string, string | undefined>;
  /** `all` (default): network errors, timeouts, 429, 5xx, bad bodies. `connection`: only refused connections. */
  retry?: 'all' | 'connection';
  on401?: (code: string | undefined) => DifyError;
  on404?: (code: string | undefined) => DifyError;
  /** accept any 2xx without a JSON body (data is then null) */
  allowEmpty?: boolean;
}

export interface DifyResponse<T> {
  status: number;
  data: T;
  /** lower-case names */
  headers: Record<string, string | string[] | undefined>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The defaults of the HttpModule's axios instance (DifyModule): the timeout from config, no redirects. */
export function difyAxiosDefaults(config: Pick<AppConfig, 'dify'>): HttpModuleOptions {
  return {
    timeout: config.dify.timeoutMs,
    maxRedirects: 0,
    headers: { Accept: 'application/json', 'User-Agent': 'dify-log-vault' },
  };
}

interface DifyEnvelope {
  code?: unknown;
  message?: unknown;
}

/**
 * The one place that speaks HTTP to Dify. Never follows redirects (a 3xx is an error), retries transient
 * faults with backoff, and turns every failure into a DifyError whose message is safe to show and log.
 */
export class DifyHttp {
  private readonly logger = new Logger(DifyHttp.name);
  private readonly host: string;
  private readonly sleep: (ms: number) => Promise<void>;

  /** `http`: the HttpModule's instance (see `difyAxiosDefaults`), shared by every source's client. */
  constructor(
    private readonly http: HttpService,
    private readonly options: DifyHttpOptions,
  ) {
    this.host = new URL(options.baseUrl).host;
    this.sleep = options.sleep ?? defaultSleep;
  }

  get baseHost(): string {
    return this.host;
  }

  async request<T = unknown>(req: DifyRequest): Promise<DifyResponse<T>> {
    const method = req.method ?? 'GET';
    const label = `${method} ${new URL(this.url(req.path)).pathname}`;
    for (let retries = 0; ; retries++) {
      const outcome = await this.attempt<T>(req);
      if ('response' in outcome) return outcome.response;
      const { failure, error } = outcome;
      const decision =
        req.retry === 'connection' && !(failure.kind === 'network' && failure.code === 'ECONNREFUSED')
          ? ({ retry: false } as const)
          : retryDecision(failure, retries, this.options);
      if (!decision.retry) throw await explainLostConnection(error(retries), this.options.baseUrl, this.options.urlField, this.options.timeoutMs);
      this.logger.warn(`${label} failed (${describeFailure(failure)}); retry ${retries + 1} in ${decision.delayMs} ms`);
      this.options.events?.recordRetry();
      await this.sleep(decision.delayMs);
    }
  }

  private url(path: string, query?: DifyRequest['query']): string {
    const base = this.options.baseUrl.replace(/\/+$/, '');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) params.set(k, String(v));
    }
    const qs = params.toString();
    return `${base}${path}${qs ? `?${qs}` : ''}`;
  }

  private async attempt<T>(
    req: DifyRequest,
  ): Promise<{ response: DifyResponse<T> } | { failure: Failure; error: (retries: number) => DifyError }> {
    let res: AxiosResponse<string>;
    const headers = Object.fromEntries(Object.entries(req.headers ?? {}).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >;
    try {
      res = await firstValueFrom(
        this.http.request<string>({
          method: req.method ?? 'GET',
          url: this.url(req.path, req.query),
          headers: req.body !== undefined ? { 'Content-Type': 'application/json', ...headers } : headers,
          data: req.body !== undefined ? JSON.stringify(req.body) : undefined,
          timeout: this.options.timeoutMs,
          // pinned here too: whatever the shared instance says, a redirect is an error, never followed
          maxRedirects: 0,
          validateStatus: () => true,
          responseType: 'text',
          transformResponse: [(data: unknown) => data],
          signal: AbortSignal.timeout(this.options.timeoutMs + 250),
        }),
      );
    } catch (e) {
      const failed = this.networkFailure(e);
      this.options.events?.recordDifyRequest(failed.failure.kind);
      return failed;
    }

    const status = res.status;
    this.options.events?.recordDifyRequest(String(status));
    const text = typeof res.data === 'string' ? res.data : '';
    const responseHeaders = Object.fromEntries(
      Object.entries(res.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v as string | string[] | undefined]),
    );
    if (status >= 200 && status < 300) {
      if (!text.trim() && (req.allowEmpty || status === 204)) {
        return { response: { status, data: null as T, headers: responseHeaders } };
      }
      try {
        return { response: { status, data: JSON.parse(text) as T, headers: responseHeaders } };
      } catch {
        return {
          failure: { kind: 'bad-body' },
          error: (retries) =>
            new DifyBadResponseError(
              `Dify answered ${this.pathOf(req)} with a body that is not JSON (${text.length} bytes${retries ? `, ${retries + 1} attempts` : ''})`,
              status,
            ),
        };
      }
    }

    const envelope = parseEnvelope(text);
    const code = typeof envelope.code === 'string' ? envelope.code : undefined;
    const difyMessage = typeof envelope.message === 'string' ? envelope.message : undefined;
    const failure: Failure = { kind: 'status', status, retryAfter: headerValue(responseHeaders['retry-after']) };
    return { failure, error: (retries) => this.statusError(req, status, code, difyMessage, retries) };
  }

  private pathOf(req: DifyRequest): string {
    return new URL(this.url(req.path)).pathname;
  }

  private statusError(
    req: DifyRequest,
    status: number,
    code: string | undefined,
    difyMessage: string | undefined,
    retries: number,
  ): DifyError {
    const field = this.options.urlField;
    const said = difyMessage ? `: ${this.scrub(difyMessage).slice(0, 200)}` : '';
    const withCode = `${status}${code ? `, ${code}` : ''}`;
    if (status >= 300 && status < 400) {
      return new DifyBadResponseError(
        `Dify answered a redirect (${status}) at ${this.host}; redirects are never followed: check ${field}`,
        status,
        code,
        field,
        { retryable: false },
      );
    }
    if (status === 401) return (req.on401 ?? this.options.on401)(code);
    if (status === 403) {
      return new DifyForbiddenError(
        `Dify refused access (${withCode}): the app may be gone, its API disabled, or the role too low${said}`,
        status,
        code,
      );
    }
    if (status === 404) {
      return req.on404?.(code) ?? new DifyNotFoundError(`Dify answered 404 for ${this.pathOf(req)}${said}`, status, code);
    }
    if (status === 429 || status >= 500) {
      const attempts = retries + 1;
      return new DifyUnavailableError(
        `Dify kept failing at ${this.host} (${withCode}) after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
        status,
        code,
      );
    }
    return new DifyBadRequestError(`Dify rejected ${this.pathOf(req)} (${withCode})${said}`, status, code);
  }

  private networkFailure(e: unknown): { failure: Failure; error: (retries: number) => DifyError } {
    const err = e as { code?: string; name?: string; message?: string };
    const timedOut =
      err.code === 'ECONNABORTED' ||
      err.code === 'ETIMEDOUT' ||
      err.name === 'TimeoutError' ||
      err.code === 'ERR_CANCELED' ||
      /timeout/i.test(err.message ?? '');
    const field = this.options.urlField;
    if (timedOut) {
      return {
        failure: { kind: 'timeout' },
        error: (retries) =>
          new DifyUnavailableError(
            `Dify did not answer within ${this.options.timeoutMs} ms at ${this.host} (timeout, ${retries + 1} attempts)`,
            undefined,
            undefined,
            field,
          ),
      };
    }
    if (this.options.baseUrl.startsWith('https:') && isTlsToPlainHttp(err.code, err.message)) {
      return { failure: { kind: 'network', code: 'EPROTO' }, error: () => tlsToPlainHttpError(this.options.baseUrl, field) };
    }
    const code = typeof err.code === 'string' && /^[A-Z_]+$/.test(err.code) ? err.code : 'network error';
    return {
      failure: { kind: 'network', code: code === 'network error' ? '' : code },
      error: () => new DifyUnavailableError(`Dify is unreachable at ${this.host} (${code})`, undefined, undefined, field),
    };
  }

  /** Defence in depth: no secret survives in text that came from Dify. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.options.secrets()) {
      if (secret && secret.length >= 4) out = out.split(secret).join('***');
    }
    return out;
  }
}

function parseEnvelope(text: string): DifyEnvelope {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as DifyEnvelope) : {};
  } catch {
    return {};
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function describeFailure(failure: Failure): string {
  switch (failure.kind) {
    case 'status':
      return `HTTP ${failure.status}`;
    case 'network':
      return failure.code || 'network error';
    case 'timeout':
      return 'timeout';
    case 'bad-body':
      return 'body not JSON';
  }
}

/** True for the 401 a request got, whatever error class the 401 mapper chose. */
export function isUnauthorized(error: unknown): boolean {
  return error instanceof DifyAuthError && error.difyStatus === 401;
}
