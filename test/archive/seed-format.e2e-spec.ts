import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { gzipSync } from 'node:zlib';
import type { ArchivedConversation } from '../../src/common/conversation-log';
import { AppConfig } from '../../src/config/app-config';
import { conversationPath } from '../../src/log-storage/archive-paths';
import { ARCHIVE_STORE } from '../../src/log-storage/archive-store';
import type { CatalogExtract, CatalogSource } from '../../src/log-storage/catalog-entry';
import { FsArchiveStore } from '../../src/log-storage/fs/fs-archive-store';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { conversation, daysAgo } from './archive-fixtures';

const API = '/api/conversation-logs';
/** what the seed's own tool does not write: the organization is the folder, the rest the vault added */
const VAULT_ONLY = ['organization_id', 'access_mode', 'logged_at', 'app_mode', 'app_name', 'introduction', 'inputs'];

interface SeedFile {
  id: string;
  /** the folder's organization; null: directly under conversations/YYYY */
  org: string | null;
  path: string;
  conv: ArchivedConversation;
}

/** Writes a conversation as the seed's tool does (no organization_id), gzipped when asked. */
function writeSeedFile(logsDir: string, id: string, org: string | null, createdAt: string, gz = false, words = 'Hello'): SeedFile {
  const conv = conversation({ id, organization_id: org, created_at: createdAt, messages: [{ query: words, answer: 'Sure' }] });
  const seed: Record<string, unknown> = { ...conv };
  for (const field of VAULT_ONLY) delete seed[field];
  let relative = conversationPath({ conversation_id: id, organization_id: org, created_at: createdAt }, 'UTC');
  const text = Buffer.from(JSON.stringify(seed, null, 2));
  if (gz) relative += '.gz';
  fs.mkdirSync(path.dirname(path.join(logsDir, relative)), { recursive: true });
  fs.writeFileSync(path.join(logsDir, relative), gz ? gzipSync(text) : text);
  return { id, org, path: relative, conv: seed as unknown as ArchivedConversation };
}

function removeCatalog(logsDir: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(logsDir, `catalog.sqlite${suffix}`), { force: true });
}

/** A store whose catalog reads wait until the test opens the gate, so a rebuild can be caught under way. */
class GatedStore extends FsArchiveStore {
  private open!: () => void;
  private arrive!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  /** resolves when the rebuild has listed the files and asks for the first ones */
  readonly reached = new Promise<void>((resolve) => (this.arrive = resolve));

  release(): void {
    this.open();
  }

  override async catalogEntries(sources: CatalogSource[]): Promise<CatalogExtract[]> {
    this.arrive();
    await this.gate;
    return super.catalogEntries(sources);
  }
}

