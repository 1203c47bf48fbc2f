import { formatBytes, formatDateTime, formatNumber, formatRelative, isoDayBefore, progressPercent } from './format';

describe('admin format helpers', () => {
  it('formats sizes and counts', () => {
    expect([formatBytes(0), formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['0 B', '512 B', '1.5 KB', '5.0 GB']);
    expect([formatNumber(0), formatNumber(1234567)]).toEqual(['0', '1,234,567']);
  });

  it('formats times in UTC and relative to now', () => {
    const now = Date.parse('2025-10-15T12:00:00Z');
    expect(formatDateTime('2025-10-15T08:30:59Z')).toBe('2025-10-15 08:30 UTC');
    expect(formatDateTime(null)).toBe('—');
    expect(formatRelative('2025-10-15T11:57:00Z', now)).toBe('3 min ago');
    expect(formatRelative('2025-10-16T02:00:00Z', now)).toBe('in 14 h');
    expect(formatRelative('2025-10-10T12:00:00Z', now)).toBe('5 days ago');
    expect(isoDayBefore(new Date(now), 13)).toBe('2025-10-02');
  });

  it('counts progress over the conversations seen, and only reports 100 when done', () => {
    expect(progressPercent({ seen: 0 }, false)).toBe(0);
    expect(progressPercent({ seen: 40, saved: 10, unchanged: 9, failed: 1 }, false)).toBe(50);
    expect(progressPercent({ seen: 40, saved: 40, unchanged: 0, failed: 0 }, false)).toBe(99);
    expect(progressPercent({ seen: 40, saved: 3 }, true)).toBe(100);
  });
});
