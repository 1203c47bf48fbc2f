import type { BackupResult } from './backup.types';
import { mergeResults } from './backup-result';
import { backfillStart, catchUpWindow, purgeHorizon, splitByDay } from './catch-up';

const now = new Date('2025-10-15T10:30:00Z');

describe('catch-up windows', () => {
  it('starts the first run at BACKFILL_FROM, as days back or an ISO date', () => {
    expect(backfillStart('3d', now).toISOString()).toBe('2025-10-12T10:30:00.000Z');
    expect(backfillStart('2025-10-01T00:00:00.000Z', now).toISOString()).toBe('2025-10-01T00:00:00.000Z');
    expect(catchUpWindow(null, now, { backfillFrom: '1d', overlapSeconds: 3600 })).toEqual({
      start: new Date('2025-10-14T10:30:00Z'),
      end: now,
    });
  });

  it('starts later runs at the checkpoint minus the overlap, never after now', () => {
    expect(catchUpWindow('2025-10-15T02:00:00.000Z', now, { backfillFrom: '30d', overlapSeconds: 600 }).start.toISOString()).toBe(
      '2025-10-15T01:50:00.000Z',
    );
    expect(catchUpWindow('2025-10-16T00:00:00.000Z', now, { backfillFrom: '30d', overlapSeconds: 0 }).start).toEqual(now);
  });

  it('cuts a window at UTC midnights without gaps', () => {
    const slices = splitByDay({ start: new Date('2025-10-12T10:30:00Z'), end: now });
    expect(slices.map((s) => [s.start.toISOString(), s.end.toISOString()])).toEqual([
      ['2025-10-12T10:30:00.000Z', '2025-10-13T00:00:00.000Z'],
      ['2025-10-13T00:00:00.000Z', '2025-10-14T00:00:00.000Z'],
      ['2025-10-14T00:00:00.000Z', '2025-10-15T00:00:00.000Z'],
      ['2025-10-15T00:00:00.000Z', '2025-10-15T10:30:00.000Z'],
    ]);
    expect(splitByDay({ start: now, end: now })).toEqual([{ start: now, end: now }]);
  });

  it('puts the purge horizon DIFY_RETENTION_DAYS before now', () => {
    expect(purgeHorizon(now, 30).toISOString()).toBe('2025-09-15T10:30:00.000Z');
  });

  it('merges slice results into one', () => {
    const result = (over: Partial<BackupResult>): BackupResult => ({
      success: true,
      message: '',
      app_id: 'a',
      organization_id: null,
      access_mode: 'console-admin',
      app_mode: 'chat',
      total_conversations: 2,
      saved_count: 1,
      created_count: 1,
      updated_count: 0,
      unchanged_count: 1,
      failed_count: 0,
      erased_skipped_count: 0,
      redactions: {},
      file_paths: ['x'],
      errors: [],
      coverage: { complete: true, warnings: [] },
      warnings: ['w'],
      window: { start: 's1', end: 'e1' },
      interrupted: false,
      ...over,
    });
    const merged = mergeResults(mergeResults(null, result({})), result({ success: false, failed_count: 1, errors: [{ conversation_id: 'c', error: 'e' }], window: { start: 's2', end: 'e2' } }));
    expect(merged).toMatchObject({
      success: false,
      total_conversations: 4,
      saved_count: 2,
      failed_count: 1,
      file_paths: ['x', 'x'],
      warnings: ['w'],
      window: { start: 's1', end: 'e2' },
      message: 'Backup finished with failures: 2 saved, 2 unchanged, 1 failed',
    });
  });
});
