import { rangeDay, rangeEndMs, rangeStartMs } from './date-range';

describe('date-range', () => {
  it('reads a plain end date as the end of that day, a date-time as itself', () => {
    expect(new Date(rangeEndMs('2026-12-05')).toISOString()).toBe('2026-12-05T23:59:59.999Z');
    expect(new Date(rangeEndMs('2026-12-05T10:00:00+02:00')).toISOString()).toBe('2026-12-05T08:00:00.000Z');
    expect(new Date(rangeStartMs('2026-12-05')).toISOString()).toBe('2026-12-05T00:00:00.000Z');
  });

  it('takes the day in the archive time zone, across a DST change', () => {
    expect(new Date(rangeStartMs('2026-12-05', 'Asia/Shanghai')).toISOString()).toBe('2026-12-04T16:00:00.000Z');
    expect(new Date(rangeEndMs('2026-12-05', 'Asia/Shanghai')).toISOString()).toBe('2026-12-05T15:59:59.999Z');
    // Berlin switches to summer time on 2026-03-29: that day has 23 hours
    expect(new Date(rangeStartMs('2026-03-29', 'Europe/Berlin')).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(new Date(rangeEndMs('2026-03-29', 'Europe/Berlin')).toISOString()).toBe('2026-03-29T21:59:59.999Z');
  });

  it('names the day a bound falls on, or null when it is no date', () => {
    expect(rangeDay('2026-12-05')).toBe('2026-12-05');
    expect(rangeDay('2026-12-05T20:00:00Z', 'Asia/Shanghai')).toBe('2026-12-06');
    expect(rangeDay(new Date('2026-12-05T23:00:00Z'))).toBe('2026-12-05');
    expect(rangeDay('2026-02-30')).toBeNull();
    expect(rangeDay('soon')).toBeNull();
  });
});
