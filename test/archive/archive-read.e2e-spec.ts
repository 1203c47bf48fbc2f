import { parse } from 'csv-parse/sync';
import request from 'supertest';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { ArchiveFiles } from '../../src/log-storage/archive-files';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import * as fs from 'node:fs';
import { readStoredArchive, STORE_KINDS, storeUnderTest, StoreUnderTest } from '../support/archive-stores';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';
import { conversation } from './archive-fixtures';

const API = '/api/conversation-logs';

/** A request without supertest's transparent gunzip, to see the bytes on the wire. */
async function rawGet(t: TestApp, url: string, headers: Record<string, string>) {
  const server = t.server.listening ? t.server : await new Promise<http.Server>((resolve) => {
    const s = t.server.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

jest.setTimeout(120_000);

describe.each(STORE_KINDS)('Archive read endpoints (summary, export, search, stats, conversation), archive on %s', (kind) => {
  let t: TestApp;
  let storage: LogStorageService;
  let logsDir: string;
  let store: StoreUnderTest;
  const readArchive = () => readStoredArchive(store);

  const tricky = 'Yes, "quoted", with commas,\nand a second line\r\nand a third';
  const seeded = [
    conversation({ id: 'conv-a1', created_at: '2024-01-15T09:00:00.000Z', name: 'Refund request', messages: [
      { query: 'How do refunds work?', answer: 'Refunds take 5 days.', feedback: { rating: 'like' }, provider_response_latency: 1 },
      { query: 'And exchanges?', answer: tricky, provider_response_latency: 3 },
    ] }),
    conversation({ id: 'conv-a2', created_at: '2024-01-16T12:30:29.000Z', name: 'Shipping', from_source: 'console', user: null, end_user_id: null, messages: [
      { query: 'Where is my parcel?', answer: 'In transit.', feedback: { rating: 'dislike' }, provider_response_latency: 2 },
    ] }),
    conversation({ id: 'conv-a3', created_at: '2024-01-17T23:59:59.999Z', app_id: 'sales-bot', user: 'user-7', end_user_id: 'eu-7', messages: [
      { query: 'Price of the pro plan?', answer: 'It is 20 euros.', status: 'error', error: 'model timeout', provider_response_latency: 10 },
    ] }),
    conversation({ id: 'conv-b1', organization_id: 'globex', created_at: '2024-01-16T08:00:00.000Z', name: 'Refund elsewhere' }),
    conversation({ id: 'conv-n1', organization_id: null, created_at: '2024-01-16T10:00:00.000Z', name: 'No organization' }),
  ];

  beforeAll(async () => {
    logsDir = makeTempDir();
    store = await storeUnderTest(kind, () => logsDir, 'archive-read');
    t = await createTestApp({ ...store.env, LOGS_DIR: logsDir });
    storage = t.app.get(LogStorageService);
    for (const c of seeded) await storage.saveConversation(c);
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  describe('summary', () => {
    it('counts files, bytes and day folders from the catalog', async () => {
      const files = await readArchive();
      const res = await request(t.server).get(API).query({ action: 'summary' }).expect(200);
      expect(res.body).toEqual({
        success: true,
        total_files: 5,
        total_size_bytes: files.reduce((sum, f) => sum + Buffer.byteLength(f.text), 0),
        directories: [
          'conversations/2024/01/16',
          'conversations/acme/2024/01/15',
          'conversations/acme/2024/01/16',
          'conversations/acme/2024/01/17',
          'conversations/globex/2024/01/16',
        ],
      });
    });

    it('narrows to one organization', async () => {
      const res = await request(t.server).get(API).query({ action: 'summary', organization_id: 'globex' }).expect(200);
      expect(res.body.total_files).toBe(1);
      expect(res.body.directories).toEqual(['conversations/globex/2024/01/16']);
    });
  });

  describe('export', () => {
    it('returns exactly the files of the day folders in range, as stored', async () => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-16', end_date: '2024-01-17', organization_id: 'acme' })
        .expect(200)
        .expect('Content-Type', /application\/json/);
      const expected = (await readArchive()).filter((f) => /^conversations\/acme\/2024\/01\/1[67]\//.test(f.path));
      expect(res.body.success).toBe(true);
      expect(res.body.count).toBe(2);
      expect(res.body.conversations).toEqual(expected.map((f) => f.json));
    });

    it('covers every organization without organization_id', async () => {
      const res = await request(t.server).get(API).query({ action: 'export', start_date: '2024-01-16', end_date: '2024-01-16' }).expect(200);
      expect(res.body.conversations.map((c: { conversation_id: string }) => c.conversation_id).sort()).toEqual(['conv-a2', 'conv-b1', 'conv-n1']);
    });

    it('answers an empty range with count 0', async () => {
      const res = await request(t.server).get(API).query({ action: 'export', start_date: '2023-01-01', end_date: '2023-01-31' }).expect(200);
      expect(res.body).toEqual({ success: true, conversations: [], count: 0 });
    });

    it.each([
      [{ app_id: 'sales-bot' }, ['conv-a3']],
      [{ from_source: 'console' }, ['conv-a2']],
      [{ user: 'user-7' }, ['conv-a3']],
      [{ user: 'eu-7' }, ['conv-a3']],
      [{ keyword: 'refunds' }, ['conv-a1']],
      [{ keyword: 'refund' }, ['conv-a1', 'conv-b1']],
      [{ rating: 'like' }, ['conv-a1']],
      [{ rating: 'dislike' }, ['conv-a2']],
    ])('filters by %j', async (filter, ids) => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-01', end_date: '2024-01-31', ...filter })
        .expect(200);
      expect(res.body.conversations.map((c: { conversation_id: string }) => c.conversation_id).sort()).toEqual(ids);
      expect(res.body.count).toBe(ids.length);
    });

    it('streams ndjson, one conversation per line', async () => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-15', end_date: '2024-01-17', format: 'ndjson' })
        .expect(200)
        .expect('Content-Type', /application\/x-ndjson/);
      const lines = res.text.trim().split('\n');
      expect(lines).toHaveLength(5);
      expect(lines.map((l) => JSON.parse(l).conversation_id).sort()).toEqual(['conv-a1', 'conv-a2', 'conv-a3', 'conv-b1', 'conv-n1']);
    });

    it('writes CSV that round-trips commas, quotes and newlines', async () => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-15', end_date: '2024-01-15', format: 'csv' })
        .expect(200)
        .expect('Content-Type', /text\/csv/);
      const rows: Record<string, string>[] = parse(res.text, { columns: true });
      expect(Object.keys(rows[0])).toEqual([
        'conversation_id', 'app_id', 'app_name', 'organization_id', 'user', 'from_source', 'message_id', 'created_at', 'query', 'answer',
        'message_tokens', 'answer_tokens', 'latency_s', 'rating',
      ]);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ conversation_id: 'conv-a1', user: 'user-1', rating: 'like', answer: 'Refunds take 5 days.', latency_s: '1' });
      expect(rows[1].answer).toBe(tricky);
      expect(rows[1].rating).toBe('');
    });

    it('sends a gzipped download with a file name when the client accepts gzip', async () => {
      const query = new URLSearchParams({ action: 'export', start_date: '2024-01-15', end_date: '2024-01-17', format: 'csv', download: 'true' });
      const res = await rawGet(t, `${API}?${query}`, { 'Accept-Encoding': 'gzip, deflate' });
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toBe('attachment; filename="conversations_2024-01-15_2024-01-17.csv"');
      expect(res.headers['content-encoding']).toBe('gzip');
      const text = zlib.gunzipSync(res.body).toString('utf8');
      expect(parse(text, { columns: true })).toHaveLength(6);
    });

    it('starts a CSV with a UTF-8 byte order mark on bom=true, and only a CSV', async () => {
      const query = { action: 'export', start_date: '2024-01-15', end_date: '2024-01-15', format: 'csv' };
      const withBom = await rawGet(t, `${API}?${new URLSearchParams({ ...query, bom: 'true' })}`, {});
      expect([...withBom.body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect(withBom.body.subarray(3).toString('utf8').startsWith('conversation_id,')).toBe(true);
      const plain = await rawGet(t, `${API}?${new URLSearchParams(query)}`, {});
      expect(plain.body.subarray(0, 15).toString('utf8')).toBe('conversation_id');
      const refused = await request(t.server).get(API).query({ ...query, format: 'json', bom: 'true' }).expect(400);
      expect(refused.body.message).toContain('bom is only allowed with format=csv');
      const bad = await request(t.server).get(API).query({ ...query, bom: 'yes' }).expect(400);
      expect(bad.body.message).toContain('bom must be true or false');
    });

    it('names a download after its filters', async () => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-15', end_date: '2024-01-17', app_id: 'support-bot', rating: 'like', download: 'true' })
        .set('Accept-Encoding', 'identity')
        .expect(200);
      expect(res.headers['content-disposition']).toBe('attachment; filename="conversations_2024-01-15_2024-01-17_app-support-bot_like.json"');
    });

    it('sends a plain download when the client does not accept gzip', async () => {
      const res = await request(t.server)
        .get(API)
        .query({ action: 'export', start_date: '2024-01-15', end_date: '2024-01-17', download: 'true' })
        .set('Accept-Encoding', 'identity')
        .expect(200);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['content-disposition']).toContain('conversations_2024-01-15_2024-01-17.json');
      expect(JSON.parse(res.text).count).toBe(5);
    });
  });

  describe('search', () => {
    it('finds words in queries, answers and names, newest first, with a snippet', async () => {
      const res = await request(t.server).get(`${API}/search`).query({ q: 'refund' }).expect(200);
      expect(res.body.success).toBe(true);
      expect(res.body.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(['conv-b1', 'conv-a1']);
      const hit = res.body.results[1];
      expect(hit).toMatchObject({
        conversation_id: 'conv-a1',
        organization_id: 'acme',
        app_id: 'support-bot',
        name: 'Refund request',
        created_at: '2024-01-15T09:00:00.000Z',
        message_count: 2,
      });
      expect(hit.path).toMatch(/^conversations\/acme\/2024\/01\/15\/conversation_conv-a1_2024-01-15T09-00-00-000Z\.json$/);
      expect(hit.snippet).toContain('«');
      expect(res.body.next_cursor).toBeNull();
    });

    it('pages with an opaque cursor without gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const res = await request(t.server).get(`${API}/search`).query({ limit: 2, ...(cursor ? { cursor } : {}) }).expect(200);
        seen.push(...res.body.results.map((r: { conversation_id: string }) => r.conversation_id));
        cursor = res.body.next_cursor ?? undefined;
        if (!cursor) break;
      }
      expect(seen).toEqual(['conv-a3', 'conv-a2', 'conv-n1', 'conv-b1', 'conv-a1']);
    });

    it('applies the filters', async () => {
      const res = await request(t.server)
        .get(`${API}/search`)
        .query({ organization_id: 'acme', start_date: '2024-01-16', end_date: '2024-01-17', rating: 'dislike' })
        .expect(200);
      expect(res.body.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(['conv-a2']);
    });

    it('refuses a bad cursor naming cursor', async () => {
      const res = await request(t.server).get(`${API}/search`).query({ cursor: 'not-a-cursor' }).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, field: 'cursor', message: ['cursor is not a cursor from a previous page'] });
    });

    it('refuses a query without any word, naming q', async () => {
      const res = await request(t.server).get(`${API}/search`).query({ q: '"*' }).expect(400);
      expect(res.body.field).toBe('q');
    });
  });

  describe('stats', () => {
    it('reports per day and app, and totals', async () => {
      const res = await request(t.server)
        .get(`${API}/stats`)
        .query({ start_date: '2024-01-15', end_date: '2024-01-17', organization_id: 'acme' })
        .expect(200);
      expect(res.body.days).toEqual([
        { day: '2024-01-15', organization_id: 'acme', app_id: 'support-bot', conversations: 1, messages: 2, end_users: 1, tokens: 60, avg_latency: 2, p95_latency: 3, likes: 1, dislikes: 0, errors: 0 },
        { day: '2024-01-16', organization_id: 'acme', app_id: 'support-bot', conversations: 1, messages: 1, end_users: 0, tokens: 30, avg_latency: 2, p95_latency: 2, likes: 0, dislikes: 1, errors: 0 },
        { day: '2024-01-17', organization_id: 'acme', app_id: 'sales-bot', conversations: 1, messages: 1, end_users: 1, tokens: 30, avg_latency: 10, p95_latency: 10, likes: 0, dislikes: 0, errors: 1 },
      ]);
      expect(res.body.totals).toEqual({
        conversations: 3, messages: 4, end_users: 2, tokens: 120, avg_latency: 4, p95_latency: 10, likes: 1, dislikes: 1, errors: 1,
      });
    });
  });

  describe('one conversation', () => {
    it('reads a file by path and by conversation id', async () => {
      const file = (await readArchive()).find((f) => f.json.conversation_id === 'conv-a2')!;
      const byPath = await request(t.server).get(`${API}/conversation`).query({ path: file.path }).expect(200);
      expect(byPath.body).toEqual({ success: true, path: file.path, conversation: file.json });
      const byId = await request(t.server).get(`${API}/conversations/conv-a2`).query({ organization_id: 'acme' }).expect(200);
      expect(byId.body.conversation).toEqual(file.json);
    });

    it('answers 404 for an absent conversation', async () => {
      await request(t.server).get(`${API}/conversations/nope`).expect(404);
      await request(t.server)
        .get(`${API}/conversation`)
        .query({ path: 'conversations/acme/2024/01/16/conversation_nope_2024-01-16T12-30-29-000Z.json' })
        .expect(404);
    });

    it.each([
      '../../etc/passwd',
      'conversations/../catalog.sqlite',
      'conversations/acme/2024/01/16/../../../../../etc/passwd.json',
      '/etc/passwd',
      'catalog.sqlite',
    ])('refuses %s naming path', async (p) => {
      const res = await request(t.server).get(`${API}/conversation`).query({ path: p }).expect(400);
      expect(res.body.field).toBe('path');
    });
  });

  it('documents every archive route in the API docs', async () => {
    const res = await request(t.server).get('/api/docs-json').expect(200);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths[API])).toEqual(expect.arrayContaining(['get', 'delete']));
    for (const route of ['search', 'stats', 'conversation', 'conversations/{conversation_id}', 'verify']) {
      expect(paths[`${API}/${route}`]?.get).toBeDefined();
    }
    for (const route of ['reindex', 'compress']) expect(paths[`${API}/${route}`]?.post).toBeDefined();
    const exportParams = (paths[API].get as { parameters: { name: string }[] }).parameters.map((p) => p.name);
    expect(exportParams).toEqual(expect.arrayContaining(['action', 'start_date', 'end_date', 'organization_id', 'format', 'download', 'keyword']));
  });

  it('stops reading files when the client goes away mid-export', async () => {
    const big = 'x'.repeat(40_000);
    for (let i = 0; i < 120; i++) {
      await storage.saveConversation(conversation({ id: `bulk-${i}`, organization_id: 'bulk', created_at: '2023-06-01T10:00:00.000Z', messages: [{ answer: big }] }));
    }
    const files = t.app.get(ArchiveFiles, { strict: false });
    // count the files asked for: the disk reads them in framed batches, a bucket object by object (read-ahead)
    const stored = jest.spyOn(files, 'readStored');
    const single = jest.spyOn(files, 'readStoredBytes');
    const requested = () => stored.mock.calls.reduce((n, call) => n + call[1].length, 0) + single.mock.calls.length;
    const server = t.server.listening ? t.server : await new Promise<http.Server>((resolve) => {
      const s = t.server.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: `${API}?action=export&start_date=2023-06-01&end_date=2023-06-01&organization_id=bulk` }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(requested()).toBeGreaterThan(0);
    expect(requested()).toBeLessThan(120);
    stored.mockRestore();
    single.mockRestore();
    await request(t.server).get(API).query({ action: 'summary', organization_id: 'bulk' }).expect(200);
  });

  describe('every 400 names the parameter', () => {
    it.each([
      [{ action: 'explode' }, 'action must be one of: summary, export'],
      [{}, 'action must be one of: summary, export'],
      [{ action: 'export', end_date: '2024-01-01' }, 'start_date is required when action is export'],
      [{ action: 'export', start_date: '2024-01-01' }, 'end_date is required when action is export'],
      [{ action: 'export', start_date: '2024-13-01', end_date: '2024-01-02' }, 'start_date must be a date in the form YYYY-MM-DD'],
      [{ action: 'export', start_date: '2024-02-30', end_date: '2024-03-02' }, 'start_date must be a date in the form YYYY-MM-DD'],
      [{ action: 'export', start_date: '2024-01-02', end_date: '2024-01-01' }, 'end_date must not be before start_date'],
      [{ action: 'export', start_date: '2024-01-01', end_date: '2024-01-02', format: 'xml' }, 'format must be one of: json, ndjson, csv'],
      [{ action: 'export', start_date: '2024-01-01', end_date: '2024-01-02', rating: 'meh' }, 'rating must be one of: like, dislike'],
      [{ action: 'export', start_date: '2024-01-01', end_date: '2024-01-02', from_source: 'web' }, 'from_source must be one of: api, console'],
      [{ action: 'export', start_date: '2024-01-01', end_date: '2024-01-02', download: 'yes' }, 'download must be true or false'],
      [{ action: 'summary', organization_id: '../etc' }, 'organization_id must be 1 to 64 characters'],
      [{ action: 'summary', bogus: '1' }, 'property bogus should not exist'],
    ])('GET %j', async (query, message) => {
      const res = await request(t.server).get(API).query(query).expect(400);
      expect(res.body.statusCode).toBe(400);
      expect(res.body.message.join(' ')).toContain(message);
    });

    it.each([
      [{ days_to_keep: '0' }, 'days_to_keep must be an integer from 1 to 36500'],
      [{ days_to_keep: '36501' }, 'days_to_keep must be an integer from 1 to 36500'],
      [{ days_to_keep: '1.5' }, 'days_to_keep must be an integer from 1 to 36500'],
      [{ days_to_keep: 'ten' }, 'days_to_keep must be an integer from 1 to 36500'],
      [{ days_to_keep: '5', dry_run: 'maybe' }, 'dry_run must be true or false'],
      [{ days_to_keep: '5', organization_id: 'a/b' }, 'organization_id must be 1 to 64 characters'],
    ])('DELETE %j', async (query, message) => {
      const res = await request(t.server).delete(API).query(query).expect(400);
      expect(res.body.message.join(' ')).toContain(message);
    });

    it.each([
      [`${API}/search`, { limit: '0' }, 'limit must be an integer from 1 to 100'],
      [`${API}/search`, { limit: '101' }, 'limit must be an integer from 1 to 100'],
      [`${API}/stats`, { start_date: '2024-01-05', end_date: '2024-01-01' }, 'end_date must not be before start_date'],
      [`${API}/search`, { start_date: '2024-01-05', end_date: '2024-01-01' }, 'end_date must not be before start_date'],
      [`${API}/search`, { start_date: '2024-13-01' }, 'start_date'],
      [`${API}/stats`, { app_id: '..' }, 'app_id must be 1 to 64 characters'],
      [`${API}/conversations/a%20b`, {}, 'conversation_id must be 1 to 64 characters'],
    ])('GET %s %j', async (url, query, message) => {
      const res = await request(t.server).get(url).query(query).expect(400);
      expect(res.body.message.join(' ')).toContain(message);
    });
  });
});
