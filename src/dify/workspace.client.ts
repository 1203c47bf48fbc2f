import { Logger } from '@nestjs/common';
import { AgentAppClient, allPages, isNoAgentSupport, ROSTER_WARNING, rosterAgentIds } from './agent-app.client';
import { NOTHING_TO_BACK_UP, toAppMode } from './app-mode';
import { AppConfigClient } from './app-config.client';
import { ConsoleAppClient } from './console-app.client';
import type { ConsoleAuth } from './console-auth';
import { consoleJson } from './console-json';
import type {
  AppConfigExport,
  DifyAccessMode,
  DifyAppClient,
  DifyWorkspaceSource,
  SkippedApp,
  WorkspaceApp,
  WorkspaceAppListing,
} from './dify.types';

type Row = Record<string, unknown>;

const nameOf = (row: Row) => (typeof row.name === 'string' ? row.name : String(row.id));

/**
 * Every app of one workspace through a console source (admin key + workspace id, or a login session), with
 * one session shared by the listing and every app client it hands out.
 */
export class WorkspaceClient {
  private readonly logger = new Logger(WorkspaceClient.name);
  private readonly configs: AppConfigClient;
  private readonly get = <T = Row>(path: string, query?: Record<string, string | number | undefined>) =>
    consoleJson<T>(this.auth, path, query);

  constructor(
    readonly accessMode: Exclude<DifyAccessMode, 'service'>,
    private readonly source: DifyWorkspaceSource,
    private readonly auth: ConsoleAuth,
  ) {
    this.configs = new AppConfigClient(auth);
  }

  /**
   * All pages of `mode=all` (which leaves Agent apps out) plus all pages of `mode=agent`. An Agent app's
   * Agent id is its `bound_agent_id`; only when that is missing is the roster read (a write in Dify: said in
   * `warnings`). A Dify without Agent routes has no Agent apps. Apps holding no conversations (`channel`,
   * `rag-pipeline`) and unknown modes are returned in `skipped`.
   */
  async listApps(): Promise<WorkspaceAppListing> {
    const apps = new Map<string, WorkspaceApp>();
    const skipped: SkippedApp[] = [];
    const warnings: string[] = [];
    const agentRows: Row[] = [];

    for (const row of await allPages(this.get, '/apps', { mode: 'all' })) {
      const mode = toAppMode(row.mode);
      const id = String(row.id);
      if (mode === 'agent') agentRows.push(row);
      else if (mode) apps.set(id, { id, name: nameOf(row), mode });
      else skipped.push(skip(row));
    }
    try {
      agentRows.push(...(await allPages(this.get, '/apps', { mode: 'agent' })));
    } catch (error) {
      if (!isNoAgentSupport(error)) throw error;
      this.logger.log('This Dify has no Agent apps (no mode=agent listing)');
    }

    const unbound: Row[] = [];
    for (const row of agentRows) {
      const id = String(row.id);
      const bound = typeof row.bound_agent_id === 'string' && row.bound_agent_id ? row.bound_agent_id : undefined;
      if (bound) apps.set(id, { id, name: nameOf(row), mode: 'agent', agent_id: bound });
      else if (!apps.has(id)) unbound.push(row);
    }
    if (unbound.length > 0) {
      const roster = await rosterAgentIds(this.get);
      if (roster) {
        warnings.push(`${unbound.length} Agent app(s) without bound_agent_id: ${ROSTER_WARNING}`);
        this.logger.warn(`Read the Agent roster for ${unbound.length} Agent app(s) without bound_agent_id`);
      }
      for (const row of unbound) {
        const id = String(row.id);
        const agentId = roster?.get(id);
        if (agentId) apps.set(id, { id, name: nameOf(row), mode: 'agent', agent_id: agentId });
        else skipped.push({ id, name: nameOf(row), mode: 'agent', reason: 'Dify gives no Agent id for this Agent app (not in the listing, not in the roster)' });
      }
    }
    const listed = [...apps.values()];
    this.logger.log(`Listed ${listed.length} apps to back up, ${skipped.length} skipped`);
    return { apps: listed, skipped, warnings };
  }

  /** The client for one listed app, sharing this workspace's session. */
  clientFor(app: WorkspaceApp): DifyAppClient {
    const source = { ...this.source, app_id: app.id, name: app.name };
    if (app.mode === 'agent') return new AgentAppClient(this.accessMode, source, this.auth, app.agent_id);
    return new ConsoleAppClient(this.accessMode, source, this.auth);
  }

  /** The app's DSL (configuration), never with its secrets. */
  getAppConfig(appId: string): Promise<AppConfigExport> {
    return this.configs.getAppConfig(appId);
  }
}

function skip(row: Row): SkippedApp {
  const mode = String(row.mode);
  return {
    id: String(row.id),
    name: nameOf(row),
    mode,
    reason: NOTHING_TO_BACK_UP.includes(mode) ? `${mode} apps hold no conversations to back up` : `app mode ${mode} is not supported`,
  };
}
