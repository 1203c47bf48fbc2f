/** Display helpers for the admin page: pure, locale-independent, safe on missing values. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '0';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `2025-10-15 08:30 UTC` */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `3 min ago`, `in 2 h`, `yesterday`… relative to `now`. */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const diff = t - now;
  const abs = Math.abs(diff);
  const say = (n: number, unit: string) => (diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < 45_000) return diff < 0 ? 'just now' : 'in a moment';
  if (abs < 3_600_000) return say(Math.round(abs / 60_000), 'min');
  if (abs < 48 * 3_600_000) return say(Math.round(abs / 3_600_000), 'h');
  return say(Math.round(abs / 86_400_000), 'days');
}

export interface ProgressCounts {
  seen: number;
  saved: number;
  unchanged: number;
  failed: number;
}

/** saved + unchanged + failed over seen, 100 when the job is done. */
export function progressPercent(p: Partial<ProgressCounts> | null | undefined, done: boolean): number {
  if (done) return 100;
  const seen = p?.seen ?? 0;
  if (seen <= 0) return 0;
  const handled = (p?.saved ?? 0) + (p?.unchanged ?? 0) + (p?.failed ?? 0);
  return Math.max(0, Math.min(99, Math.floor((handled / seen) * 100)));
}

/** YYYY-MM-DD of `date` in UTC, `days` days before it. */
export function isoDayBefore(date: Date, days: number): string {
  return new Date(date.getTime() - days * 86_400_000).toISOString().slice(0, 10);
}

/** "1 message", "2 messages", "1,024 messages" */
export function countOf(n: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${formatNumber(n)} ${n === 1 ? noun : pluralNoun}`;
}
