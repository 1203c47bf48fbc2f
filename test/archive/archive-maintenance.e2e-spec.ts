import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { runCli } from '../../src/cli';
import type { ArchivedConversation } from '../../src/common/conversation-log';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { readArchive } from '../support/archive';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { conversation, daysAgo } from './archive-fixtures';

const API = '/api/conversation-logs';

function ids(body: { conversations: { conversation_id: string }[] }): string[] {
  return body.conversations.map((c) => c.conversation_id).sort();
}

describe('Archive saving and maintenance (idempotence, retention, compression, verify, reindex, CLI)', () => {
  describe('saveConversation', () => {
    let t: TestApp;
    let sut: LogStorageService;
    beforeAll(async () => {
      t = await createTestApp();
      sut = t.app.get(LogStorageService);
    });
    afterAll(() => t.close());

    it('creates, leaves unchanged when only logged_at differs, and updates in place', async () => {
      const first = conversation({ id: 'idem-1' });
      const created = await sut.saveConversation(first);
      expect(created).toEqual({
        outcome: 'created',
        path: 'conversations/acme/2024/01/16/conversation_idem-1_2024-01-16T12-30-29-000Z.json',
      });
      const before = fs.readFileSync(path.join(t.logsDir, created.path), 'utf8');
      expect(JSON.parse(before)).toEqual(first);
      expect(before).toBe(JSON.stringify(first, null, 2));

      const again = await sut.saveConversation({ ...first, logged_at: '2030-01-01T00:00:00.000Z' });
      expect(again).toEqual({ outcome: 'unchanged', path: created.path });
      expect(fs.readFileSync(path.join(t.logsDir, created.path), 'utf8')).toBe(before);

      const changed = { ...first, name: 'Renamed', messages: [...first.messages, { ...first.messages[0], id: 'second-message' }] };
      expect(await sut.saveConversation(changed)).toEqual({ outcome: 'updated', path: created.path });
      expect(JSON.parse(fs.readFileSync(path.join(t.logsDir, created.path), 'utf8')).name).toBe('Renamed');
      expect(readArchive(t.logsDir).filter((f) => f.json.conversation_id === 'idem-1')).toHaveLength(1);
    });

    it('ends with exactly one file under 20 concurrent saves of one conversation', async () => {
      const base = conversation({ id: 'race-1' });
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sut.saveConversation({ ...base, name: `version ${i % 3}`, logged_at: new Date(i).toISOString() })),
      );
      const files = readArchive(t.logsDir).filter((f) => f.json.conversation_id === 'race-1');
      expect(files).toHaveLength(1);
      expect(outcomes.filter((o) => o.outcome === 'created')).toHaveLength(1);
      expect(new Set(outcomes.map((o) => o.path))).toEqual(new Set([files[0].path]));
      expect(files[0].json.name).toBe('version 1');
      expect(fs.readdirSync(path.join(t.logsDir, path.dirname(files[0].path))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      expect(await sut.countConversations({ organization_id: 'acme' })).toBe(2);
    });

    it('keeps one file per conversation and organization, and leaves the organization level out when null', async () => {
      const shared = conversation({ id: 'same-id', organization_id: 'one' });
      await sut.saveConversation(shared);
      await sut.saveConversation({ ...shared, organization_id: 'two' });
      const noOrg = await sut.saveConversation({ ...shared, organization_id: null });
      expect(noOrg.path).toBe('conversations/2024/01/16/conversation_same-id_2024-01-16T12-30-29-000Z.json');
      expect(readArchive(t.logsDir).filter((f) => f.json.conversation_id === 'same-id').map((f) => f.path)).toHaveLength(3);
    });

    it('refuses unsafe names without writing anything', async () => {
      await expect(sut.saveConversation(conversation({ id: '../../evil' }))).rejects.toThrow('conversation_id is not a safe name');
      await expect(sut.saveConversation(conversation({ organization_id: '..' }))).rejects.toThrow('organization_id is not a safe name');
      expect(readArchive(t.logsDir).some((f) => f.path.includes('evil'))).toBe(false);
    });
  });

  describe('day folders in LOG_TIMEZONE', () => {
    it('files a conversation under its local day with the offset in the name', async () => {
      const t = await createTestApp({ LOG_TIMEZONE: 'Europe/Berlin' });
      try {
        const saved = await t.app.get(LogStorageService).saveConversation(conversation({ id: 'tz-1', created_at: '2024-01-16T23:30:00.000Z' }));
        expect(saved.path).toBe('conversations/acme/2024/01/17/conversation_tz-1_2024-01-17T00-30-00-000+01-00.json');
        const res = await request(t.server).get(API).query({ action: 'export', start_date: '2024-01-17', end_date: '2024-01-17' }).expect(200);
        expect(ids(res.body)).toEqual(['tz-1']);
      } finally {
        await t.close();
      }
    });
  });

  describe('retention', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await createTestApp({ LOG_RETENTION_DAYS: '10' });
      const sut = t.app.get(LogStorageService);
      for (const [n, org] of [[0, 'acme'], [1, 'acme'], [9, 'acme'], [10, 'acme'], [11, 'acme'], [40, 'acme'], [400, 'acme'], [40, 'globex'], [11, null]] as const) {
        await sut.saveConversation(conversation({ id: `keep-${n}-${org ?? 'none'}`, organization_id: org, created_at: daysAgo(n) }));
      }
    });
    afterEach(() => t.close());

    const olderThanTen = ['keep-11-acme', 'keep-11-none', 'keep-40-acme', 'keep-40-globex', 'keep-400-acme'];

    it('dry_run answers the figures and deletes nothing', async () => {
      const before = readArchive(t.logsDir);
      const res = await request(t.server).delete(API).query({ days_to_keep: 10, dry_run: 'true' }).expect(200);
      expect(res.body).toMatchObject({ success: true, dry_run: true, deleted_files: 5, first_day: daysAgo(400).slice(0, 10), last_day: daysAgo(11).slice(0, 10) });
      expect(res.body.deleted_size_bytes).toBe(
        before.filter((f) => olderThanTen.includes(f.json.conversation_id)).reduce((s, f) => s + Buffer.byteLength(f.text), 0),
      );
      expect(res.body.message).toMatch(/^Would delete 5 files in 5 day folders before /);
      expect(readArchive(t.logsDir)).toEqual(before);
    });

    it('deletes exactly the days before today − N, prunes empty folders and keeps the catalog in step', async () => {
      const res = await request(t.server).delete(API).query({ days_to_keep: 10 }).expect(200);
      expect(res.body).toMatchObject({ success: true, dry_run: false, deleted_files: 5 });
      const left = readArchive(t.logsDir).map((f) => f.json.conversation_id).sort();
      expect(left).toEqual(['keep-0-acme', 'keep-1-acme', 'keep-10-acme', 'keep-9-acme']);
      expect(fs.existsSync(path.join(t.logsDir, 'conversations', 'globex'))).toBe(false);
      const oldYear = daysAgo(400).slice(0, 4);
      if (!readArchive(t.logsDir).some((f) => f.path.startsWith(`conversations/acme/${oldYear}/`))) {
        expect(fs.existsSync(path.join(t.logsDir, 'conversations', 'acme', oldYear))).toBe(false);
      }
      const summary = await request(t.server).get(API).query({ action: 'summary' }).expect(200);
      expect(summary.body.total_files).toBe(4);
      expect(summary.body.directories.every((d: string) => d >= `conversations/acme/${daysAgo(10).slice(0, 10).replace(/-/g, '/')}`)).toBe(true);
    });

    it('defaults to LOG_RETENTION_DAYS and narrows to one organization', async () => {
      const res = await request(t.server).delete(API).query({ organization_id: 'acme' }).expect(200);
      expect(res.body.deleted_files).toBe(3);
      const left = readArchive(t.logsDir).map((f) => f.json.conversation_id);
      expect(left).toEqual(expect.arrayContaining(['keep-40-globex', 'keep-11-none']));
    });

    it('never deletes today, even with days_to_keep=1', async () => {
      await request(t.server).delete(API).query({ days_to_keep: 1 }).expect(200);
      expect(readArchive(t.logsDir).map((f) => f.json.conversation_id).sort()).toEqual(['keep-0-acme', 'keep-1-acme']);
    });
  });

  describe('compression', () => {
    let t: TestApp;
    let sut: LogStorageService;
    beforeAll(async () => {
      t = await createTestApp({ COMPRESS_AFTER_DAYS: '3' });
      sut = t.app.get(LogStorageService);
      await sut.saveConversation(conversation({ id: 'new-1', created_at: daysAgo(0), name: 'fresh zebra' }));
      await sut.saveConversation(conversation({ id: 'old-1', created_at: daysAgo(5), name: 'ancient zebra' }));
      await sut.saveConversation(conversation({ id: 'old-2', created_at: daysAgo(8) }));
    });
    afterAll(() => t.close());

    it('gzips the files of older day folders and is transparent to summary, export, search, verify and save', async () => {
      const before = readArchive(t.logsDir);
      const summaryBefore = (await request(t.server).get(API).query({ action: 'summary' })).body;
      const res = await request(t.server).post(`${API}/compress`).expect(200);
      expect(res.body).toMatchObject({ success: true, compressed_files: 2, before_day: daysAgo(3).slice(0, 10) });

      const after = readArchive(t.logsDir);
      expect(after.filter((f) => f.path.endsWith('.json.gz')).map((f) => f.json.conversation_id).sort()).toEqual(['old-1', 'old-2']);
      expect(after.map((f) => f.json)).toEqual(expect.arrayContaining(before.map((f) => f.json)));
      expect(after).toHaveLength(3);

      const summary = (await request(t.server).get(API).query({ action: 'summary' }).expect(200)).body;
      expect(summary.total_files).toBe(3);
      expect(summary.directories).toEqual(summaryBefore.directories);
      expect(summary.total_size_bytes).toBe(after.reduce((s, f) => s + fs.statSync(path.join(t.logsDir, f.path)).size, 0));

      const exported = await request(t.server).get(API).query({ action: 'export', start_date: daysAgo(10).slice(0, 10), end_date: daysAgo(0).slice(0, 10) });
      expect(exported.body.conversations).toEqual(expect.arrayContaining(before.map((f) => f.json)));
      expect(exported.body.count).toBe(3);

      const search = await request(t.server).get(`${API}/search`).query({ q: 'zebra' }).expect(200);
      expect(search.body.results.map((r: { conversation_id: string; path: string }) => r.conversation_id)).toEqual(['new-1', 'old-1']);
      expect(search.body.results[1].path).toMatch(/\.json\.gz$/);

      const verify = await request(t.server).get(`${API}/verify`).expect(200);
      // a disk has no ETags: every file is hashed
      expect(verify.body).toEqual({
        success: true,
        method: 'etag',
        checked: 3,
        by_etag: 0,
        by_sha256: 3,
        sha256_fallback: 0,
        missing: [],
        changed: [],
        unindexed: [],
        corrupt: [],
        app_configs: { checked: 0, missing: [], changed: [] },
      });

      const old1 = after.find((f) => f.json.conversation_id === 'old-1')!;
      expect(await sut.saveConversation({ ...(old1.json as ArchivedConversation), logged_at: 'later' })).toEqual({ outcome: 'unchanged', path: old1.path });
      const updated = await sut.saveConversation({ ...(old1.json as ArchivedConversation), name: 'renamed zebra' });
      expect(updated).toEqual({ outcome: 'updated', path: old1.path });
      const reread = await request(t.server).get(`${API}/conversation`).query({ path: old1.path }).expect(200);
      expect(reread.body.conversation.name).toBe('renamed zebra');
      // the uncompressed name still finds the gzipped file
      await request(t.server).get(`${API}/conversation`).query({ path: old1.path.replace(/\.gz$/, '') }).expect(200);
      expect(readArchive(t.logsDir).filter((f) => f.json.conversation_id === 'old-1')).toHaveLength(1);

      const again = await request(t.server).post(`${API}/compress`).expect(200);
      expect(again.body.compressed_files).toBe(0);
    });

    it('retention deletes compressed files too', async () => {
      const res = await request(t.server).delete(API).query({ days_to_keep: 4 }).expect(200);
      expect(res.body.deleted_files).toBe(2);
      expect(readArchive(t.logsDir).map((f) => f.json.conversation_id)).toEqual(['new-1']);
    });
  });

  describe('verify, reindex and the catalog', () => {
    let logsDir: string;
    let t: TestApp;
    const files: Record<string, string> = {};

    beforeAll(async () => {
      logsDir = makeTempDir();
      t = await createTestApp({ LOGS_DIR: logsDir });
      const sut = t.app.get(LogStorageService);
      for (const id of ['v-1', 'v-2', 'v-3']) files[id] = (await sut.saveConversation(conversation({ id }))).path;
    });
    afterAll(async () => {
      await t.close();
      fs.rmSync(logsDir, { recursive: true, force: true });
    });

    it('reports hand-made changes and a rebuild takes them in', async () => {
      const abs = (p: string) => path.join(logsDir, p);
      fs.unlinkSync(abs(files['v-1']));
      const changed = JSON.parse(fs.readFileSync(abs(files['v-2']), 'utf8'));
      changed.name = 'edited by hand';
      fs.writeFileSync(abs(files['v-2']), JSON.stringify(changed, null, 2));
      const added = conversation({ id: 'hand-added', created_at: '2024-02-01T10:00:00.000Z' });
      const addedPath = 'conversations/acme/2024/02/01/conversation_hand-added_2024-02-01T10-00-00-000Z.json';
      fs.mkdirSync(path.dirname(abs(addedPath)), { recursive: true });
      fs.writeFileSync(abs(addedPath), JSON.stringify(added, null, 2));
      const corruptPath = 'conversations/acme/2024/02/01/conversation_broken_2024-02-01T11-00-00-000Z.json';
      fs.writeFileSync(abs(corruptPath), '{"conversation_id": "broken", ');
      const foreignPath = 'conversations/acme/2024/02/01/notes.txt';
      fs.writeFileSync(abs(foreignPath), 'hello');

      const verify = await request(t.server).get(`${API}/verify`).expect(200);
      expect(verify.body).toEqual({
        success: true,
        method: 'etag',
        checked: 6,
        // the two files both listed and catalogued; the missing one cannot be read, the others have no row
        by_etag: 0,
        by_sha256: 2,
        sha256_fallback: 0,
        missing: [files['v-1']],
        changed: [files['v-2']],
        unindexed: [addedPath],
        corrupt: [corruptPath, foreignPath].sort(),
        app_configs: { checked: 0, missing: [], changed: [] },
      });

      const reindex = await request(t.server).post(`${API}/reindex`).expect(200);
      expect(reindex.body.success).toBe(true);
      expect(reindex.body.indexed).toBe(3);
      expect(reindex.body.skipped).toEqual(
        expect.arrayContaining([
          { path: corruptPath, reason: 'not valid JSON' },
          { path: foreignPath, reason: 'not an archive file name' },
        ]),
      );
      expect(reindex.body.skipped).toHaveLength(2);

      const summary = await request(t.server).get(API).query({ action: 'summary' }).expect(200);
      expect(summary.body.total_files).toBe(3);
      const search = await request(t.server).get(`${API}/search`).query({ q: 'edited' }).expect(200);
      expect(search.body.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(['v-2']);
      const exported = await request(t.server).get(API).query({ action: 'export', start_date: '2024-01-01', end_date: '2024-12-31' }).expect(200);
      expect(ids(exported.body)).toEqual(['hand-added', 'v-2', 'v-3']);

      const clean = await request(t.server).get(`${API}/verify`).expect(200);
      expect(clean.body).toMatchObject({ checked: 5, missing: [], changed: [], unindexed: [] });
      fs.unlinkSync(abs(corruptPath));
      fs.unlinkSync(abs(foreignPath));
    });

    it('rebuilds the catalog at start-up when it was deleted, and not when it is current', async () => {
      const before = (await request(t.server).get(`${API}/stats`).expect(200)).body;
      expect(before.totals.avg_latency).not.toBeNull();
      await t.close();
      fs.rmSync(path.join(logsDir, 'catalog.sqlite'));
      fs.rmSync(path.join(logsDir, 'catalog.sqlite-wal'), { force: true });
      fs.rmSync(path.join(logsDir, 'catalog.sqlite-shm'), { force: true });
      t = await createTestApp({ LOGS_DIR: logsDir });
      expect(t.logLines.some((l) => l.includes('Rebuilding the catalog from the files: catalog is missing'))).toBe(true);
      // the rebuild runs in the background; it happened once
      await t.app.get(LogStorageService).whenCatalogReady();
      expect(t.logLines.filter((l) => l.includes('Started catalog rebuild'))).toHaveLength(1);
      const summary = await request(t.server).get(API).query({ action: 'summary' }).expect(200);
      expect(summary.body.total_files).toBe(3);
      // the messages the reading threads staged are all in (latencies come from them), the stage is gone
      expect((await request(t.server).get(`${API}/stats`).expect(200)).body).toEqual(before);
      expect(fs.readdirSync(logsDir).filter((name) => name.startsWith('catalog.sqlite.messages'))).toEqual([]);

      await t.close();
      t = await createTestApp({ LOGS_DIR: logsDir });
      expect(t.logLines.some((l) => l.includes('Rebuilding the catalog'))).toBe(false);
      expect((await request(t.server).get(API).query({ action: 'summary' })).body.total_files).toBe(3);
    });

    it('starts over from a catalog file that is not a database', async () => {
      await t.close();
      fs.writeFileSync(path.join(logsDir, 'catalog.sqlite'), 'this is not sqlite at all, just some text that fills a page');
      fs.rmSync(path.join(logsDir, 'catalog.sqlite-wal'), { force: true });
      fs.rmSync(path.join(logsDir, 'catalog.sqlite-shm'), { force: true });
      t = await createTestApp({ LOGS_DIR: logsDir });
      await t.app.get(LogStorageService).whenCatalogReady();
      expect((await request(t.server).get(API).query({ action: 'summary' })).body.total_files).toBe(3);
    });

    it('runs reindex, verify and clean from the command line with plain lines and exit codes', async () => {
      const lines: string[] = [];
      const errors: string[] = [];
      const out = { line: (s: string) => lines.push(s), error: (s: string) => errors.push(s) };
      const context = async () => Object.assign(Object.create(t.app), { close: async () => undefined });

      expect(await runCli(['reindex'], out, context)).toBe(0);
      expect(lines).toEqual([expect.stringMatching(/^indexed 3 files, skipped 0, in \d+ ms$/)]);
      lines.length = 0;
      expect(await runCli(['verify'], out, context)).toBe(0);
      expect(lines).toEqual(['checked 3: missing 0, changed 0, unindexed 0, corrupt 0']);
      lines.length = 0;
      fs.unlinkSync(path.join(logsDir, files['v-3']));
      expect(await runCli(['verify'], out, context)).toBe(1);
      expect(lines[0]).toBe(`missing ${files['v-3']}`);
      lines.length = 0;
      expect(await runCli(['clean', '--days', '30', '--dry-run', '--organization', 'acme'], out, context)).toBe(0);
      expect(lines[0]).toMatch(/^Would delete 2 files in 2 day folders of acme before /);
      expect(readArchive(logsDir)).toHaveLength(2);
      expect(await runCli(['clean', '--days', '0'], out, context)).toBe(2);
      expect(errors.join('\n')).toContain('--days must be an integer from 1 to 36500');
      expect(await runCli(['clean', '--weeks', '3'], out, context)).toBe(2);
      expect(await runCli(['explode'], out, context)).toBe(2);
      expect(errors.join('\n')).toContain('unknown command explode');
    });
  });
});
