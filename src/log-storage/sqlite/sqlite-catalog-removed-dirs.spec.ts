import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../../config/app-config';
import type { CatalogEntry, CatalogMessage } from '../catalog-entry';
import { catalogEntry } from '../../../test/support/catalog-entry.fixture';
import { CATALOG_FILE } from './catalog-schema';
import { SqliteCatalog } from './sqlite-catalog';

function entry(id: string, day: string, org: string | null = 'acme', overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  return catalogEntry(id, { day, organization_id: org, likes: 1, queries: 'hello zebra', ...overrides });
}

const latency: CatalogMessage[] = [{ message_id: 'm', created_at: '2024-01-16T12:00:00.000Z', tokens: 5, latency: 2, rating: null, error: false }];

describe('SqliteCatalog: per-folder totals and removed day folders', () => {
  let dir: string;
  let sut: SqliteCatalog;
  const OLD = 'conversations/acme/2024/01/10';

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-removed-'));
    sut = new SqliteCatalog(path.join(dir, CATALOG_FILE));
    await sut.open();
    await sut.startRebuild();
    await sut.finishRebuild();
    await sut.upsert(entry('old-1', '2024-01-10'), latency);
    await sut.upsert(entry('old-2', '2024-01-10', 'acme', { size: 50 }), latency);
    await sut.upsert(entry('new-1', '2024-01-16'), latency);
    await sut.upsert(entry('other', '2024-01-10', 'globex'), latency);
  });
  afterEach(async () => {
    await sut.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps per-folder totals in step with inserts, updates, moves and deletes', async () => {
    expect(await sut.dirsBefore('2024-01-11', 'acme')).toEqual([{ dir: OLD, org_key: 'acme', day: '2024-01-10', files: 2, bytes: 150 }]);
    await sut.upsert(entry('old-2', '2024-01-10', 'acme', { size: 70 }), []);
    const id = (await sut.findConversation('acme', 'old-1'))!.id;
    await sut.moveFile(id, { path: `${entry('old-1', '2024-01-10').path}.gz`, size: 10, sha256: 'gz', md5: 'gzmd5', compressed: true });
    expect(await sut.summary('acme')).toEqual({ files: 3, bytes: 180, directories: [OLD, 'conversations/acme/2024/01/16'] });
    await sut.deleteByPath(entry('new-1', '2024-01-16').path);
    expect(await sut.summary()).toEqual({ files: 3, bytes: 180, directories: [OLD, 'conversations/globex/2024/01/10'] });
  });

  it('hides the rows of a removed folder from every read at once', async () => {
    await sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    expect(await sut.summary()).toEqual({ files: 2, bytes: 200, directories: ['conversations/acme/2024/01/16', 'conversations/globex/2024/01/10'] });
    expect(await sut.dirsBefore('2024-01-11')).toEqual([expect.objectContaining({ dir: 'conversations/globex/2024/01/10' })]);
    expect(await sut.count()).toBe(2);
    expect(await sut.count({ organization_id: 'acme' })).toBe(1);
    expect((await sut.exportPage({}, null, 10)).map((r) => r.conversation_id)).toEqual(['other', 'new-1']);
    expect((await sut.search({}, null, null, 10)).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect((await sut.search({}, 'zebra', null, 10)).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect(await sut.findConversation('acme', 'old-1')).toBeUndefined();
    expect(await sut.findByConversationId('old-1')).toBeUndefined();
    expect(await sut.findByConversationId('old-1', 'acme')).toBeUndefined();
    expect(await sut.findByPath(entry('old-1', '2024-01-10').path)).toBeUndefined();
    expect(await sut.hasPath(entry('old-1', '2024-01-10').path)).toBe(false);
    expect((await sut.page(0, 10)).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    expect((await sut.uncompressedBefore('2099-01-01', 0, 10)).map((r) => r.conversation_id).sort()).toEqual(['new-1', 'other']);
    const stats = await sut.stats({});
    expect(stats.totals).toMatchObject({ conversations: 2, messages: 2, likes: 2 });
    expect(stats.rows.map((r) => `${r.day} ${r.organization_id}`)).toEqual(['2024-01-10 globex', '2024-01-16 acme']);
    expect((await sut.stats({ organization_id: 'acme', start_date: '2024-01-10', end_date: '2024-01-10' })).totals).toMatchObject({
      conversations: 0,
      avg_latency: null,
      p95_latency: null,
    });
  });

  it('purges the rows in batches, remembering what is left across a reopen', async () => {
    for (let i = 0; i < 5; i++) await sut.upsert(entry(`bulk-${i}`, '2024-01-10'), latency);
    await sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    expect(await sut.purgeRemoved(3)).toBe(true);
    await sut.close();
    expect((await sut.open()).needsRebuild).toBe(false);
    expect(await sut.hasRemoved()).toBe(true);
    expect(await sut.count()).toBe(2);
    expect(await sut.purgeRemoved(3)).toBe(true);
    expect(await sut.purgeRemoved(3)).toBe(false);
    expect(await sut.hasRemoved()).toBe(false);
    expect(await sut.count()).toBe(2);
    expect((await sut.summary()).files).toBe(2);
  });

  it('a save into a removed folder drops its old rows first; a conversation whose row was removed is saved anew', async () => {
    await sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    await sut.upsert(entry('back', '2024-01-10'), latency);
    expect(await sut.hasRemoved()).toBe(false);
    expect(await sut.summary('acme')).toEqual({ files: 2, bytes: 200, directories: [OLD, 'conversations/acme/2024/01/16'] });
    expect((await sut.exportPage({ organization_id: 'acme' }, null, 10)).map((r) => r.conversation_id)).toEqual(['back', 'new-1']);

    await sut.markRemoved([{ dir: 'conversations/globex/2024/01/10', org_key: 'globex', day: '2024-01-10' }]);
    // the same conversation saved under another day (e.g. another LOG_TIMEZONE) while its old row waits for the purge
    await sut.upsert(entry('other', '2024-01-11', 'globex'), latency);
    expect((await sut.findConversation('globex', 'other'))?.day).toBe('2024-01-11');
    expect(await sut.count({ organization_id: 'globex' })).toBe(1);
    expect((await sut.summary('globex')).files).toBe(1);
    while (await sut.purgeRemoved(100));
    expect(await sut.count()).toBe(3);
  });

  it('starts a rebuild with no removed folders', async () => {
    await sut.markRemoved([{ dir: OLD, org_key: 'acme', day: '2024-01-10' }]);
    await sut.startRebuild();
    expect(await sut.hasRemoved()).toBe(false);
    expect(await sut.purgeRemoved(10)).toBe(false);
  });
});
