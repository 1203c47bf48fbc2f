import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, FaultRule, SimulatedApp } from '../../src/simulator/simulator.types';
import { createTestApp, TestApp } from '../support/test-app';
import { chatApp, expectCompleteArchive, inspectArchive, seedConversations, sourceEnv } from './hardening-kit';

const LIST = /\/chat-conversations$/;
const MESSAGES = /\/chat-messages$/;

interface FaultCase {
  name: string;
  rules: Omit<FaultRule, 'path'>[];
  path: RegExp;
  /** true when the retries cannot absorb the fault, so the first run must report failed conversations */
  persistent: boolean;
  reason: RegExp;
  /** conversations in the app (default 24; more than one listing page for listing faults) */
  count?: number;
  env?: Record<string, string>;
}

jest.setTimeout(60_000);

const CASES: FaultCase[] = [
  { name: '429 with Retry-After', path: LIST, rules: [{ times: 1, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } }], persistent: false, reason: /429/ },
  { name: '500 once', path: MESSAGES, rules: [{ times: 1, fault: { kind: 'status', status: 500 } }], persistent: false, reason: /500/ },
  { name: '502 on every message call after the 3rd', path: MESSAGES, rules: [{ after: 3, fault: { kind: 'status', status: 502 } }], persistent: true, reason: /502/ },
  { name: '503 on every message call after the 5th', path: MESSAGES, rules: [{ after: 5, fault: { kind: 'status', status: 503 } }], persistent: true, reason: /503/ },
  { name: 'a response slower than the timeout', path: MESSAGES, rules: [{ after: 2, fault: { kind: 'timeout' } }], persistent: true, reason: /tim/i, env: { DIFY_TIMEOUT_MS: '150', DIFY_MAX_RETRIES: '1' } },
  { name: 'connection resets', path: MESSAGES, rules: [{ after: 1, fault: { kind: 'reset' } }], persistent: true, reason: /reset|ECONNRESET|socket|unreachable/i },
  { name: 'bodies that are not JSON', path: MESSAGES, rules: [{ after: 4, fault: { kind: 'malformed' } }], persistent: true, reason: /JSON|body|response/i },
  { name: 'truncated JSON bodies', path: MESSAGES, rules: [{ after: 4, fault: { kind: 'truncated' } }], persistent: true, reason: /JSON|body|response/i },
  { name: 'the listing failing part way', path: LIST, rules: [{ after: 1, fault: { kind: 'status', status: 500 } }], persistent: true, reason: /listing conversations failed/, count: 130 },
];

