/** REDACT: personal data replaced before a conversation reaches the disk, counted per kind in the run's result. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

const RAW = {
  email: 'jane.doe@example.com',
  phone: '+49 30 1234567',
  card: '4111 1111 1111 1111',
  iban: 'DE89 3704 0044 0532 0130 00',
  ip: '203.0.113.77',
  orderNo: 'ORD-557211',
};
const NOT_PII = {
  // fails the Luhn check, so it is not a card number
  card: '4111 1111 1111 1112',
  // a wrong check digit, so it is not an IBAN
  iban: 'GB82 WEST 1234 5698 7654 33',
};

function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? allFiles(full) : [full];
  });
}

describe('REDACT and REDACT_PATTERNS', () => {
  let sim: DifySimulator;
  let t: TestApp;
  let result: Record<string, unknown> & { redactions: Record<string, number> };

  beforeAll(async () => {
    sim = await startSimulator({ seed: 23, conversationsPerApp: 0 });
    const app = sim.apps.find((a) => a.mode === 'chat')!;
    sim.addConversation({
      app_id: app.id,
      user: 'redaction-user',
      name: `Contact ${RAW.email}`,
      messages: 3,
      queries: [
        `Mail me at ${RAW.email} or call ${RAW.phone}, my server is ${RAW.ip}`,
        `Charge ${RAW.card}, not ${NOT_PII.card}; order ${RAW.orderNo}`,
        `Refund to ${RAW.iban} (the old one ${NOT_PII.iban} is closed)`,
      ],
    });
    t = await createTestApp({
      DIFY_ALLOWED_HOSTS: '127.0.0.1',
      REDACT: 'email,phone,card,iban,ip',
      REDACT_PATTERNS: JSON.stringify([{ name: 'order', pattern: 'ORD-\\d{6}' }]),
    });
    const res = await request(t.server)
      .post('/api/conversation-logs')
      .send({ app_id: app.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId })
      .expect(200);
    result = res.body;
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('counts the replacements per kind in the run result', () => {
    expect(result).toMatchObject({ success: true, saved_count: 1 });
    // every occurrence counts (a query is also in the prompt log, the summary and an annotation)
    expect(Object.keys(result.redactions).sort()).toEqual(['card', 'email', 'iban', 'ip', 'order', 'phone']);
    for (const n of Object.values(result.redactions)) expect(n).toBeGreaterThan(0);
  });

  it('writes exactly the valid values replaced, and no raw value anywhere under LOGS_DIR', async () => {
    const exported = (await request(t.server).get('/api/conversation-logs').query({ action: 'export', format: 'json', start_date: '2000-01-01', end_date: '2099-12-31' }).expect(200)).body;
    const text = JSON.stringify(exported);
    for (const placeholder of ['[email]', '[phone]', '[card]', '[iban]', '[ip]', '[order]']) expect(text).toContain(placeholder);
    for (const kept of Object.values(NOT_PII)) expect(text).toContain(kept);
    for (const file of allFiles(t.logsDir)) {
      const bytes = fs.readFileSync(file);
      for (const raw of Object.values(RAW)) expect({ file, found: bytes.includes(Buffer.from(raw)) }).toEqual({ file, found: false });
    }
  });

  it('searches the redacted text', async () => {
    const hits = (await request(t.server).get('/api/conversation-logs/search').query({ q: 'refund' }).expect(200)).body.results;
    expect(hits).toHaveLength(1);
    expect(JSON.stringify(hits)).not.toContain('DE89');
    expect((await request(t.server).get('/api/conversation-logs/search').query({ q: 'jane' }).expect(200)).body.results).toEqual([]);
  });
});
