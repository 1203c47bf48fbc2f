/**
 * Dify's console filters `start`/`end` as `YYYY-MM-DD HH:MM` wall-clock minutes in the ACCOUNT's timezone
 * (start at :00, end at :59, both inclusive). These pure helpers turn instants into such parameters without
 * ever narrowing the window: a start may come out earlier, an end later, never the other way round.
 */

import { wallClock, zoneOffsetMs } from '../common/time-zone';

const MINUTE_MS = 60_000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function floorToMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** The wall-clock minute of an instant in a zone, as the console expects it. */
export function formatConsoleMinute(ms: number, timeZone: string): string {
  const w = wallClock(ms, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`;
}

/**
 * The instant Dify reads for a console minute string. Dify localises with pytz's default, which for a
 * wall-clock time that occurs twice (DST fall-back) picks the later instant.
 */
export function consoleMinuteToUtcMs(text: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`not a console minute: ${text}`);
  const naive = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  const offsets = new Set<number>();
  for (const probe of [-86_400_000, -3_600_000, 0, 3_600_000, 86_400_000]) {
    offsets.add(zoneOffsetMs(naive + probe, timeZone));
  }
  const matches = [...offsets].map((o) => naive - o).filter((u) => formatConsoleMinute(u, timeZone) === text);
  if (matches.length) return Math.max(...matches);
  // a wall-clock time skipped by DST: pytz keeps the standard (smaller) offset
  return naive - Math.min(...offsets);
}

/** `start` for an instant: floored to its minute, stepped back when Dify would read that minute later. */
export function consoleStartParam(at: Date | number, timeZone: string): string {
  const floor = floorToMinute(typeof at === 'number' ? at : at.getTime());
  for (let stepBack = 0; stepBack <= 4; stepBack++) {
    const text = formatConsoleMinute(floor - stepBack * 30 * MINUTE_MS, timeZone);
    if (consoleMinuteToUtcMs(text, timeZone) <= floor) return text;
  }
  return formatConsoleMinute(floor - 3 * 3_600_000, timeZone);
}

/** `end` for an instant: its minute (Dify adds :59), stepped forward when Dify would read it earlier. */
export function consoleEndParam(at: Date | number, timeZone: string): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  const floor = floorToMinute(ms);
  for (let step = 0; step <= 4; step++) {
    const text = formatConsoleMinute(floor + step * 30 * MINUTE_MS, timeZone);
    if (consoleMinuteToUtcMs(text, timeZone) + 59_000 >= Math.floor(ms / 1000) * 1000) return text;
  }
  return formatConsoleMinute(floor + 3 * 3_600_000, timeZone);
}
