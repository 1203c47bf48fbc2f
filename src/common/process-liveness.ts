import * as os from 'node:os';

/** When this process started, as epoch ms. */
export const PROCESS_STARTED_AT = Date.now() - Math.round(process.uptime() * 1000);

/** Whether a process with this pid exists on this host (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A temp file named `<name>.<pid>.<random>.tmp` is abandoned when its writer is gone: the pid is not alive,
 * or it is this process's pid but the file is older than this process (a pid reused after a restart, as in
 * containers where the service is always pid 1).
 */
export function isAbandonedTemp(fileName: string, mtimeMs: number): boolean {
  const match = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(fileName);
  if (!match) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return mtimeMs < PROCESS_STARTED_AT;
  return !isProcessAlive(pid);
}

/** This process among the processes sharing an archive: `<host name>:<pid>` (a replica's id too). */
export const PROCESS_ID = `${os.hostname()}:${process.pid}`;

/**
 * Whether the process `<host name>:<pid>` that recorded something at `sinceMs` is gone, as far as this host
 * can tell: a process of this host whose pid is not alive, or this process's pid on a record older than this
 * process (a pid reused, as in containers). A process of another host is never known gone here.
 */
export function isLocalProcessGone(processId: string, sinceMs: number): boolean {
  const colon = processId.lastIndexOf(':');
  if (colon < 0 || processId.slice(0, colon) !== os.hostname()) return false;
  const pid = Number(processId.slice(colon + 1));
  if (pid === process.pid) return sinceMs < PROCESS_STARTED_AT;
  return !isProcessAlive(pid);
}

/** Whether `<host name>:<pid>` is a process of this host that is running now (this one included). */
export function isLocalProcessRunning(processId: string): boolean {
  const colon = processId.lastIndexOf(':');
  if (colon < 0 || processId.slice(0, colon) !== os.hostname()) return false;
  return isProcessAlive(Number(processId.slice(colon + 1)));
}
