import type { CrawlWindow } from './dify.types';

/** Exact window test on Unix seconds: active = created or updated inside [start, end]. */
export function isActiveIn(window: CrawlWindow, createdAt: number, updatedAt: number): boolean {
  const inside = (sec: number) =>
    Number.isFinite(sec) &&
    (!window.start || sec * 1000 >= window.start.getTime()) &&
    (!window.end || sec * 1000 <= window.end.getTime());
  return inside(createdAt) || inside(updatedAt);
}

export function matchesSource(window: CrawlWindow, fromSource: unknown): boolean {
  return !window.from_source || fromSource === window.from_source;
}

/** Unix seconds from a Dify value (integer seconds, numeric string, or an ISO string meaning UTC). */
export function unixSeconds(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value);
  if (typeof value === 'string' && value.trim()) {
    if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.floor(Number(value));
    const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`;
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  return Number.NaN;
}
