import { createHash } from 'node:crypto';
import type { ConsoleAuth } from './console-auth';
import { consoleJson } from './console-json';
import { DifyBadResponseError, DifyNotFoundError } from './dify.errors';
import type { AppConfigExport } from './dify.types';

/**
 * An app's configuration (model, prompt, variables, workflow graph) through Dify's DSL export.
 * Always `include_secret=false`: the vault never asks Dify for the secrets an app holds.
 */
export class AppConfigClient {
  constructor(private readonly auth: ConsoleAuth) {}

  async getAppConfig(appId: string): Promise<AppConfigExport> {
    const body = await consoleJson<{ data?: unknown }>(this.auth, `/apps/${encodeURIComponent(appId)}/export`, { include_secret: 'false' }, {
      on404: (code) => new DifyNotFoundError(`Dify has no app ${appId} to export (404): it may have been deleted`, 404, code, 'app_id'),
    });
    if (typeof body.data !== 'string') {
      throw new DifyBadResponseError(`Dify answered the DSL export of app ${appId} without its YAML`);
    }
    return { yaml: body.data, sha256: createHash('sha256').update(body.data, 'utf8').digest('hex') };
  }
}
