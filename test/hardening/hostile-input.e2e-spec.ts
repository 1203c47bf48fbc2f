import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { loadAppConfig } from '../../src/config/app-config';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { findSecrets, listAllFiles } from '../support/archive';
import { createTestApp, TestApp } from '../support/test-app';
import { chatApp, seedConversations, sourceEnv } from './hardening-kit';

jest.setTimeout(60_000);

const TOKEN = 'hardening-admin-token-5b2f9c';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

/** Names that try to leave LOGS_DIR, in every spelling that reaches a path. */
const TRAVERSAL = [
  '../etc',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '/etc/passwd',
  'C:\\Windows',
  'a%00b',
  '\u2024\u2024',
  '\uff0e\uff0e\uff0fetc',
  'x'.repeat(300),
];

interface Case {
  method: 'get' | 'post' | 'delete';
  url: (bad: string) => string;
  body?: (bad: string) => object;
  field: string;
}

/** Every route and parameter that ends up in a file path or a catalog lookup. */
const PATH_CASES: Case[] = [
  { method: 'get', url: (b) => `/api/conversation-logs?action=summary&organization_id=${b}`, field: 'organization_id' },
  { method: 'get', url: (b) => `/api/conversation-logs?action=export&start_date=2024-01-01&end_date=2024-01-02&organization_id=${b}`, field: 'organization_id' },
  { method: 'get', url: (b) => `/api/conversation-logs?action=export&start_date=2024-01-01&end_date=2024-01-02&app_id=${b}`, field: 'app_id' },
  { method: 'delete', url: (b) => `/api/conversation-logs?days_to_keep=30&organization_id=${b}`, field: 'organization_id' },
  { method: 'get', url: (b) => `/api/conversation-logs/search?q=hello&organization_id=${b}`, field: 'organization_id' },
  { method: 'get', url: (b) => `/api/conversation-logs/stats?app_id=${b}`, field: 'app_id' },
  { method: 'get', url: (b) => `/api/conversation-logs/conversation?path=${b}`, field: 'path' },
  { method: 'get', url: (b) => `/api/conversation-logs/conversation?path=conversations/${b}/2024/01/01/conversation_x_2024-01-01T00-00-00-000Z.json`, field: 'path' },
  { method: 'get', url: (b) => `/api/conversation-logs/conversations/${b}`, field: 'conversation_id' },
  { method: 'get', url: (b) => `/api/conversation-logs/conversations/abc?organization_id=${b}`, field: 'organization_id' },
  { method: 'post', url: () => '/api/conversation-logs', body: (b) => ({ app_id: b }), field: 'app_id' },
  { method: 'post', url: () => '/api/conversation-logs', body: (b) => ({ app_id: 'app', organization_id: b, dify_api_url: 'http://127.0.0.1:1/v1', api_key: 'k' }), field: 'organization_id' },
];

const SSRF_URLS = [
  'http://evil.example.com/v1',
  'http://127.0.0.1.nip.io/v1',
  'http://localhost/v1',
  'http://127.1/v1',
  'http://2130706433/v1',
  'http://0x7f000001/v1',
  'http://[::1]/v1',
  'http://[::ffff:127.0.0.1]/v1',
  'http://0.0.0.0/v1',
  'http://169.254.169.254/latest/meta-data',
  'http://user:pass@api.dify.ai/v1',
  'file:///etc/passwd',
  'gopher://127.0.0.1:25/_HELO',
  'ftp://api.dify.ai/v1',
  'javascript:alert(1)',
  '//api.dify.ai/v1',
];

function expectNamed(res: request.Response, field: string): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const text = JSON.stringify(res.body);
  expect(res.body.field === field || text.includes(field)).toBe(true);
  expect(text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules/);
}

