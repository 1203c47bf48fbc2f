import { DifyBadRequestError } from './dify.errors';
import type { ConversationRef, Coverage, CrawlWindow, DifyApp, DifyAppClient, DifySource } from './dify.types';

/**
 * One app, one identity, in service mode. An app key names no app id anywhere Dify answers it (`/info`,
 * `/site`, `/parameters`, `/meta` give name, description, mode, settings; conversations, messages and runs
 * carry no app id), so a key of another app than the source's `app_id` cannot be told by its id. What can
 * be told: the source's `name`, when set, against the key's app name; and the key's mode (Agent apps are
 * reached through the console only). A mismatch is refused before anything is listed, so no file ever
 * pairs one app's `app_id` with another app's name. Without `name` the key's own app name is archived.
 */
export class ServiceIdentityGuard implements DifyAppClient {
  readonly accessMode = 'service' as const;

  constructor(
    private readonly source: DifySource,
    private readonly inner: DifyAppClient,
  ) {}

  async getApp(): Promise<DifyApp> {
    const app = await this.inner.getApp();
    if (app.mode === 'agent') {
      throw new DifyBadRequestError(
        'api_key belongs to an Agent app: its conversations are only readable through the console (console_api_url with admin_api_key + workspace_id, or email + password)',
        400,
        'agent_app_key',
        'api_key',
      );
    }
    const expected = this.source.name?.trim();
    if (expected && expected !== app.name.trim()) {
      throw new DifyBadRequestError(
        `api_key belongs to the Dify app "${app.name}", not to "${expected}" named by this source (app_id ${this.source.app_id}): ` +
          'refusing to archive one app under another app_id. Fix api_key, or name if the app was renamed in Dify',
        400,
        'app_identity_mismatch',
        'api_key',
      );
    }
    return app;
  }

  coverage(app: DifyApp): Coverage {
    return this.inner.coverage(app);
  }

  listConversations(app: DifyApp, window: CrawlWindow): AsyncIterable<ConversationRef> {
    return this.inner.listConversations(app, window);
  }

  getMessages(app: DifyApp, ref: ConversationRef): Promise<Record<string, unknown>[]> {
    return this.inner.getMessages(app, ref);
  }

  takeWarnings(): string[] {
    return this.inner.takeWarnings?.() ?? [];
  }
}
