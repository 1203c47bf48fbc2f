import * as path from 'node:path';

/** Letters, digits, `.`, `_`, `-`; not `.` or `..`; 1 to 64 characters. */
export const SAFE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const SAFE_NAME_RULE =
  'must be 1 to 64 characters of letters, digits, ".", "_" or "-", and not "." or ".."';

export function isSafeName(value: unknown): value is string {
  return typeof value === 'string' && SAFE_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

/**
 * Joins `parts` under `root` and guarantees the result stays inside it.
 * Throws when a part would escape (defence in depth behind input validation).
 */
export function resolveInside(root: string, ...parts: string[]): string {
  const base = path.resolve(root);
  const target = path.resolve(base, ...parts);
  if (target !== base && !target.startsWith(base + path.sep)) {
    throw new Error('path escapes the archive root');
  }
  return target;
}
