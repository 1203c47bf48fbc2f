import { AgentAppClient } from './agent-app.client';
import { AppConfigClient } from './app-config.client';
import { ConsoleAppClient } from './console-app.client';
import type { ConsoleAuth } from './console-auth';
import { DifyNotFoundError } from './dify.errors';
import type { AppConfigExport, ConversationRef, Coverage, CrawlWindow, DifyAccessMode, DifyApp, DifyAppClient, DifySource } from './dify.types';
import { WorkspaceClient } from './workspace.client';

/**
 * One console source's app, whatever its mode: the classic modes through the app routes, Dify 1.16's
 * Agent apps (absent from the plain app listing) through the Agent logs.
 */
export class ConsoleSourceClient implements DifyAppClient {
  private readonly classic: ConsoleAppClient;
  private agent: AgentAppClient | null = null;

  constructor(
    readonly accessMode: Exclude<DifyAccessMode, 'service'>,
    private readonly source: DifySource,
    private readonly auth: ConsoleAuth,
  ) {
    this.classic = new ConsoleAppClient(accessMode, source, auth);
  }

  async getApp(): Promise<DifyApp> {
    try {
      return await this.classic.getApp();
    } catch (error) {
      if (!(error instanceof DifyNotFoundError)) throw error;
      try {
        return await this.agentClient().getApp();
      } catch (agentError) {
        throw agentError instanceof DifyNotFoundError ? error : agentError;
      }
    }
  }

  coverage(app: DifyApp): Coverage {
    return this.clientFor(app).coverage(app);
  }

  listConversations(app: DifyApp, window: CrawlWindow): AsyncIterable<ConversationRef> {
    return this.clientFor(app).listConversations(app, window);
  }

  getMessages(app: DifyApp, ref: ConversationRef): Promise<Record<string, unknown>[]> {
    return this.clientFor(app).getMessages(app, ref);
  }

  takeWarnings(): string[] {
    return [...this.classic.takeWarnings(), ...(this.agent?.takeWarnings() ?? [])];
  }

  /** The App id's DSL, Agent apps included, over this source's session. */
  getAppConfig(app: DifyApp): Promise<AppConfigExport> {
    return new AppConfigClient(this.auth).getAppConfig(app.id);
  }

  /** The whole workspace with this source's session. */
  workspace(): WorkspaceClient {
    return new WorkspaceClient(this.accessMode, this.source, this.auth);
  }

  private clientFor(app: DifyApp): DifyAppClient {
    return app.mode === 'agent' ? this.agentClient() : this.classic;
  }

  private agentClient(): AgentAppClient {
    this.agent ??= new AgentAppClient(this.accessMode, this.source, this.auth);
    return this.agent;
  }
}
