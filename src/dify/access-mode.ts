import type { DifyAccessMode, DifySource } from './dify.types';

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
