/** The PostgreSQL the catalog will move onto: the features the catalog relies on, on a real server. */
import { Client } from 'pg';
import { createDatabase, dropDatabase, startPostgres } from '../support/postgres';

jest.setTimeout(120_000);

describe('PostgreSQL (Debian server on 127.0.0.1)', () => {
  let url: string;
  const clients: Client[] = [];
  const connect = async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    url = await createDatabase('infra_smoke');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    if (url) await dropDatabase(url);
  });

  it('hands out a postgres:// URL on loopback to a database of its own', async () => {
    expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/infra_smoke_[0-9a-f]{10}$/);
    const pg = await startPostgres();
    expect(pg.port).toBe(Number(new URL(url).port));
    const other = await createDatabase('infra_smoke');
    try {
      expect(other).not.toBe(url);
    } finally {
      await dropDatabase(other);
    }
  });

  it('creates a table and round-trips JSONB and timestamps', async () => {
    const c = await connect();
    await c.query('CREATE TABLE entries (id text PRIMARY KEY, app text NOT NULL, body jsonb NOT NULL, at timestamptz NOT NULL)');
    await c.query('INSERT INTO entries VALUES ($1, $2, $3, $4)', ['c-1', 'a1', { messages: ['héllo'] }, new Date('2026-01-02T03:04:05Z')]);
    const { rows } = await c.query('SELECT id, app, body, at FROM entries');
    expect(rows).toEqual([{ id: 'c-1', app: 'a1', body: { messages: ['héllo'] }, at: new Date('2026-01-02T03:04:05Z') }]);
    await expect(c.query("INSERT INTO entries VALUES ('c-1', 'a1', '{}', now())")).rejects.toMatchObject({ code: '23505' });
  });

  it('delivers LISTEN/NOTIFY between two connections', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN catalog_changed');
    const received = new Promise<{ channel: string; payload?: string }>((resolve) => listener.once('notification', resolve));
    await notifier.query("SELECT pg_notify('catalog_changed', 'c-1')");
    await expect(received).resolves.toMatchObject({ channel: 'catalog_changed', payload: 'c-1' });
  });

  it('holds an advisory lock for one session at a time', async () => {
    const a = await connect();
    const b = await connect();
    const lockOf = async (c: Client) => (await c.query('SELECT pg_try_advisory_lock(4242) AS ok')).rows[0].ok;
    expect(await lockOf(a)).toBe(true);
    expect(await lockOf(b)).toBe(false);
    await a.query('SELECT pg_advisory_unlock(4242)');
    expect(await lockOf(b)).toBe(true);
  });
});
