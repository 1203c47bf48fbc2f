import { WallClock, wallClock } from '../common/time-zone';
import { isSafeName, resolveInside } from '../common/safe-name';

/** Pure path and day helpers for the archive layout. Relative paths always use `/`. */

export const CONVERSATIONS_DIR = 'conversations';

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const STAMP_PATTERN = '\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}-\\d{3}(?:Z|[+-]\\d{2}-\\d{2})';
const SAFE = '[A-Za-z0-9._-]{1,64}';
const FILE_PATH_PATTERN = new RegExp(
  `^${CONVERSATIONS_DIR}/(?:(${SAFE})/)?(\\d{4})/(\\d{2})/(\\d{2})/conversation_(${SAFE})_(${STAMP_PATTERN})\\.json(\\.gz)?$`,
);

export interface LocalTime {
  /** YYYY-MM-DD in the zone */
  day: string;
  /** YYYY-MM-DDTHH-mm-ss-SSS followed by `Z` (offset 0) or e.g. `+01-00` */
  stamp: string;
}

export interface ArchivePathInfo {
  organization_id: string | null;
  /** the day folder, YYYY-MM-DD */
  day: string;
  /** the day folder itself, relative */
  dir: string;
  conversation_id: string;
  compressed: boolean;
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** Wall-clock parts of `date` in `timeZone`, and the zone's offset there in minutes. */
interface ZonedParts extends WallClock {
  ms: number;
  offsetMinutes: number;
}

function zoned(date: Date, timeZone: string): ZonedParts {
  const parts = wallClock(date.getTime(), timeZone);
  const ms = date.getUTCMilliseconds();
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second, ms);
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    hour: parts.hour,
    minute: parts.minute,
    second: parts.second,
    ms,
    offsetMinutes: Math.round((asUtc - date.getTime()) / 60000),
  };
}

export function parseInstant(iso: string): Date {
  const date = new Date(iso);
  if (typeof iso !== 'string' || Number.isNaN(date.getTime())) {
    throw new Error(`created_at is not a valid date: ${String(iso)}`);
  }
  return date;
}

export function localTime(instant: Date | string, timeZone: string): LocalTime {
  const date = typeof instant === 'string' ? parseInstant(instant) : instant;
  const z = zoned(date, timeZone);
  const day = `${pad(z.year, 4)}-${pad(z.month)}-${pad(z.day)}`;
  const offset =
    z.offsetMinutes === 0
      ? 'Z'
      : `${z.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(z.offsetMinutes) / 60))}-${pad(Math.abs(z.offsetMinutes) % 60)}`;
  return { day, stamp: `${day}T${pad(z.hour)}-${pad(z.minute)}-${pad(z.second)}-${pad(z.ms, 3)}${offset}` };
}

/** Today's date (YYYY-MM-DD) in the zone. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  return localTime(now, timeZone).day;
}

export function isValidDay(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DAY_PATTERN.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** Calendar arithmetic on YYYY-MM-DD (no time zone involved). */
export function addDays(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** The first day that is kept: day folders before it are older than `daysToKeep` days. */
export function retentionCutoff(daysToKeep: number, timeZone: string, now: Date = new Date()): string {
  return addDays(todayIn(timeZone, now), -daysToKeep);
}

export function dayDir(organizationId: string | null, day: string): string {
  const [y, m, d] = day.split('-');
  return [CONVERSATIONS_DIR, ...(organizationId ? [organizationId] : []), y, m, d].join('/');
}

export function conversationFileName(conversationId: string, stamp: string): string {
  return `conversation_${conversationId}_${stamp}.json`;
}

export interface PathSubject {
  conversation_id: string;
  organization_id: string | null;
  created_at: string;
}

/** Where a conversation's file belongs; throws when a name is not path-safe. */
export function conversationPath(conv: PathSubject, timeZone: string): string {
  if (!isSafeName(conv.conversation_id)) throw new Error('conversation_id is not a safe name');
  if (conv.organization_id !== null && !isSafeName(conv.organization_id)) {
    throw new Error('organization_id is not a safe name');
  }
  const { day, stamp } = localTime(conv.created_at, timeZone);
  return `${dayDir(conv.organization_id, day)}/${conversationFileName(conv.conversation_id, stamp)}`;
}

/** Reads the identity out of a relative file path; null for anything that is not an archive file. */
export function parseArchivePath(relative: string): ArchivePathInfo | null {
  if (typeof relative !== 'string' || relative.length > 512) return null;
  const m = FILE_PATH_PATTERN.exec(relative);
  if (!m) return null;
  const [, org, y, mo, d, conversationId, , gz] = m;
  if (org !== undefined && !isSafeName(org)) return null;
  if (!isSafeName(conversationId)) return null;
  const day = `${y}-${mo}-${d}`;
  if (!isValidDay(day)) return null;
  return {
    organization_id: org ?? null,
    day,
    dir: dayDir(org ?? null, day),
    conversation_id: conversationId,
    compressed: gz !== undefined,
  };
}

/** A relative archive path turned absolute; throws when it would leave `root`. */
export function absoluteInside(root: string, relative: string): string {
  return resolveInside(root, ...archiveKeyParts(relative));
}

/** The segments of an archive key; throws when the key would leave the archive (`..`, empty segments, backslashes, NUL). */
export function archiveKeyParts(relative: string): string[] {
  if (relative.includes('\\') || relative.includes('\0')) throw new Error('path escapes the archive root');
  const parts = relative.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new Error('path escapes the archive root');
  return parts;
}

export function gzPathOf(relative: string): string {
  return relative.endsWith('.gz') ? relative : `${relative}.gz`;
}

/** The plain file a gzipped one was made from (compression), or null for a path that is not gzipped. */
export function plainPathOf(relative: string): string | null {
  return relative.endsWith('.gz') ? relative.slice(0, -'.gz'.length) : null;
}
