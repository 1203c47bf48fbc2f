import { windowFromFilters, WindowError } from './crawl-window';

describe(windowFromFilters.name, () => {
  const now = new Date('2025-10-15T12:00:00Z');

  it('parses ISO dates and keeps from_source', () => {
    expect(windowFromFilters({ start_date: '2025-10-01', end_date: '2025-10-02T10:00:00+02:00', from_source: 'api' }, now)).toEqual({
      start: new Date('2025-10-01T00:00:00Z'),
      end: new Date('2025-10-02T08:00:00Z'),
      from_source: 'api',
    });
  });

  it('reads a plain end_date as the end of that day, in the archive time zone', () => {
    expect(windowFromFilters({ start_date: '2025-10-01', end_date: '2025-10-05' }, now)).toEqual({
      start: new Date('2025-10-01T00:00:00.000Z'),
      end: new Date('2025-10-05T23:59:59.999Z'),
    });
    expect(windowFromFilters({ start_date: '2025-10-01', end_date: '2025-10-05' }, now, 'Asia/Shanghai')).toEqual({
      start: new Date('2025-09-30T16:00:00.000Z'),
      end: new Date('2025-10-05T15:59:59.999Z'),
    });
    // the same day as start and end is that whole day, not an empty range
    expect(windowFromFilters({ start_date: '2025-10-05', end_date: '2025-10-05' }, now).end).toEqual(new Date('2025-10-05T23:59:59.999Z'));
  });

  it('treats an end in the future as now, and no filters as everything', () => {
    expect(windowFromFilters({ end_date: '2030-01-01' }, now)).toEqual({ end: now });
    expect(windowFromFilters(undefined, now)).toEqual({});
  });

  it('refuses reversed ranges and starts in the future, naming the field', () => {
    expect(() => windowFromFilters({ start_date: '2025-10-05', end_date: '2025-10-01' }, now)).toThrow(
      new WindowError('filters.end_date', 'filters.end_date must not be before filters.start_date'),
    );
    try {
      windowFromFilters({ start_date: '2026-01-01' }, now);
      throw new Error('expected a WindowError');
    } catch (e) {
      expect((e as WindowError).field).toBe('filters.start_date');
    }
  });
});
