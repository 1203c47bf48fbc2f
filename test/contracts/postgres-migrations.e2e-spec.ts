import { Pool } from 'pg';
import { runMigrations } from '../../src/log-storage/postgres/migration-runner';
import { CATALOG_MIGRATIONS, Migration } from '../../src/log-storage/postgres/migrations';
import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { createDatabase, dropDatabase } from '../support/postgres';

jest.setTimeout(120_000);

describe(runMigrations.name, () => {
  let url: string;
  const pools: Pool[] = [];
  const pool = () => {
    const p = new Pool({ connectionString: url, max: 2 });
    pools.push(p);
    return p;
  };

  beforeEach(async () => {
    url = await createDatabase('catalog_migrations');
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await dropDatabase(url);
  });

  const LATEST = Math.max(...CATALOG_MIGRATIONS.map((m) => m.version));

  it('lets two replicas starting at once apply the schema exactly once', async () => {
    const [a, b] = await Promise.all([runMigrations(pool(), CATALOG_MIGRATIONS), runMigrations(pool(), CATALOG_MIGRATIONS)]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(CATALOG_MIGRATIONS.map((m) => m.version));
    const check = pool();
    const { rows } = await check.query('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(CATALOG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect((await check.query("SELECT to_regclass('files') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
    expect(await runMigrations(check, CATALOG_MIGRATIONS)).toEqual([]);
  });

  it('applies only what is new, and refuses a database migrated by a newer build', async () => {
    const first = pool();
    await runMigrations(first, CATALOG_MIGRATIONS);
    const next: Migration = { version: 1000, name: 'a later column', sql: 'ALTER TABLE files ADD COLUMN later text' };
    expect(await runMigrations(first, [...CATALOG_MIGRATIONS, next])).toEqual([1000]);
    await expect(runMigrations(first, CATALOG_MIGRATIONS)).rejects.toThrow(
      `the catalog database has schema version 1000; this build knows versions up to ${LATEST}`,
    );
  });

  it('rolls a failing migration back whole and leaves it unrecorded', async () => {
    const p = pool();
    const broken: Migration = { version: 1001, name: 'broken', sql: 'CREATE TABLE half (id int); SELECT no_such_function()' };
    await expect(runMigrations(p, [...CATALOG_MIGRATIONS, broken])).rejects.toThrow('catalog migration 1001 (broken) failed');
    expect((await p.query("SELECT to_regclass('half') IS NULL AS gone")).rows[0].gone).toBe(true);
    expect((await p.query('SELECT max(version) AS v FROM schema_migrations')).rows[0].v).toBe(LATEST);
  });

  it('opens with a language the database lacks only to refuse it by name, without the password', async () => {
    const withPassword = url.replace('postgres@', 'postgres:s3cret-pw@');
    const sut = new PostgresCatalog({ url: withPassword, ftsLanguage: 'klingon' });
    await expect(sut.open()).rejects.toThrow('CATALOG_FTS_LANGUAGE klingon is not a text search configuration');
    const unreachable = new PostgresCatalog({ url: 'postgres://vault:s3cret-pw@127.0.0.1:1/vault', ftsLanguage: 'simple' });
    const error = (await unreachable.open().catch((e: Error) => e)) as Error;
    expect(error.message).toContain('The PostgreSQL catalog at postgres://vault:***@127.0.0.1:1/vault cannot be opened');
    expect(error.message).not.toContain('s3cret');
  });

  it('adds the MD5 column to a catalog of migration 3 keeping its rows, without asking for a rebuild', async () => {
    const p = pool();
    await runMigrations(p, CATALOG_MIGRATIONS.filter((m) => m.version <= 3));
    await p.query(
      `INSERT INTO files (path, org_key, organization_id, app_id, conversation_id, day, dir, name, size, sha256, content_hash, compressed,
         created_at, updated_at, message_count, tokens, likes, dislikes, errors, indexed_at)
       VALUES ('conversations/acme/2024/01/16/conversation_c1_x.json', 'acme', 'acme', 'bot', 'c1', '2024-01-16', 'conversations/acme/2024/01/16',
         'n', 10, 'sha', 'content', 0, '2024-01-16T12:00:00.000Z', '2024-01-16T12:00:00.000Z', 0, 0, 0, 0, 0, 'now')`,
    );
    await p.query("INSERT INTO catalog_meta (key, value) VALUES ('complete', '1'), ('entry_version', '3'), ('fts_language', 'simple')");
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    try {
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      expect(await sut.findByConversationId('c1')).toMatchObject({ sha256: 'sha', md5: '' });
    } finally {
      await sut.close();
    }
    expect((await p.query('SELECT max(version) AS v FROM schema_migrations')).rows[0].v).toBe(LATEST);
  });

  it('fills the statistics of migration 7 from the rows already there, which later writes keep in step', async () => {
    const p = pool();
    await runMigrations(p, CATALOG_MIGRATIONS.filter((m) => m.version < 7));
    const file = async (id: string, day: string, app: string, user: string | null, session: string | null, tokens: number, latencies: (number | null)[]) => {
      const { rows } = await p.query(
        `INSERT INTO files (path, org_key, organization_id, app_id, conversation_id, day, dir, name, size, sha256, content_hash, compressed,
           created_at, updated_at, message_count, tokens, end_user_id, end_user_session, likes, dislikes, errors, indexed_at)
         VALUES ($1, 'acme', 'acme', $2, $3, $4, $5, 'n', 10, 'sha', 'content', 0, $4, $4, $6, $7, $8, $9, 1, 0, 0, 'now') RETURNING id`,
        [`conversations/acme/${day}/conversation_${id}_x.json`, app, id, day, `conversations/acme/${day}`, latencies.length, tokens, user, session],
      );
      for (const [i, latency] of latencies.entries()) {
        await p.query(
          `INSERT INTO messages (file_id, day, org_key, app_id, message_id, created_at, tokens, latency, rating, error)
           VALUES ($1, $2, 'acme', $3, $4, $2, 1, $5, NULL, 0)`,
          [rows[0].id, day, app, `m${i}`, latency],
        );
      }
    };
    await file('c1', '2024-01-16', 'bot', 'u1', 's1', 3, [1, 2.5, 3]);
    await file('c2', '2024-01-16', 'bot', 'u1', 's2', 10, [4, null]);
    await file('c3', '2024-01-17', 'other', null, 's3', 7, [0.5]);
    await p.query("INSERT INTO catalog_meta (key, value) VALUES ('complete', '1'), ('entry_version', '3'), ('fts_language', 'simple')");
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    try {
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      const figures = { likes: 1, dislikes: 0, errors: 0 };
      expect(await sut.stats({})).toEqual({
        rows: [
          { day: '2024-01-16', organization_id: 'acme', app_id: 'bot', ...figures, conversations: 2, messages: 5, end_users: 1, tokens: 13, likes: 2, avg_latency: 2.625, p95_latency: 4 },
          { day: '2024-01-17', organization_id: 'acme', app_id: 'other', ...figures, conversations: 1, messages: 1, end_users: 1, tokens: 7, avg_latency: 0.5, p95_latency: 0.5 },
        ],
        totals: { conversations: 3, messages: 6, end_users: 2, tokens: 20, likes: 3, dislikes: 0, errors: 0, avg_latency: 11_000_000 / 5 / 1e6, p95_latency: 4 },
      });
      expect(await sut.deleteByPath('conversations/acme/2024-01-16/conversation_c2_x.json')).toBe(1);
      expect((await sut.stats({ app_id: 'bot' })).totals).toMatchObject({ conversations: 1, end_users: 1, tokens: 3, avg_latency: 6.5 / 3, p95_latency: 3 });
    } finally {
      await sut.close();
    }
  });

  it("gives the documents of a catalog of migration 5 their files' date keys, so text searches page as before, without a rebuild", async () => {
    const p = pool();
    await runMigrations(p, CATALOG_MIGRATIONS.filter((m) => m.version <= 5));
    for (const [id, day, hour] of [['c1', '2024-01-16', '09'], ['c2', '2024-01-17', '08'], ['c3', '2024-01-16', '23']]) {
      const file = await p.query<{ id: string }>(
        `INSERT INTO files (path, org_key, organization_id, app_id, conversation_id, day, dir, name, size, sha256, content_hash, compressed,
           created_at, updated_at, message_count, tokens, likes, dislikes, errors, indexed_at)
         VALUES ($1, 'acme', 'acme', 'bot', $2, $3, $4, 'n', 10, 'sha', 'content', 0, $5, $5, 0, 0, 0, 0, 0, 'now') RETURNING id`,
        [`conversations/acme/${day.replace(/-/g, '/')}/conversation_${id}_x.json`, id, day, `conversations/acme/${day.replace(/-/g, '/')}`, `${day}T${hour}:00:00.000Z`],
      );
      await p.query("INSERT INTO file_texts (file_id, queries, answers, document) VALUES ($1, 'zebra', 'ok', to_tsvector('simple', 'zebra ok'))", [file.rows[0].id]);
    }
    await p.query("INSERT INTO catalog_meta (key, value) VALUES ('complete', '1'), ('entry_version', '3'), ('fts_language', 'simple')");
    const sut = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    try {
      expect(await sut.open()).toEqual({ needsRebuild: false, reason: null });
      const hits = async (filter: Record<string, string>) => (await sut.search(filter, 'zeb', null, 10)).map((r) => r.conversation_id);
      expect(await hits({})).toEqual(['c2', 'c3', 'c1']);
      expect(await hits({ start_date: '2024-01-16', end_date: '2024-01-16', organization_id: 'acme' })).toEqual(['c3', 'c1']);
      expect(await hits({ organization_id: 'globex' })).toEqual([]);
    } finally {
      await sut.close();
    }
  });

  it('asks for a rebuild when the full-text language changes', async () => {
    const simple = new PostgresCatalog({ url, ftsLanguage: 'simple' });
    await simple.open();
    await simple.startRebuild();
    await simple.finishRebuild();
    await simple.close();
    const english = new PostgresCatalog({ url, ftsLanguage: 'english' });
    expect(await english.open()).toEqual({ needsRebuild: true, reason: 'the full-text language changed from simple to english' });
    await english.close();
  });
});
