/**
 * Two replicas as real processes on one PostgreSQL, one S3 gateway (Ceph RGW) and the Dify simulator,
 * with a backup scheduled every two seconds: one leader runs the schedule, the follower refuses a second
 * run of the running source and streams the leader's job; the leader killed with SIGKILL mid-run hands
 * the schedule over, the follower completes the window, and every replica answers the same archive.
 */
import type { Client } from 'pg';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { chatApp, nowSeconds, sourceEnv } from '../hardening/hardening-kit';
import { waitFor } from '../hardening/process';
import { openSse, Replica, ReplicaSet, S3_PREFIX, startReplicaSet } from './replica-kit';

jest.setTimeout(600_000);

const COUNT = 300;
const SAVES_IN_FLIGHT = 2;
const ADMIN_TOKEN = 'replica-admin-token-0123456789';
const WORD = 'failover';

interface JobView {
  id: string;
  trigger: string;
  status: string;
  replica: string;
  started_at: string;
  finished_at: string | null;
  message: string;
  resume?: { reason: string } | null;
  sources: {
    status: string;
    progress: { seen: number; saved: number };
    checkpoint_before: string | null;
    result: { created_count: number; failed_count: number } | null;
  }[];
}

/** The conversation id of an archive key `.../conversation_<id>_<timestamp>.json[.gz]`. */
function conversationIdOf(key: string): string {
  const match = /\/conversation_([0-9a-f-]{36})_[^/]+$/.exec(key);
  if (!match) throw new Error(`not a conversation object: ${key}`);
  return match[1];
}

/**
 * An answer as every replica must give it: a job still running shows its live progress where it runs
 * (elsewhere as last written, once a heartbeat, and live through its events), so of a running job only
 * who, what and when. With a run scheduled every two seconds, the newest jobs are still being written to the
 * shared history while the replicas are asked: the history is compared up to `before`, every job that began
 * earlier (its count too), and it must be the same everywhere.
 */
function comparable(body: any, before: string): unknown {
  if (!Array.isArray(body?.jobs)) return body;
  const { total: _total, ...rest } = body;
  return {
    ...rest,
    jobs: body.jobs
      .filter((j: JobView) => j.started_at < before)
      .map((j: JobView) => (j.status === 'running' ? { id: j.id, trigger: j.trigger, status: j.status, replica: j.replica, started_at: j.started_at } : j)),
  };
}

function counts(ids: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const id of ids) map.set(id, (map.get(id) ?? 0) + 1);
  return map;
}

