import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { JobsService } from '../../src/backup/jobs.service';
import { SourcesService } from '../../src/backup/sources.service';
import type { Job } from '../../src/backup/jobs.types';
import type { ArchivedConversation } from '../../src/common/conversation-log';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createTestApp, makeTempDir, TestApp } from '../support/test-app';

type Mode = 'console-admin' | 'console-login';
const SECRET = /sk-sim-secret-/;

/** Every file under a folder, relative to it, sorted. */
function filesUnder(root: string, sub: string): string[] {
  const dir = path.join(root, sub);
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(sub, f))
    .filter((f) => fs.statSync(path.join(root, f)).isFile())
    .sort();
}

function archived(logsDir: string): ArchivedConversation[] {
  return filesUnder(logsDir, 'conversations').map((f) => JSON.parse(fs.readFileSync(path.join(logsDir, f), 'utf8')) as ArchivedConversation);
}

function consoleEnv(mode: Mode, sim: DifySimulator, extra: Record<string, string> = {}): Record<string, string> {
  const credentials: Record<string, string> =
    mode === 'console-admin'
      ? { DIFY_ADMIN_API_KEY: sim.adminApiKey!, DIFY_WORKSPACE_ID: sim.workspaceId }
      : { DIFY_EMAIL: sim.account.email, DIFY_PASSWORD: sim.account.password };
  // no DIFY_APP_ID: the whole workspace
  return { DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_CONSOLE_API_URL: sim.consoleApiUrl, ...credentials, BACKFILL_FROM: '10d', DIFY_MAX_RETRIES: '0', ...extra };
}

/** What a console backup must hold of an app: conversation id -> number of messages. */
function expectedOf(sim: DifySimulator, app: SimulatedApp, deletedAgentConversation: string | undefined): Map<string, number> {
  if (app.mode === 'workflow') return new Map(sim.workflowRuns(app.id).filter((r) => r.triggered_from === 'app-run').map((r) => [r.id, 1]));
  const conversations = sim.conversations(app.id).filter((c) => app.mode !== 'agent' || c.invoke_from === 'web-app' || c.invoke_from === 'service-api');
  const expected = new Map(conversations.map((c) => [c.id, sim.messages(c.id).length]));
  if (app.mode === 'agent' && deletedAgentConversation) expected.set(deletedAgentConversation, -1);
  return expected;
}

