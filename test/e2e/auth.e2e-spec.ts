import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

const TOKEN = 'test-admin-token-0123456789';

/** Every documented /api route, with path parameters filled in. */
async function apiRoutes(t: TestApp): Promise<[string, string][]> {
  const doc = (await request(t.server).get('/api/docs-json').set('Authorization', `Bearer ${TOKEN}`)).body;
  const routes: [string, string][] = [];
  for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
    if (!path.startsWith('/api')) continue;
    for (const method of Object.keys(ops)) routes.push([method, path.replace(/\{[^}]+\}/g, 'x')]);
  }
  return routes;
}

describe('ADMIN_TOKEN on the API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => t.close());

  it('refuses every /api route without a token, and with a wrong one, naming Authorization', async () => {
    const routes = await apiRoutes(t);
    expect(routes.length).toBeGreaterThan(0);
    let refusedWith401 = 0;
    for (const [method, path] of routes) {
      for (const auth of [undefined, 'Bearer wrong-token-0123456789', TOKEN]) {
        const call = (request(t.server) as any)[method](path);
        const res = await (auth ? call.set('Authorization', auth) : call);
        // past ten failures from one client the limiter answers 429 instead: still a refusal
        expect({ method, path, auth: !!auth, refused: [401, 429].includes(res.status) }).toEqual({ method, path, auth: !!auth, refused: true });
        if (res.status === 401) {
          refusedWith401++;
          expect(res.body).toMatchObject({ statusCode: 401, field: 'Authorization' });
        }
        expect(JSON.stringify(res.body)).not.toContain(TOKEN);
      }
    }
    expect(refusedWith401).toBe(10);
  });

  it('lets the right token through, keeps /health open, and limits repeated failures with 429', async () => {
    await request(t.server).get('/health').expect(200);
    await request(t.server)
      .get('/api/conversation-logs?action=summary')
      .set('Authorization', `Bearer ${TOKEN}`)
      .expect((res) => expect(res.status).not.toBe(401));
    const fresh = await createTestApp({ ADMIN_TOKEN: TOKEN });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        statuses.push((await request(fresh.server).get('/api/jobs').set('Authorization', 'Bearer wrong-token-xxxxxxxx')).status);
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
      const limited = await request(fresh.server).get('/api/jobs').set('Authorization', 'Bearer wrong-token-yyyyyyyy');
      expect(limited.body).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'too many failed authentication attempts; try again in a minute',
        field: 'Authorization',
      });
      expect(fresh.logLines.filter((l) => l.includes('Throttling failed authentication from'))).toHaveLength(1);
      // the client is throttled, yet the right token is never refused: nobody can lock the operator out
      await request(fresh.server).get('/api/jobs').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      await request(fresh.server).get('/api/docs-json').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(fresh.logLines.join('\n')).not.toContain(TOKEN);
    } finally {
      await fresh.close();
    }
  });
});

describe('ADMIN_TOKEN on /api/docs in a browser', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => t.close());

  it('sends a browser asking for /api/docs to the sign-in page and back; API clients keep the JSON 401', async () => {
    const html = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const page = await request(t.server).get('/api/docs').set('Accept', html).expect(303);
    expect(page.headers.location).toBe('/admin/login?next=%2Fapi%2Fdocs');
    const form = await request(t.server).get(page.headers.location).expect(200);
    expect(form.text).toContain('value="/api/docs"');

    const signedIn = await request(t.server).post('/admin/login').type('form').send({ token: TOKEN, next: '/api/docs' }).expect(303);
    expect(signedIn.headers.location).toBe('/api/docs');
    const cookie = ([] as string[]).concat(signedIn.headers['set-cookie'] ?? [])[0].split(';')[0];
    await request(t.server).get('/api/docs').set('Accept', html).set('Cookie', cookie).expect(200).expect('Content-Type', /text\/html/);

    const client = await request(t.server).get('/api/docs').set('Accept', 'application/json').expect(401);
    expect(client.body).toMatchObject({ statusCode: 401, field: 'Authorization' });
    await request(t.server).get('/api/docs-json').set('Accept', html).expect(401);
    await request(t.server).get('/api/docs').set('Accept', html).set('Authorization', 'Bearer wrong-token-000000').expect(401);
  });
});
