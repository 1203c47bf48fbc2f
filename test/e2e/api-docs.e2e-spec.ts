import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

/** Swagger is the API's manual: every route, parameter and field says what it is, with an example. */
describe('GET /api/docs-json', () => {
  let t: TestApp;
  let doc: any;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await request(t.server).get('/api/docs-json').expect(200)).body;
  });
  afterAll(() => t.close());

  it('describes every operation with a summary and a success response', () => {
    const missing: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        if (!op.summary) missing.push(`${method} ${path}: summary`);
        if (!Object.keys(op.responses ?? {}).some((c) => c.startsWith('2'))) missing.push(`${method} ${path}: 2xx response`);
        for (const p of op.parameters ?? []) {
          if (!p.description && p.example === undefined && p.schema?.example === undefined) missing.push(`${method} ${path}: parameter ${p.name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives every DTO field an example or a description', () => {
    const missing: string[] = [];
    for (const [name, schema] of Object.entries<any>(doc.components.schemas)) {
      for (const [prop, def] of Object.entries<any>(schema.properties ?? {})) {
        const described = def.example !== undefined || def.description || def.$ref || def.items?.$ref || def.allOf;
        if (!described) missing.push(`${name}.${prop}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('shows no real-looking secret in any example', () => {
    expect(JSON.stringify(doc)).not.toMatch(/app-[A-Za-z0-9]{20,}/);
  });
});
