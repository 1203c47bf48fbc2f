import { Client } from 'pg';
import { PostgresErasureRegistry } from '../../src/log-storage/postgres/postgres-erasure-registry';
import { PostgresPrivacy } from '../../src/log-storage/postgres/postgres-privacy';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeErasureRegistryContract } from './erasure-registry.contract';

jest.setTimeout(120_000);

async function rowsAsText(url: string, sql: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return JSON.stringify((await client.query(sql)).rows);
  } finally {
    await client.end();
  }
}

describeErasureRegistryContract(PostgresErasureRegistry.name, async () => {
  const url = await createDatabase('erasure_contract');
  const opened = [new PostgresPrivacy(url)];
  return {
    registry: opened[0].erasures,
    another: async () => {
      const next = new PostgresPrivacy(url);
      opened.push(next);
      return next.erasures;
    },
    stored: () => rowsAsText(url, 'SELECT * FROM erasures'),
    dispose: async () => {
      for (const p of opened) await p.onApplicationShutdown();
      await dropDatabase(url);
    },
  };
});

describe(`${PostgresErasureRegistry.name} in PostgreSQL`, () => {
  let url: string;
  const opened: PostgresPrivacy[] = [];
  const open = () => {
    const p = new PostgresPrivacy(url);
    opened.push(p);
    return p.erasures;
  };

  beforeEach(async () => {
    url = await createDatabase('erasure_pg');
  });
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.onApplicationShutdown();
    await dropDatabase(url);
  });

  it('keeps one salt, in the database, for every replica', async () => {
    const [a, b] = [open(), open()];
    await Promise.all([a.remember('user-1', {}), b.remember('user-2', {})]);
    const salts = JSON.parse(await rowsAsText(url, 'SELECT id, salt FROM erasure_salt')) as { id: number; salt: string }[];
    expect(salts).toEqual([{ id: 1, salt: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(await a.snapshot()).toEqual(await b.snapshot());
    expect((await a.snapshot()).salt).toBe(salts[0].salt);
  });

  it('takes over a salt and its records once, and refuses another salt while it holds erasures', async () => {
    const sut = open();
    const state = {
      salt: 'f'.repeat(64),
      erasures: [
        { hash: 'a'.repeat(64), organization_id: 'acme', app_id: null, erased_at: '2025-01-02T03:04:05.000Z' },
        { hash: 'b'.repeat(64), organization_id: null, app_id: 'app-1', erased_at: '2025-01-03T03:04:05.000Z' },
      ],
    };
    // a salt made by a service that erased nothing yet gives way
    expect(await sut.hashOf('user-1')).toMatch(/^[0-9a-f]{64}$/);
    expect(await sut.importState(state)).toEqual({ copied: 2, present: 0 });
    expect(await sut.importState(state)).toEqual({ copied: 0, present: 2 });
    expect(await sut.snapshot()).toEqual(state);
    await expect(sut.importState({ salt: 'e'.repeat(64), erasures: [] })).rejects.toThrow(
      'PostgreSQL already holds 2 erasures hashed with another salt; the erasures were not copied',
    );
    expect((await sut.snapshot()).salt).toBe(state.salt);
  });
});
