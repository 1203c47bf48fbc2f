import * as net from 'node:net';
import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import {
  DifyAuthError,
  DifyBadResponseError,
  DifyError,
  DifyNotFoundError,
  DifyUnavailableError,
} from '../../src/dify/dify.errors';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { leaks, listAll, Mode, recordLogs, serviceUsers, sourceFor, testConfig, clientFactory } from './support';

async function failure(promise: Promise<unknown>): Promise<DifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DifyError);
    return error as DifyError;
  }
  throw new Error('expected a failure');
}

describe('Dify client faults and errors', () => {
  let sim: DifySimulator;
  let cleanup: () => void;
  let factory: DifyClientFactory;
  let chatApp: SimulatedApp;
  let users: string[];
  const messages: string[] = [];
  let logs: ReturnType<typeof recordLogs>;

  beforeAll(async () => {
    logs = recordLogs();
    sim = await startSimulator({ seed: 3, conversationsPerApp: 12 });
    const t = testConfig({ DIFY_MAX_RETRIES: '3', DIFY_TIMEOUT_MS: '400' });
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
    chatApp = sim.apps.find((a) => a.mode === 'chat')!;
    users = serviceUsers(sim, chatApp);
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim?.close();
    cleanup?.();
    logs.restore();
  });

  const record = (e: DifyError) => {
    messages.push(e.message);
    return e;
  };

  it.each<Mode>(['service', 'console-admin', 'console-login'])('%s: retries 429 with Retry-After and 5xx to success', async (mode) => {
    const sut = factory.create(sourceFor(mode, sim, chatApp, users));
    const app = await sut.getApp();
    const listPath = mode === 'service' ? '/v1/conversations' : /chat-conversations$/;
    const messagePath = mode === 'service' ? '/v1/messages' : /chat-messages$/;
    sim.clearRequests();
    sim.injectFault({ path: listPath, times: 1, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    sim.injectFault({ path: messagePath, times: 2, fault: { kind: 'status', status: 503 } });
    const logged = logs.lines.length;
    const refs = await listAll(sut, app);
    // Retry-After: 1 sets the wait (read from the client's own account of it, not from a clock)
    expect(logs.lines.slice(logged).filter((l) => /failed \(HTTP 429\); retry 1 in \d+ ms$/.test(l))).toEqual([
      expect.stringMatching(/retry 1 in 1000 ms$/),
    ]);
    const got = await sut.getMessages(app, refs[0]);
    expect(got.map((m) => m.id)).toEqual(sim.messages(refs[0].id).map((m) => m.id));
    const statuses = sim.requests.filter((r) => r.path.match(messagePath)).map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([503, 503, 200]);
  });

  it('retries bodies that are not JSON, resets and timeouts, then succeeds', async () => {
    const sut = factory.create(sourceFor('console-admin', sim, chatApp));
    sim.injectFault({ path: '/console/api/apps', times: 1, fault: { kind: 'malformed' } });
    sim.injectFault({ path: '/console/api/apps', times: 1, after: 1, fault: { kind: 'truncated' } });
    sim.injectFault({ path: '/console/api/account/profile', times: 1, fault: { kind: 'reset' } });
    sim.injectFault({ path: /chat-conversations$/, times: 1, fault: { kind: 'timeout' } });
    const app = await sut.getApp();
    expect(app.mode).toBe('chat');
    expect((await listAll(sut, app)).length).toBe(sim.conversations(chatApp.id).length);
  });

  it('gives up after maxRetries with a clear, retry-counted error', async () => {
    const sut = factory.create(sourceFor('service', sim, chatApp, users));
    sim.clearRequests();
    sim.injectFault({ path: '/v1/info', fault: { kind: 'status', status: 502 } });
    const e = record(await failure(sut.getApp()));
    expect(e).toBeInstanceOf(DifyUnavailableError);
    expect(e.message).toMatch(/^Dify kept failing at 127\.0\.0\.1:\d+ \(502.*\) after 4 attempts$/);
    expect(sim.requests.filter((r) => r.path === '/v1/info')).toHaveLength(4);

    sim.clearFaults();
    sim.injectFault({ path: '/v1/info', fault: { kind: 'malformed' } });
    const bad = record(await failure(sut.getApp()));
    expect(bad).toBeInstanceOf(DifyBadResponseError);
    expect(bad.message).toMatch(/not JSON/);
  });

  it('never follows a redirect and never retries 4xx', async () => {
    const sut = factory.create(sourceFor('service', sim, chatApp, users));
    sim.clearRequests();
    sim.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'status', status: 302 } });
    const redirect = record(await failure(sut.getApp()));
    expect(redirect).toBeInstanceOf(DifyBadResponseError);
    expect(redirect).toMatchObject({ difyStatus: 302, field: 'dify_api_url' });
    expect(redirect.message).toMatch(/redirect \(302\).*never followed/);
    sim.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'status', status: 403, body: { code: 'forbidden', message: 'app disabled', status: 403 } } });
    await failure(sut.getApp());
    sim.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'status', status: 400, body: { code: 'invalid_param', message: 'bad', status: 400 } } });
    await failure(sut.getApp());
    expect(sim.requests.filter((r) => r.path === '/v1/info').map((r) => r.status)).toEqual([302, 403, 400]);
  });

  it('names an unreachable host, without retrying forever', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const sut = factory.create({ app_id: chatApp.id, dify_api_url: `http://127.0.0.1:${port}/v1`, api_key: chatApp.apiKey });
    const e = record(await failure(sut.getApp()));
    expect(e).toBeInstanceOf(DifyUnavailableError);
    expect(e).toMatchObject({ field: 'dify_api_url', message: `Dify is unreachable at 127.0.0.1:${port} (ECONNREFUSED)` });
  });

  it('reports bad credentials with the field to fix and without the secret', async () => {
    const badKey = record(await failure(factory.create({ ...sourceFor('service', sim, chatApp, users), api_key: 'app-wrong-key-000000000000' }).getApp()));
    expect(badKey).toBeInstanceOf(DifyAuthError);
    expect(badKey).toMatchObject({ message: 'Dify rejected the API key (401)', field: 'api_key', difyStatus: 401 });

    const badAdmin = record(
      await failure(factory.create({ ...sourceFor('console-admin', sim, chatApp), admin_api_key: 'wrong-admin-key' }).getApp()),
    );
    expect(badAdmin).toMatchObject({
      message: 'Dify console rejected the admin key or the workspace id (401): check admin_api_key and workspace_id (Dify answers both mistakes with the same 401)',
      field: 'admin_api_key',
      retryable: false,
    });

    sim.clearRequests();
    const badPassword = record(
      await failure(factory.create({ ...sourceFor('console-login', sim, chatApp), password: 'wrong-password' }).getApp()),
    );
    expect(badPassword).toBeInstanceOf(DifyAuthError);
    expect(badPassword).toMatchObject({ message: 'Dify login failed for this e-mail (401)', field: 'password' });
    // five failures lock the account: a failed login is never retried
    expect(sim.requests.filter((r) => r.path.endsWith('/login'))).toHaveLength(1);
  });

  it('reports an app id the workspace does not have', async () => {
    const e = record(await failure(factory.create({ ...sourceFor('console-admin', sim, chatApp), app_id: '00000000-0000-4000-8000-000000000000' }).getApp()));
    expect(e).toBeInstanceOf(DifyNotFoundError);
    expect(e).toMatchObject({ field: 'app_id' });
  });

  it('never puts a secret in an error message or a log line', () => {
    const secrets = [
      ...sim.apps.map((a) => a.apiKey),
      sim.adminApiKey!,
      sim.account.password,
      'app-wrong-key-000000000000',
      'wrong-admin-key',
      'wrong-password',
    ];
    expect(messages.length).toBeGreaterThan(5);
    expect(leaks(secrets, [...messages, ...logs.lines])).toEqual([]);
    expect(logs.lines.some((l) => /retry 1 in \d+ ms/.test(l))).toBe(true);
  });
});
