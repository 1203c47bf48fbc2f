import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { ConversationLogService } from '../../src/conversation-logs/conversation-log.service';
import { chatApp, sourceEnv } from '../hardening/hardening-kit';
import { createTestApp, TestApp } from '../support/test-app';

/** A day well in the past, whatever today is: its end is never "now". */
function dayAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}
const at = (day: string, time: string) => Math.floor(Date.parse(`${day}T${time}Z`) / 1000);

describe('end_date as a plain date means the end of that day', () => {
  const day = dayAgo(3);
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp;
  let ids: { morning: string; evening: string; nextDay: string };

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    ids = {
      morning: sim.addConversation({ app_id: app.id, created_at: at(day, '00:30:00') }).id,
      evening: sim.addConversation({ app_id: app.id, created_at: at(day, '23:58:00') }).id,
      nextDay: sim.addConversation({ app_id: app.id, created_at: at(dayAgo(2), '00:00:30') }).id,
    };
    t = await createTestApp(sourceEnv(sim, app));
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('a backup with start_date and end_date both that day saves every conversation of the day, and none of the next', async () => {
    const res = await request(t.server)
      .post('/api/conversation-logs')
      .send({ app_id: app.id, filters: { start_date: day, end_date: day } })
      .expect(200);
    expect(res.body).toMatchObject({ success: true, saved_count: 2, failed_count: 0 });
    expect(res.body.window).toEqual({ start: `${day}T00:00:00.000Z`, end: `${day}T23:59:59.999Z` });
  });

  it('an export whose end_date is that day holds the whole day, through the API and the programmatic service', async () => {
    const res = await request(t.server)
      .get('/api/conversation-logs')
      .query({ action: 'export', start_date: day, end_date: day })
      .expect(200);
    expect(res.body.conversations.map((c: { conversation_id: string }) => c.conversation_id).sort()).toEqual(
      [ids.morning, ids.evening].sort(),
    );
    const service = t.app.get(ConversationLogService);
    const byDate = await service.exportLogsForDateRange(day, day);
    expect(byDate.count).toBe(2);
    // a date-time end counts the day it falls on
    const byInstant = await service.exportLogsForDateRange(`${day}T00:00:00Z`, `${day}T12:00:00Z`);
    expect(byInstant.count).toBe(2);
  });

  it('search and stats whose end_date is that day hold the whole day, and none of the next', async () => {
    const search = await request(t.server).get('/api/conversation-logs/search').query({ start_date: day, end_date: day }).expect(200);
    expect(search.body.results.map((c: { conversation_id: string }) => c.conversation_id).sort()).toEqual([ids.morning, ids.evening].sort());
    const stats = await request(t.server).get('/api/conversation-logs/stats').query({ start_date: day, end_date: day }).expect(200);
    expect(stats.body.days.map((d: { day: string }) => d.day)).toEqual([day]);
    expect(stats.body.totals.conversations).toBe(2);
  });
});
