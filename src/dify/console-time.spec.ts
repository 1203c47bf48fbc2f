import {
  consoleEndParam,
  consoleMinuteToUtcMs,
  consoleStartParam,
  formatConsoleMinute,
} from './console-time';

describe('console time window', () => {
  it('formats an instant in the account timezone, minute precision', () => {
    const at = Date.parse('2025-03-01T23:59:42Z');
    expect(formatConsoleMinute(at, 'Asia/Shanghai')).toBe('2025-03-02 07:59');
    expect(formatConsoleMinute(at, 'UTC')).toBe('2025-03-01 23:59');
    expect(formatConsoleMinute(at, 'America/Los_Angeles')).toBe('2025-03-01 15:59');
  });

  it('floors the start and keeps the end minute (Dify adds :59), so the window is never narrowed', () => {
    const start = new Date('2025-03-01T10:15:42.500Z');
    const end = new Date('2025-03-01T12:00:05Z');
    expect(consoleStartParam(start, 'Asia/Shanghai')).toBe('2025-03-01 18:15');
    expect(consoleEndParam(end, 'Asia/Shanghai')).toBe('2025-03-01 20:00');
    expect(consoleMinuteToUtcMs('2025-03-01 18:15', 'Asia/Shanghai')).toBe(Date.parse('2025-03-01T10:15:00Z'));
  });

  it('handles half-hour zones and date changes', () => {
    expect(consoleStartParam(Date.parse('2025-06-30T20:00:00Z'), 'Asia/Kolkata')).toBe('2025-07-01 01:30');
  });

  it('steps the start back when a DST fall-back makes the minute ambiguous (Dify reads the later one)', () => {
    // 2025-11-02 01:30 happens twice in New York: 05:30Z (EDT) and 06:30Z (EST)
    const firstOccurrence = Date.parse('2025-11-02T05:30:00Z');
    expect(consoleMinuteToUtcMs('2025-11-02 01:30', 'America/New_York')).toBe(Date.parse('2025-11-02T06:30:00Z'));
    const start = consoleStartParam(firstOccurrence, 'America/New_York');
    expect(consoleMinuteToUtcMs(start, 'America/New_York')).toBeLessThanOrEqual(firstOccurrence);
    const end = consoleEndParam(firstOccurrence, 'America/New_York');
    expect(consoleMinuteToUtcMs(end, 'America/New_York') + 59_000).toBeGreaterThanOrEqual(firstOccurrence);
  });

  it('never narrows across a sweep of instants and zones', () => {
    for (const zone of ['UTC', 'Asia/Shanghai', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe']) {
      for (let t = Date.parse('2025-03-29T00:00:07Z'); t < Date.parse('2025-04-07T00:00:00Z'); t += 37 * 60_000 + 13_000) {
        expect(consoleMinuteToUtcMs(consoleStartParam(t, zone), zone)).toBeLessThanOrEqual(t);
        expect(consoleMinuteToUtcMs(consoleEndParam(t, zone), zone) + 59_000).toBeGreaterThanOrEqual(Math.floor(t / 1000) * 1000);
      }
    }
  });
});