describe('Hardening: hostile and broken input', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp;
  let outside: string;
  const answers: string[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 5);
    t = await createTestApp({
      ...sourceEnv(sim, app, 'console-login'),
      ADMIN_TOKEN: TOKEN,
      BODY_LIMIT: '16kb',
    });
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-outside-'));
    fs.writeFileSync(path.join(outside, 'canary.json'), '{"secret":"canary"}');
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const send = async (method: Case['method'], url: string, body?: object, headers: Record<string, string> = AUTH) => {
    let req = request(t.server)[method](url).set(headers);
    if (body) req = req.send(body);
    const res = await req;
    answers.push(res.text);
    return res;
  };

  describe('path traversal: 400 naming the field, nothing read or written outside LOGS_DIR', () => {
    const table = PATH_CASES.flatMap((c) => TRAVERSAL.map((bad) => [c.method, c.url('{bad}'), bad, c] as const));
    it.each(table)('%s %s with %j', async (method, _shape, bad, c) => {
      const encoded = bad.includes('%') ? bad : encodeURIComponent(bad);
      const res = await send(method, c.url(encoded), c.body?.(bad));
      if (res.status === 404) {
        // an id that is a safe name but unknown, never a file outside
        expect(res.body.message).not.toContain('canary');
      } else {
        expect(res.status).toBe(400);
        expectNamed(res, c.field);
      }
    });

    it('touched nothing outside LOGS_DIR and wrote nothing but the catalog and state inside it', () => {
      expect(listAllFiles(outside).map((f) => path.basename(f))).toEqual(['canary.json']);
      expect(fs.existsSync(path.join(t.logsDir, 'conversations'))).toBe(false);
      for (const f of listAllFiles(t.logsDir)) expect(path.relative(t.logsDir, f)).toMatch(/^(catalog|state)/);
    });
  });

  describe('SSRF: Dify URLs whose host is not allowed are refused before any request', () => {
    let strict: TestApp;
    beforeAll(async () => {
      // loopback not allowed here: only api.dify.ai
      strict = await createTestApp({ DIFY_ALLOWED_HOSTS: 'api.dify.ai', ADMIN_TOKEN: TOKEN });
    });
    afterAll(() => strict.close());

    it.each(SSRF_URLS)('%s', async (url) => {
      const before = sim.requests.length;
      for (const body of [
        { app_id: 'a1', dify_api_url: url, api_key: 'app-secret-key' },
        { app_id: 'a1', console_api_url: url, admin_api_key: 'admin-secret-key', workspace_id: 'w' },
      ]) {
        const res = await request(strict.server).post('/api/conversation-logs').set(AUTH).send(body);
        answers.push(res.text);
        expect(res.status).toBe(400);
        expectNamed(res, 'dify_api_url' in body ? 'dify_api_url' : 'console_api_url');
        expect(strict.logLines.join('\n')).not.toMatch(/Started backup/);
      }
      expect(sim.requests.length).toBe(before);
    });

    it('never follows a redirect to a host that is not allowed (the client refuses redirects; see test/dify)', async () => {
      sim.injectFault({ path: /chat-conversations$/, fault: { kind: 'status', status: 302, body: { location: 'http://169.254.169.254/' } } });
      const res = await send('post', '/api/conversation-logs', { app_id: app.id });
      sim.clearFaults();
      expect(res.body.success).toBe(false);
      expect(JSON.stringify(res.body.errors)).toMatch(/redirect|302/i);
      expect(sim.requests.every((r) => r.path.startsWith('/console/api') || r.path.startsWith('/v1'))).toBe(true);
    });
  });

  describe('wrong types, missing and unknown fields, limits: 4xx naming the field', () => {
    const cases: [string, Case['method'], string, object | undefined, string][] = [
      ['missing app_id', 'post', '/api/conversation-logs', {}, 'app_id'],
      ['app_id a number', 'post', '/api/conversation-logs', { app_id: 42 }, 'app_id'],
      ['unknown field', 'post', '/api/conversation-logs', { app_id: app?.id ?? 'x', extra: 1 }, 'extra'],
      ['users not an array', 'post', '/api/conversation-logs', { app_id: 'x', users: 'u', dify_api_url: 'https://api.dify.ai/v1', api_key: 'k' }, 'users'],
      ['filters not an object', 'post', '/api/conversation-logs', { app_id: 'x', filters: 'yesterday' }, 'filters'],
      ['filters.start_date not a date', 'post', '/api/conversation-logs', { app_id: 'x', filters: { start_date: 'monday' } }, 'start_date'],
      ['filters unknown field', 'post', '/api/conversation-logs', { app_id: 'x', filters: { since: '2024-01-01' } }, 'since'],
      ['async not a boolean', 'post', '/api/conversation-logs?async=maybe', { app_id: 'x' }, 'async'],
      ['huge days_to_keep', 'delete', '/api/conversation-logs?days_to_keep=99999999999', undefined, 'days_to_keep'],
      ['negative days_to_keep', 'delete', '/api/conversation-logs?days_to_keep=-3', undefined, 'days_to_keep'],
      ['fractional days_to_keep', 'delete', '/api/conversation-logs?days_to_keep=1.5', undefined, 'days_to_keep'],
      ['days_to_keep 0', 'delete', '/api/conversation-logs?days_to_keep=0', undefined, 'days_to_keep'],
      ['exponent days_to_keep', 'delete', '/api/conversation-logs?days_to_keep=1e3', undefined, 'days_to_keep'],
      ['dry_run not a boolean', 'delete', '/api/conversation-logs?days_to_keep=3&dry_run=1', undefined, 'dry_run'],
      ['reversed export range', 'get', '/api/conversation-logs?action=export&start_date=2024-02-01&end_date=2024-01-01', undefined, 'end_date'],
      ['impossible day', 'get', '/api/conversation-logs?action=export&start_date=2024-02-30&end_date=2024-03-01', undefined, 'start_date'],
      ['unknown action', 'get', '/api/conversation-logs?action=drop', undefined, 'action'],
      ['unknown format', 'get', '/api/conversation-logs?action=export&start_date=2024-01-01&end_date=2024-01-01&format=xml', undefined, 'format'],
      ['unknown query parameter', 'get', '/api/conversation-logs/stats?admin=true', undefined, 'admin'],
      ['array parameter', 'get', '/api/conversation-logs/search?q=a&q=b', undefined, 'q'],
      ['limit too large', 'get', '/api/conversation-logs/search?q=a&limit=1000', undefined, 'limit'],
      ['negative limit', 'get', '/api/conversation-logs/search?q=a&limit=-1', undefined, 'limit'],
      ['fractional after_days', 'post', '/api/conversation-logs/compress?after_days=0.5', undefined, 'after_days'],
      ['reversed stats range', 'get', '/api/conversation-logs/stats?start_date=2024-02-01&end_date=2024-01-01', undefined, 'end_date'],
      ['bad cursor', 'get', '/api/conversation-logs/search?q=a&cursor=%00%00', undefined, 'cursor'],
    ];
    it.each(cases)('%s', async (_name, method, url, body, field) => {
      expectNamed(await send(method, url, body), field);
    });

    it('reversed backup window names filters.end_date', async () => {
      const res = await send('post', '/api/conversation-logs', { app_id: app.id, filters: { start_date: '2024-02-01T00:00:00Z', end_date: '2024-01-01T00:00:00Z' } });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('filters.end_date');
    });

    it('a body over BODY_LIMIT answers 413, a body that is not JSON 400, both without a stack', async () => {
      const big = await send('post', '/api/conversation-logs', { app_id: 'x', users: Array.from({ length: 3000 }, (_, i) => `user-${i}`) });
      expect(big.status).toBe(413);
      expect(big.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'request body is larger than the allowed limit' });
      const broken = await request(t.server).post('/api/conversation-logs').set(AUTH).set('content-type', 'application/json').send('{"app_id":');
      expect(broken.status).toBe(400);
      expect(broken.text).not.toMatch(/\bat \S+|node_modules|SyntaxError/);
      const badEncoding = await send('get', '/api/conversation-logs/conversations/%E0%A4%A');
      expect(badEncoding.status).toBe(400);
      expect(badEncoding.headers['content-type']).toMatch(/json/);
    });

    it.each(['LOG_TIMEZONE', 'CRON_TIMEZONE'])('an invalid time zone in %s fails at boot naming the variable', (name) => {
      expect(() => loadAppConfig({ LOGS_DIR: t.logsDir, [name]: 'Mars/Olympus_Mons' })).toThrow(name);
    });
  });

  describe('ADMIN_TOKEN', () => {
    const API_ROUTES: [Case['method'], string][] = [
      ['get', '/api/conversation-logs?action=summary'],
      ['get', '/api/conversation-logs?action=export&start_date=2024-01-01&end_date=2024-01-01'],
      ['delete', '/api/conversation-logs?days_to_keep=30'],
      ['post', '/api/conversation-logs'],
      ['get', '/api/conversation-logs/search?q=a'],
      ['get', '/api/conversation-logs/stats'],
      ['get', '/api/conversation-logs/conversation?path=x'],
      ['get', '/api/conversation-logs/conversations/abc'],
      ['get', '/api/conversation-logs/verify'],
      ['post', '/api/conversation-logs/reindex'],
      ['post', '/api/conversation-logs/compress'],
      ['post', '/api/conversation-logs/scheduled'],
      ['get', '/api/jobs'],
      ['get', '/api/jobs/abc'],
      ['get', '/api/jobs/abc/events'],
      ['get', '/api/sources'],
      ['post', '/api/sources/abc/test'],
      ['get', '/api/schedule'],
      ['get', '/api/docs'],
      ['get', '/api/docs-json'],
    ];
    const ADMIN_PAGES = ['/admin', '/admin/totals', '/admin/jobs/abc', '/admin/export', '/admin/export/download', '/admin/search?q=a', '/admin/conversations/abc', '/admin/clean', '/admin/anything'];

    it.each(API_ROUTES)('%s %s is refused without a token and with a wrong one', async (method, url) => {
      for (const headers of [{}, { Authorization: `Bearer ${TOKEN}x` }, { Authorization: TOKEN }, { Authorization: 'Bearer ' }]) {
        const res = await request(t.server)[method](url).set(headers);
        answers.push(res.text);
        expect(res.status).toBe(401);
        expect(JSON.stringify(res.body)).not.toContain(TOKEN);
        t.app.get(AuthServiceToken).failures?.clear?.();
      }
    });

    it.each(ADMIN_PAGES)('admin page %s is refused without a session (redirect to sign in, no content)', async (url) => {
      for (const method of ['get', 'post'] as const) {
        const res = await request(t.server)[method](url).set('Cookie', 'vault_session=forged.session.value');
        expect([302, 303, 401, 403, 404]).toContain(res.status);
        if (res.status < 400) expect(res.headers.location).toMatch(/^\/admin\/login/);
        expect(res.text).not.toMatch(/conversation_|total_files/);
      }
    });

    it('compares tokens in constant time (sha256 then timingSafeEqual), throttles wrong tokens with 429, never the right one', async () => {
      const source = fs.readFileSync(path.join(__dirname, '../../src/common/auth/auth.service.ts'), 'utf8');
      expect(source).toMatch(/timingSafeEqual\(ha, hb\)/);
      t.app.get(AuthServiceToken).failures?.clear?.();
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await request(t.server).get('/api/jobs').set('Authorization', `Bearer wrong-${i}`)).status);
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(10)).toEqual([429, 429]);
      // the limit holds for the Swagger routes too, but only for wrong credentials
      expect((await request(t.server).get('/api/docs-json').set('Authorization', 'Bearer wrong')).status).toBe(429);
      expect((await request(t.server).get('/api/docs-json')).status).toBe(429);
      expect((await request(t.server).get('/api/docs-json').set(AUTH)).status).toBe(200);
      expect((await request(t.server).get('/api/jobs').set(AUTH)).status).toBe(200);
      t.app.get(AuthServiceToken).failures?.clear?.();
    });
  });

  describe('headers and secrets', () => {
    it('sets helmet headers and no x-powered-by on every kind of response', async () => {
      const urls = ['/health', '/api/jobs', '/api/nope', '/api/docs-json', '/admin/login', '/assets/nope.css', '/api/conversation-logs/conversations/%E0%A4%A'];
      for (const url of urls) {
        const res = await request(t.server).get(url).set(AUTH);
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['content-security-policy']).toContain("default-src 'self'");
        expect(res.headers['x-frame-options']).toBeDefined();
        expect(res.headers['strict-transport-security']).toBeDefined();
        if (res.status >= 400 && /json/.test(String(res.headers['content-type']))) {
          expect(res.text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules/);
        }
      }
    });

    it('after a real backup and all of the above, no secret is in any file, log line, job, alert, answer or the API docs', async () => {
      t.app.get(AuthServiceToken).failures?.clear?.();
      const ok = await send('post', '/api/conversation-logs', { app_id: app.id });
      expect(ok.body.success).toBe(true);
      sim.injectFault({ path: /chat-messages$/, fault: { kind: 'status', status: 500, body: { message: `echo ${sim.account.password}` } } });
      sim.addMessage(sim.conversations(app.id)[0].id);
      await send('post', '/api/conversation-logs', { app_id: app.id });
      sim.clearFaults();
      const docs = await send('get', '/api/docs-json');
      const jobs = await send('get', '/api/jobs');
      const sources = await send('get', '/api/sources');
      const secrets = [TOKEN, sim.account.password, sim.adminApiKey!, 'app-secret-key', 'admin-secret-key', 'user:pass'];
      expect(findSecrets(secrets, t.logsDir, [...answers, ...t.logLines, docs.text, jobs.text, sources.text])).toEqual([]);
    });
  });
});

// the guard's failure map, reached through the provider for resetting between table rows
import { AuthService } from '../../src/common/auth/auth.service';
const AuthServiceToken = AuthService as unknown as new (...a: never[]) => { failures?: Map<string, number[]> };