describe.each<Mode>(['console-admin', 'console-login'])('a whole-workspace source in %s mode', (mode) => {
  let sim: DifySimulator;
  let t: TestApp;
  let excludedApp: SimulatedApp;
  let first: Job;
  const run = () => t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'scheduled' });
  const sources = async () => (await request(t.server).get('/api/sources').expect(200)).body.sources as Record<string, any>[];

  beforeAll(async () => {
    sim = await startSimulator({ seed: 21, agentApp: true, conversationsPerApp: 3 });
    excludedApp = sim.addApp({ name: 'Internal test bot', mode: 'completion' });
    sim.addConversation({ app_id: excludedApp.id, messages: 2 });
    t = await createTestApp(consoleEnv(mode, sim, { DIFY_EXCLUDE_APPS: 'Internal*' }));
    first = await run();
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('is configured from the single-source variables without DIFY_APP_ID', () => {
    expect(t.config.sources).toHaveLength(1);
    expect(t.config.sources[0]).toMatchObject({ workspace: true, exclude: ['Internal*'] });
    expect(t.config.sources[0].app_id).toMatch(/^workspace-/);
  });

  it('archives every conversation a console backup must hold, whole, of apps of all six modes, and nothing else', async () => {
    expect(first.status).toBe('succeeded');
    const files = archived(t.logsDir);
    const agent = sim.apps.find((a) => a.mode === 'agent' && a.name === 'Travel Concierge')!;
    const deleted = files.find((c) => c.app_id === agent.id && c.name === 'Deleted by its user');
    expect(deleted).toBeDefined();
    const backedUp = sim.apps.filter((a) => a.id !== excludedApp.id && !['channel', 'rag-pipeline'].includes(a.mode));
    expect(new Set(backedUp.map((a) => a.mode))).toEqual(new Set(['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'agent']));
    for (const app of backedUp) {
      const expected = expectedOf(sim, app, deleted?.conversation_id);
      const got = files.filter((c) => c.app_id === app.id);
      expect([app.mode, got.map((c) => c.conversation_id).sort()]).toEqual([app.mode, [...expected.keys()].sort()]);
      for (const c of got) {
        const want = expected.get(c.conversation_id)!;
        if (want >= 0) expect([c.conversation_id, c.messages.length]).toEqual([c.conversation_id, want]);
        expect(c.organization_id).toBeNull();
      }
    }
    expect(files.filter((c) => !backedUp.some((a) => a.id === c.app_id))).toEqual([]);
    const long = files.find((c) => c.app_id === agent.id && c.messages.length > 100)!;
    const times = long.messages.map((m) => Date.parse(String(m.created_at)));
    expect(times[times.length - 1] - times[0]).toBeGreaterThan(2 * 86_400_000);
    const workflow = backedUp.find((a) => a.mode === 'workflow')!;
    for (const c of files.filter((f) => f.app_id === workflow.id)) {
      expect(c.messages[0]).toHaveProperty('inputs');
      expect(c.messages[0]).toHaveProperty('outputs');
    }
  });

  it('never contacts an excluded app', () => {
    expect(sim.requests.filter((r) => r.path.includes(excludedApp.id))).toEqual([]);
    expect(archived(t.logsDir).some((c) => c.app_id === excludedApp.id)).toBe(false);
  });

  it('snapshots each app configuration once, without secrets, and shows the apps with their snapshots', async () => {
    expect(sim.counters.dslExportsWithSecret).toBe(0);
    const snapshots = filesUnder(t.logsDir, 'apps').filter((f) => f.endsWith('.yml'));
    const backedUp = first.sources[0].apps!;
    expect(snapshots).toHaveLength(backedUp.length);
    for (const f of [...filesUnder(t.logsDir, 'apps'), ...filesUnder(t.logsDir, 'conversations'), ...filesUnder(t.logsDir, 'state')]) {
      expect([f, SECRET.test(fs.readFileSync(path.join(t.logsDir, f), 'utf8'))]).toEqual([f, false]);
    }
    const [view] = await sources();
    expect(view).toMatchObject({ workspace: true, apps_total: backedUp.length, last_outcome: 'succeeded' });
    expect(view.excluded_apps).toEqual([{ id: excludedApp.id, name: 'Internal test bot', mode: 'completion', reason: 'excluded by "Internal*"' }]);
    for (const app of view.apps) {
      expect(app).toMatchObject({ gone: false, last_outcome: 'succeeded', config_snapshots: 1 });
      expect(app.coverage).not.toBeNull();
    }
    const agentView = view.apps.find((a: { mode: string }) => a.mode === 'agent');
    expect(agentView.coverage.warnings.join(' ')).toMatch(/debugger/);
    expect(t.logLines.filter((l) => l.includes(sim.account.password) || (sim.adminApiKey && l.includes(sim.adminApiKey)))).toEqual([]);
  });

  it('a second run changes nothing; a changed prompt gives a second snapshot', async () => {
    const before = filesUnder(t.logsDir, 'conversations');
    const chat = sim.apps.find((a) => a.mode === 'chat')!;
    sim.setAppPrompt(chat.id, 'Answer in French.');
    const second = await run();
    expect(second.status).toBe('succeeded');
    expect(second.sources[0].result).toMatchObject({ saved_count: 0, failed_count: 0 });
    expect(filesUnder(t.logsDir, 'conversations')).toEqual(before);
    const ymls = filesUnder(t.logsDir, 'apps').filter((f) => f.endsWith('.yml'));
    expect(ymls.filter((f) => f.includes(chat.id))).toHaveLength(2);
    expect(ymls).toHaveLength(second.sources[0].apps!.length + 1);
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body.app_configs).toEqual({ checked: ymls.length, missing: [], changed: [] });

    // each app's count and latest time: the latest snapshot's own time, as its file name and manifest say
    const [view] = await sources();
    for (const app of view.apps) {
      const own = ymls.filter((f) => f.startsWith(`apps/${app.app_id}/`)).sort();
      const manifest = JSON.parse(fs.readFileSync(path.join(t.logsDir, 'apps', app.app_id, 'snapshots.json'), 'utf8'));
      const latest = manifest.snapshots.at(-1);
      expect([app.app_id, app.config_snapshots, app.config_snapshot_at]).toEqual([app.app_id, own.length, latest.saved_at]);
      expect(own.at(-1)).toBe(`apps/${app.app_id}/${latest.saved_at.replace(/[:.]/g, '-')}.yml`);
    }
    const chatView = view.apps.find((a: { app_id: string }) => a.app_id === chat.id);
    expect(chatView.config_snapshots).toBe(2);
    const times = JSON.parse(fs.readFileSync(path.join(t.logsDir, 'apps', chat.id, 'snapshots.json'), 'utf8')).snapshots.map((x: { saved_at: string }) => Date.parse(x.saved_at));
    expect(times[1]).toBeGreaterThan(times[0]);
    expect(Date.parse(chatView.config_snapshot_at)).toBeGreaterThanOrEqual(Date.parse(second.started_at));
  });

  it('backs up an app created since on the next run, from BACKFILL_FROM; a deleted app keeps its files and shows as gone', async () => {
    const added = sim.addApp({ name: 'Brand new bot', mode: 'chat' });
    const conversation = sim.addConversation({ app_id: added.id, messages: 3 });
    const doomed = sim.apps.find((a) => a.mode === 'advanced-chat')!;
    const doomedFiles = filesUnder(t.logsDir, 'conversations').filter((f) => archived(t.logsDir).length && fs.readFileSync(path.join(t.logsDir, f), 'utf8').includes(doomed.id));
    expect(doomedFiles.length).toBeGreaterThan(0);
    sim.deleteApp(doomed.id);

    const third = await run();
    expect(third.status).toBe('succeeded');
    expect(archived(t.logsDir).find((c) => c.conversation_id === conversation.id)?.messages).toHaveLength(3);
    for (const f of doomedFiles) expect(fs.existsSync(path.join(t.logsDir, f))).toBe(true);
    const [view] = await sources();
    expect(view.apps.find((a: { app_id: string }) => a.app_id === doomed.id)).toMatchObject({ gone: true, last_outcome: 'succeeded' });
    expect(view.apps.find((a: { app_id: string }) => a.app_id === added.id)).toMatchObject({ gone: false, last_outcome: 'succeeded', config_snapshots: 1 });
    // each app has its own checkpoint: the new app starts from BACKFILL_FROM (10d), the others from where they stopped
    const windowStart = (id: string) => Date.parse(third.sources[0].apps!.find((a) => a.app_id === id)!.window!.start!);
    const started = Date.parse(third.started_at);
    expect(Math.abs(windowStart(added.id) - (started - 10 * 86_400_000))).toBeLessThan(60_000);
    const chat = sim.apps.find((a) => a.mode === 'chat')!;
    expect(windowStart(chat.id)).toBeGreaterThan(Date.parse(first.started_at) - 3_600_000);
  });

  it('"Back up now" on one app of the workspace backs up that app alone, on the whole source every app; the overview lists the apps', async () => {
    const completion = sim.apps.find((a) => a.mode === 'completion' && a.id !== excludedApp.id)!;
    const target = t.app.get(SourcesService).backupTarget(completion.id);
    expect(target).toMatchObject({ workspace: true, only_app_ids: [completion.id] });
    sim.clearRequests();
    const job = await t.app.get(JobsService).runBackup({ sources: [target], trigger: 'manual' });
    expect(job.status).toBe('succeeded');
    expect(job.sources[0].apps!.map((a) => a.app_id)).toEqual([completion.id]);
    const touched = new Set(sim.requests.flatMap((r) => sim.apps.filter((a) => r.path.includes(a.id)).map((a) => a.id)));
    expect([...touched]).toEqual([completion.id]);
    await request(t.server).post('/api/sources/no-such-app/test').expect(404);
    const tested = await request(t.server).post(`/api/sources/${completion.id}/test`).expect(200);
    expect(tested.body).toMatchObject({ ok: true, app_id: completion.id, app: { id: completion.id, mode: 'completion' } });

    // "Back up now" on the whole source: every app of the workspace in one job
    const whole = await t.app.get(JobsService).runBackup({ sources: [t.app.get(SourcesService).backupTarget(t.config.sources[0].app_id)], trigger: 'manual' });
    expect(whole.status).toBe('succeeded');
    const listedNow = (await sources())[0];
    expect(whole.sources[0].apps!.map((a) => a.app_id).sort()).toEqual(listedNow.apps.filter((a: { gone: boolean }) => !a.gone).map((a: { app_id: string }) => a.app_id).sort());
    expect(listedNow.apps_total).toBe(whole.sources[0].apps!.length);
    // each app with its name, mode, last run and outcome, as Dify names it
    for (const app of listedNow.apps.filter((a: { gone: boolean }) => !a.gone)) {
      const inDify = sim.apps.find((a) => a.id === app.app_id)!;
      expect(app).toMatchObject({ name: inDify.name, mode: inDify.mode, last_run_job_id: whole.id, last_outcome: 'succeeded' });
      expect(Date.parse(app.last_run_at)).toBeGreaterThanOrEqual(Date.parse(whole.started_at));
    }

    const html = (await request(t.server).get('/admin').expect(200)).text;
    expect(html).toContain(completion.name);
    // every app's row shows its snapshot count and the latest snapshot's time
    const [view] = await sources();
    for (const app of view.apps.filter((a: { config_snapshots: number }) => a.config_snapshots > 0)) {
      const row = new RegExp(`<tr data-app="${app.app_id}">[\\s\\S]*?</tr>`).exec(html)?.[0];
      expect([app.app_id, row]).toEqual([app.app_id, expect.stringContaining(`<td class="num">${app.config_snapshots} <time datetime="${app.config_snapshot_at}"`)]);
    }
    const chat = sim.apps.find((a) => a.mode === 'chat')!;
    expect(view.apps.find((a: { app_id: string }) => a.app_id === chat.id).config_snapshots).toBe(2);
    expect(html).toContain('Gone from Dify (archive kept)');
    expect(html).toMatch(/Whole workspace: \d+ apps backed up, 1 excluded/);
  });

  it('POST /api/conversation-logs with console credentials and no app_id backs up the whole workspace once', async () => {
    const credentials =
      mode === 'console-admin'
        ? { admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId }
        : { email: sim.account.email, password: sim.account.password };
    const res = await request(t.server)
      .post('/api/conversation-logs')
      .send({ console_api_url: sim.consoleApiUrl, ...credentials, exclude: ['Internal*'], organization_id: 'api-copy' })
      .expect(200);
    expect(res.body).toMatchObject({ success: true, app_mode: 'workspace', organization_id: 'api-copy', failed_count: 0 });
    const apps = res.body.apps as { app_id: string; total_conversations: number; saved_count: number; app_name: string }[];
    expect(apps.length).toBeGreaterThanOrEqual(6);
    expect(apps.some((a) => a.app_id === excludedApp.id)).toBe(false);
    expect(res.body.total_conversations).toBe(apps.reduce((n, a) => n + a.total_conversations, 0));
    expect(res.body.saved_count).toBe(apps.reduce((n, a) => n + a.saved_count, 0));
    expect(res.body.saved_count).toBeGreaterThan(0);
    expect(JSON.stringify(res.body)).not.toContain(sim.account.password);

    const bad = await request(t.server).post('/api/conversation-logs').send({ dify_api_url: sim.serviceApiUrl, api_key: 'app-x' }).expect(400);
    expect(JSON.stringify(bad.body)).toMatch(/without app_id backs up a whole workspace/);
    const wrong = await request(t.server).post('/api/conversation-logs').send({ app_id: 'x', console_api_url: sim.consoleApiUrl, ...credentials, include: ['*'] }).expect(400);
    expect(wrong.body.field).toBe('include');
  });

  it('verify reports a configuration snapshot changed on disk and one gone, each by its key', async () => {
    const ymls = filesUnder(t.logsDir, 'apps').filter((f) => f.endsWith('.yml'));
    const chat = sim.apps.find((a) => a.mode === 'chat')!;
    const changed = ymls.filter((f) => f.includes(chat.id)).sort()[0];
    const missing = ymls.find((f) => !f.includes(chat.id))!;
    fs.appendFileSync(path.join(t.logsDir, changed), '# edited by hand\n');
    fs.rmSync(path.join(t.logsDir, missing));
    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body.app_configs).toEqual({ checked: ymls.length, missing: [missing], changed: [changed] });
    expect(verify.body).toMatchObject({ missing: [], changed: [], corrupt: [] });
  });
});

describe('a whole-workspace source from DIFY_APPS_FILE, with include entries by mode and a per-app organization', () => {
  let sim: DifySimulator;
  let t: TestApp;
  let job: Job;
  let chat: SimulatedApp;
  let agent: SimulatedApp;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 22, agentApp: true, conversationsPerApp: 2 });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    agent = sim.apps.find((a) => a.mode === 'agent' && a.name === 'Travel Concierge')!;
    const dir = makeTempDir('vault-apps-file-');
    const file = path.join(dir, 'apps.json');
    const entry = {
      console_api_url: sim.consoleApiUrl,
      admin_api_key: sim.adminApiKey,
      workspace_id: sim.workspaceId,
      organization_id: 'acme',
      include: ['mode:chat', agent.agentId!],
      apps: { [chat.id]: { organization_id: 'support' } },
    };
    fs.writeFileSync(file, JSON.stringify([entry]));
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: file, BACKFILL_FROM: '10d', DIFY_MAX_RETRIES: '0' });
    job = await t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'scheduled' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('backs up only the included apps, each under its organization, conversations and snapshots alike', async () => {
    expect(job.status).toBe('succeeded');
    const chatApps = sim.apps.filter((a) => a.mode === 'chat');
    expect(job.sources[0].apps!.map((a) => a.app_id).sort()).toEqual([...chatApps.map((a) => a.id), agent.id].sort());
    const others = sim.apps.filter((a) => a.mode !== 'chat' && a.id !== agent.id);
    expect(sim.requests.filter((r) => others.some((a) => r.path.includes(a.id)))).toEqual([]);

    const files = filesUnder(t.logsDir, 'conversations');
    const organizationOf = (appId: string) => new Set(archived(t.logsDir).filter((c) => c.app_id === appId).map((c) => c.organization_id));
    expect(organizationOf(chat.id)).toEqual(new Set(['support']));
    expect(organizationOf(agent.id)).toEqual(new Set(['acme']));
    for (const other of chatApps.filter((a) => a.id !== chat.id)) expect(organizationOf(other.id)).toEqual(new Set(['acme']));
    for (const c of archived(t.logsDir)) expect(files).toContainEqual(expect.stringMatching(new RegExp(`^conversations/${c.organization_id}/\\d{4}/\\d{2}/\\d{2}/conversation_${c.conversation_id}_`)));

    const snapshots = filesUnder(t.logsDir, 'apps').filter((f) => f.endsWith('.yml'));
    expect(snapshots.filter((f) => f.startsWith(`apps/support/${chat.id}/`))).toHaveLength(1);
    expect(snapshots.filter((f) => f.startsWith(`apps/acme/${agent.id}/`))).toHaveLength(1);
    expect(snapshots).toHaveLength(chatApps.length + 1);

    const [view] = (await request(t.server).get('/api/sources').expect(200)).body.sources as Record<string, any>[];
    expect(view.excluded_apps.length).toBeGreaterThan(0);
    for (const e of view.excluded_apps) expect([e.id, e.reason]).toEqual([e.id, 'matches no include entry']);
    expect(view.apps.find((a: { app_id: string }) => a.app_id === chat.id)).toMatchObject({ organization_id: 'support', config_snapshots: 1 });
  });

  it('one failing app holds back none of the others; it alone keeps its checkpoint and catches up on the next run', async () => {
    const other = sim.addApp({ name: 'Second chat', mode: 'chat' });
    const before = (await request(t.server).get('/api/sources').expect(200)).body.sources[0].apps as { app_id: string; checkpoint: string | null }[];
    const late = sim.addConversation({ app_id: chat.id, messages: 2 });
    const fresh = sim.addConversation({ app_id: other.id, messages: 2 });
    sim.injectFault({ path: new RegExp(`/apps/${chat.id}/chat-conversations$`), fault: { kind: 'status', status: 500 } });
    const failed = await t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'scheduled' });
    sim.clearFaults();
    const outcome = (id: string, job: Job) => job.sources[0].apps!.find((a) => a.app_id === id)!.status;
    expect(outcome(chat.id, failed)).toBe('failed');
    for (const a of failed.sources[0].apps!.filter((x) => x.app_id !== chat.id)) expect([a.app_id, a.status]).toEqual([a.app_id, 'succeeded']);
    const ids = () => new Set(archived(t.logsDir).map((c) => c.conversation_id));
    expect(ids().has(fresh.id)).toBe(true);
    expect(ids().has(late.id)).toBe(false);
    const after = (await request(t.server).get('/api/sources').expect(200)).body.sources[0].apps as { app_id: string; checkpoint: string | null }[];
    const checkpointOf = (list: typeof after, id: string) => list.find((a) => a.app_id === id)!.checkpoint;
    expect(checkpointOf(after, chat.id)).toBe(checkpointOf(before, chat.id));

    const next = await t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'scheduled' });
    expect(next.status).toBe('succeeded');
    expect(ids().has(late.id)).toBe(true);
  });
});

