import { consoleTimeToUnix, intParam, isoNaive } from './simulator.http';
import { SeededRandom } from './simulator.random';

describe(SeededRandom.name, () => {
  it('repeats its sequence for one seed and yields v4 UUIDs', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const seqA = Array.from({ length: 5 }, () => a.uuid());
    expect(Array.from({ length: 5 }, () => b.uuid())).toEqual(seqA);
    for (const id of seqA) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new SeededRandom(8).uuid()).not.toEqual(seqA[0]);
  });
});

describe(consoleTimeToUnix.name, () => {
  it('reads wall-clock minutes in the account timezone', () => {
    expect(consoleTimeToUnix('start', '2026-03-01 10:00', 'Asia/Shanghai', 0)).toBe(Date.UTC(2026, 2, 1, 2, 0, 0) / 1000);
    expect(consoleTimeToUnix('end', '2026-03-01 10:00', 'UTC', 59)).toBe(Date.UTC(2026, 2, 1, 10, 0, 59) / 1000);
    // daylight saving: New York is UTC-4 in July, UTC-5 in January
    expect(consoleTimeToUnix('start', '2026-07-01 08:00', 'America/New_York', 0)).toBe(Date.UTC(2026, 6, 1, 12) / 1000);
    expect(consoleTimeToUnix('start', '2026-01-01 08:00', 'America/New_York', 0)).toBe(Date.UTC(2026, 0, 1, 13) / 1000);
  });

  it('refuses other formats with invalid_param', () => {
    expect(() => consoleTimeToUnix('start', '2026-03-01T10:00', 'UTC', 0)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_param' }));
  });
});

describe(intParam.name, () => {
  it('applies the default and the range', () => {
    expect(intParam({}, 'limit', 20, 1, 100)).toBe(20);
    expect(intParam({ limit: '100' }, 'limit', 20, 1, 100)).toBe(100);
    expect(() => intParam({ limit: '101' }, 'limit', 20, 1, 100)).toThrow(expect.objectContaining({ code: 'invalid_param' }));
    expect(() => intParam({ limit: 'x' }, 'limit', 20, 1, 100)).toThrow(expect.objectContaining({ code: 'invalid_param' }));
  });
});

describe(isoNaive.name, () => {
  it('prints UTC without a zone suffix, like Python isoformat() of a naive datetime', () => {
    expect(isoNaive(Date.UTC(2025, 0, 16, 14, 30, 29) / 1000)).toBe('2025-01-16T14:30:29');
  });
});
