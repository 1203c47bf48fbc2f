/**
 * Tests that need an external program fail (never skip) with one line saying how to install it.
 * CI installs all of them (.ci/run); a developer without them sees exactly what is missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The full path of an executable on PATH (plus the sbin folders), or undefined. */
export function which(binary: string): string | undefined {
  if (binary.includes('/')) return isExecutable(binary) ? binary : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH_PATH];
  for (const dir of dirs) {
    const full = path.join(dir, binary);
    if (isExecutable(full)) return full;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class MissingDependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingDependencyError';
    // one clear line in jest's output, without a stack trace pointing into the helper
    this.stack = `${this.name}: ${message}`;
  }
}

/** Throws one line (`message`) naming the fix when any of `binaries` is missing. */
export function requireBinaries(binaries: string[], message: string): void {
  const missing = binaries.filter((b) => !which(b));
  if (missing.length > 0) throw new MissingDependencyError(`${message} (missing: ${missing.join(', ')})`);
}

export const S3_REQUIREMENT =
  "S3 tests need Debian's Ceph RADOS Gateway: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd ceph-common";
export const POSTGRES_REQUIREMENT =
  "PostgreSQL tests need Debian's PostgreSQL server: apt-get install --no-install-recommends postgresql";
export const PODMAN_REQUIREMENT =
  'Container tests need podman, runc and debootstrap: apt-get install --no-install-recommends podman runc debootstrap uidmap slirp4netns fuse-overlayfs';
