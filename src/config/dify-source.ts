import type { DifyAccessMode } from '../common/conversation-log';

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
