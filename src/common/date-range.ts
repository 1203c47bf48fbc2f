import { wallClock, zoneOffsetMs } from './time-zone';

/**
 * The one reading of a range's `start_date` / `end_date`, shared by backups, export, search and stats:
 * a plain date (`YYYY-MM-DD`) is a whole day in the archive's time zone, so as an end it means the end of
 * that day; a date-time is that instant.
 */

const PLAIN_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isPlainDate(value: unknown): value is string {
  return typeof value === 'string' && PLAIN_DATE.test(value);
}

/** The first millisecond of a calendar day in `timeZone`. */
export function startOfDayMs(day: string, timeZone = 'UTC'): number {
  const m = PLAIN_DATE.exec(day);
  if (!m) return Number.NaN;
  const midnightUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // 2026-02-30 would roll over into March: not a day
  if (Number.isNaN(midnightUtc) || new Date(midnightUtc).toISOString().slice(0, 10) !== day) return Number.NaN;
  const guess = midnightUtc - zoneOffsetMs(midnightUtc, timeZone);
  // the offset can differ at the day's start (a DST change in between): measure it there
  return midnightUtc - zoneOffsetMs(guess, timeZone);
}

/** Where a range starting at `value` starts, ms (NaN when unreadable). */
export function rangeStartMs(value: string, timeZone = 'UTC'): number {
  return isPlainDate(value) ? startOfDayMs(value, timeZone) : Date.parse(value);
}

/** Where a range ending at `value` ends, inclusive, ms: a plain date is the last millisecond of that day. */
export function rangeEndMs(value: string, timeZone = 'UTC'): number {
  if (!isPlainDate(value)) return Date.parse(value);
  const start = startOfDayMs(value, timeZone);
  if (Number.isNaN(start)) return start;
  const [y, mo, d] = value.split('-').map(Number);
  const next = new Date(Date.UTC(y, mo - 1, d + 1)).toISOString().slice(0, 10);
  return startOfDayMs(next, timeZone) - 1;
}

/** The day (`YYYY-MM-DD`, in `timeZone`) a range bound falls on: a plain date is itself. */
export function rangeDay(value: Date | string, timeZone = 'UTC'): string | null {
  if (isPlainDate(value)) return Number.isNaN(startOfDayMs(value, timeZone)) ? null : value;
  const ms = typeof value === 'string' ? Date.parse(value) : value.getTime();
  if (Number.isNaN(ms)) return null;
  const w = wallClock(ms, timeZone);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}
