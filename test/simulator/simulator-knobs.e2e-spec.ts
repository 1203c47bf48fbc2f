import { request as httpRequest, Agent } from 'node:http';
import type { Socket } from 'node:net';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { bearer, call } from './sim-http';

describe(`${startSimulator.name}: faults, latency, hooks, determinism`, () => {
  let sut: DifySimulator;
  let chat: SimulatedApp;
  const info = () => call(`${sut.serviceApiUrl}/info`, bearer(chat.apiKey));

  beforeAll(async () => {
    sut = await startSimulator({ seed: 9, conversationsPerApp: 5 });
    chat = sut.apps.find((a) => a.mode === 'chat')!;
  });
  afterEach(() => {
    sut.clearFaults();
    sut.setLatency(0);
  });
  afterAll(() => sut.close());

  it('fails with a status and Retry-After, `after` requests skipped and `times` counted', async () => {
    sut.injectFault({ path: '/v1/info', after: 1, times: 2, fault: { kind: 'status', status: 429, retryAfterSeconds: 3 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await info());
    expect(statuses.map((r) => r.status)).toEqual([200, 429, 429, 200]);
    expect(statuses[1].headers.get('retry-after')).toBe('3');
    expect(statuses[1].body).toEqual({ code: 'too_many_requests', message: expect.any(String), status: 429 });
  });

  it('matches faults by RegExp and method, and answers a custom body', async () => {
    sut.injectFault({ path: /\/info$/, method: 'POST', fault: { kind: 'status', status: 500 } });
    expect((await info()).status).toBe(200);
    sut.injectFault({ path: /\/info$/, method: 'GET', times: 1, fault: { kind: 'status', status: 503, body: { oops: true } } });
    expect(await info()).toMatchObject({ status: 503, body: { oops: true } });
  });

  it('never answers on timeout, and close() still returns', async () => {
    sut.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'timeout' } });
    await expect(fetch(`${sut.serviceApiUrl}/info`, { ...bearer(chat.apiKey), signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(sut.requests.at(-1)).toMatchObject({ path: '/v1/info', status: 0 });
    expect((await info()).status).toBe(200);
  });

  it('resets the socket', async () => {
    sut.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'reset' } });
    await expect(info()).rejects.toThrow();
  });

  it('answers 200 with a body that is not JSON, or JSON cut half way', async () => {
    sut.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'malformed' } });
    const malformed = await info();
    expect(malformed.status).toBe(200);
    expect(() => JSON.parse(malformed.text)).toThrow();
    sut.injectFault({ path: '/v1/info', times: 1, fault: { kind: 'truncated' } });
    const truncated = await info();
    expect(truncated.status).toBe(200);
    expect(truncated.text.startsWith('{"name":')).toBe(true);
    expect(() => JSON.parse(truncated.text)).toThrow();
  });

  it('adds latency to every request', async () => {
    sut.setLatency(150);
    const started = Date.now();
    await info();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('records requests without secret values', async () => {
    sut.clearRequests();
    await call(`${sut.serviceApiUrl}/conversations?user=user-alice`, bearer(chat.apiKey, { 'X-Request-Id': 'abc' }));
    expect(sut.requests).toEqual([
      {
        method: 'GET',
        path: '/v1/conversations',
        query: { user: 'user-alice' },
        headers: expect.objectContaining({ authorization: '[present]', 'x-request-id': 'abc' }),
        status: 200,
      },
    ]);
    expect(JSON.stringify(sut.requests)).not.toContain(chat.apiKey);
  });

  it('runs an onRequest hook once, after the nth matching request', async () => {
    let runs = 0;
    sut.onRequest('/v1/info', 2, () => runs++);
    await info();
    expect(runs).toBe(0);
    await info();
    await info();
    expect(runs).toBe(1);
  });

  it('answers unknown routes with a 404 envelope', async () => {
    expect((await call(`${sut.url}/v1/nope`)).body).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('generates the same data from the same seed and clock, and other data from another seed', async () => {
    const now = new Date('2026-05-01T12:00:00Z');
    const a = await startSimulator({ seed: 1234, now });
    const b = await startSimulator({ seed: 1234, now });
    const c = await startSimulator({ seed: 4321, now });
    try {
      const dump = (sim: DifySimulator) =>
        JSON.stringify({
          ws: sim.workspaceId,
          apps: sim.apps,
          convs: sim.apps.map((app) => sim.conversations(app.id).map((conv) => ({ ...conv, messages: sim.messages(conv.id) }))),
        });
      expect(dump(a)).toEqual(dump(b));
      expect(dump(a)).not.toEqual(dump(c));
      const all = a.apps.flatMap((app) => a.conversations(app.id));
      expect(Math.max(...all.map((x) => x.updated_at))).toBeLessThanOrEqual(now.getTime() / 1000);
      expect(Math.min(...all.map((x) => x.created_at))).toBeGreaterThanOrEqual(now.getTime() / 1000 - 5 * 86400);
      const empty = await startSimulator({ generate: false });
      expect(empty.apps.flatMap((app) => empty.conversations(app.id))).toEqual([]);
      await empty.close();
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('closes with keep-alive sockets open, and closes those sockets itself', async () => {
    const sim = await startSimulator({ generate: false });
    const agent = new Agent({ keepAlive: true });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest(`${sim.serviceApiUrl}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket!));
      });
      req.on('error', reject);
      req.end();
    });
    const socketClosed = new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    await sim.close();
    // the idle keep-alive socket was ended by the simulator, not left to the client
    await socketClosed;
    expect(socket.destroyed).toBe(true);
    agent.destroy();
  });
});
