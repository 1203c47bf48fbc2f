import { Injectable } from '@nestjs/common';
import { InvalidRequestError, NotFoundError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { accessModeOf, ACCESS_MODE_RULE, WORKSPACE_RULE, workspaceSourceKey } from '../config/dify-source';
import type { DifySource } from '../dify/dify.types';

/** Connection fields a request may carry instead of naming a configured source; no app_id: a whole workspace. */
export type SourceFields = Partial<Omit<DifySource, 'workspace' | 'only_app_ids'>>;

const WORKSPACE_FIELDS = ['include', 'exclude', 'apps'] as const;

const CONNECTION_FIELDS: (keyof SourceFields)[] = [
  'dify_api_url',
  'api_key',
  'console_api_url',
  'admin_api_key',
  'workspace_id',
  'email',
  'password',
];

export function sourceKey(source: Pick<DifySource, 'app_id' | 'organization_id'>): string {
  return `${source.organization_id ?? ''}/${source.app_id}`;
}

/** The configured sources, and the one place that turns a request into a source it may contact. */
@Injectable()
export class SourceRegistry {
  constructor(private readonly config: AppConfig) {}

  list(): DifySource[] {
    return this.config.sources;
  }

  /**
   * With an organization, only the source of that (organization, app id): one app, one identity. Without
   * one, an app id configured under several organizations names no source: 400 asking for organization_id.
   */
  find(appId: string, organizationId?: string): DifySource | undefined {
    const matches = this.config.sources.filter((s) => s.app_id === appId);
    if (organizationId !== undefined) return matches.find((s) => (s.organization_id ?? undefined) === organizationId);
    if (matches.length > 1) {
      const organizations = matches.map((s) => s.organization_id ?? '(none)').join(', ');
      throw new InvalidRequestError(`app_id ${appId} is configured under several organizations (${organizations}): give organization_id to say which`, 'organization_id');
    }
    return matches[0];
  }

  get(appId: string, organizationId?: string): DifySource {
    const found = this.find(appId, organizationId);
    if (!found) throw this.notFound(appId, organizationId);
    return found;
  }

  /**
   * 404 for an (app id, organization) no source has. When the app id is known under other organizations
   * (`alsoUnder`: organizations of apps found in configured workspaces) the organization is what is wrong,
   * and the error names organization_id: a source is never borrowed into another organization's folder.
   */
  notFound(appId: string, organizationId?: string, alsoUnder: (string | null | undefined)[] = []): NotFoundError {
    if (organizationId !== undefined) {
      const under = [...this.config.sources.filter((s) => s.app_id === appId).map((s) => s.organization_id), ...alsoUnder];
      if (under.length) {
        const organizations = [...new Set(under.map((o) => o ?? '(none)'))].join(', ');
        return new NotFoundError(`no configured source has app_id ${appId} in organization_id ${organizationId} (it is configured under: ${organizations})`, 'organization_id');
      }
    }
    const where = organizationId !== undefined ? ` in organization ${organizationId}` : '';
    return new NotFoundError(`no configured source has app_id ${appId}${where}`, 'app_id');
  }

  /** The configured whole-workspace source of that key, if any. */
  workspace(key: string): DifySource | undefined {
    return this.config.sources.find((s) => s.workspace && s.app_id === key);
  }

  /**
   * A request either names a configured source by app_id (connection fields absent) or brings its own
   * connection fields. Either way every URL must be http(s) with an allowed host.
   */
  resolve(fields: SourceFields): DifySource {
    const bringsConnection = CONNECTION_FIELDS.some((f) => fields[f] !== undefined);
    if (fields.app_id !== undefined) {
      const field = WORKSPACE_FIELDS.find((f) => fields[f] !== undefined);
      if (field) throw new InvalidRequestError([`${field} is for a whole workspace: send the console fields without app_id`], field);
    }
    let source: DifySource;
    if (fields.app_id === undefined) {
      if (!bringsConnection) {
        throw new InvalidRequestError([`app_id is required, or the console fields without it for a whole workspace (${WORKSPACE_RULE})`], 'app_id');
      }
      source = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as unknown as DifySource;
      const mode = accessModeOf(source);
      if (mode !== 'console-admin' && mode !== 'console-login') throw new InvalidRequestError([WORKSPACE_RULE], 'app_id');
      source.app_id = workspaceSourceKey(source);
      source.workspace = true;
    } else if (!bringsConnection) {
      const appId = fields.app_id;
      const configured = this.find(appId, fields.organization_id);
      if (!configured) {
        // configured, but not under the organization asked for: never back it up into that organization
        if (fields.organization_id !== undefined && this.config.sources.some((s) => s.app_id === appId)) throw this.notFound(appId, fields.organization_id);
        throw new InvalidRequestError(
          [`app_id ${appId} is not a configured source; send its connection fields (${ACCESS_MODE_RULE})`],
          'app_id',
        );
      }
      source = { ...configured, ...(fields.users !== undefined ? { users: fields.users } : {}) };
    } else {
      source = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as unknown as DifySource;
      if (!accessModeOf(source)) {
        throw new InvalidRequestError([ACCESS_MODE_RULE], 'api_key');
      }
    }
    this.assertAllowedHosts(source);
    return source;
  }

  assertAllowedHosts(source: Partial<DifySource>): void {
    for (const field of ['dify_api_url', 'console_api_url'] as const) {
      const value = source[field];
      if (value === undefined) continue;
      const problem = this.urlProblem(value);
      if (problem) throw new InvalidRequestError([`${field} ${problem}`], field);
    }
  }

  private urlProblem(value: string): string | null {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'must be an absolute http:// or https:// URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
    if (url.username || url.password) return 'must not carry credentials';
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (!this.config.allowedHosts.includes(host)) {
      return `host ${host} is not in DIFY_ALLOWED_HOSTS`;
    }
    return null;
  }
}