describe('Hardening: Dify faults during a backup (through POST /api/conversation-logs)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp;

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
  });
  afterEach(async () => {
    await t?.close();
    await sim.close();
  });

  const backup = async () => {
    const res = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    return res;
  };

  it.each(CASES)('$name: the run saves everything or names each failed conversation and why; the next run completes', async (c) => {
    const count = c.count ?? 24;
    seedConversations(sim, app, count);
    t = await createTestApp(sourceEnv(sim, app, 'console-admin', c.env));
    for (const rule of c.rules) sim.injectFault({ ...rule, path: c.path });
    const first = await backup();
    expect(first.status).toBe(200);
    const r = first.body;
    if (c.persistent) {
      expect(r.success).toBe(false);
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(e.error).toMatch(c.reason);
      const failedIds = r.errors.map((e: { conversation_id: string }) => e.conversation_id).filter((id: string) => id !== '*');
      expect(r.failed_count).toBe(failedIds.length);
      const check = inspectArchive(t.logsDir);
      // a failed conversation has no file at all, never one with missing messages
      for (const id of failedIds) expect(check.files.has(id)).toBe(false);
      expect(check.broken).toEqual([]);
      expect(check.temps).toEqual([]);
      for (const [id, n] of check.messages) expect(n).toBe(sim.messages(id).length);
    } else {
      expect(r).toMatchObject({ success: true, failed_count: 0, errors: [] });
    }
    // the counts are honest: every file on disk after the first run was counted by it
    expect(inspectArchive(t.logsDir).files.size).toBe(r.saved_count);
    sim.clearFaults();
    const second = await backup();
    expect(second.body).toMatchObject({ success: true, failed_count: 0 });
    expectCompleteArchive(t.logsDir, sim, app);
    expect(second.body.unchanged_count).toBe(r.saved_count);
    expect(second.body.saved_count + r.saved_count).toBe(count);
    const verify = await request(t.server).get('/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });
  });

  it('the listing failing while conversations are still being fetched: the run waits for them and counts every file it wrote', async () => {
    const count = 130;
    seedConversations(sim, app, count);
    t = await createTestApp(sourceEnv(sim, app));
    // the message calls around the end of the first listing page hang once (until the client's timeout, then
    // a retry succeeds), so they are still under way when the second listing page fails for good
    sim.injectFault({ path: MESSAGES, after: 94, times: 6, fault: { kind: 'timeout' } });
    sim.injectFault({ path: LIST, after: 1, fault: { kind: 'status', status: 500 } });
    const first = await backup();
    expect(first.body).toMatchObject({ success: false, failed_count: 0 });
    expect(first.body.errors).toEqual([{ conversation_id: '*', error: expect.stringMatching(/^listing conversations failed: /) }]);
    expect(first.body.total_conversations).toBe(100);
    expect(inspectArchive(t.logsDir).files.size).toBe(first.body.saved_count);
    expect(first.body.saved_count).toBe(100);
    sim.clearFaults();
    const second = await backup();
    expect(second.body).toMatchObject({ success: true, failed_count: 0, saved_count: 30, unchanged_count: 100 });
    expectCompleteArchive(t.logsDir, sim, app);
  });

  it('an access token that expires mid-crawl is refreshed and nothing is lost', async () => {
    seedConversations(sim, app, 24);
    t = await createTestApp(sourceEnv(sim, app, 'console-login'));
    sim.onRequest(MESSAGES, 5, () => sim.expireAccessTokens());
    sim.onRequest(MESSAGES, 15, () => sim.expireAccessTokens());
    const res = await backup();
    expect(res.body).toMatchObject({ success: true, failed_count: 0, saved_count: 24 });
    expect(sim.requests.filter((q) => q.path.endsWith('/refresh-token')).length).toBeGreaterThanOrEqual(2);
    expectCompleteArchive(t.logsDir, sim, app);
  });

  it('a conversation deleted mid-crawl is reported by id with the reason; the next run completes', async () => {
    seedConversations(sim, app, 24);
    t = await createTestApp(sourceEnv(sim, app));
    const victim = sim.conversations(app.id)[20];
    sim.onRequest(LIST, 1, () => sim.deleteConversation(victim.id));
    const first = await backup();
    expect(first.body).toMatchObject({ success: false, failed_count: 1, saved_count: 23 });
    expect(first.body.errors).toEqual([{ conversation_id: victim.id, error: expect.stringMatching(/not found|404/i) }]);
    const second = await backup();
    expect(second.body).toMatchObject({ success: true, failed_count: 0, unchanged_count: 23 });
    const check = inspectArchive(t.logsDir);
    expect(check.files.has(victim.id)).toBe(false);
    expect(check.files.size).toBe(23);
  });

  it('conversations added during the crawl are saved by this run or the next, once each', async () => {
    seedConversations(sim, app, 24);
    t = await createTestApp(sourceEnv(sim, app));
    const now = Math.floor(Date.now() / 1000);
    sim.onRequest(LIST, 1, () => {
      for (let i = 0; i < 5; i++) sim.addConversation({ app_id: app.id, created_at: now - 3 * 3600 + i });
    });
    sim.onRequest(MESSAGES, 10, () => sim.addConversation({ app_id: app.id, created_at: now - 60 }));
    const first = await backup();
    expect(first.body).toMatchObject({ success: true, failed_count: 0 });
    const second = await backup();
    expect(second.body).toMatchObject({ success: true, failed_count: 0 });
    expect(first.body.created_count + second.body.created_count).toBe(30);
    expectCompleteArchive(t.logsDir, sim, app);
  });
});
