import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

const TOKEN = 'host-check-admin-token-0123';

describe('Host check beyond loopback', () => {
  let t: TestApp;
  beforeAll(async () => {
    // configured for all interfaces, never bound: supertest listens on loopback
    t = await createTestApp({ HOST: '0.0.0.0', ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => t.close());

  it('warns at start-up that only addresses are answered, naming the variables that fix it', () => {
    const warning = t.logLines.find((l) => l.includes('neither PUBLIC_URL nor ALLOWED_HOSTNAMES is set'));
    expect(warning).toMatch(/^warn \[HostCheck\] HOST is 0\.0\.0\.0 .*add the name clients use to ALLOWED_HOSTNAMES or PUBLIC_URL$/);
  });

  it('refuses a foreign Host on every kind of route (API, docs, assets, admin page), before any token check', async () => {
    for (const url of ['/api/jobs', '/api/docs', '/api/docs-json', '/assets/app.css', '/admin/login', '/']) {
      const res = await request(t.server).get(url).set('Host', 'vault.example.com').set('Authorization', `Bearer ${TOKEN}`);
      expect({ url, status: res.status, field: res.body.field }).toEqual({ url, status: 421, field: 'Host' });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    await request(t.server).get('/api/jobs').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    // a refused Host costs no failed attempt: the limiter never sees it
    for (let i = 0; i < 20; i++) await request(t.server).get('/api/jobs').set('Host', 'vault.example.com').expect(421);
    await request(t.server).get('/api/jobs').set('Authorization', 'Bearer wrong').expect(401);
  });

  it('logs a refused host once, not once per request', () => {
    expect(t.logLines.filter((l) => l.includes('Refused requests for host vault.example.com'))).toHaveLength(1);
  });
});
