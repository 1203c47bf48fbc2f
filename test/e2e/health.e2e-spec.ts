import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

describe('GET /health and the API docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers health without auth', async () => {
    const res = await request(t.server).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', version: expect.any(String) });
  });

  it('serves the Swagger JSON and sets security headers without x-powered-by', async () => {
    const res = await request(t.server).get('/api/docs-json').expect(200);
    expect(res.body.info.title).toBe('Dify Log Vault');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });
});
