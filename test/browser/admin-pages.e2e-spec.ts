import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { conversation } from '../archive/archive-fixtures';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

const TOKEN = 'admin-page-token-0123456789';

function cookieOf(res: request.Response): string {
  const header = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const line = header.find((c) => c.startsWith('vault_session='));
  if (!line) throw new Error('no session cookie was set');
  return line.split(';')[0];
}

function csrfOf(html: string): string {
  const m = /name="(?:_csrf|csrf-token)" (?:value|content)="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

describe('admin page over HTTP', () => {
  describe('with ADMIN_TOKEN', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ ADMIN_TOKEN: TOKEN });
    });
    afterAll(() => t.close());

    it('redirects / to /admin and every page to the sign-in form', async () => {
      await request(t.server).get('/').expect(302).expect('Location', '/admin');
      for (const path of ['/admin', '/admin/search?q=x', '/admin/export', '/admin/clean?days_to_keep=3', '/admin/verify']) {
        const res = await request(t.server).get(path).expect(303);
        expect(res.headers.location).toBe(`/admin/login?next=${encodeURIComponent(path)}`);
      }
      const form = await request(t.server).get('/admin/login').expect(200);
      expect(form.text).toContain('<label for="token">Admin token</label>');
      expect(form.headers['content-security-policy']).toContain("script-src 'self'");
    });

    it('signs in with an HttpOnly SameSite=Strict cookie, refuses a wrong token with a human message, signs out', async () => {
      const wrong = await request(t.server).post('/admin/login').type('form').send({ token: 'nope', next: '/admin' }).expect(401);
      expect(wrong.text).toContain('That is not the admin token of this service');
      expect(wrong.headers['set-cookie']).toBeUndefined();

      const ok = await request(t.server).post('/admin/login').type('form').send({ token: TOKEN, next: '/admin/clean' }).expect(303);
      expect(ok.headers.location).toBe('/admin/clean');
      const setCookie = ([] as string[]).concat(ok.headers['set-cookie'] ?? []).join('\n');
      expect(setCookie).toMatch(/vault_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+/);
      expect(setCookie).not.toContain('Secure');
      const cookie = cookieOf(ok);

      const page = await request(t.server).get('/admin').set('Cookie', cookie).expect(200);
      expect(page.text).toContain('<h1>Overview</h1>');
      const csrf = csrfOf(page.text);

      await request(t.server).post('/admin/logout').set('Cookie', cookie).type('form').send({ _csrf: 'forged' }).expect(403);
      const out = await request(t.server).post('/admin/logout').set('Cookie', cookie).type('form').send({ _csrf: csrf }).expect(303);
      expect(out.headers.location).toBe('/admin/login');
      expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).join('')).toContain('Max-Age=0');
    });

    it('never sends a stack trace, and escapes what the user typed', async () => {
      const ok = await request(t.server).post('/admin/login').type('form').send({ token: TOKEN }).expect(303);
      const cookie = cookieOf(ok);
      const evil = '<script>alert(1)</script>';
      const res = await request(t.server).get('/admin/search').query({ q: evil }).set('Cookie', cookie);
      expect(res.text).not.toContain(evil);
      expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      const bad = await request(t.server).get('/admin/clean').query({ days_to_keep: 'soon' }).set('Cookie', cookie).expect(400);
      expect(bad.text).toContain('Days to keep must be a whole number.');
      expect(bad.text).not.toMatch(/at \w+ \(|node_modules/);
      const missing = await request(t.server).get('/admin/jobs/does-not-exist').set('Cookie', cookie).expect(404);
      expect(missing.text).toContain('No job has id does-not-exist.');
      const nowhere = await request(t.server).get('/admin/nowhere/at/all').set('Cookie', cookie).expect(404);
      expect(nowhere.text).toContain('There is no such page; use the menu above.');
    });

    it('serves the page script, styles and Chart.js from this service', async () => {
      await request(t.server).get('/assets/admin.js').expect(200).expect('Content-Type', /javascript/);
      await request(t.server).get('/assets/admin.css').expect(200).expect('Content-Type', /css/);
      const chart = await request(t.server).get('/assets/chartjs/chart.umd.js').expect(200);
      expect(chart.text).toContain('Chart');
    });
  });

  describe('sign-in failures', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ ADMIN_TOKEN: TOKEN });
    });
    afterAll(() => t.close());

    it('limits repeated wrong tokens, but never refuses the right one', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await request(t.server).post('/admin/login').type('form').send({ token: `wrong-${i}` })).status);
      expect(statuses).toEqual(Array(10).fill(401));
      const limited = await request(t.server).post('/admin/login').type('form').send({ token: 'wrong-again' }).expect(429);
      expect(limited.text).toContain('Too many wrong tokens. Wait a minute, then try again.');
      expect(limited.headers['set-cookie']).toBeUndefined();
      const signedIn = await request(t.server).post('/admin/login').type('form').send({ token: TOKEN }).expect(303);
      expect(String(signedIn.headers['set-cookie'])).toMatch(/^vault_session=/);
    });

    it('does not follow a sign-in redirect off the site', async () => {
      const fresh = await createTestApp({ ADMIN_TOKEN: TOKEN });
      try {
        for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
          const res = await request(fresh.server).post('/admin/login').type('form').send({ token: TOKEN, next }).expect(303);
          expect(res.headers.location).toBe('/admin');
        }
      } finally {
        await fresh.close();
      }
    });
  });

  describe('without ADMIN_TOKEN', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({});
    });
    afterAll(() => t.close());

    it('is open, but still binds its forms to a per-browser CSRF token', async () => {
      await request(t.server).get('/admin/login').expect(303).expect('Location', '/admin');
      const page = await request(t.server).get('/admin').expect(200);
      const cookie = cookieOf(page);
      expect(page.text).not.toContain('Sign out');
      const preview = await request(t.server).get('/admin/clean?days_to_keep=30').set('Cookie', cookie).expect(200);
      expect(preview.headers['set-cookie']).toBeUndefined();
      const csrf = csrfOf(preview.text);
      await request(t.server).post('/admin/clean').type('form').send({ _csrf: csrf, days_to_keep: 30 }).expect(403);
      // signed with a key of the process: a token computed from a key anyone can read in the source is refused
      const session = cookie.slice(cookie.indexOf('=') + 1);
      for (const known of ['no-admin-token', '']) {
        const forged = createHmac('sha256', known).update(`csrf:${session}`).digest('base64url');
        await request(t.server).post('/admin/clean').set('Cookie', cookie).type('form').send({ _csrf: forged, days_to_keep: 30 }).expect(403);
      }
      const done = await request(t.server).post('/admin/clean').set('Cookie', cookie).type('form').send({ _csrf: csrf, days_to_keep: 30 }).expect(200);
      expect(done.text).toContain('No day folders before');
    });
  });

  describe('a backup without JavaScript', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({
        DIFY_API_URL: 'http://127.0.0.1:9/v1',
        DIFY_API_KEY: 'app-unreachable-key-123',
        DIFY_APP_ID: 'support-bot',
        DIFY_USERS: 'u1',
        DIFY_ALLOWED_HOSTS: '127.0.0.1',
        DIFY_MAX_RETRIES: '0',
      });
    });
    afterAll(() => t.close());

    it('posts the form, lands on the job page, and says plainly that Dify is unreachable', async () => {
      const page = await request(t.server).get('/admin').expect(200);
      const cookie = cookieOf(page);
      const csrf = csrfOf(page.text);
      expect(page.text).toContain('Never run');
      await request(t.server).post('/admin/backup').set('Cookie', cookie).type('form').send({ _csrf: 'forged', app_id: 'support-bot' }).expect(403);
      const started = await request(t.server).post('/admin/backup').set('Cookie', cookie).type('form').send({ _csrf: csrf, app_id: 'support-bot' }).expect(303);
      expect(started.headers.location).toMatch(/^\/admin\/jobs\/[0-9a-f-]{36}$/);

      let job = await request(t.server).get(started.headers.location).set('Cookie', cookie).expect(200);
      while (job.text.includes('http-equiv="refresh"')) {
        await new Promise((r) => setTimeout(r, 50));
        job = await request(t.server).get(started.headers.location).set('Cookie', cookie).expect(200);
      }
      expect(job.text).toContain('<span class="pill pill-failed">Failed</span>');
      expect(job.text).toMatch(/Dify is unreachable/);
      expect(job.text).not.toContain('app-unreachable-key-123');

      const overview = await request(t.server).get('/admin').set('Cookie', cookie).expect(200);
      expect(overview.text).toMatch(/<p class="alert alert-error small">[^<]*Dify is unreachable/);
      const unknown = await request(t.server).post('/admin/backup').set('Cookie', cookie).type('form').send({ _csrf: csrf, app_id: 'nope' }).expect(404);
      expect(unknown.text).toContain('No configured source has app_id nope.');
      // the page script's JSON answer is the one 202 shape of every async route
      const scripted = await request(t.server).post('/admin/backup').set('Cookie', cookie).set('Accept', 'application/json').type('form').send({ _csrf: csrf, app_id: 'support-bot' }).expect(202);
      const id = scripted.body.job_id as string;
      expect(scripted.body).toEqual({ job_id: id, status: expect.any(String), status_url: `/api/jobs/${id}`, events_url: `/api/jobs/${id}/events` });
    });
  });

  describe('an archive check without JavaScript', () => {
    let t: TestApp;
    let spare: TestApp;
    let logsDir: string;
    let spareDir: string;
    const saved: string[] = [];
    beforeAll(async () => {
      logsDir = makeTempDir('vault-admin-verify-');
      spareDir = makeTempDir('vault-admin-verify-spare-');
      t = await createTestApp({ ADMIN_TOKEN: TOKEN, LOGS_DIR: logsDir });
      spare = await createTestApp({ LOGS_DIR: spareDir });
      const storage = t.app.get(LogStorageService);
      for (let day = 10; day < 16; day++) {
        saved.push((await storage.saveConversation(conversation({ created_at: `2024-01-${day}T09:00:00.000Z` }))).path);
      }
    });
    afterAll(async () => {
      await spare?.close();
      await t?.close();
      for (const dir of [logsDir, spareDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Follows the check's page (its refresh) until the result is on it. */
    const finished = async (url: string, cookie: string) => {
      let page = await request(t.server).get(url).set('Cookie', cookie).expect(200);
      while (page.text.includes('http-equiv="refresh"')) {
        await new Promise((r) => setTimeout(r, 50));
        page = await request(t.server).get(url).set('Cookie', cookie).expect(200);
      }
      return page.text;
    };
    const countOn = (html: string, kind: string) => Number(new RegExp(`data-role="verify-count-${kind}">([\\d,]+)<`).exec(html)?.[1].replace(/,/g, ''));

    it('checks the archive from a CSRF form, follows the check on its page, and names every missing, changed, unindexed and corrupt file, with or without sha256', async () => {
      const signedIn = await request(t.server).post('/admin/login').type('form').send({ token: TOKEN, next: '/admin/verify' }).expect(303);
      const cookie = cookieOf(signedIn);
      const form = await request(t.server).get('/admin/verify').set('Cookie', cookie).expect(200);
      expect(form.text).toContain('name="sha256"');
      expect(form.text).toContain('<a href="/admin/verify" aria-current="page">Verify</a>');
      const csrf = csrfOf(form.text);
      await request(t.server).post('/admin/verify').set('Cookie', cookie).type('form').send({ _csrf: 'forged' }).expect(403);
      const bad = await request(t.server).post('/admin/verify').set('Cookie', cookie).type('form').send({ _csrf: csrf, sha256: 'yes' }).expect(400);
      expect(bad.text).toContain('<p>Sha256 must be on, true or false.</p>');

      const clean = await request(t.server).post('/admin/verify').set('Cookie', cookie).type('form').send({ _csrf: csrf }).expect(303);
      expect(clean.headers.location).toMatch(/^\/admin\/verify\/[0-9a-f-]{36}$/);
      const allGood = await finished(clean.headers.location, cookie);
      expect(countOn(allGood, 'checked')).toBe(saved.length);
      for (const kind of ['missing', 'changed', 'unindexed', 'corrupt']) expect(countOn(allGood, kind)).toBe(0);
      expect(allGood).toContain(`All ${saved.length} files match the catalog.`);
      expect(allGood).toContain('sizes and ETags from the listing');

      // one file of each kind of damage
      const file = (p: string) => path.join(logsDir, p);
      fs.rmSync(file(saved[0]));
      const changed = JSON.parse(fs.readFileSync(file(saved[1]), 'utf8'));
      changed.name = 'edited by hand';
      fs.writeFileSync(file(saved[1]), JSON.stringify(changed));
      fs.writeFileSync(file(saved[2]), 'not json at all');
      const stranger = (await spare.app.get(LogStorageService).saveConversation(conversation({ created_at: '2024-01-20T09:00:00.000Z' }))).path;
      fs.mkdirSync(path.dirname(file(stranger)), { recursive: true });
      fs.copyFileSync(path.join(spareDir, stranger), file(stranger));

      const damaged = await request(t.server).post('/admin/verify').set('Cookie', cookie).type('form').send({ _csrf: csrf, sha256: 'on' }).expect(303);
      const report = await finished(damaged.headers.location, cookie);
      expect(report).toContain('every file downloaded and hashed (sha256)');
      expect({ checked: countOn(report, 'checked'), missing: countOn(report, 'missing'), changed: countOn(report, 'changed'), unindexed: countOn(report, 'unindexed'), corrupt: countOn(report, 'corrupt') }).toEqual({
        checked: saved.length + 1,
        missing: 1,
        changed: 1,
        unindexed: 1,
        corrupt: 1,
      });
      expect(report).toContain(`4 of ${saved.length + 1} files differ from the catalog.`);
      for (const [kind, p] of [['missing', saved[0]], ['changed', saved[1]], ['corrupt', saved[2]], ['unindexed', stranger]]) {
        expect(report).toMatch(new RegExp(`data-role="verify-paths-${kind}">\\s*<li><code>${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</code></li>`));
      }
      // the page without an id shows the last check
      expect((await request(t.server).get('/admin/verify').set('Cookie', cookie).expect(200)).text).toContain(`data-run-id="${damaged.headers.location.split('/').pop()}"`);

      // the page script's answers: 202 with the check's address, then its progress and result as JSON
      const scripted = await request(t.server).post('/admin/verify').set('Cookie', cookie).set('Accept', 'application/json').type('form').send({ _csrf: csrf }).expect(202);
      expect(scripted.body).toEqual({ run_id: expect.any(String), status: 'running', status_url: `/admin/verify/${scripted.body.run_id}` });
      let run = (await request(t.server).get(scripted.body.status_url).set('Cookie', cookie).set('Accept', 'application/json').expect(200)).body;
      while (run.status === 'running') {
        await new Promise((r) => setTimeout(r, 50));
        run = (await request(t.server).get(scripted.body.status_url).set('Cookie', cookie).set('Accept', 'application/json').expect(200)).body;
      }
      expect(run).toMatchObject({ status: 'succeeded', sha256: false, checked: saved.length + 1, result: { missing: [saved[0]], changed: [saved[1]], corrupt: [saved[2]], unindexed: [stranger] } });
      await request(t.server).get('/admin/verify/no-such-check').set('Cookie', cookie).expect(404);
    });
  });
});