describe('two replicas on one PostgreSQL and one S3 bucket (real processes)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let set: ReplicaSet;
  let db: Client;

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    set = await startReplicaSet({
      token: ADMIN_TOKEN,
      env: sourceEnv(sim, app, 'console-admin', {
        DIFY_TIMEOUT_MS: '10000',
        DIFY_CONCURRENCY: String(SAVES_IN_FLIGHT),
        ENABLE_AUTO_LOGGING: 'true',
        BACKUP_CRON: '*/2 * * * * *',
        REPLICA_TIMEOUT_SECONDS: '4',
        ADMIN_TOKEN,
      }),
    });
    db = await set.database();
  });
  afterAll(async () => {
    await db?.end();
    await set?.close();
    await sim?.close();
  });

  const jobs = async (on: Replica): Promise<JobView[]> => (await set.api(on, '/api/jobs?limit=500')).body.jobs;
  const job = async (on: Replica, id: string): Promise<JobView> => (await set.api(on, `/api/jobs/${id}`)).body;
  const checkpoint = async (): Promise<string | null> => {
    const { rows } = await db.query<{ state: { app_id: string; checkpoint: string | null } }>('SELECT state FROM checkpoints');
    return rows.find((r) => r.state.app_id === app.id)?.state.checkpoint ?? null;
  };

  it('runs the schedule on the leader only, fails over on SIGKILL without losing or duplicating a conversation, and answers alike everywhere', async () => {
    const first = await set.start();
    const second = await set.start();
    const leader = await set.waitForLeader();
    const follower = leader === first ? second : first;
    expect((await set.listReplicas(follower)).replicas.map((r) => [r.replica, r.leader]).sort()).toEqual(
      [
        [leader.id, true],
        [follower.id, false],
      ].sort(),
    );

    // empty runs every two seconds, all on the leader
    await waitFor(async () => (await jobs(follower)).filter((j) => j.trigger === 'scheduled' && j.status === 'succeeded').length >= 3, 'three scheduled runs', 90_000);
    const early = (await jobs(follower)).filter((j) => j.trigger === 'scheduled');
    expect(new Set(early.map((j) => j.replica))).toEqual(new Set([leader.id]));

    // conversations arrive in Dify, slow to fetch: the next scheduled run lasts seconds
    sim.setLatency(60);
    const now = nowSeconds();
    for (let i = 0; i < COUNT; i++) {
      sim.addConversation({ app_id: app.id, created_at: now - 1200 + i * 3, messages: 2, queries: [i % 10 === 0 ? `a ${WORD} question ${i}` : `question ${i}`, `more ${i}`] });
    }
    const seededAt = new Date().toISOString();
    let long: JobView | undefined;
    await waitFor(
      async () => {
        long = (await jobs(follower)).find((j) => j.trigger === 'scheduled' && j.status === 'running' && j.started_at > seededAt);
        return !!long;
      },
      'the scheduled run of the new conversations',
      60_000,
    );
    expect(long!.replica).toBe(leader.id);

    // the follower does not run it: it streams the leader's events through the database
    const sse = await openSse(`${follower.url}/api/jobs/${long!.id}/events`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(sse.status).toBe(200);

    // a second run of the running source, anywhere: 409 with the running job's id
    const refusals = [
      await set.api(follower, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) }),
      await set.api(follower, '/api/conversation-logs', { method: 'POST', body: JSON.stringify({ app_id: app.id }) }),
      await set.api(follower, '/api/conversation-logs/scheduled', { method: 'POST', body: '{}' }),
    ];
    for (const refused of refusals) {
      expect({ status: refused.status, job_id: refused.body.job_id }).toEqual({ status: 409, job_id: long!.id });
      expect(refused.body.message).toMatch(new RegExp(`^job ${long!.id} \\(a server, pid ${leader.child.pid} on .+\\) is backing up source acme/${app.id}; try again`));
    }

    const saved = () => Math.max(0, ...sse.events.filter((e) => e.event === 'progress').map((e) => e.data.progress.saved as number));
    await waitFor(() => saved() >= COUNT / 5, 'the follower to stream a fifth of the run saved', 120_000);
    for (const e of sse.events) expect(e.data.job_id).toBe(long!.id);

    // the follower's job list shows the running job's progress too, as the leader writes it to the shared history
    let listed: JobView | undefined;
    await waitFor(
      async () => {
        listed = (await jobs(follower)).find((j) => j.id === long!.id);
        return listed?.status === 'running' && listed.sources[0].status === 'running' && listed.sources[0].progress.saved > 0;
      },
      "the follower to list the leader's running job with its progress",
      60_000,
    );
    expect(listed!.sources[0].progress.saved).toBeLessThan(COUNT);

    // SIGKILL the leader mid-run
    expect(await set.kill(leader)).toBe('SIGKILL');
    const atKill = (await set.objectKeys()).filter((k) => k.startsWith(`${S3_PREFIX}conversations/`));
    const checkpointAtKill = await checkpoint();
    sim.setLatency(0);
    expect(atKill.length).toBeGreaterThan(0);
    expect(atKill.length).toBeLessThan(COUNT);
    expect([...counts(atKill.map(conversationIdOf)).values()].every((n) => n === 1)).toBe(true);
    console.log(`SIGKILL of the leader after ${atKill.length} of ${COUNT} conversations`);

    // the follower leads; once the dead replica's heartbeat is too old it is gone and its job interrupted
    expect(await set.waitForLeader([follower])).toBe(follower);
    await waitFor(async () => (await set.listReplicas(follower)).replicas.length === 1, 'the dead replica to leave the list', 60_000);
    expect((await set.listReplicas(follower)).replicas).toEqual([expect.objectContaining({ replica: follower.id, leader: true, self: true })]);
    await waitFor(async () => (await job(follower, long!.id)).status !== 'running', 'the dead job to be marked', 60_000);
    const dead = await job(follower, long!.id);
    expect(dead).toMatchObject({ status: 'interrupted', replica: leader.id, resume: expect.objectContaining({ reason: 'crash' }) });
    // the stream of the dead job ends too, with the job as it is now
    await waitFor(() => sse.isEnded(), 'the stream of the dead job to end', 60_000);
    expect(sse.events.at(-1)).toMatchObject({ event: 'done', data: { job_id: long!.id, job: { id: long!.id, status: 'interrupted' } } });

    // the next scheduled run on the new leader resumes from the checkpoint and completes the window
    let takeover: JobView | undefined;
    await waitFor(
      async () => {
        takeover = (await jobs(follower))
          .filter((j) => j.trigger === 'scheduled' && j.replica === follower.id && j.status !== 'running')
          .sort((a, b) => a.started_at.localeCompare(b.started_at))[0];
        return !!takeover;
      },
      'the first scheduled run on the new leader',
      90_000,
    );
    expect(takeover).toMatchObject({ status: 'succeeded' });
    expect(takeover!.sources[0].checkpoint_before).toBe(checkpointAtKill);
    expect(takeover!.sources[0].result).toMatchObject({ failed_count: 0 });
    expect(takeover!.sources[0].result!.created_count).toBeGreaterThan(0);
    // an object stored just before the kill whose catalog row was not yet written was journaled: the new leader
    // indexed it before its run, which stores nothing the bucket held at the kill (and fewer when a PUT under way
    // at the kill landed after the listing, at most one per save in flight); the bucket check below proves no duplicate
    expect(takeover!.sources[0].result!.created_count).toBeLessThanOrEqual(COUNT - atKill.length);
    expect(takeover!.sources[0].result!.created_count).toBeGreaterThanOrEqual(COUNT - atKill.length - SAVES_IN_FLIGHT);

    // one object per conversation, none missing, none twice; one catalog row each
    const expected = sim.conversations(app.id).map((c) => c.id).sort();
    expect(expected).toHaveLength(COUNT);
    const objects = counts((await set.objectKeys()).filter((k) => k.startsWith(`${S3_PREFIX}conversations/`)).map(conversationIdOf));
    expect([...objects.keys()].sort()).toEqual(expected);
    expect([...objects.values()].every((n) => n === 1)).toBe(true);
    const { rows } = await db.query<{ conversation_id: string; n: string }>('SELECT conversation_id, count(*) AS n FROM files GROUP BY conversation_id');
    expect(rows.map((r) => r.conversation_id).sort()).toEqual(expected);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);

    // scheduled runs: the old leader's up to its death, the new leader's after; never skipped, never on two replicas at once
    const history = (await jobs(follower)).filter((j) => j.trigger === 'scheduled').sort((a, b) => a.started_at.localeCompare(b.started_at));
    const killedAt = history.findIndex((j) => j.id === long!.id);
    expect(history.slice(0, killedAt + 1).every((j) => j.replica === leader.id)).toBe(true);
    expect(history.slice(killedAt + 1).every((j) => j.replica === follower.id)).toBe(true);
    expect(history.filter((j) => j.status === 'skipped')).toEqual([]);

    // a replica started now follows; both answer the same archive, byte for byte
    const third = await set.start();
    expect(await set.waitForLeader([follower, third])).toBe(follower);
    const routes = [
      '/api/conversation-logs?action=summary',
      `/api/conversation-logs/search?q=${WORD}&limit=100`,
      '/api/jobs?limit=500',
      '/api/sources',
    ];
    for (const route of routes) {
      let last: unknown[] = [];
      await waitFor(
        async () => {
          // jobs that began a tick and a heartbeat ago have been written to the shared history by now
          const before = new Date(Date.now() - 10_000).toISOString();
          const [a, b] = await Promise.all([set.api(follower, route), set.api(third, route)]);
          last = [comparable(a.body, before), comparable(b.body, before)];
          return a.status === 200 && JSON.stringify(last[0]) === JSON.stringify(last[1]);
        },
        `both replicas to answer ${route} alike`,
        60_000,
      ).catch(() => expect(last[1]).toEqual(last[0]));
      if (route.startsWith('/api/jobs')) expect((last[0] as { jobs: unknown[] }).jobs.length).toBeGreaterThan(0);
    }
    expect((await set.api(third, '/api/conversation-logs?action=summary')).body.total_files).toBe(COUNT);
    expect((await set.api(third, `/api/conversation-logs/search?q=${WORD}&limit=100`)).body.results).toHaveLength(COUNT / 10);
    const exportRoute = '/api/conversation-logs?action=export&start_date=2000-01-01&end_date=2099-12-31&format=ndjson';
    const [exportA, exportB] = await Promise.all([set.raw(follower, exportRoute), set.raw(third, exportRoute)]);
    expect([exportA.status, exportB.status]).toEqual([200, 200]);
    const [bytesA, bytesB] = [Buffer.from(await exportA.arrayBuffer()), Buffer.from(await exportB.arrayBuffer())];
    expect(bytesB.equals(bytesA)).toBe(true);
    const exported = bytesA.toString('utf8').trim().split('\n').map((line) => JSON.parse(line).conversation_id as string);
    expect(exported.sort()).toEqual(expected);

    // the admin page without sticky sessions: signed in on one replica, the cookie works on the other
    const login = await fetch(`${third.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/admin' }).toString(),
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    expect(cookie).toMatch(/^vault_session=./);
    const page = await fetch(`${follower.url}/admin`, { redirect: 'manual', headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(app.id);
    // a form of one replica's page is accepted by the other (the CSRF token is the session's, not the process's)
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1];
    // an archive check started on one replica is followed on the other, to its result (its page polls by id)
    const started = await fetch(`${third.url}/admin/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(started.status).toBe(202);
    const { status_url: statusUrl } = (await started.json()) as { status_url: string };
    const followed = async () => (await (await fetch(`${follower.url}${statusUrl}`, { headers: { accept: 'application/json', cookie } })).json()) as Record<string, unknown>;
    let check = await followed();
    for (let i = 0; i < 200 && check.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      check = await followed();
    }
    expect(check).toMatchObject({ status: 'succeeded', replica: third.id, checked: COUNT, result: { missing: [], changed: [], unindexed: [], corrupt: [] } });
    const checkPage = await (await fetch(`${follower.url}${statusUrl}`, { headers: { cookie } })).text();
    expect(checkPage).toContain(`on replica ${third.id}`);
    expect(checkPage).toContain(`All ${COUNT} files match the catalog.`);
    const logout = await fetch(`${third.url}/admin/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect([logout.status, logout.headers.get('location')]).toEqual([303, '/admin/login']);
    const anonymous = await fetch(`${follower.url}/admin`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);

    for (const r of [follower, third]) expect([0, 'SIGTERM']).toContain(await set.stop(r));

    // no secret in what any replica wrote to stdout or stderr, shutdown included
    const databasePassword = new URL(set.databaseUrl).password;
    expect(databasePassword.length).toBeGreaterThan(8);
    const secrets = { ADMIN_TOKEN, S3_SECRET_KEY: set.s3.secretAccessKey, DIFY_ADMIN_API_KEY: sim.adminApiKey!, DATABASE_URL_PASSWORD: databasePassword };
    for (const r of set.replicas) {
      const logged = r.output.join('');
      expect(logged).toContain('Listening on');
      for (const [name, secret] of Object.entries(secrets)) expect({ replica: r.id, name, leaked: logged.includes(secret) }).toEqual({ replica: r.id, name, leaked: false });
    }
  });
});
