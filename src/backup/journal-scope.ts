import { isLocalProcessGone, isLocalProcessRunning } from '../common/process-liveness';
import { isWorkspaceSource, type DifySource } from '../config/dify-source';
import type { JournaledWrite } from '../log-storage/catalog';
import { organizationOf } from './workspace-selection';

/**
 * The journaled writes of these sources' conversations. Only a holder of a source's backup lock writes its
 * conversations, so while this process holds the locks every such write it does not have in flight was
 * cut short (see `WriteJournal`), whichever replica wrote it and however recently it died. A whole-workspace
 * source takes the writes of its organization (the apps it will list are not known yet).
 */
export function writesOfSources(sources: DifySource[]): (write: JournaledWrite) => boolean {
  return (write) =>
    sources.some((source) =>
      isWorkspaceSource(source)
        ? (organizationOf(source, write.app_id) ?? '') === write.org_key
        : (source.organization_id ?? '') === write.org_key && source.app_id === write.app_id,
    );
}

/**
 * The journaled writes of replicas that are gone: not among the live ones (heartbeat), and not a process of
 * this host still running; this process's own from before a restart under the same id too.
 */
export function writesOfGoneReplicas(live: Set<string>): (write: JournaledWrite) => boolean {
  return (write) => isLocalProcessGone(write.writer, write.since) || (!live.has(write.writer) && !isLocalProcessRunning(write.writer));
}
