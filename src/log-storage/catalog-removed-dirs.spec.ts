import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../config/app-config';
import type { CatalogEntry, CatalogMessage } from './catalog-entry';
import { catalogEntry } from './catalog-entry.fixture';
import { CatalogRepository } from './catalog.repository';

function entry(id: string, day: string, org: string | null = 'acme', overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  return catalogEntry(id, { day, organization_id: org, likes: 1, queries: 'hello zebra', ...overrides });
}

const latency: CatalogMessage[] = [{ message_id: 'm', created_at: '2024-01-16T12:00:00.000Z', tokens: 5, latency: 2, rating: null, error: false }];

describe('CatalogRepository: per-folder totals and removed day folders', () => {
  let dir: string;
  let sut: CatalogRepository;
  const OLD = 'conversations/acme/2024/01/10';

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-removed-'));
    sut = new CatalogRepository({ logsDir: dir } as AppConfig);
    sut.open();
    sut.startRebuild();
    sut.finishRebuild();
    sut.upsert(entry('old-1', '2024-01-10'), latency);
    sut.upsert(entry('old-2', '2024-01-10', 'acme', { size: 50 }), latency);
    sut.upsert(entry('new-1', '2024-01-16'), latency);
    sut.upsert(entry('other', '2024-01-10', 'globex'), latency);
  });
  afterEach(() => {
    sut.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps per-folder totals in step with inserts, updates, moves and deletes', () => {
    expect(sut.dirsBefore('2024-01-11', 'acme')).toEqual([{ dir: OLD, org_key: 'acme', day: '2024-01-10', files: 2, bytes: 150 }]);
    sut.upsert(entry('old-2', '2024-01-10', 'acme', { size: 70 }), []);
    const id = sut.findConversation('acme', 'old-1')!.id;
    sut.moveFile(id, { path: `${entry('old-1', '2024-01-10').path}.gz`, size: 10, sha256: 'gz', compressed: true });
    expect(sut.summary('acme')).toEqual({ files: 3, bytes: 180, directories: [OLD, 'conversations/acme/2024/01/16'] });
    sut.deleteByPath(entry('new-1', '2024-01-16').path);
    expect(sut.summary()).toEqual({ files: 3, bytes: 180, directories: [OLD, 'conversations/globex/2024/01/10'] });
  });

  it('hides the rows of a removed folder from every read at once', () => {
    sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    expect(sut.summary()).toEqual({ files: 2, bytes: 200, directories: ['conversations/acme/2024/01/16', 'conversations/globex/2024/01/10'] });
    expect(sut.dirsBefore('2024-01-11')).toEqual([expect.objectContaining({ dir: 'conversations/globex/2024/01/10' })]);
    expect(sut.count()).toBe(2);
    expect(sut.count({ organization_id: 'acme' })).toBe(1);
    expect(sut.exportPage({}, null, 10).map((r) => r.conversation_id)).toEqual(['other', 'new-1']);
    expect(sut.search({}, null, null, 10).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect(sut.search({}, '"zebra"*', null, 10).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect(sut.findConversation('acme', 'old-1')).toBeUndefined();
    expect(sut.findByConversationId('old-1')).toBeUndefined();
    expect(sut.findByConversationId('old-1', 'acme')).toBeUndefined();
    expect(sut.findByPath(entry('old-1', '2024-01-10').path)).toBeUndefined();
    expect(sut.hasPath(entry('old-1', '2024-01-10').path)).toBe(false);
    expect(sut.page(0, 10).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect(sut.uncompressedBefore('2099-01-01', 0, 10).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    const stats = sut.stats({});
    expect(stats.totals).toMatchObject({ conversations: 2, messages: 2, likes: 2 });
    expect(stats.rows.map((r) => `${r.day} ${r.organization_id}`)).toEqual(['2024-01-10 globex', '2024-01-16 acme']);
    expect(sut.stats({ organization_id: 'acme', start_date: '2024-01-10', end_date: '2024-01-10' }).totals).toMatchObject({
      conversations: 0,
      avg_latency: null,
      p95_latency: null,
    });
  });

  it('purges the rows in batches, remembering what is left across a reopen', () => {
    for (let i = 0; i < 5; i++) sut.upsert(entry(`bulk-${i}`, '2024-01-10'), latency);
    sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    expect(sut.purgeRemoved(3)).toBe(true);
    sut.close();
    expect(sut.open().needsRebuild).toBe(false);
    expect(sut.hasRemoved()).toBe(true);
    expect(sut.count()).toBe(2);
    expect(sut.purgeRemoved(3)).toBe(true);
    expect(sut.purgeRemoved(3)).toBe(false);
    expect(sut.hasRemoved()).toBe(false);
    expect(sut.count()).toBe(2);
    expect(sut.summary().files).toBe(2);
  });

  it('a save into a removed folder drops its old rows first; a conversation whose row was removed is saved anew', () => {
    sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    sut.upsert(entry('back', '2024-01-10'), latency);
    expect(sut.hasRemoved()).toBe(false);
    expect(sut.summary('acme')).toEqual({ files: 2, bytes: 200, directories: [OLD, 'conversations/acme/2024/01/16'] });
    expect(sut.exportPage({ organization_id: 'acme' }, null, 10).map((r) => r.conversation_id)).toEqual(['back', 'new-1']);

    sut.markRemoved([{ dir: 'conversations/globex/2024/01/10', org_key: 'globex', day: '2024-01-10' }]);
    // the same conversation saved under another day (e.g. another LOG_TIMEZONE) while its old row waits for the purge
    sut.upsert(entry('other', '2024-01-11', 'globex'), latency);
    expect(sut.findConversation('globex', 'other')?.day).toBe('2024-01-11');
    expect(sut.count({ organization_id: 'globex' })).toBe(1);
    expect(sut.summary('globex').files).toBe(1);
    while (sut.purgeRemoved(100));
    expect(sut.count()).toBe(3);
  });

  it('starts a rebuild with no removed folders', () => {
    sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    sut.startRebuild();
    expect(sut.hasRemoved()).toBe(false);
    expect(sut.purgeRemoved(10)).toBe(false);
  });
});
