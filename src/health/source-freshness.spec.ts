import { freshnessOf } from './source-freshness';

describe(freshnessOf.name, () => {
  const now = new Date('2025-06-10T12:00:00Z');
  const started = new Date('2025-06-10T00:00:00Z');
  const source = { app_id: 'bot', organization_id: 'acme', last_success_at: null, last_run_at: null };

  it('names a source by organization and app only', () => {
    expect(freshnessOf(source, now, started, 36).label).toBe('acme/bot');
    expect(freshnessOf({ ...source, organization_id: null }, now, started, 36).label).toBe('bot');
  });

  it('is stale once the last success is older than the threshold', () => {
    const at = (iso: string) => freshnessOf({ ...source, last_success_at: iso, last_run_at: iso }, now, started, 36);
    expect(at('2025-06-09T00:00:00Z')).toEqual({
      label: 'acme/bot',
      lastSuccessAt: new Date('2025-06-09T00:00:00Z'),
      lastRunAt: new Date('2025-06-09T00:00:00Z'),
      stale: false,
    });
    expect(at('2025-06-09T00:00:00Z').stale).toBe(false); // exactly 36 h
    expect(at('2025-06-08T23:59:59Z').stale).toBe(true);
  });

  it('measures a source that never succeeded from the start of the process', () => {
    expect(freshnessOf(source, now, started, 36).stale).toBe(false);
    expect(freshnessOf(source, now, new Date('2025-06-08T00:00:00Z'), 36).stale).toBe(true);
  });
});