describe('configuration snapshots of sources of one app', () => {
  let sim: DifySimulator;
  let t: TestApp;
  let chat: SimulatedApp;
  let agent: SimulatedApp;
  let service: SimulatedApp;
  const run = () => t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'scheduled' });
  const ymls = () => filesUnder(t.logsDir, 'apps').filter((f) => f.endsWith('.yml'));
  const viewOf = async (appId: string) =>
    ((await request(t.server).get('/api/sources').expect(200)).body.sources as Record<string, any>[]).find((s) => s.app_id === appId)!;
  const latestOf = (appId: string) => JSON.parse(fs.readFileSync(path.join(t.logsDir, 'apps', 'acme', appId, 'snapshots.json'), 'utf8')).snapshots.at(-1).saved_at;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23, agentApp: true, conversationsPerApp: 2 });
    chat = sim.apps.find((a) => a.mode === 'chat')!;
    agent = sim.apps.find((a) => a.mode === 'agent' && a.name === 'Travel Concierge')!;
    service = sim.apps.find((a) => a.mode === 'completion')!;
    const file = path.join(makeTempDir('vault-apps-file-'), 'apps.json');
    const admin = { console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId, organization_id: 'acme' };
    fs.writeFileSync(
      file,
      JSON.stringify([
        { app_id: chat.id, ...admin },
        { app_id: agent.id, console_api_url: sim.consoleApiUrl, email: sim.account.email, password: sim.account.password, organization_id: 'acme' },
        { app_id: service.id, dify_api_url: sim.serviceApiUrl, api_key: service.apiKey, organization_id: 'acme' },
      ]),
    );
    t = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_APPS_FILE: file, BACKFILL_FROM: '10d', DIFY_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('saves the configuration of a console source of one app, Agent apps included, without secrets; a service-mode source has none', async () => {
    const job = await run();
    expect(job.status).toBe('succeeded');
    expect(ymls().map((f) => f.split('/').slice(0, 3).join('/')).sort()).toEqual([`apps/acme/${chat.id}`, `apps/acme/${agent.id}`].sort());
    expect(sim.counters.dslExportsWithSecret).toBe(0);
    for (const f of filesUnder(t.logsDir, 'apps')) expect([f, SECRET.test(fs.readFileSync(path.join(t.logsDir, f), 'utf8'))]).toEqual([f, false]);
    for (const app of [chat, agent]) expect(await viewOf(app.id)).toMatchObject({ config_snapshots: 1, config_snapshot_at: latestOf(app.id) });
    expect(await viewOf(service.id)).toMatchObject({ config_snapshots: 0, config_snapshot_at: null });
  });

  it('writes a snapshot only when the configuration changed, shows the count and latest time on the admin page, and verify checks them', async () => {
    expect((await run()).status).toBe('succeeded');
    expect(ymls()).toHaveLength(2);
    sim.setAppPrompt(chat.id, 'Answer in Dutch.');
    expect((await run()).status).toBe('succeeded');
    expect(ymls().filter((f) => f.includes(chat.id))).toHaveLength(2);
    expect(ymls()).toHaveLength(3);
    const view = await viewOf(chat.id);
    expect(view).toMatchObject({ config_snapshots: 2, config_snapshot_at: latestOf(chat.id) });

    const html = (await request(t.server).get('/admin').expect(200)).text;
    const card = new RegExp(`<article class="source" data-source="acme/${chat.id}">[\\s\\S]*?</article>`).exec(html)?.[0];
    expect(card).toContain(`<dd data-snapshots="2">2 <time datetime="${view.config_snapshot_at}"`);
    const serviceCard = new RegExp(`<article class="source" data-source="acme/${service.id}">[\\s\\S]*?</article>`).exec(html)?.[0];
    expect(serviceCard).toBeDefined();
    expect(serviceCard).not.toContain('Config snapshots');

    const verify = await request(t.server).get('/api/conversation-logs/verify').expect(200);
    expect(verify.body.app_configs).toEqual({ checked: 3, missing: [], changed: [] });
  });
});

