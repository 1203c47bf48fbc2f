import type { DifySource } from '../config/dify-source';
import type { WorkspaceApp } from '../dify/dify.types';

/** An app of a whole-workspace source that the source's lists leave out, and the entry that did it. */
export interface ExcludedApp {
  app: WorkspaceApp;
  reason: string;
}

/**
 * Whether one include/exclude entry names the app: `mode:<mode>`, a name pattern with `*` (whole name,
 * case-insensitive), or an exact App id, Agent id or name.
 */
export function matchesEntry(app: WorkspaceApp, entry: string): boolean {
  if (entry.startsWith('mode:')) return app.mode === entry.slice('mode:'.length);
  if (entry === app.id || (app.agent_id !== undefined && entry === app.agent_id)) return true;
  if (!entry.includes('*')) return entry.toLowerCase() === app.name.toLowerCase();
  const pattern = entry
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`, 'i').test(app.name);
}

/** The apps a whole-workspace source backs up; `exclude` wins over `include`, an absent `include` means all. */
export function selectApps(
  apps: WorkspaceApp[],
  source: Pick<DifySource, 'include' | 'exclude' | 'only_app_ids'>,
): { selected: WorkspaceApp[]; excluded: ExcludedApp[] } {
  const selected: WorkspaceApp[] = [];
  const excluded: ExcludedApp[] = [];
  for (const app of apps) {
    const excludedBy = source.exclude?.find((e) => matchesEntry(app, e));
    if (excludedBy !== undefined) {
      excluded.push({ app, reason: `excluded by "${excludedBy}"` });
    } else if (source.include && !source.include.some((e) => matchesEntry(app, e))) {
      excluded.push({ app, reason: 'matches no include entry' });
    } else if (source.only_app_ids && !source.only_app_ids.includes(app.id)) {
      continue; // a run for other apps of the workspace: this one is simply not part of it
    } else {
      selected.push(app);
    }
  }
  return { selected, excluded };
}

/** The organization an app of a whole-workspace source is archived under. */
export function organizationOf(source: Pick<DifySource, 'organization_id' | 'apps'>, appId: string): string | undefined {
  return source.apps?.[appId]?.organization_id ?? source.organization_id;
}
