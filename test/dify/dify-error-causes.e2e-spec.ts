import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { retryAdvice } from '../../src/dify/dify-error-text';
import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { DifyAuthError, DifyError, DifyUnavailableError, DifyWrongUrlError } from '../../src/dify/dify.errors';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import request from 'supertest';
import { consoleEnv, startApp, startReceiver } from '../scheduler/scheduler-kit';
import { clientFactory, serviceUsers, sourceFor, testConfig } from './support';

async function failure(promise: Promise<unknown>): Promise<DifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DifyError);
    return error as DifyError;
  }
  throw new Error('expected a failure');
}

/** A TLS server on loopback with a self-signed certificate made for this test; it answers nothing useful. */
function startTlsServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-tls-'));
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'pipe' });
  const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (socket) => socket.end());
  fs.rmSync(dir, { recursive: true, force: true });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

describe('Dify errors that name the real cause', () => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;
  let chatApp: SimulatedApp;
  let origin: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5, conversationsPerApp: 4 });
    const t = testConfig({ DIFY_MAX_RETRIES: '1', DIFY_TIMEOUT_MS: '2000' });
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
    chatApp = sim.apps.find((a) => a.mode === 'chat')!;
    origin = new URL(sim.consoleApiUrl).origin;
  });
  afterAll(async () => {
    await sim.close();
    cleanup();
  });

  describe('a console URL without /console/api', () => {
    it.each(['console-login', 'console-admin'] as const)('%s: names where the console API usually is, before any login is attempted', async (mode) => {
      sim.clearRequests();
      const e = await failure(factory.create({ ...sourceFor(mode, sim, chatApp), console_api_url: origin }).getApp());
      expect(e).toBeInstanceOf(DifyWrongUrlError);
      expect(e).toMatchObject({
        message: `No Dify console API at ${origin} (404 for /system-features): the console API is usually at ${origin}/console/api; check console_api_url`,
        field: 'console_api_url',
        retryable: false,
      });
      expect(e.message).not.toMatch(/login failed/i);
      // a failed login counts towards Dify's account lock: none was sent
      expect(sim.requests.filter((r) => r.path.endsWith('/login'))).toEqual([]);
      expect(retryAdvice(e)).toBe('will not succeed on retry: fix console_api_url');
    });

    it('a URL that answers a web page instead of JSON is named the same way', async () => {
      const e = await failure(factory.create({ ...sourceFor('console-login', sim, chatApp), console_api_url: `${origin}/v1/messages-page` }).getApp());
      expect(e.message).toMatch(new RegExp(`^No Dify console API at ${origin}/v1/messages-page \\(.+\\): the console API is usually at ${origin}/console/api; check console_api_url$`));
    });
  });

  it('a wrong workspace id with a right admin key: both candidates, the workspace first once the key has worked', async () => {
    const fresh = clientFactory(testConfig().config);
    const wrongWorkspace = { ...sourceFor('console-admin', sim, chatApp), workspace_id: '00000000-0000-4000-8000-00000000beef' };
    const before = await failure(fresh.create(wrongWorkspace).getApp());
    expect(before).toBeInstanceOf(DifyAuthError);
    expect(before).toMatchObject({
      message: 'Dify console rejected the admin key or the workspace id (401): check admin_api_key and workspace_id (Dify answers both mistakes with the same 401)',
      field: 'admin_api_key',
      retryable: false,
    });
    await fresh.create(sourceFor('console-admin', sim, chatApp)).getApp();
    const after = await failure(fresh.create(wrongWorkspace).getApp());
    expect(after).toMatchObject({
      message: 'Dify console rejected the workspace id for an admin key that has worked before (401): check workspace_id first, then admin_api_key',
      field: 'workspace_id',
      retryable: false,
    });
    expect(retryAdvice(after)).toBe('will not succeed on retry: fix workspace_id');
    // a different key is not vouched for by the one that worked
    const otherKey = await failure(fresh.create({ ...wrongWorkspace, admin_api_key: 'another-admin-key-000' }).getApp());
    expect(otherKey.field).toBe('admin_api_key');
  });

  describe('HTTP and HTTPS mixed up', () => {
    let tlsServer: { port: number; close: () => Promise<void> };
    beforeAll(async () => {
      tlsServer = await startTlsServer();
    });
    afterAll(() => tlsServer.close());

    it('https:// against a plain-HTTP Dify says it answers plain HTTP', async () => {
      const httpsUrl = sim.serviceApiUrl.replace(/^http:/, 'https:');
      const host = new URL(sim.serviceApiUrl).host;
      const e = await failure(factory.create({ ...sourceFor('service', sim, chatApp, serviceUsers(sim, chatApp)), dify_api_url: httpsUrl }).getApp());
      expect(e).toMatchObject({
        message: `Dify at ${host} answers plain HTTP, not HTTPS: use http:// in dify_api_url (or the port that serves HTTPS)`,
        field: 'dify_api_url',
        retryable: false,
      });
      const login = await failure(
        factory.create({ ...sourceFor('console-login', sim, chatApp), console_api_url: sim.consoleApiUrl.replace(/^http:/, 'https:') }).getApp(),
      );
      expect(login.message).toBe(`Dify at ${host} answers plain HTTP, not HTTPS: use http:// in console_api_url (or the port that serves HTTPS)`);
    });

    it('plain http:// to a TLS port says the port expects HTTPS', async () => {
      const e = await failure(
        factory.create({ ...sourceFor('console-admin', sim, chatApp), console_api_url: `http://127.0.0.1:${tlsServer.port}/console/api` }).getApp(),
      );
      expect(e).toMatchObject({
        message: `Dify at 127.0.0.1:${tlsServer.port} expects HTTPS (TLS) on this port, not plain HTTP: use https:// in console_api_url`,
        field: 'console_api_url',
        retryable: false,
      });
    });
  });

  it('a scheduled run that cannot succeed on retry says so in its result and its alert, instead of promising the next run', async () => {
    const receiver = await startReceiver();
    const t = await startApp(consoleEnv(sim, chatApp, { ALERT_WEBHOOK_URL: receiver.url, DIFY_CONSOLE_API_URL: origin }));
    try {
      const res = await request(t.server).post('/api/conversation-logs/scheduled').expect(200);
      expect(res.body.status).toBe('failed');
      // the result says it too, where the operator reads it
      expect(res.body.results[0].error).toBe(
        `No Dify console API at ${origin} (404 for /system-features): the console API is usually at ${origin}/console/api; check console_api_url; will not succeed on retry: fix console_api_url`,
      );
      const alert = await receiver.waitFor((r) => r.body?.event === 'backup_failed');
      // the advice once, from the result's error
      expect(alert.body.text).toContain(`the console API is usually at ${origin}/console/api; check console_api_url; will not succeed on retry: fix console_api_url. `);
      expect(alert.body.text.split('will not succeed on retry')).toHaveLength(2);
      expect(alert.body.text).toMatch(/\. The checkpoint stays at the backfill start\.$/);
      expect(alert.body.text).not.toContain('the next run retries');
    } finally {
      await t.close();
      await receiver.close();
    }
  });

  it('faults on the way to Dify stay retryable', async () => {
    const e = new DifyUnavailableError('Dify is unreachable at 127.0.0.1:1 (ECONNREFUSED)');
    expect(e.retryable).toBe(true);
    expect(retryAdvice(e)).toBe('the next run retries');
    expect(retryAdvice(new Error('disk full'))).toBe('the next run retries');
  });
});
