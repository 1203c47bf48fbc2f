import { Client } from 'pg';
import { firstValueFrom, toArray } from 'rxjs';
import { BackupLockedError } from '../../src/backup/backup-lock';
import type { Job, SourceState } from '../../src/backup/jobs.types';
import { PostgresState } from '../../src/backup/postgres/postgres-state';
import { REPLICA_ID } from '../../src/backup/replicas';
import { createDatabase, dropDatabase } from '../support/postgres';

jest.setTimeout(120_000);

const waitUntil = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
};

const job = (id: string, startedAt: string, extra: Partial<Job> = {}): Job => ({
  id,
  kind: 'backup',
  trigger: 'scheduled',
  status: 'running',
  window: null,
  started_at: startedAt,
  finished_at: null,
  message: 'Backing up 1 source',
  sources: [],
  replica: REPLICA_ID,
  ...extra,
});

/** Two replicas' state over one database (two pools, two dedicated lock and leader connections). */
describe(PostgresState.name, () => {
  let url: string;
  let a: PostgresState;
  let b: PostgresState;
  let admin: Client;

  /** What the database does when a replica's process dies: its sessions end. */
  const killSessions = (name: string) =>
    admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`, [
      name,
    ]);

  beforeEach(async () => {
    url = await createDatabase('replica_state');
    a = new PostgresState(url, 8);
    b = new PostgresState(url, 8);
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
    admin = new Client({ connectionString: url });
    await admin.connect();
  });
  afterEach(async () => {
    await admin.end();
    await a.onApplicationShutdown();
    await b.onApplicationShutdown();
    await dropDatabase(url);
  });

  it('keeps one job history and one set of checkpoints for every replica, merging read-change-write steps', async () => {
    await a.jobs.save([job('j1', '2025-10-15T01:00:00.000Z')]);
    await Promise.all([
      a.jobs.update((stored) => [...stored, job('j2', '2025-10-15T02:00:00.000Z')]),
      b.jobs.update((stored) => [...stored, job('j3', '2025-10-15T03:00:00.000Z')]),
    ]);
    expect((await b.jobs.load()).map((j) => j.id)).toEqual(['j3', 'j2', 'j1']);
    const written = await b.jobs.update((stored) => stored.filter((j) => j.id !== 'j2').map((j) => (j.id === 'j1' ? { ...j, status: 'succeeded' } : j)));
    expect(written.map((j) => [j.id, j.status])).toEqual([['j3', 'running'], ['j1', 'succeeded']]);
    expect(await a.jobs.load()).toEqual(written);

    const state = (key: string, checkpoint: string | null): SourceState =>
      ({ key, app_id: key, organization_id: null, checkpoint, first_seen_at: '2025-10-15T00:00:00.000Z' }) as SourceState;
    await a.checkpoints.update((stored) => [...stored, state('/alpha', null)]);
    await b.checkpoints.update((stored) => [...stored.map((s) => ({ ...s, checkpoint: '2025-10-15T02:00:00.000Z' })), state('/beta', null)]);
    expect((await a.checkpoints.load()).map((s) => [s.key, s.checkpoint])).toEqual([
      ['/alpha', '2025-10-15T02:00:00.000Z'],
      ['/beta', null],
    ]);
  });

  it('locks each source for one replica: the other is refused with the running job, until the holder dies', async () => {
    await a.lock.hold('server', { jobId: 'job-a', sources: ['acme/alpha'] });
    // this process may join its own hold; another replica may take another source
    await a.lock.hold('server', { jobId: 'job-a2', sources: ['acme/alpha'] });
    await b.lock.hold('server', { jobId: 'job-b', sources: ['acme/beta'] });

    const refused = await b.lock.hold('server', { jobId: 'job-c', sources: ['acme/beta', 'acme/alpha'] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BackupLockedError);
    expect((refused as BackupLockedError).jobId).toBe('job-a');
    expect((refused as BackupLockedError).message).toMatch(/^job job-a \(a server, pid \d+ on .+, since .+\) is backing up source acme\/alpha; try again/);

    // a refused claim gives back nothing, and keeps nothing it joined
    await b.lock.release({ jobId: 'job-b', sources: ['acme/beta'] });
    await a.lock.hold('server', { jobId: 'job-a3', sources: ['acme/beta'] });
    await a.lock.release({ jobId: 'job-a3', sources: ['acme/beta'] });

    // released once of twice: still held
    await a.lock.release({ jobId: 'job-a2', sources: ['acme/alpha'] });
    await expect(b.lock.hold('server', { jobId: 'job-d', sources: ['acme/alpha'] })).rejects.toThrow(BackupLockedError);

    await killSessions('dify-log-vault-backup-lock');
    await new Promise((r) => setTimeout(r, 200));
    // the database released the dead session's locks; b's own session was cut too and reconnects
    await b.lock.hold('server', { jobId: 'job-e', sources: ['acme/alpha'] });
    await expect(a.lock.hold('server', { jobId: 'job-f', sources: ['acme/alpha'] })).rejects.toThrow('job job-e');
  });

  it("never names an ended job as a source lock's holder: a dead holder's row left behind is not the answer", async () => {
    await a.jobs.save([job('dead-job', '2025-10-15T01:00:00.000Z', { status: 'interrupted' }), job('live-job', '2025-10-15T02:00:00.000Z')]);
    // a replica died holding acme/gamma: its row stays; another session has just taken the lock and not written its row yet
    await admin.query(`INSERT INTO backup_lock_holders (source_key, job_id, replica, owner, since) VALUES ('acme/gamma', 'dead-job', 'dead-host:9', 'server', '2025-10-15T01:00:00.000Z')`);
    await admin.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x646c7673, 'acme/gamma']);
    const claim = { jobId: 'job-z', sources: ['acme/gamma'] };

    const unnamed = (await b.lock.hold('server', claim).catch((e: unknown) => e)) as BackupLockedError;
    expect(unnamed).toBeInstanceOf(BackupLockedError);
    expect(unnamed.jobId).toBeUndefined();
    expect(unnamed.message).toBe('another replica is backing up source acme/gamma; try again when it has finished');

    await admin.query(`UPDATE backup_lock_holders SET job_id = 'live-job', replica = 'alive-host:7' WHERE source_key = 'acme/gamma'`);
    const named = (await b.lock.hold('server', claim).catch((e: unknown) => e)) as BackupLockedError;
    expect(named.jobId).toBe('live-job');
    expect(named.message).toMatch(/^job live-job \(a server, pid 7 on alive-host, since .+\) is backing up source acme\/gamma; try again/);
    await admin.query('SELECT pg_advisory_unlock($1, hashtext($2))', [0x646c7673, 'acme/gamma']);
  });

  it('gives back every lock a claim took when recording its holder fails, so another replica can take them', async () => {
    // the database refuses to record this job as a holder: the locks it took before must not stay behind
    await admin.query(`CREATE FUNCTION refuse_holder() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.job_id = 'job-refused' AND NEW.source_key = 'acme/beta' THEN RAISE EXCEPTION 'holder refused'; END IF; RETURN NEW; END $$`);
    await admin.query('CREATE TRIGGER refuse_holder BEFORE INSERT OR UPDATE ON backup_lock_holders FOR EACH ROW EXECUTE FUNCTION refuse_holder()');
    const claim = { jobId: 'job-refused', sources: ['acme/alpha', 'acme/beta'] };
    await expect(a.lock.hold('server', claim)).rejects.toThrow('holder refused');

    const held = await admin.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid`, [0x646c7673]);
    expect(held.rows[0].n).toBe(0);
    await b.lock.hold('server', { jobId: 'job-b', sources: ['acme/alpha', 'acme/beta'] });
    await b.lock.release({ jobId: 'job-b', sources: ['acme/alpha', 'acme/beta'] });
  });

  it('tells who listens when the connection holding its locks is lost, with the keys it held', async () => {
    const lost: string[][] = [];
    const stop = a.replicationLock.onLost((keys) => lost.push(keys));
    await a.replicationLock.hold('server', { jobId: 'copy-a', sources: ['replication'] });
    await killSessions('dify-log-vault-backup-lock');
    await waitUntil(() => lost.length > 0);
    stop();
    expect(lost).toEqual([['replication']]);
    // the database gave it back: another replica takes it
    await b.replicationLock.hold('server', { jobId: 'copy-b', sources: ['replication'] });
  });

  it('elects one leader; when its connection dies another replica leads at its next try', async () => {
    expect(await a.replicas.tryLead()).toBe(true);
    expect(await b.replicas.tryLead()).toBe(false);
    expect(await a.replicas.tryLead()).toBe(true);
    expect([a.replicas.isLeading(), b.replicas.isLeading()]).toEqual([true, false]);
    const listed = await a.replicas.list();
    expect(listed).toHaveLength(1); // both stand for this process: one row per host and pid
    expect(listed[0]).toMatchObject({ replica: REPLICA_ID, pid: process.pid, self: true });

    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = x'646c76'::int::oid AND objsubid = 1`,
    );
    expect(rows).toHaveLength(1);
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await b.replicas.tryLead()).toBe(true);
    expect(await a.replicas.tryLead()).toBe(false);
    expect([a.replicas.isLeading(), b.replicas.isLeading()]).toEqual([false, true]);
  });

  it('asks the database to find a silent replica (a lost machine) within about REPLICA_TIMEOUT_SECONDS on the lock connections', async () => {
    const state = new PostgresState(url, 12);
    const probe = await state.db.dedicated('probe');
    try {
      const show = async (name: string) => (await probe.query(`SHOW ${name}`)).rows[0][name];
      expect([await show('tcp_keepalives_idle'), await show('tcp_keepalives_interval'), await show('tcp_keepalives_count')]).toEqual(['6', '2', '3']);
      // a session whose data goes unacknowledged (keepalives do not cover it) is dropped in the same time
      expect(await show('tcp_user_timeout')).toBe('12000');
    } finally {
      await probe.end();
      await state.db.close();
    }
  });

  it("keeps DATABASE_URL's own session options beside its own on the lock connections", async () => {
    const withOptions = new URL(url);
    withOptions.searchParams.set('options', '-c search_path=vault_elsewhere,public -c lock_timeout=7s');
    const state = new PostgresState(withOptions.toString(), 12);
    const probe = await state.db.dedicated('probe');
    try {
      const show = async (name: string) => (await probe.query(`SHOW ${name}`)).rows[0][name];
      expect([await show('search_path'), await show('lock_timeout')]).toEqual(['vault_elsewhere,public', '7s']);
      expect([await show('tcp_keepalives_idle'), await show('tcp_user_timeout')]).toEqual(['6', '12000']);
    } finally {
      await probe.end();
      await state.db.close();
    }
  });

  it('gives up the leadership when PostgreSQL stops answering the leader connection, instead of waiting forever', async () => {
    expect(await a.replicas.tryLead()).toBe(true);
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = x'646c76'::int::oid AND objsubid = 1`,
    );
    expect(rows).toHaveLength(1);
    // the leader's server process hangs (stopped): its SELECT 1 gets no answer
    process.kill(rows[0].pid, 'SIGSTOP');
    // never left stopped: without a timeout on the leader's statements the try would end only here, leading
    const resume = setTimeout(() => process.kill(rows[0].pid, 'SIGCONT'), 90_000);
    try {
      await expect(a.replicas.tryLead()).resolves.toBe(false);
      expect(a.replicas.isLeading()).toBe(false);
    } finally {
      clearTimeout(resume);
      process.kill(rows[0].pid, 'SIGCONT');
    }
  });

  it('fails a pooled statement PostgreSQL does not answer within REPLICA_TIMEOUT_SECONDS, and answers the next on a new connection', async () => {
    const state = new PostgresState(url, 2);
    try {
      // one idle connection in the pool: the next statement goes to it
      const { pid } = (await state.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0];
      process.kill(pid, 'SIGSTOP');
      const resume = setTimeout(() => process.kill(pid, 'SIGCONT'), 90_000);
      try {
        await expect(state.db.query('SELECT 1')).rejects.toThrow('Query read timeout');
      } finally {
        clearTimeout(resume);
        process.kill(pid, 'SIGCONT');
      }
      const [next] = await state.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(next.pid).not.toBe(pid);
    } finally {
      await state.db.close();
    }
  });

  it('calls a running job abandoned when its replica has no live heartbeat', async () => {
    await admin.query(
      `INSERT INTO replicas (replica, hostname, pid, version, started_at, heartbeat_at) VALUES
         ('alive-host:7', 'alive-host', 7, '1', now(), now()), ('dead-host:9', 'dead-host', 9, '1', now() - interval '1 hour', now() - interval '30 seconds')`,
    );
    const jobs = [
      job('mine-before', '2025-10-15T01:00:00.000Z'),
      job('alive', '2025-10-15T01:00:00.000Z', { replica: 'alive-host:7' }),
      job('dead', '2025-10-15T01:00:00.000Z', { replica: 'dead-host:9' }),
      job('unknown', '2025-10-15T01:00:00.000Z', { replica: 'never-seen:1' }),
      job('old-format', '2025-10-15T01:00:00.000Z', { replica: undefined }),
    ];
    expect((await a.lock.abandonedJobs(jobs, 'refresh')).map((j) => j.id)).toEqual(['dead', 'unknown']);
    expect((await a.lock.abandonedJobs(jobs, 'start-up')).map((j) => j.id)).toEqual(['mine-before', 'dead', 'unknown', 'old-format']);
    expect((await a.replicas.liveIds()).has('dead-host:9')).toBe(false);
  });

  it("carries a job's events to the replicas watching it, ending with done (without the job, read from the history)", async () => {
    const watched = firstValueFrom(b.events.watch('job-1').pipe(toArray()));
    const other = firstValueFrom(b.events.watch('job-2').pipe(toArray()));
    // the watcher listens before anything is published (its connection has run LISTEN), however slow the machine
    for (;;) {
      const { rows } = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dify-log-vault-job-events' AND query LIKE 'LISTEN%'",
      );
      if (rows.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const progress = {
      type: 'progress' as const,
      seq: 1,
      job_id: 'job-1',
      app_id: 'alpha',
      organization_id: null,
      status: 'running' as const,
      progress: { seen: 3, saved: 3, unchanged: 0, failed: 0 },
      window: null,
      current_window: null,
    };
    a.events.publish(progress);
    a.events.publish({ type: 'done', seq: 2, job_id: 'job-2', job: job('job-2', '2025-10-15T01:00:00.000Z') });
    a.events.publish({ type: 'done', seq: 3, job_id: 'job-1', job: job('job-1', '2025-10-15T01:00:00.000Z') });
    expect(await watched).toEqual([progress, { type: 'done', seq: 3, job_id: 'job-1' }]);
    expect(await other).toEqual([{ type: 'done', seq: 2, job_id: 'job-2' }]);
  });
});
