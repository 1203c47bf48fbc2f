import { isLocalProcessGone, isLocalProcessRunning, PROCESS_ID, PROCESS_STARTED_AT } from '../common/process-liveness';
import { isWorkspaceSource, type DifySource } from '../config/dify-source';
import type { JournaledWrite } from '../log-storage/catalog';
import { organizationOf } from './workspace-selection';

/**
 * The journaled writes of these sources' conversations. A whole-workspace source takes the writes of its
 * organization (the apps it will list are not known yet), so it overlaps app sources and ad-hoc jobs that
 * hold other locks: a job settles only the writes of these sources whose writer is gone too
 * (`writesOfGoneReplicas`).
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
 * The journaled writes of replicas that are gone: this process's own id on an entry older than this process
 * (a pid reused after a restart), else a writer without a heartbeat that is not a running process of this
 * host. A live heartbeat always counts: two containers may share a host name without seeing each other's pids.
 */
export function writesOfGoneReplicas(live: Set<string>): (write: JournaledWrite) => boolean {
  return (write) => (write.writer === PROCESS_ID ? write.since < PROCESS_STARTED_AT : !live.has(write.writer) && !isLocalProcessRunning(write.writer));
}

/**
 * For a job holding its sources' locks: the writes of replicas gone (`writesOfGoneReplicas`), and those of a
 * process of this host name whose pid is not running, even while its heartbeat lasts (a lock is given back the
 * moment its holder dies, before the heartbeat lapses). Only two containers sharing a host name in separate
 * pid namespaces could be mistaken here, and then only the writes of an overlapping source (a workspace and
 * one of its apps) still in flight.
 */
export function writesOfGoneWriters(live: Set<string>): (write: JournaledWrite) => boolean {
  const gone = writesOfGoneReplicas(live);
  return (write) => gone(write) || isLocalProcessGone(write.writer, write.since);
}
