/**
 * Verify reads the archive through, page by page: a catalog rebuild asked for meanwhile (a real SQLite
 * catalog over real files) waits for the check to finish instead of making files look missing or unindexed.
 */
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { createTestApp, TestApp } from '../support/test-app';
import { conversation } from './archive-fixtures';

// more than a page of the catalog (200 rows), so the check goes back to the catalog while it runs
const FILES = 450;

describe('Verify under the archive shared access', () => {
  let t: TestApp;
  let sut: LogStorageService;
  beforeAll(async () => {
    t = await createTestApp();
    sut = t.app.get(LogStorageService);
    for (let i = 0; i < FILES; i++) {
      await sut.saveConversation(conversation({ id: `verify-${String(i).padStart(4, '0')}`, created_at: new Date(Date.UTC(2024, 0, 1 + (i % 28), 9, 0, i % 60)).toISOString() }));
    }
  });
  afterAll(() => t.close());

  it('makes a rebuild asked for during the check wait until it has finished, and reports no false damage', async () => {
    let verified = false;
    const rebuildSteps: ('during the check' | 'after the check')[] = [];
    let rebuild: Promise<unknown> | null = null;
    const result = await sut
      .verify({
        sha256: true,
        onProgress: () => {
          rebuild ??= sut.reindex({ onProgress: () => rebuildSteps.push(verified ? 'after the check' : 'during the check') });
        },
      })
      .finally(() => (verified = true));
    await rebuild;

    expect(result).toMatchObject({ success: true, checked: FILES, missing: [], changed: [], unindexed: [], corrupt: [] });
    expect(rebuildSteps.length).toBeGreaterThan(0);
    expect(new Set(rebuildSteps)).toEqual(new Set(['after the check']));
    expect(await sut.countConversations()).toBe(FILES);
  });
});
