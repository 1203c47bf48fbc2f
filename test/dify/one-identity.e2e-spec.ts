import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp, SimulatedConversation } from '../../src/simulator/simulator.types';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

function cookieOf(res: request.Response): string {
  const line = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('vault_session='));
  if (!line) throw new Error('no session cookie was set');
  return line.split(';')[0];
}

function csrfOf(html: string): string {
  const m = /name="(?:_csrf|csrf-token)" (?:value|content)="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

/** `organization -> conversation ids` of the files on disk. */
function archivedByOrganization(logsDir: string): Record<string, string[]> {
  const root = path.join(logsDir, 'conversations');
  const out: Record<string, string[]> = {};
  if (!fs.existsSync(root)) return out;
  for (const f of (fs.readdirSync(root, { recursive: true }) as string[]).filter((x) => /conversation_.*\.json$/.test(x))) {
    const c = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as { organization_id: string; conversation_id: string; app_id: string };
    expect(f.split(path.sep)[0]).toBe(c.organization_id);
    (out[c.organization_id] ??= []).push(c.conversation_id);
  }
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

/**
 * The same Dify app id under two organizations: two sources, two identities. Acme reads the app through
 * the console (every conversation), Beta through the Service API for one end user; every place that names
 * an app (search labels, filters, source tests, "Back up now") tells them apart by (organization, app id).
 */
describe('one app, one identity: the same app id under two organizations', () => {
  let sim: DifySimulator;
  let chat: SimulatedApp;
  let consoleOnly: SimulatedConversation;
  let shared: SimulatedConversation;
  let t: TestApp;
  const ACME = 'Support desk (Acme)';

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    consoleOnly = sim.addConversation({ app_id: chat.id, from_source: 'console', queries: ['Where is the invoice for March?'] });
    shared = sim.addConversation({ app_id: chat.id, from_source: 'api', user: 'beta-user', queries: ['Please refund the invoice for April'] });
    const file = path.join(makeTempDir('vault-identity-'), 'apps.json');
    fs.writeFileSync(
      file,
      JSON.stringify([
        { name: ACME, app_id: chat.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId },
        { name: chat.name, app_id: chat.id, organization_id: 'beta', dify_api_url: sim.serviceApiUrl, api_key: chat.apiKey, users: ['beta-user'] },
      ]),
    );
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: file, BACKFILL_FROM: '10d', DIFY_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const backUpNow = async (organizationId?: string) => {
    const page = await request(t.server).get('/admin').expect(200);
    const form = { _csrf: csrfOf(page.text), app_id: chat.id, ...(organizationId ? { organization_id: organizationId } : {}) };
    return request(t.server).post('/admin/backup').set('Cookie', cookieOf(page)).set('Accept', 'application/json').type('form').send(form);
  };
  const finished = async (jobId: string) => {
    for (;;) {
      const job = (await request(t.server).get(`/api/jobs/${jobId}`).expect(200)).body;
      if (job.status !== 'running' && job.status !== 'queued') return job;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('lists both sources, each under its organization, and the admin page offers "Back up now" for each', async () => {
    const { sources } = (await request(t.server).get('/api/sources').expect(200)).body;
    expect(sources.map((s: { app_id: string; organization_id: string; access_mode: string }) => [s.organization_id, s.app_id, s.access_mode])).toEqual([
      ['acme', chat.id, 'console-admin'],
      ['beta', chat.id, 'service'],
    ]);
    const html = (await request(t.server).get('/admin').expect(200)).text;
    for (const org of ['acme', 'beta']) {
      expect(html).toContain(`<input type="hidden" name="app_id" value="${chat.id}">\n        <input type="hidden" name="organization_id" value="${org}">`);
    }
  });

  it('tests each source by (organization, app id), and refuses to guess when the organization is left out', async () => {
    const acme = await request(t.server).post(`/api/sources/${chat.id}/test?organization_id=acme`).expect(200);
    expect(acme.body).toMatchObject({ ok: true, app_id: chat.id, organization_id: 'acme', access_mode: 'console-admin' });
    const beta = await request(t.server).post(`/api/sources/${chat.id}/test?organization_id=beta`).expect(200);
    expect(beta.body).toMatchObject({ ok: true, app_id: chat.id, organization_id: 'beta', access_mode: 'service' });
    await request(t.server).post(`/api/sources/${chat.id}/test?organization_id=gamma`).expect(404);
    const ambiguous = await request(t.server).post(`/api/sources/${chat.id}/test`).expect(400);
    expect(ambiguous.body).toMatchObject({
      field: 'organization_id',
      message: `app_id ${chat.id} is configured under several organizations (acme, beta): give organization_id to say which`,
    });
  });

  it('answers 404 naming organization_id on every route when no source of that app is in the organization asked for, and backs nothing up', async () => {
    sim.clearRequests();
    const jobsBefore = (await request(t.server).get('/api/jobs').expect(200)).body.jobs.length;
    const message = `no configured source has app_id ${chat.id} in organization_id gamma (it is configured under: acme, beta)`;
    const answers = {
      backup: await request(t.server).post('/api/conversation-logs').send({ app_id: chat.id, organization_id: 'gamma' }),
      async: await request(t.server).post('/api/conversation-logs?async=true').send({ app_id: chat.id, organization_id: 'gamma' }),
      scheduled: await request(t.server).post('/api/conversation-logs/scheduled').send({ apps: [{ app_id: chat.id, organization_id: 'gamma' }] }),
      test: await request(t.server).post(`/api/sources/${chat.id}/test?organization_id=gamma`),
    };
    for (const [route, res] of Object.entries(answers)) {
      expect({ route, status: res.status, body: res.body }).toEqual({ route, status: 404, body: { statusCode: 404, error: 'Not Found', field: 'organization_id', message } });
    }
    const page = await backUpNow('gamma');
    expect(page.status).toBe(404);
    expect(page.body).toMatchObject({ statusCode: 404, message: `N${message.slice(1)}.` });
    expect(archivedByOrganization(t.logsDir)).toEqual({});
    expect((await request(t.server).get('/api/jobs').expect(200)).body.jobs).toHaveLength(jobsBefore);
    expect(sim.requests).toEqual([]);
  });

  it('"Back up now" backs up the one source named by (organization, app id), never its namesake', async () => {
    sim.clearRequests();
    const beta = await backUpNow('beta');
    expect(beta.status).toBe(202);
    const betaJob = await finished(beta.body.job_id);
    expect(betaJob).toMatchObject({ status: 'succeeded', sources: [{ app_id: chat.id, organization_id: 'beta' }] });
    expect(archivedByOrganization(t.logsDir)).toEqual({ beta: [shared.id] });
    // the Service API only: the console source of Acme was not contacted
    expect(sim.requests.filter((r) => r.path.startsWith('/console/'))).toEqual([]);

    const acme = await backUpNow('acme');
    const acmeJob = await finished(acme.body.job_id);
    expect(acmeJob).toMatchObject({ status: 'succeeded', sources: [{ app_id: chat.id, organization_id: 'acme' }] });
    expect(archivedByOrganization(t.logsDir)).toEqual({ acme: [consoleOnly.id, shared.id].sort(), beta: [shared.id] });

    const ambiguous = await backUpNow();
    expect(ambiguous.status).toBe(400);
    expect(JSON.stringify(ambiguous.body)).toContain('give organization_id to say which');
  });

  it('search labels each hit with its own source, and search, export and stats filter by organization and app', async () => {
    // the admin search page: one hit per organization, each labelled with its own source's name
    const html = (await request(t.server).get('/admin/search').query({ q: 'refund' }).expect(200)).text;
    expect(html).toContain(`acme / ${ACME}`);
    expect(html).toContain(`beta / ${chat.name}`);
    const hits = (await request(t.server).get('/api/conversation-logs/search').query({ q: 'refund' }).expect(200)).body.results;
    expect(hits.map((h: { organization_id: string; conversation_id: string }) => [h.organization_id, h.conversation_id]).sort()).toEqual([
      ['acme', shared.id],
      ['beta', shared.id],
    ]);

    const searchOf = async (organization_id: string) =>
      ((await request(t.server).get('/api/conversation-logs/search').query({ organization_id, app_id: chat.id }).expect(200)).body.results as { conversation_id: string; organization_id: string }[])
        .map((h) => `${h.organization_id}/${h.conversation_id}`)
        .sort();
    expect(await searchOf('acme')).toEqual([`acme/${consoleOnly.id}`, `acme/${shared.id}`].sort());
    expect(await searchOf('beta')).toEqual([`beta/${shared.id}`]);

    const today = new Date().toISOString().slice(0, 10);
    const exportOf = async (organization_id: string) =>
      (await request(t.server).get('/api/conversation-logs').query({ action: 'export', start_date: '2000-01-01', end_date: today, organization_id, app_id: chat.id }).expect(200)).body as {
        count: number;
        conversations: { organization_id: string; conversation_id: string }[];
      };
    const acmeExport = await exportOf('acme');
    expect(acmeExport.count).toBe(2);
    expect(new Set(acmeExport.conversations.map((c) => c.organization_id))).toEqual(new Set(['acme']));
    const betaExport = await exportOf('beta');
    expect(betaExport.conversations.map((c) => [c.organization_id, c.conversation_id])).toEqual([['beta', shared.id]]);

    const statsOf = async (organization_id: string) =>
      (await request(t.server).get('/api/conversation-logs/stats').query({ organization_id, app_id: chat.id }).expect(200)).body.totals.conversations;
    expect(await statsOf('acme')).toBe(2);
    expect(await statsOf('beta')).toBe(1);

    // the admin search page filtered the same way
    const filtered = (await request(t.server).get('/admin/search').query({ organization_id: 'beta', app_id: chat.id }).expect(200)).text;
    expect(filtered).toContain(`beta / ${chat.name}`);
    expect(filtered).not.toContain(`acme / ${ACME}`);
  });
});

describe('one app, one identity: an organization the only source of the app is not in', () => {
  let sim: DifySimulator;
  let chat: SimulatedApp;
  let t: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    sim.addConversation({ app_id: chat.id, from_source: 'console', queries: ['Where is the invoice for March?'] });
    const file = path.join(makeTempDir('vault-identity-'), 'apps.json');
    fs.writeFileSync(
      file,
      JSON.stringify([{ app_id: chat.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId }]),
    );
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: file, BACKFILL_FROM: '10d', DIFY_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it("never backs up acme's source into another organization's folder: 404 naming organization_id, as the source test answers", async () => {
    sim.clearRequests();
    const jobsBefore = (await request(t.server).get('/api/jobs').expect(200)).body.jobs.length;
    const message = `no configured source has app_id ${chat.id} in organization_id gamma (it is configured under: acme)`;
    const notFound = { statusCode: 404, error: 'Not Found', field: 'organization_id', message };
    const answers = {
      backup: await request(t.server).post('/api/conversation-logs').send({ app_id: chat.id, organization_id: 'gamma' }),
      async: await request(t.server).post('/api/conversation-logs?async=true').send({ app_id: chat.id, organization_id: 'gamma' }),
      scheduled: await request(t.server).post('/api/conversation-logs/scheduled').send({ apps: [{ app_id: chat.id, organization_id: 'gamma' }] }),
      test: await request(t.server).post(`/api/sources/${chat.id}/test?organization_id=gamma`),
    };
    for (const [route, res] of Object.entries(answers)) expect({ route, status: res.status, body: res.body }).toEqual({ route, status: 404, body: notFound });
    const page = await request(t.server).get('/admin').expect(200);
    const backUpNow = await request(t.server)
      .post('/admin/backup')
      .set('Cookie', cookieOf(page))
      .set('Accept', 'application/json')
      .type('form')
      .send({ _csrf: csrfOf(page.text), app_id: chat.id, organization_id: 'gamma' });
    expect(backUpNow.status).toBe(404);
    expect(backUpNow.body).toMatchObject({ statusCode: 404, message: `N${message.slice(1)}.` });
    expect(archivedByOrganization(t.logsDir)).toEqual({});
    expect((await request(t.server).get('/api/jobs').expect(200)).body.jobs).toHaveLength(jobsBefore);
    expect(sim.requests).toEqual([]);

    // its own organization still backs it up
    const saved = await request(t.server).post('/api/conversation-logs').send({ app_id: chat.id, organization_id: 'acme' }).expect(200);
    expect(saved.body).toMatchObject({ success: true, organization_id: 'acme', created_count: 1 });
    expect(Object.keys(archivedByOrganization(t.logsDir))).toEqual(['acme']);
  });
});
