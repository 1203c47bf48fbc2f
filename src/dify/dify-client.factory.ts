import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { NO_VAULT_EVENTS, VAULT_EVENTS, VaultEvents } from '../common/vault-events';
import { AppConfig } from '../config/app-config';
import { accessModeOf, ACCESS_MODE_RULE } from '../config/dify-source';
import { AdminKeyAuth, LoginSessionAuth, PasswordEncoding, WorkedAdminKeys } from './console-auth';
import { ServiceIdentityGuard } from './app-identity';
import { ConsoleSourceClient } from './console-source.client';
import { DifyHttp } from './dify-http';
import { DifyAuthError, DifyBadRequestError } from './dify.errors';
import type { DifyAppClient, DifySource, DifyWorkspaceSource } from './dify.types';
import { ServiceAppClient } from './service-app.client';
import type { WorkspaceClient } from './workspace.client';

/** Dify refuses a plain-text login password from this version on. */
const BASE64_PASSWORD_SINCE: [number, number] = [1, 11];

/** Builds the client for a source, choosing its access mode (console modes first: they see everything). */
@Injectable()
export class DifyClientFactory {
  /** which admin keys have worked, for the lifetime of the process (fingerprints only) */
  private readonly workedAdminKeys = new WorkedAdminKeys();

  constructor(
    private readonly config: AppConfig,
    private readonly httpService: HttpService,
    @Optional() @Inject(VAULT_EVENTS) private readonly vaultEvents: VaultEvents = NO_VAULT_EVENTS,
  ) {}

  create(source: DifySource): DifyAppClient {
    const mode = accessModeOf(source);
    switch (mode) {
      case 'service':
        return new ServiceIdentityGuard(
          source,
          new ServiceAppClient(
            source,
            this.http(source.dify_api_url!, 'dify_api_url', () => [source.api_key!], {
              message: 'Dify rejected the API key (401)',
              field: 'api_key',
            }),
          ),
        );
      case 'console-admin': {
        const http = this.http(source.console_api_url!, 'console_api_url', () => [source.admin_api_key!], {
          message: 'Dify console rejected the admin key (401)',
          field: 'admin_api_key',
        });
        const auth = new AdminKeyAuth(http, source.admin_api_key!, source.workspace_id!, { url: source.console_api_url!, field: 'console_api_url' }, this.workedAdminKeys);
        return new ConsoleSourceClient(mode, source, auth);
      }
      case 'console-login': {
        let session: LoginSessionAuth | null = null;
        const secrets = () => session?.secrets() ?? [source.password!];
        const http = this.http(source.console_api_url!, 'console_api_url', secrets, {
          message: 'Dify console rejected the login session (401)',
          field: 'password',
        });
        let encoding: Promise<PasswordEncoding> | null = null;
        session = new LoginSessionAuth(http, {
          email: source.email!,
          password: source.password!,
          encoding: () => (encoding ??= this.passwordEncoding(source)),
        }, { url: source.console_api_url!, field: 'console_api_url' });
        return new ConsoleSourceClient(mode, source, session);
      }
      default:
        throw new DifyBadRequestError(ACCESS_MODE_RULE, undefined, undefined, 'api_key');
    }
  }

  /** Every app of the workspace a console source reaches (its app_id, if any, is ignored), over one session. */
  createWorkspace(source: DifyWorkspaceSource): WorkspaceClient {
    const mode = accessModeOf(source);
    if (mode !== 'console-admin' && mode !== 'console-login') {
      throw new DifyBadRequestError(
        'a workspace needs a console source: console_api_url + admin_api_key + workspace_id, or console_api_url + email + password',
        undefined,
        undefined,
        'console_api_url',
      );
    }
    return (this.create({ ...source, app_id: '' }) as ConsoleSourceClient).workspace();
  }

  private http(
    baseUrl: string,
    urlField: string,
    secrets: () => string[],
    unauthorized: { message: string; field: string },
  ): DifyHttp {
    return new DifyHttp(this.httpService, {
      baseUrl,
      urlField,
      timeoutMs: this.config.dify.timeoutMs,
      maxRetries: this.config.dify.maxRetries,
      retryBaseMs: this.config.dify.retryBaseMs,
      secrets,
      on401: (code) => new DifyAuthError(unauthorized.message, 401, code, unauthorized.field),
      events: this.vaultEvents,
    });
  }

  /**
   * `auto`: ask the Service API root (no auth, no side effect) for `server_version`; Base64 from 1.11 on,
   * plain text before it or when the version cannot be read.
   */
  async passwordEncoding(source: DifySource): Promise<PasswordEncoding> {
    if (source.password_encoding === 'base64' || source.password_encoding === 'plain') return source.password_encoding;
    // Dify Cloud always runs a current release, and its console host serves no Service API root to ask
    if (source.console_api_url && new URL(source.console_api_url).hostname.toLowerCase() === 'cloud.dify.ai') return 'base64';
    const versionUrl = serviceRootFor(source);
    if (!versionUrl) return 'plain';
    const http = new DifyHttp(this.httpService, {
      baseUrl: versionUrl.baseUrl,
      urlField: versionUrl.field,
      timeoutMs: this.config.dify.timeoutMs,
      maxRetries: Math.min(1, this.config.dify.maxRetries),
      retryBaseMs: this.config.dify.retryBaseMs,
      secrets: () => [],
      on401: () => new DifyAuthError('Dify refused the version check (401)', 401),
      events: this.vaultEvents,
    });
    try {
      const res = await http.request<Record<string, unknown>>({ path: '/' });
      const version = res.data && typeof res.data === 'object' ? res.data.server_version : undefined;
      return typeof version === 'string' && versionAtLeast(version, BASE64_PASSWORD_SINCE) ? 'base64' : 'plain';
    } catch {
      return 'plain';
    }
  }
}

/** `/v1` on the console's origin (self-hosted Dify serves both), or the source's own Service API base. */
export function serviceRootFor(source: DifySource): { baseUrl: string; field: string } | null {
  if (source.dify_api_url) return { baseUrl: source.dify_api_url, field: 'dify_api_url' };
  if (!source.console_api_url) return null;
  const trimmed = source.console_api_url.replace(/\/+$/, '');
  const prefix = trimmed.endsWith('/console/api') ? trimmed.slice(0, -'/console/api'.length) : new URL(trimmed).origin;
  return { baseUrl: `${prefix}/v1`, field: 'console_api_url' };
}

export function versionAtLeast(version: string, [major, minor]: [number, number]): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
