import * as fs from 'node:fs';
import { ArchiveMaintenance } from '../../src/log-storage/archive-maintenance.service';
import * as path from 'node:path';
import request from 'supertest';
import { CATALOG, Catalog } from '../../src/log-storage/catalog';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { readArchive } from '../support/archive';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { conversation, daysAgo } from './archive-fixtures';

const API = '/api/conversation-logs';

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('Archive bulk paths: export of stored bytes, retention of whole day folders', () => {
  describe('export', () => {
    let t: TestApp;
    let storage: LogStorageService;
    const tricky = 'line one\nline two\r\n"quoted" \\ back-slash, tab\t, ünïcödé, emoji 🦓, </script>';

    beforeAll(async () => {
      t = await createTestApp({ COMPRESS_AFTER_DAYS: '3' });
      storage = t.app.get(LogStorageService);
      for (let i = 0; i < 12; i++) {
        await storage.saveConversation(
          conversation({
            id: `exp-${i}`,
            organization_id: i % 3 === 0 ? null : i % 2 ? 'acme' : 'globex',
            created_at: daysAgo(i),
            messages: [{ query: `${tricky} ${i}`, answer: 'x'.repeat(i * 500) }],
          }),
        );
      }
      expect((await storage.compressOldDays()).compressed_files).toBeGreaterThan(0);
    });
    afterAll(() => t.close());

    it('NDJSON: each file is one line, byte for byte the stored text with its line breaks as spaces (gzipped ones too)', async () => {
      const files = readArchive(t.logsDir);
      expect(files.some((f) => f.path.endsWith('.gz'))).toBe(true);
      const out = await text(storage.exportStream({}, 'ndjson'));
      expect(out.endsWith('\n')).toBe(true);
      const lines = out.slice(0, -1).split('\n');
      expect(lines).toHaveLength(files.length);
      const byId = new Map(files.map((f) => [f.json.conversation_id as string, f]));
      for (const line of lines) {
        const conv = JSON.parse(line);
        const file = byId.get(conv.conversation_id)!;
        expect(line).toBe(file.text.replace(/[\r\n]/g, ' '));
        expect(conv).toEqual(file.json);
      }
    });

    it('JSON: the stored files between commas, in day and path order, with the count', async () => {
      const files = readArchive(t.logsDir);
      const out = await text(storage.exportStream({}, 'json'));
      const body = JSON.parse(out);
      expect(body.count).toBe(files.length);
      expect(body.conversations).toEqual(expect.arrayContaining(files.map((f) => f.json)));
      for (const f of files) expect(out.includes(f.text)).toBe(true);
      const days = body.conversations.map((c: { created_at: string }) => c.created_at.slice(0, 10));
      expect(days).toEqual([...days].sort());
      const res = await request(t.server).get(API).query({ action: 'export', start_date: daysAgo(11).slice(0, 10), end_date: daysAgo(0).slice(0, 10), format: 'ndjson' }).expect(200);
      expect(res.text.trim().split('\n').map((l: string) => JSON.parse(l).conversation_id).sort()).toEqual(files.map((f) => f.json.conversation_id).sort());
    });

    it('never passes on a hand-edited file that is not a conversation any more, in either format', async () => {
      const all = readArchive(t.logsDir);
      const [sameSize, shorter, edited, gone] = all.filter((f) => !f.path.endsWith('.gz'));
      const abs = (p: string) => path.join(t.logsDir, p);
      // same length, no longer an object
      fs.writeFileSync(abs(sameSize.path), `[${sameSize.text.slice(1, -1)}]`);
      fs.writeFileSync(abs(shorter.path), shorter.text.slice(0, 40));
      const renamed = { ...edited.json, name: 'renamed by hand, still valid' };
      fs.writeFileSync(abs(edited.path), JSON.stringify(renamed, null, 2));
      fs.unlinkSync(abs(gone.path));
      try {
        const expected = all
          .filter((f) => ![sameSize.path, shorter.path, gone.path].includes(f.path))
          .map((f) => f.json.conversation_id)
          .sort();
        const ndjson = await text(storage.exportStream({}, 'ndjson'));
        const lines = ndjson.trim().split('\n').map((l) => JSON.parse(l));
        expect(lines.map((c) => c.conversation_id).sort()).toEqual(expected);
        expect(lines.find((c) => c.conversation_id === edited.json.conversation_id)).toEqual(renamed);
        const json = JSON.parse(await text(storage.exportStream({}, 'json')));
        expect(json.count).toBe(expected.length);
        expect(json.conversations.map((c: { conversation_id: string }) => c.conversation_id).sort()).toEqual(expected);
        expect(t.logLines.some((l) => l.includes(`Export skipped ${shorter.path}`))).toBe(true);
        expect(t.logLines.some((l) => l.includes(`Export skipped ${gone.path}: file is missing`))).toBe(true);
      } finally {
        fs.writeFileSync(abs(sameSize.path), sameSize.text);
        fs.writeFileSync(abs(shorter.path), shorter.text);
        fs.writeFileSync(abs(gone.path), gone.text);
        fs.writeFileSync(abs(edited.path), edited.text);
      }
    });

    it('an export with nothing in it is still valid', async () => {
      expect(JSON.parse(await text(storage.exportStream({ organization_id: 'nobody' }, 'json')))).toEqual({ success: true, conversations: [], count: 0 });
      expect(await text(storage.exportStream({ organization_id: 'nobody' }, 'ndjson'))).toBe('');
    });
  });

  describe('retention', () => {
    let logsDir: string;
    let t: TestApp;
    let storage: LogStorageService;

    beforeEach(async () => {
      logsDir = makeTempDir();
      t = await createTestApp({ LOGS_DIR: logsDir });
      storage = t.app.get(LogStorageService);
      for (const n of [0, 1, 20, 20, 21, 30]) {
        await storage.saveConversation(conversation({ id: `ret-${n}-${Math.random().toString(36).slice(2, 8)}`, created_at: daysAgo(n), name: 'retained zebra' }));
      }
      // a stray file the catalog does not know is deleted and counted too
      const strayDir = path.join(logsDir, 'conversations', 'acme', ...daysAgo(21).slice(0, 10).split('-'));
      fs.writeFileSync(path.join(strayDir, 'notes.txt'), 'hello');
    });
    afterEach(async () => {
      await t.close();
      fs.rmSync(logsDir, { recursive: true, force: true });
    });

    it('counts what is deleted, and every read forgets the removed folders at once', async () => {
      const before = readArchive(logsDir);
      const old = before.filter((f) => f.json.created_at < daysAgo(10));
      const dry = await storage.cleanOldLogs({ daysToKeep: 10, dryRun: true });
      const stray = 5;
      expect(dry).toMatchObject({ deleted_files: old.length + 1, deleted_size_bytes: old.reduce((s, f) => s + Buffer.byteLength(f.text), 0) + stray });
      const res = await storage.cleanOldLogs({ daysToKeep: 10 });
      expect(res).toMatchObject({ ...dry, dry_run: false, message: expect.stringMatching(/^Deleted 5 files in 3 day folders before /) });
      expect(readArchive(logsDir)).toHaveLength(2);

      const summary = (await request(t.server).get(API).query({ action: 'summary' }).expect(200)).body;
      expect(summary.total_files).toBe(2);
      const search = (await request(t.server).get(`${API}/search`).query({ q: 'zebra' }).expect(200)).body;
      expect(search.results).toHaveLength(2);
      const stats = (await request(t.server).get(`${API}/stats`).expect(200)).body;
      expect(stats.totals.conversations).toBe(2);
      expect(await storage.countConversations()).toBe(2);
      const exported = JSON.parse(await text(storage.exportStream({}, 'json')));
      expect(exported.count).toBe(2);
      const verify = (await request(t.server).get(`${API}/verify`).expect(200)).body;
      expect(verify).toMatchObject({ checked: 2, missing: [], unindexed: [] });
      await expect(storage.getConversation({ conversation_id: old[0].json.conversation_id as string })).rejects.toThrow('is not in the archive');

      // saved again (e.g. a backup of an old window): created anew, once
      const again = await storage.saveConversation(old[0].json as never);
      expect(again.outcome).toBe('created');
      expect(await storage.countConversations()).toBe(3);
      expect((await request(t.server).get(API).query({ action: 'summary' })).body.total_files).toBe(3);
    });

    it('purges the hidden rows in the background, and after a restart when it was cut short', async () => {
      // the maintenance itself (no audit write in between), so that the purge is caught before it has run
      await t.app.get(ArchiveMaintenance).cleanOldLogs({ daysToKeep: 10 });
      const catalog = t.app.get<Catalog>(CATALOG, { strict: false });
      expect(await catalog.hasRemoved()).toBe(true);
      await t.close();
      t = await createTestApp({ LOGS_DIR: logsDir });
      const reopened = t.app.get<Catalog>(CATALOG, { strict: false });
      // the purge runs in the background after start-up: wait for it, however slow the machine
      while (await reopened.hasRemoved()) await new Promise((r) => setTimeout(r, 10));
      expect(await reopened.hasRemoved()).toBe(false);
      expect(await t.app.get(LogStorageService).countConversations()).toBe(2);
    });
  });
});
