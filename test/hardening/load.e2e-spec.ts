import request from 'supertest';
import { LogStorageService } from '../../src/log-storage/log-storage.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { createTestApp, TestApp } from '../support/test-app';
import { chatApp, DAY, expectCompleteArchive, inspectArchive, mb, nowSeconds, sourceEnv } from './hardening-kit';

jest.setTimeout(120_000);

describe('Hardening: concurrency and load', () => {
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

  it('20 concurrent saves of overlapping windows plus exports and summaries: correct answers, one file per conversation, bounded memory', async () => {
    const now = nowSeconds();
    for (let i = 0; i < 300; i++) sim.addConversation({ app_id: app.id, created_at: now - 5 * DAY + i * 1200, messages: 4 });
    t = await createTestApp(sourceEnv(sim, app));
    sim.setLatency(2);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);

    const iso = (s: number) => new Date(s * 1000).toISOString();
    const saves = Array.from({ length: 20 }, (_, i) =>
      request(t.server)
        .post('/api/conversation-logs')
        .send({ app_id: app.id, filters: { start_date: iso(now - 6 * DAY + (i % 5) * 6 * 3600), end_date: iso(now - (i % 4) * DAY) } }),
    );
    const today = new Date().toISOString().slice(0, 10);
    const first = new Date((now - 6 * DAY) * 1000).toISOString().slice(0, 10);
    const reads = Array.from({ length: 10 }, (_, i) =>
      i % 2
        ? request(t.server).get('/api/conversation-logs?action=summary')
        : request(t.server).get(`/api/conversation-logs?action=export&start_date=${first}&end_date=${today}&format=ndjson`),
    );
    const [saved, read] = await Promise.all([Promise.all(saves), Promise.all(reads)]);
    clearInterval(sampler);

    for (const res of saved) {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, failed_count: 0 });
      const expected = sim.conversations(app.id).filter((c) => {
        const s = Date.parse(res.body.window.start) / 1000;
        const e = Date.parse(res.body.window.end) / 1000;
        return (c.created_at >= s && c.created_at <= e) || (c.updated_at >= s && c.updated_at <= e);
      });
      expect(res.body.total_conversations).toBe(expected.length);
    }
    for (const res of read) {
      expect(res.status).toBe(200);
      if (res.body?.total_files !== undefined) expect(res.body.total_files).toBeLessThanOrEqual(300);
      else for (const line of res.text.split('\n').filter(Boolean)) expect(JSON.parse(line).messages).toHaveLength(4);
    }
    expectCompleteArchive(t.logsDir, sim, app);
    const summary = await request(t.server).get('/api/conversation-logs?action=summary');
    expect(summary.body.total_files).toBe(300);
    const growth = rssPeak - rssBefore;
    console.log(`load: 20 saves + 10 reads; RSS before ${mb(rssBefore)}, peak ${mb(rssPeak)}, growth ${mb(growth)}`);
    expect(growth).toBeLessThan(300 * 1024 * 1024);
  });

  it('retention, export and a backup on the same days at once: no crash, no lost file, export has only whole conversations', async () => {
    const now = nowSeconds();
    // old days for retention, recent days for the backup, both exported
    for (let i = 0; i < 120; i++) sim.addConversation({ app_id: app.id, created_at: now - 20 * DAY + i * 3 * 3600, messages: 3 });
    t = await createTestApp(sourceEnv(sim, app));
    const storage = t.app.get(LogStorageService);
    const initial = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(initial.body).toMatchObject({ success: true, saved_count: 120 });
    for (const c of sim.conversations(app.id).slice(60)) sim.addMessage(c.id);
    for (let i = 0; i < 40; i++) sim.addConversation({ app_id: app.id, created_at: now - 3 * DAY + i * 600, messages: 3 });
    sim.setLatency(3);

    const first = new Date((now - 21 * DAY) * 1000).toISOString().slice(0, 10);
    const today = new Date().toISOString().slice(0, 10);
    const cutoffDays = 10;
    const [backup, clean, ...exports] = await Promise.all([
      request(t.server).post('/api/conversation-logs').send({ app_id: app.id }),
      new Promise((r) => setTimeout(r, 30)).then(() => request(t.server).delete(`/api/conversation-logs?days_to_keep=${cutoffDays}`)),
      ...[0, 20, 60, 120].map((ms) =>
        new Promise((r) => setTimeout(r, ms)).then(() => request(t.server).get(`/api/conversation-logs?action=export&start_date=${first}&end_date=${today}`)),
      ),
    ]);
    expect(backup.body).toMatchObject({ success: true, failed_count: 0 });
    expect(clean.status).toBe(200);
    expect(clean.body.deleted_files).toBeGreaterThan(0);
    for (const e of exports) {
      expect(e.status).toBe(200);
      expect(e.body.count).toBe(e.body.conversations.length);
      for (const conv of e.body.conversations) {
        // the file as it was before or after the backup rewrote it, never a mix
        expect([3, 4]).toContain(conv.messages.length);
        expect(conv.messages.map((m: { id: string }) => m.id)).toEqual(sim.messages(conv.conversation_id).slice(0, conv.messages.length).map((m) => m.id));
      }
    }

    // every conversation of the kept days is archived once; nothing else is missing; the catalog agrees
    const check = inspectArchive(t.logsDir);
    expect(check.broken).toEqual([]);
    expect(check.temps).toEqual([]);
    expect([...check.files.values()].every((n) => n === 1)).toBe(true);
    const verify = await storage.verify();
    expect(verify).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });
    const cutoffMs = Date.parse(`${clean.body.last_day}T23:59:59.999Z`);
    for (const c of sim.conversations(app.id)) {
      if (c.created_at * 1000 > cutoffMs) expect(check.files.get(c.id)).toBe(1);
    }
  });
});
