/**
 * One off-site copy at a time on an archive, across real processes (`node dist/main.js` servers and
 * `node dist/cli.js replicate`): a second copy anywhere is refused naming the running job and recorded as
 * skipped; a CLI copy killed with SIGKILL is marked interrupted. With the archive's file lock (one LOGS_DIR)
 * and with PostgreSQL's advisory lock (DATABASE_URL), copying into the real S3 gateway through a loopback
 * proxy that holds the copy's uploads until released.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { conversation } from '../archive/archive-fixtures';
import { buildService, runCliProcess, ServiceProcess, startCliProcess, startService, waitFor } from '../hardening/process';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { createDatabase, dropDatabase } from '../support/postgres';
import { s3ReplicaEnv } from '../support/s3-bucket';
import { startS3FaultProxy, S3FaultProxy } from '../support/s3-fault-proxy';
import { createTestApp, makeTempDir } from '../support/test-app';

jest.setTimeout(300_000);

const FILES = 12;

interface JobView {
  id: string;
  kind: string;
  trigger: string;
  status: string;
  message: string;
}

let build: ReturnType<typeof buildService>;
beforeAll(() => {
  build = buildService();
});
afterAll(() => build?.cleanup());

describe.each([
  ['the archive file lock (one LOGS_DIR)', 'file'],
  ['a PostgreSQL advisory lock (one DATABASE_URL)', 'postgres'],
] as const)('One off-site copy at a time across processes, with %s', (_title, mode) => {
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let proxy: S3FaultProxy;
  let logsDir: string;
  let url: string | undefined;
  let base: Record<string, string>;
  const servers: ServiceProcess[] = [];

  beforeAll(async () => {
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'replock');
    proxy = await startS3FaultProxy(s3.endpoint);
    logsDir = makeTempDir('vault-replock-');
    if (mode === 'postgres') url = await createDatabase('replock');
    base = {
      ENABLE_AUTO_LOGGING: 'false',
      LOGS_DIR: logsDir,
      ...s3ReplicaEnv(s3, bucket, { REPLICATE_S3_ENDPOINT: proxy.endpoint }),
      REPLICATE_CONCURRENCY: '1',
      // an upload held by the proxy waits for the test, not for a timeout
      S3_REQUEST_TIMEOUT_SECONDS: '120',
      ...(url ? { DATABASE_URL: url } : {}),
    };
    const seed = await createTestApp(base);
    const storage = seed.app.get(LogStorageService);
    for (let i = 0; i < FILES; i++) await storage.saveConversation(conversation({ created_at: new Date(Date.UTC(2024, 0, 1 + i, 9)).toISOString() }));
    await seed.close();
  });
  afterAll(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    proxy?.clear();
    await proxy?.close();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
    if (url) await dropDatabase(url);
    if (logsDir) fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const processEnv = (prefix: string) => ({ NODE_ENV: 'production', ...base, REPLICATE_S3_PREFIX: prefix });
  const startServer = async (prefix: string) => {
    const server = await startService(build.dir, processEnv(prefix));
    servers.push(server);
    return server;
  };
  const api = async (on: ServiceProcess, method: 'GET' | 'POST', route: string) => {
    const res = await fetch(`${on.url}${route}`, { method });
    return { status: res.status, body: (await res.json()) as any };
  };
  const copies = async (on: ServiceProcess): Promise<JobView[]> =>
    ((await api(on, 'GET', '/api/jobs')).body.jobs as JobView[]).filter((j) => j.kind === 'replication');
  /** Holds every upload of a copy under `prefix` until `proxy.clear()`; returns how many are held so far. */
  const holdUploads = (prefix: string) => proxy.inject({ method: 'PUT', path: `/${bucket}/${prefix}/conversations/`, fault: 'stall', times: Infinity });

  it('refuses a second copy on another server (409) and in the CLI (exit 3) naming the running job, records each refusal as skipped, and copies again once it has finished', async () => {
    const held = holdUploads('first');
    const [a, b] = [await startServer('first'), await startServer('first')];
    const accepted = await api(a, 'POST', '/api/replication');
    expect(accepted.status).toBe(202);
    const jobId: string = accepted.body.job_id;
    await waitFor(() => held() > 0, 'the copy to upload its first file');

    const refused = await api(b, 'POST', '/api/replication');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ statusCode: 409, error: 'Conflict', field: 'replication', job_id: jobId });
    expect(refused.body.message).toMatch(
      new RegExp(`^replication job ${jobId} \\(a server, pid ${a.child.pid} on .+, since .+\\) is copying this archive; try again when it has finished$`),
    );
    const cli = await runCliProcess(build.dir, ['replicate', '--to', 's3'], processEnv('first'));
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(`refused: replication job ${jobId} (a server, pid ${a.child.pid} on `);
    expect((await api(b, 'GET', '/api/replication')).body).toMatchObject({ running_job_id: jobId, last_run: null, last_success: null, pending_files: FILES });

    proxy.clear();
    await waitFor(async () => (await api(b, 'GET', '/api/replication')).body.last_success?.job_id === jobId, 'the copy to finish', 120_000);
    const first = await copies(b);
    expect(first.map((j) => `${j.trigger} ${j.status}`).sort()).toEqual(['api skipped', 'api succeeded', 'cli skipped']);
    for (const skipped of first.filter((j) => j.status === 'skipped')) expect(skipped.message).toMatch(new RegExp(`^Skipped: replication job ${jobId} \\(a server`));
    expect((await api(b, 'GET', '/api/replication')).body).toMatchObject({ running_job_id: null, pending_files: 0, last_run: { job_id: jobId, status: 'succeeded' } });

    // the lock is free again: a CLI copy runs, in the shared history as a server's copy is
    const again = await runCliProcess(build.dir, ['replicate', '--to', 's3'], processEnv('first'));
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
    const byCli = (await copies(a)).find((j) => j.trigger === 'cli' && j.status === 'succeeded');
    expect(byCli).toBeDefined();
    expect((await api(a, 'GET', '/api/replication')).body).toMatchObject({ last_success: { job_id: byCli!.id, copied: 0, checked: FILES } });
    if (mode === 'file') expect(fs.existsSync(path.join(logsDir, 'state', 'replication.lock'))).toBe(false);
  });

  it('leaves a live CLI copy running when a server starts; once the CLI is killed with SIGKILL its copy is marked interrupted and the next copy runs', async () => {
    // a new prefix: every file is to be copied again
    const held = holdUploads('second');
    const cli = startCliProcess(build.dir, ['replicate', '--to', 's3'], processEnv('second'));
    await waitFor(() => held() > 0, 'the CLI copy to upload its first file');

    const watcher = await startServer('second');
    const cliJob = (await copies(watcher)).find((j) => j.trigger === 'cli' && j.status === 'running');
    expect(cliJob).toBeDefined();
    expect((await api(watcher, 'GET', '/api/replication')).body.running_job_id).toBe(cliJob!.id);
    const refused = await api(watcher, 'POST', '/api/replication');
    expect(refused.status).toBe(409);
    expect(refused.body.job_id).toBe(cliJob!.id);
    expect(refused.body.message).toMatch(new RegExp(`^replication job ${cliJob!.id} \\(a CLI copy, pid ${cli.child.pid} on `));

    cli.child.kill('SIGKILL');
    expect(await cli.exited).toBe('SIGKILL');
    // the server already up sees it from the lock nobody holds any more, without a restart or another copy
    await waitFor(async () => (await api(watcher, 'GET', '/api/replication')).body.running_job_id === null, 'the killed copy to be seen as cut off');
    expect((await api(watcher, 'GET', `/api/jobs/${cliJob!.id}`)).body).toMatchObject({ status: 'interrupted', trigger: 'cli' });
    const restarted = await startServer('second');
    if (mode === 'file') {
      // the lock file names a pid that is gone: the starting server knows no process runs the copy
      expect((await api(restarted, 'GET', `/api/jobs/${cliJob!.id}`)).body).toMatchObject({ status: 'interrupted' });
    }

    proxy.clear();
    const next = await api(restarted, 'POST', '/api/replication');
    expect(next.status).toBe(202);
    // the lock it left is taken: its copy no longer counts as running anywhere
    const cut = (await api(restarted, 'GET', `/api/jobs/${cliJob!.id}`)).body;
    expect(cut).toMatchObject({ status: 'interrupted', trigger: 'cli' });
    expect(cut.message).toMatch(/^Interrupted: /);
    await waitFor(async () => (await api(watcher, 'GET', '/api/replication')).body.last_success?.job_id === next.body.job_id, 'the next copy to finish', 120_000);
    expect((await api(watcher, 'GET', '/api/replication')).body).toMatchObject({ running_job_id: null, pending_files: 0, last_run: { job_id: next.body.job_id } });
    expect((await api(watcher, 'GET', `/api/jobs/${cliJob!.id}`)).body.status).toBe('interrupted');
  });
});
