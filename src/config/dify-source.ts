import { createHash } from 'node:crypto';
import type { DifyAccessMode } from '../common/conversation-log';

/** Per-app settings of a whole-workspace source, keyed by the Dify App id. */
export interface WorkspaceAppOverride {
  /** the organization this app is archived under (default: the source's) */
  organization_id?: string;
}

/** Everything needed to reach one Dify app. Secrets live only here, in memory. */
export interface DifySource {
  /** path-safe id; in the console modes it is Dify's app UUID */
  app_id: string;
  organization_id?: string;
  /** display name */
  name?: string;
  /** Service API base, e.g. https://api.dify.ai/v1 */
  dify_api_url?: string;
  /** app key, `app-...` */
  api_key?: string;
  /** service mode: end-user ids (`user` strings) whose conversations are backed up */
  users?: string[];
  /** console API base, e.g. https://cloud.dify.ai/console/api */
  console_api_url?: string;
  admin_api_key?: string;
  workspace_id?: string;
  email?: string;
  password?: string;
  /**
   * console login: how the password is sent. `auto` (default) sends Base64 when the server reports
   * version 1.11 or later (Dify refuses plain text there) and plain text otherwise.
   */
  password_encoding?: 'auto' | 'base64' | 'plain';
  /** workflow apps: archive each run's node executions too (console modes only; sorted by `index`) */
  include_node_executions?: boolean;
  /**
   * A console source configured without `app_id` stands for every app of its workspace; its `app_id` is then
   * a key of the vault's own (`workspace-...`, see `workspaceSourceKey`), never a Dify app.
   */
  workspace?: boolean;
  /** whole workspace: only the apps matching one entry (an app id, an Agent id, a name with `*`, or `mode:<mode>`) */
  include?: string[];
  /** whole workspace: never the apps matching one entry (wins over `include`); such apps are never contacted */
  exclude?: string[];
  /** whole workspace: per-app settings by App id */
  apps?: Record<string, WorkspaceAppOverride>;
  /** whole workspace, at run time only: back up these App ids of it and no other ("Back up now" on one app) */
  only_app_ids?: string[];
}

export const WORKSPACE_RULE =
  'a source without app_id backs up a whole workspace and needs the console fields: ' +
  'console_api_url + admin_api_key + workspace_id, or console_api_url + email + password';

/**
 * The vault's key of a whole-workspace source: `workspace-<workspace id>` with an admin key, and for a login
 * (whose workspace is the account's) a short hash of the console URL and the e-mail, so no address shows.
 */
export function workspaceSourceKey(source: Partial<DifySource>): string {
  if (source.workspace_id) return `workspace-${source.workspace_id}`.slice(0, 64);
  const digest = createHash('sha256').update(`${source.console_api_url ?? ''}\n${(source.email ?? '').toLowerCase()}`).digest('hex');
  return `workspace-${digest.slice(0, 16)}`;
}

export function isWorkspaceSource(source: Pick<DifySource, 'workspace'>): boolean {
  return source.workspace === true;
}

export const ACCESS_MODE_RULE =
  'a source needs one of: dify_api_url + api_key (service mode); ' +
  'console_api_url + admin_api_key + workspace_id (console admin-key mode); ' +
  'console_api_url + email + password (console login mode)';

/** Which way a source reaches Dify; the console modes win because they see every conversation. */
export function accessModeOf(source: Partial<DifySource>): DifyAccessMode | null {
  if (source.console_api_url && source.admin_api_key && source.workspace_id) return 'console-admin';
  if (source.console_api_url && source.email && source.password) return 'console-login';
  if (source.dify_api_url && source.api_key) return 'service';
  return null;
}

/** The base URLs a source will contact. */
export function sourceUrls(source: Partial<DifySource>): string[] {
  return [source.dify_api_url, source.console_api_url].filter((u): u is string => !!u);
}
