import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { storeUnderTest, StoreUnderTest } from '../support/archive-stores';
import { startS3FaultProxy, S3FaultProxy } from '../support/s3-fault-proxy';
import { makeTempDir } from '../support/test-app';
import { chatApp, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(300_000);

const PREFIX = 'vault/';

let build: ReturnType<typeof buildService>;
beforeAll(() => {
  build = buildService();
});
afterAll(() => build?.cleanup());

/**
 * The write journal's guarantee, with the kill exactly in its window: the bucket has stored a PUT's object
 * and the service still waits for the answer (held by the fault proxy) when it is killed with SIGKILL.
 */
describe('Hardening: killed between a stored object and its catalog row (real processes, S3 bucket)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let logsDir: string;
  let store: StoreUnderTest;
  let proxy: S3FaultProxy;
  let env: Record<string, string>;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 6);
    logsDir = makeTempDir();
    store = await storeUnderTest('s3', () => logsDir, 'journal-kill');
    proxy = await startS3FaultProxy(store.env.S3_ENDPOINT);
    env = {
      ...sourceEnv(sim, app, 'console-admin', { DIFY_CONCURRENCY: '1' }),
      ...store.env,
      S3_ENDPOINT: proxy.endpoint,
      LOGS_DIR: logsDir,
      ENABLE_AUTO_LOGGING: 'false',
      NODE_ENV: 'production',
    };
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await proxy?.close();
    await sim?.close();
    await store?.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const start = async () => {
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const api = async (p: ServiceProcess, route: string, init?: RequestInit) => {
    const res = await fetch(`${p.url}${route}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** the SQLite catalog as the service left it: its journal and whether a key has a row */
  const catalogState = (key: string) => {
    const db = new Database(path.join(logsDir, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const journal = (db.prepare('SELECT path FROM write_journal ORDER BY path').all() as { path: string }[]).map((r) => r.path);
      const row = db.prepare('SELECT path FROM files WHERE path = ?').get(key) !== undefined;
      return { journal, row };
    } finally {
      db.close();
    }
  };

  it('leaves the key in the journal, and the restart indexes the object and empties the journal', async () => {
    const held = proxy.inject({ method: 'PUT', path: `${PREFIX}conversations/`, fault: 'hold', times: 1 });
    const first = await start();
    const started = await api(first, '/api/conversation-logs?async=true', { method: 'POST', body: JSON.stringify({ app_id: app.id }) });
    expect(started.status).toBe(202);
    await waitFor(() => held() === 1, 'a PUT of a conversation held');
    const heldRequest = proxy.requests.find((r) => r.method === 'PUT' && r.path.includes(`${PREFIX}conversations/`))!;
    const key = heldRequest.path.slice(heldRequest.path.indexOf(PREFIX) + PREFIX.length);
    // the gateway stored it; its writer still waits for the answer
    await waitFor(async () => (await store.keys('conversations/')).includes(key), 'the held object stored by the gateway');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    expect(catalogState(key)).toEqual({ journal: expect.arrayContaining([key]), row: false });

    proxy.clear();
    const second = await start();
    await waitFor(() => !catalogState(key).journal.includes(key), 'the journal entry settled at the restart');
    expect(catalogState(key)).toEqual({ journal: [], row: true });
    const verify = await api(second, '/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });
    expect(verify.body.checked).toBe((await store.keys('conversations/')).length);
  });
});
