import { Injectable } from '@nestjs/common';
import { InvalidRequestError, NotFoundError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import { accessModeOf, ACCESS_MODE_RULE } from '../config/dify-source';
import type { DifySource } from '../dify/dify.types';

/** Connection fields a request may carry instead of naming a configured source. */
export type SourceFields = Partial<Omit<DifySource, 'app_id'>> & { app_id: string };

const CONNECTION_FIELDS: (keyof DifySource)[] = [
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

  find(appId: string, organizationId?: string): DifySource | undefined {
    const matches = this.config.sources.filter((s) => s.app_id === appId);
    if (organizationId !== undefined) return matches.find((s) => (s.organization_id ?? undefined) === organizationId) ?? matches[0];
    return matches[0];
  }

  get(appId: string, organizationId?: string): DifySource {
    const found = this.find(appId, organizationId);
    if (!found) throw new NotFoundError(`no configured source has app_id ${appId}`, 'app_id');
    return found;
  }

  /**
   * A request either names a configured source by app_id (connection fields absent) or brings its own
   * connection fields. Either way every URL must be http(s) with an allowed host.
   */
  resolve(fields: SourceFields): DifySource {
    const bringsConnection = CONNECTION_FIELDS.some((f) => fields[f] !== undefined);
    let source: DifySource;
    if (!bringsConnection) {
      const configured = this.find(fields.app_id, fields.organization_id);
      if (!configured) {
        throw new InvalidRequestError(
          [`app_id ${fields.app_id} is not a configured source; send its connection fields (${ACCESS_MODE_RULE})`],
          'app_id',
        );
      }
      source = {
        ...configured,
        ...(fields.organization_id !== undefined ? { organization_id: fields.organization_id } : {}),
        ...(fields.users !== undefined ? { users: fields.users } : {}),
      };
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
