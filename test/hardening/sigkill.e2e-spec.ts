import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { STORE_KINDS, storeUnderTest, StoreUnderTest } from '../support/archive-stores';
import { makeTempDir } from '../support/test-app';
import { ArchiveCheck, chatApp, ConversationFile, expectComplete, inspectArchive, recordConversationFile, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, runCliProcess, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(300_000);

const COUNT = 400;
/** conversations fetched or saved at once (DIFY_CONCURRENCY) */
const SAVES_IN_FLIGHT = 4;

/** The folder of some archived file, relative to LOGS_DIR. */
function someDayFolder(logsDir: string): string {
  const file = fs.readdirSync(path.join(logsDir, 'conversations'), { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
  return path.relative(logsDir, file.parentPath);
}

/** The archive's conversation files as the store holds them (a bucket has no temp files: a PUT is atomic). */
async function inspectStore(store: StoreUnderTest, logsDir: string): Promise<ArchiveCheck> {
  if (store.kind === 'fs') return inspectArchive(logsDir);
  const check: ArchiveCheck = { files: new Map(), broken: [], temps: [], messages: new Map() };
  for (const key of await store.keys('conversations/')) {
    if (key.endsWith('.tmp')) {
      check.temps.push(key);
      continue;
    }
    let json: ConversationFile | undefined;
    try {
      json = JSON.parse((await store.read(key)).toString('utf8'));
    } catch {
      json = undefined;
    }
    recordConversationFile(check, key, json);
  }
  return check;
}

let build: ReturnType<typeof buildService>;
beforeAll(() => {
  build = buildService();
});
afterAll(() => build?.cleanup());

describe.each(STORE_KINDS)('Hardening: the service killed with SIGKILL in the middle of a large backup (real processes, archive on %s)', (kind) => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let logsDir: string;
  let store: StoreUnderTest;
  let env: Record<string, string>;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, COUNT, 3);
    logsDir = makeTempDir();
    store = await storeUnderTest(kind, () => logsDir, 'sigkill');
    env = { ...sourceEnv(sim, app, 'console-admin', { DIFY_TIMEOUT_MS: '5000', DIFY_CONCURRENCY: String(SAVES_IN_FLIGHT) }), ...store.env, LOGS_DIR: logsDir, ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production' };
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await sim?.close();
    await store?.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const inspect = () => inspectStore(store, logsDir);
  /** Every conversation of the app archived exactly once, with all its messages, and nothing else wrong. */
  const expectCompleteArchive = async () => expectComplete(await inspect(), sim, app);
  const archivedCount = async () =>
    kind === 'fs' ? inspectArchive(logsDir).files.size : (await store.keys('conversations/')).filter((k) => !k.endsWith('.tmp')).length;

  const start = async () => {
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const api = async (p: ServiceProcess, route: string, init?: RequestInit) => {
    const res = await fetch(`${p.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('leaves only complete JSON files, a restart cleans up and the catalog agrees, the next run completes the window', async () => {
    const first = await start();
    sim.setLatency(15);
    const started = await api(first, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(started.status).toBe(202);
    await waitFor(async () => (await archivedCount()) >= COUNT / 4, 'a quarter of the conversations archived');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const afterKill = await inspect();
    expect(afterKill.broken).toEqual([]);
    expect(afterKill.files.size).toBeLessThan(COUNT);
    expect([...afterKill.files.values()].every((n) => n === 1)).toBe(true);
    for (const [id, n] of afterKill.messages) expect(n).toBe(sim.messages(id).length);
    console.log(`SIGKILL after ${afterKill.files.size} of ${COUNT} conversations; ${afterKill.temps.length} temp files left by the killed process`);

    // whatever the kill left half written, plus one planted for certain: a temp file of the dead pid (a bucket has none)
    if (kind === 'fs') {
      const day = someDayFolder(logsDir);
      fs.writeFileSync(`${logsDir}/${day}/conversation_x_2020-01-01T00-00-00-000Z.json.${first.child.pid}.0badc0de.tmp`, '{"conversation_id":');
    }
    sim.setLatency(0);
    const second = await start();
    // what the killed process left goes soon after start-up; a temp file of the live server (its start-up writes) is its own
    const leftOver = async () => [...inspectArchive(logsDir).temps, ...(await inspect()).temps].filter((t) => !t.includes(`.${second.child.pid}.`));
    await waitFor(async () => (await leftOver()).length === 0, 'the temp files of the killed process removed');
    // An object stored while the killed process waited for the answer (a PUT lasts a round trip) or renamed
    // into place just before its catalog row was written: its key was journaled, and the restart indexed it.
    // Before any new run the catalog holds exactly what the store holds.
    // (the restart replays the journal in the background, once listening)
    await waitFor(async () => (await api(second, '/api/conversation-logs/verify')).body.unindexed.length === 0, 'the write journal replayed');
    const atRestart = await inspect();
    expect(atRestart.files.size).toBeGreaterThanOrEqual(afterKill.files.size);
    expect(atRestart.files.size).toBeLessThanOrEqual(afterKill.files.size + SAVES_IN_FLIGHT);
    const verify = await api(second, '/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });
    expect(verify.body.checked).toBe(atRestart.files.size);
    expect((await api(second, '/api/conversation-logs?action=summary')).body.total_files).toBe(atRestart.files.size);
    const jobs = await api(second, '/api/jobs');
    const killed = (jobs.body.jobs ?? jobs.body).find((j: { id: string }) => j.id === started.body.job_id);
    expect(killed).toMatchObject({ status: 'interrupted' });

    const again = await api(second, '/api/conversation-logs', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    // nothing already stored is stored again
    expect(again.body).toMatchObject({ success: true, failed_count: 0, created_count: COUNT - atRestart.files.size });
    await expectCompleteArchive();
    expect((await api(second, '/api/conversation-logs/verify')).body).toMatchObject({ checked: COUNT, missing: [], changed: [], unindexed: [], corrupt: [] });
    const summary = await api(second, '/api/conversation-logs?action=summary');
    expect(summary.body.total_files).toBe(COUNT);

    // the running server holds the backup lock: a CLI backup on the same archive refuses, a CLI verify works
    sim.setLatency(20);
    const slow = await api(second, '/api/conversation-logs?async=true', {
      method: 'POST',
      body: JSON.stringify({ app_id: app.id, filters: { start_date: new Date(Date.now() - 86_400_000).toISOString() } }),
    });
    expect(slow.status).toBe(202);
    const refused = await runCliProcess(build.dir, ['backup'], env);
    expect(refused.stderr).toMatch(/backup lock/);
    expect(refused.code).toBe(3);
    await waitFor(async () => (await api(second, `/api/jobs/${slow.body.job_id}`)).body.status !== 'running', 'the server job to end', 60_000);
    // the history file is written just after the job ends in memory: wait for that write, then check it
    const recorded = () =>
      (JSON.parse(fs.readFileSync(`${logsDir}/state/jobs.json`, 'utf8')).jobs as { id: string; status: string }[]).find((j) => j.id === slow.body.job_id);
    await waitFor(async () => recorded()?.status !== 'running', 'the job history file to record the end', 60_000);
    expect(recorded()).toMatchObject({ status: 'succeeded' });
    sim.setLatency(0);

    second.child.kill('SIGTERM');
    expect([0, 'SIGTERM']).toContain(await second.exited);
    const cli = await runCliProcess(build.dir, ['backup'], env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const verifyCli = await runCliProcess(build.dir, ['verify'], env);
    expect(verifyCli.code).toBe(0);
  });
});
