import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import { mapConcurrent } from '../../src/common/concurrency';
import { DifyAuthError } from '../../src/dify/dify.errors';
import type { DifySource } from '../../src/dify/dify.types';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatorOptions } from '../../src/simulator/simulator.types';
import { listAll, sourceFor, testConfig, clientFactory } from './support';

describe('console login session', () => {
  let cleanup: () => void;
  let factory: DifyClientFactory;
  const sims: DifySimulator[] = [];

  beforeAll(() => {
    const t = testConfig();
    cleanup = t.cleanup;
    factory = clientFactory(t.config);
  });
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
    cleanup?.();
  });

  async function sim(options: SimulatorOptions = {}): Promise<DifySimulator> {
    const s = await startSimulator({ seed: 21, conversationsPerApp: 8, ...options });
    sims.push(s);
    return s;
  }

  function loginSource(s: DifySimulator, extra: Partial<DifySource> = {}): DifySource {
    return { ...sourceFor('console-login', s, s.apps.find((a) => a.mode === 'chat')!), ...extra };
  }

  async function backUpEverything(source: DifySource) {
    const sut = factory.create(source);
    const app = await sut.getApp();
    const refs = await listAll(sut, app);
    await mapConcurrent(refs, 4, (ref) => sut.getMessages(app, ref));
    return { sut, app, refs };
  }

  // the credential-free probe that proves a console API answers is sent before the login, without a session
  const consoleRequests = (s: DifySimulator) =>
    s.requests.filter((r) => r.path.startsWith('/console/api/') && r.path !== '/console/api/system-features');
  const logins = (s: DifySimulator) => s.requests.filter((r) => r.path === '/console/api/login');

  it('logs in once, sends cookies and X-CSRF-Token on every request, and never reads a detail endpoint', async () => {
    const s = await sim();
    const { refs } = await backUpEverything(loginSource(s));
    expect(refs).toHaveLength(s.conversations(s.apps.find((a) => a.mode === 'chat')!.id).length);
    expect(logins(s)).toHaveLength(1);
    const after = consoleRequests(s).filter((r) => r.path !== '/console/api/login');
    expect(after.length).toBeGreaterThan(5);
    for (const r of after) {
      expect(r.status).toBe(200);
      expect(Object.keys(r.headers)).toEqual(expect.arrayContaining(['cookie', 'x-csrf-token']));
    }
    expect(s.readMarks).toEqual([]);
  });

  it('refreshes the session once after the access tokens expire, without logging in again', async () => {
    const s = await sim();
    const source = loginSource(s);
    const sut = factory.create(source);
    const app = await sut.getApp();
    s.expireAccessTokens();
    s.clearRequests();
    const refs = await listAll(sut, app);
    await mapConcurrent(refs, 4, (ref) => sut.getMessages(app, ref));
    expect(s.requests.filter((r) => r.path === '/console/api/refresh-token')).toHaveLength(1);
    expect(logins(s)).toHaveLength(0);
    expect(s.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(1);
  });

  it('works with __Host- prefixed cookies', async () => {
    const s = await sim({ secureCookies: true });
    const { refs } = await backUpEverything(loginSource(s));
    expect(refs.length).toBeGreaterThan(0);
    s.expireAccessTokens();
    await backUpEverything(loginSource(s));
    expect(consoleRequests(s).every((r) => r.status === 200)).toBe(true);
  });

  it.each([
    ['1.16.0', 'base64'],
    ['1.11.0', 'base64'],
    ['1.10.2', 'plain'],
    ['1.9.0', 'plain'],
  ])('on Dify %s sends the password %s', async (serverVersion) => {
    const s = await sim({ serverVersion });
    const { refs } = await backUpEverything(loginSource(s));
    expect(refs.length).toBeGreaterThan(0);
    expect(logins(s).map((r) => r.status)).toEqual([200]);
    expect(s.requests.some((r) => r.path === '/v1/' || r.path === '/v1')).toBe(true);
  });

  it('honours password_encoding when set (plain on a 1.16 server is refused)', async () => {
    const s = await sim();
    await expect(factory.create(loginSource(s, { password_encoding: 'base64' })).getApp()).resolves.toMatchObject({ mode: 'chat' });
    const e = await factory
      .create(loginSource(s, { password_encoding: 'plain' }))
      .getApp()
      .catch((error: unknown) => error);
    expect(e).toBeInstanceOf(DifyAuthError);
    expect(e).toMatchObject({ field: 'password', message: expect.stringMatching(/^Dify login failed for this e-mail/) });
    expect(JSON.stringify(e) + String((e as Error).message)).not.toContain(s.account.password);
  });

  it('uses bearer tokens from the login body on servers before 1.9, and refreshes them', async () => {
    const s = await sim({ serverVersion: '1.8.1' });
    const source = loginSource(s);
    const sut = factory.create(source);
    const app = await sut.getApp();
    s.expireAccessTokens();
    const refs = await listAll(sut, app);
    expect(refs.length).toBeGreaterThan(0);
    const later = consoleRequests(s).filter((r) => r.path !== '/console/api/login' && r.status === 200);
    expect(later.every((r) => 'authorization' in r.headers)).toBe(true);
    expect(s.requests.filter((r) => r.path === '/console/api/refresh-token').map((r) => r.status)).toEqual([200]);
  });

  it('logs in again once when the refresh token is no longer accepted', async () => {
    const s = await sim({ accessTokenTtlSeconds: 3600 });
    const sut = factory.create(loginSource(s));
    const app = await sut.getApp();
    // a refresh fails when the server no longer knows the refresh token: simulate with a rejected refresh
    s.injectFault({ path: '/console/api/refresh-token', times: 1, fault: { kind: 'status', status: 401 } });
    s.expireAccessTokens();
    s.clearRequests();
    expect((await listAll(sut, app)).length).toBeGreaterThan(0);
    expect(logins(s)).toHaveLength(1);
    // the server version is asked once per client, not per login
    expect(s.requests.filter((r) => /^\/v1\/?$/.test(r.path))).toHaveLength(0);
  });
});