describe('Archives written by the seed tool (no organization_id; the folder names it)', () => {
  describe('indexed at start-up and by reindex, then summarised, searched, exported and retained', () => {
    let logsDir: string;
    let t: TestApp;
    let sut: LogStorageService;
    let seeds: SeedFile[];

    beforeAll(async () => {
      logsDir = makeTempDir();
      seeds = [
        writeSeedFile(logsDir, 'seed-acme-1', 'acme', daysAgo(2), false, 'where is my thermoflask'),
        writeSeedFile(logsDir, 'seed-acme-2', 'acme', daysAgo(400)),
        writeSeedFile(logsDir, 'seed-globex-gz', 'globex', daysAgo(3), true, 'thermoflask refund'),
        writeSeedFile(logsDir, 'seed-no-org', null, daysAgo(4)),
      ];
      t = await createTestApp({ LOGS_DIR: logsDir, LOG_TIMEZONE: 'UTC' });
      sut = t.app.get(LogStorageService);
      await sut.whenCatalogReady();
    });
    afterAll(async () => {
      await t.close();
      fs.rmSync(logsDir, { recursive: true, force: true });
    });

    it('catalogues every seed file at start-up, with the organization of its folder', async () => {
      const summary = await request(t.server).get(API).query({ action: 'summary' }).expect(200);
      expect(summary.body.total_files).toBe(4);
      expect(summary.body.total_size_bytes).toBe(seeds.reduce((n, s) => n + fs.statSync(path.join(logsDir, s.path)).size, 0));
      expect((await request(t.server).get(API).query({ action: 'summary', organization_id: 'acme' })).body.total_files).toBe(2);
      const one = await request(t.server).get(`${API}/conversations/seed-globex-gz`).expect(200);
      expect(one.body.conversation).toMatchObject({ conversation_id: 'seed-globex-gz', organization_id: 'globex' });
    });

    it('reindexes them all, skipping none', async () => {
      const res = await request(t.server).post(`${API}/reindex`).expect(200);
      expect(res.body).toMatchObject({ success: true, indexed: 4, skipped: [] });
    });

    it('finds them by full-text search, with the organization from the path', async () => {
      const res = await request(t.server).get(`${API}/search`).query({ q: 'thermoflask' }).expect(200);
      expect(res.body.results.map((r: { conversation_id: string; organization_id: string }) => [r.conversation_id, r.organization_id])).toEqual([
        ['seed-acme-1', 'acme'],
        ['seed-globex-gz', 'globex'],
      ]);
    });

    it('exports them as valid conversations that carry organization_id, in every format', async () => {
      const range = { action: 'export', start_date: daysAgo(500).slice(0, 10), end_date: daysAgo(0).slice(0, 10) };
      const expected = (s: SeedFile) => ({ organization_id: s.org, ...(s.conv as unknown as Record<string, unknown>) });
      const byId = (list: ArchivedConversation[]) => [...list].sort((a, b) => a.conversation_id.localeCompare(b.conversation_id));
      const all = byId(seeds.map(expected) as ArchivedConversation[]);

      const json = await request(t.server).get(API).query(range).expect(200);
      expect(byId(json.body.conversations)).toEqual(all);
      const ndjson = await request(t.server).get(API).query({ ...range, format: 'ndjson' }).buffer(true).parse((res, done) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => done(null, text));
      }).expect(200);
      const lines = (ndjson.body as string).split('\n').filter(Boolean);
      expect(lines).toHaveLength(4);
      expect(byId(lines.map((l) => JSON.parse(l)))).toEqual(all);
      // the organization comes first, as in the vault's own files
      expect(Object.keys(JSON.parse(lines[0]))[0]).toBe('organization_id');

      const csv = await request(t.server).get(API).query({ ...range, format: 'csv' }).expect(200);
      const rows = csv.text.trim().split('\r\n');
      const header = rows[0].split(',');
      const org = header.indexOf('organization_id');
      const conv = header.indexOf('conversation_id');
      expect(org).toBeGreaterThanOrEqual(0);
      const orgs = new Map(rows.slice(1).map((r) => [r.split(',')[conv], r.split(',')[org]]));
      expect(Object.fromEntries(orgs)).toEqual({ 'seed-acme-1': 'acme', 'seed-acme-2': 'acme', 'seed-globex-gz': 'globex', 'seed-no-org': '' });

      expect(byId(await sut.exportToArray({}))).toEqual(all);
    });

    it('deletes the old ones by retention, files and catalog rows', async () => {
      const res = await request(t.server).delete(API).query({ days_to_keep: 30 }).expect(200);
      expect(res.body).toMatchObject({ success: true, deleted_files: 1 });
      expect(fs.existsSync(path.join(logsDir, seeds[1].path))).toBe(false);
      expect((await request(t.server).get(API).query({ action: 'summary' })).body.total_files).toBe(3);
    });
  });

  describe('a missing catalog', () => {
    let logsDir: string;
    let t: TestApp;
    let store: GatedStore;

    beforeAll(async () => {
      logsDir = makeTempDir();
      for (let i = 0; i < 5; i++) writeSeedFile(logsDir, `gated-${i}`, i % 2 ? 'acme' : null, daysAgo(i + 1));
      t = await createTestApp({ LOGS_DIR: logsDir, LOG_TIMEZONE: 'UTC' }, (b) =>
        b.overrideProvider(ARCHIVE_STORE).useFactory({ factory: (c: AppConfig) => new GatedStore(c.logsDir), inject: [AppConfig] }),
      );
      store = t.app.get(ARCHIVE_STORE);
    });
    afterAll(async () => {
      store.release();
      await t.close();
      fs.rmSync(logsDir, { recursive: true, force: true });
    });

    it('is rebuilt once, in the background: liveness answers, readiness and the API say it is rebuilding', async () => {
      const sut = t.app.get(LogStorageService);
      await request(t.server).get('/health').expect(200);
      await store.reached;
      const ready = await request(t.server).get('/health/ready').expect(503);
      expect(ready.body.details.catalog).toEqual({ status: 'down', message: 'rebuilding, 0 of 5', done: 0, total: 5 });
      const summary = await request(t.server).get(API).query({ action: 'summary' }).expect(503);
      expect(summary.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The catalog is being rebuilt from the files (0 of 5 files); try again when it has finished',
      });
      await request(t.server).get(`${API}/search`).query({ q: 'hello' }).expect(503);

      // what `npm run reindex` does after booting: it joins the rebuild under way instead of starting another
      const progress: [number, number | null][] = [];
      const joined = sut.reindex({ onProgress: (done, total) => progress.push([done, total]) });
      store.release();
      const result = await joined;
      await sut.whenCatalogReady();
      expect(result).toMatchObject({ success: true, indexed: 5, skipped: [] });
      expect(progress[progress.length - 1]).toEqual([5, 5]);
      expect(t.logLines.filter((l) => l.includes('Started catalog rebuild'))).toHaveLength(1);
      expect(t.logLines.filter((l) => l.includes('Finished catalog rebuild'))).toHaveLength(1);
      expect(sut.rebuildProgress()).toBeNull();
      expect((await request(t.server).get(API).query({ action: 'summary' }).expect(200)).body.total_files).toBe(5);
      expect((await request(t.server).get('/health/ready')).body.details.catalog).toEqual({ status: 'up', conversations: 5 });
    });

    it('is rebuilt once at a restart, and two reindex requests at once share one rebuild', async () => {
      await t.close();
      removeCatalog(logsDir);
      t = await createTestApp({ LOGS_DIR: logsDir, LOG_TIMEZONE: 'UTC' });
      const sut = t.app.get(LogStorageService);
      await sut.whenCatalogReady();
      const started = () => t.logLines.filter((l) => l.includes('Started catalog rebuild')).length;
      expect(started()).toBe(1);
      expect((await sut.getSummary()).total_files).toBe(5);
      // two requests while one rebuild runs: one rebuild, one result
      const [a, b] = await Promise.all([sut.reindex(), sut.reindex()]);
      expect(a).toBe(b);
      expect(started()).toBe(2);
    });
  });
});