describe('apps of one workspace are backed up side by side, not one after another', () => {
  let sim: DifySimulator;
  let t: TestApp;

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    for (const name of ['Side A', 'Side B']) {
      const app = sim.addApp({ name, mode: 'chat' });
      sim.addConversation({ app_id: app.id, messages: 2 });
    }
    // a generous timeout: the other app has all of it to be answered while the first one's listing hangs
    t = await createTestApp(consoleEnv('console-admin', sim, { DIFY_INCLUDE_APPS: 'Side *', WORKSPACE_APP_CONCURRENCY: '2', DIFY_TIMEOUT_MS: '10000', DIFY_MAX_RETRIES: '1' }));
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it("answers the second app while the first app's listing hangs, and both complete", async () => {
    const run = () => t.app.get(JobsService).runBackup({ sources: t.config.sources, trigger: 'manual' });
    // the order the workspace hands its apps out in
    const order = (await run()).sources[0].apps!.map((a) => a.app_id);
    expect(order).toHaveLength(2);
    const [first, second] = order;
    const conversations = sim.addConversation({ app_id: first, messages: 2 });
    sim.addConversation({ app_id: second, messages: 2 });
    sim.clearRequests();
    sim.injectFault({ path: new RegExp(`/apps/${first}/chat-conversations$`), times: 1, fault: { kind: 'timeout' } });

    const job = await run();
    expect(job.status).toBe('succeeded');
    expect(archived(t.logsDir).some((c) => c.conversation_id === conversations.id)).toBe(true);
    const listingOfFirst = (status: number) => sim.requests.findIndex((r) => r.path.endsWith(`/apps/${first}/chat-conversations`) && r.status === status);
    const ofSecond = sim.requests.map((r, i) => (r.path.includes(`/apps/${second}/`) ? i : -1)).filter((i) => i >= 0);
    // the first app's listing hung (recorded unanswered) and was answered on its retry ...
    expect(listingOfFirst(0)).toBeGreaterThanOrEqual(0);
    expect(listingOfFirst(200)).toBeGreaterThan(listingOfFirst(0));
    // ... and the second app was crawled and done before that answer: one after another, in the order the workspace
    // hands the apps out, it could only start after it (the two listings start together, in either order)
    expect(ofSecond.some((i) => sim.requests[i].path.endsWith('/chat-conversations'))).toBe(true);
    expect(Math.max(...ofSecond)).toBeLessThan(listingOfFirst(200));
  });
});
