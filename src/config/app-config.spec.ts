import { scheduleSettingsFrom } from './schedule-settings';
import * as dotenv from 'dotenv';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { ConfigError, loadAppConfig } from './app-config';
import { EnvironmentVariables } from './env.schema';

describe(loadAppConfig.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('accepts .env.example as it is and applies the documented defaults', () => {
    const example = dotenv.parse(fs.readFileSync(path.join(__dirname, '..', '..', '.env.example')));
    const sut = loadAppConfig(example, dir);
    expect(sut).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logsDir: path.join(dir, 'logs'),
      logTimezone: 'UTC',
      retentionDays: 30,
      autoLogging: true,
      compressAfterDays: null,
      sources: [],
      allowedHosts: ['api.dify.ai', 'cloud.dify.ai'],
      adminToken: null,
      schedule: { backupCron: '0 2 * * *', cleanupCron: '0 3 * * 0', timezone: 'UTC', backfillFrom: '30d' },
      redaction: { kinds: [], patterns: [] },
    });
  });

  it('reads REDACT and REDACT_PATTERNS as a .env file writes them', () => {
    const env = dotenv.parse('REDACT=phone,email\nREDACT_PATTERNS=[{"name":"order","pattern":"ORD-\\\\d{6}","flags":"i"}]\n');
    expect(loadAppConfig(env, dir).redaction).toEqual({
      kinds: ['email', 'phone'],
      patterns: [{ name: 'order', pattern: 'ORD-\\d{6}', flags: 'i' }],
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ LOG_TIMEZONE: 'Mars/Olympus' }, 'LOG_TIMEZONE'],
    [{ LOG_RETENTION_DAYS: '0' }, 'LOG_RETENTION_DAYS'],
    [{ ENABLE_AUTO_LOGGING: 'maybe' }, 'ENABLE_AUTO_LOGGING'],
    [{ BACKUP_CRON: 'every day' }, 'BACKUP_CRON'],
    [{ CRON_TIMEZONE: 'Nowhere' }, 'CRON_TIMEZONE'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ HOST: '0.0.0.0' }, 'HOST'],
    [{ BACKFILL_FROM: 'last week' }, 'BACKFILL_FROM'],
    [{ DIFY_API_URL: 'https://api.dify.ai/v1' }, 'DIFY_APP_ID'],
    [{ DIFY_APP_ID: 'x', DIFY_API_URL: 'ftp://x/v1', DIFY_API_KEY: 'k' }, 'DIFY_API_URL must be an absolute http:// or https:// URL'],
    [{ DIFY_APP_ID: 'x', DIFY_API_URL: 'https://api.dify.ai/v1' }, 'a source needs one of'],
    [{ DIFY_APPS_FILE: 'missing.json' }, 'DIFY_APPS_FILE'],
    [{ REDACT: 'email,names' }, 'REDACT has unknown kind "names"; allowed kinds: email, iban, card, ip, phone'],
    [{ REDACT_PATTERNS: 'not json' }, 'REDACT_PATTERNS is not valid JSON'],
    [{ REDACT_PATTERNS: '[{"name":"a","pattern":"x"},{"name":"b","pattern":"("}]' }, 'REDACT_PATTERNS[1].pattern'],
    [{ REDACT_PATTERNS: '[{"name":"phone","pattern":"x"}]' }, 'REDACT_PATTERNS[0].name "phone" clashes'],
    [{ DATABASE_URL: 'mysql://vault:pw@db/vault' }, 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
    [{ CATALOG_FTS_LANGUAGE: 'simple; drop' }, 'CATALOG_FTS_LANGUAGE'],
    [{ STALE_AFTER_HOURS: '0' }, 'STALE_AFTER_HOURS'],
  ])('fails fast on %j naming %s', (env, name) => {
    expect(() => loadAppConfig(env as Record<string, string>, dir)).toThrow(ConfigError);
    expect(() => loadAppConfig(env as Record<string, string>, dir)).toThrow(name);
  });

  it('reads sources from DIFY_APPS_FILE, expanding ${ENV} so the file holds no secret', () => {
    fs.writeFileSync(
      path.join(dir, 'apps.json'),
      JSON.stringify([
        { app_id: 'support', organization_id: 'acme', dify_api_url: 'https://dify.acme.test/v1', api_key: '${SUPPORT_KEY}', users: ['u1'] },
        { app_id: 'b8c1', console_api_url: 'https://dify.acme.test/console/api', admin_api_key: '${ADMIN}', workspace_id: 'ws-1' },
      ]),
    );
    const sut = loadAppConfig({ DIFY_APPS_FILE: 'apps.json', SUPPORT_KEY: 'app-secret', ADMIN: 'adm' }, dir);
    expect(sut.sources).toEqual([
      { app_id: 'support', organization_id: 'acme', dify_api_url: 'https://dify.acme.test/v1', api_key: 'app-secret', users: ['u1'] },
      { app_id: 'b8c1', console_api_url: 'https://dify.acme.test/console/api', admin_api_key: 'adm', workspace_id: 'ws-1' },
    ]);
    expect(sut.allowedHosts).toEqual(['api.dify.ai', 'cloud.dify.ai', 'dify.acme.test']);
    expect(() => loadAppConfig({ DIFY_APPS_FILE: 'apps.json', ADMIN: 'adm' }, dir)).toThrow('${SUPPORT_KEY}');
  });

  it('names the DIFY_* variables the user set, not the source fields they fill', () => {
    const env = { DIFY_APP_ID: 'b8c1', DIFY_CONSOLE_API_URL: 'dify.acme.test/console/api', DIFY_ADMIN_API_KEY: 'adm', DIFY_WORKSPACE_ID: 'ws-1' };
    expect(() => loadAppConfig(env, dir)).toThrow(
      new ConfigError('DIFY_* variables (app_id b8c1): DIFY_CONSOLE_API_URL must be an absolute http:// or https:// URL'),
    );
    expect(() => loadAppConfig({ DIFY_APP_ID: 'b8c1', DIFY_CONSOLE_API_URL: 'https://dify.acme.test/console/api', DIFY_EMAIL: 'ops@acme.test' }, dir)).toThrow(
      'DIFY_* variables (app_id b8c1): a source needs one of: DIFY_API_URL + DIFY_API_KEY (service mode); ' +
        'DIFY_CONSOLE_API_URL + DIFY_ADMIN_API_KEY + DIFY_WORKSPACE_ID (console admin-key mode); ' +
        'DIFY_CONSOLE_API_URL + DIFY_EMAIL + DIFY_PASSWORD (console login mode)',
    );
  });

  it('names a DIFY_APPS_FILE entry by its position and app id', () => {
    const write = (entries: unknown[]) => fs.writeFileSync(path.join(dir, 'apps.json'), JSON.stringify(entries));
    const good = { app_id: 'support', dify_api_url: 'https://dify.acme.test/v1', api_key: 'k' };
    write([good, { app_id: 'billing', dify_api_url: 'https://dify.acme.test/v1' }]);
    expect(() => loadAppConfig({ DIFY_APPS_FILE: 'apps.json' }, dir)).toThrow(
      'DIFY_APPS_FILE[1] (app_id billing): a source needs one of: dify_api_url + api_key (service mode)',
    );
    write([good, { app_id: 'billing', console_api_url: 'https://dify.acme.test/console/api', email: 'not-an-address', password: 'p' }]);
    expect(() => loadAppConfig({ DIFY_APPS_FILE: 'apps.json' }, dir)).toThrow(
      new ConfigError('DIFY_APPS_FILE[1] (app_id billing): email must be an e-mail address'),
    );
    write([{ dify_api_url: 'https://dify.acme.test/v1', api_key: 'k' }]);
    expect(() => loadAppConfig({ DIFY_APPS_FILE: 'apps.json' }, dir)).toThrow(
      /^DIFY_APPS_FILE\[0\] \(no app_id\): a source without app_id backs up a whole workspace and needs the console fields/,
    );
  });

  it('takes the staleness threshold from STALE_AFTER_HOURS, else ALERT_STALE_HOURS', () => {
    expect(loadAppConfig({}, dir).alerts.staleHours).toBe(36);
    expect(loadAppConfig({ ALERT_STALE_HOURS: '12' }, dir).alerts.staleHours).toBe(12);
    expect(loadAppConfig({ ALERT_STALE_HOURS: '12', STALE_AFTER_HOURS: '48' }, dir).alerts.staleHours).toBe(48);
  });

  it('reads DATABASE_URL and CATALOG_FTS_LANGUAGE, and never echoes a rejected URL', () => {
    expect(loadAppConfig({}, dir).catalog).toEqual({ databaseUrl: null, ftsLanguage: 'simple', replicaTimeoutSeconds: 30 });
    expect(
      loadAppConfig({ DATABASE_URL: 'postgresql://vault:pw@db:5432/vault', CATALOG_FTS_LANGUAGE: 'english', REPLICA_TIMEOUT_SECONDS: '8' }, dir).catalog,
    ).toEqual({
      databaseUrl: 'postgresql://vault:pw@db:5432/vault',
      ftsLanguage: 'english',
      replicaTimeoutSeconds: 8,
    });
    expect(() => loadAppConfig({ REPLICA_TIMEOUT_SECONDS: '2' }, dir)).toThrow('REPLICA_TIMEOUT_SECONDS must not be less than 4');
    const error = (() => {
      try {
        loadAppConfig({ DATABASE_URL: 'postgres://vault:hunter2@db' }, dir);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('DATABASE_URL');
    expect(error?.message).not.toContain('hunter2');
  });

  it('allows a non-loopback HOST once ADMIN_TOKEN is set', () => {
    expect(loadAppConfig({ HOST: '0.0.0.0', ADMIN_TOKEN: 'a-long-enough-token' }, dir).host).toBe('0.0.0.0');
  });

  it('documents every variable it validates in .env.example', () => {
    const example = fs.readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const validated = new Set(
      getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false).map((m) => m.propertyName),
    );
    expect(validated.size).toBeGreaterThan(30);
    expect([...validated].filter((v) => v !== 'NODE_ENV' && !documented.has(v))).toEqual([]);
  });

  describe('ARCHIVE_STORAGE', () => {
    const s3 = { ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive', S3_ACCESS_KEY: 'AKIAEXAMPLE', S3_SECRET_KEY: 'super-secret-key-9931' };

    it('keeps the archive in LOGS_DIR by default', () => {
      expect(loadAppConfig({}, dir).archive).toEqual({ storage: 'fs' });
    });

    it("reads Dify's S3_* variables: path style at a custom endpoint, a prefix ending in a slash", () => {
      expect(loadAppConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000/', S3_PREFIX: 'team/vault' }, dir).archive).toEqual({
        storage: 's3',
        s3: expect.objectContaining({ endpoint: 'http://minio:9000', region: 'us-east-1', bucket: 'vault-archive', pathStyle: true, prefix: 'team/vault/', readConcurrency: 16, requestTimeoutMs: 30_000 }),
      });
      expect(loadAppConfig({ ...s3, S3_READ_CONCURRENCY: '64', S3_REQUEST_TIMEOUT_SECONDS: '5' }, dir).archive).toEqual({
        storage: 's3',
        s3: expect.objectContaining({ readConcurrency: 64, requestTimeoutMs: 5_000 }),
      });
      const aws = loadAppConfig({ ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive', S3_USE_AWS_MANAGED_IAM: 'true', S3_REGION: 'eu-central-1' }, dir).archive;
      expect(aws).toEqual({
        storage: 's3',
        s3: expect.objectContaining({ endpoint: null, region: 'eu-central-1', pathStyle: false, useAwsManagedIam: true, accessKeyId: null, secretAccessKey: null }),
      });
    });

    it.each([
      [{ ARCHIVE_STORAGE: 'gcs' }, 'ARCHIVE_STORAGE must be fs or s3'],
      [{ ARCHIVE_STORAGE: 's3' }, 'S3_BUCKET_NAME is required when ARCHIVE_STORAGE=s3'],
      [{ ...s3, S3_SECRET_KEY: '' }, 'S3_ACCESS_KEY and S3_SECRET_KEY are required when ARCHIVE_STORAGE=s3, unless S3_USE_AWS_MANAGED_IAM=true'],
      [{ ...s3, S3_ENDPOINT: 'minio:9000' }, 'S3_ENDPOINT must be an http:// or https:// origin'],
      [{ ...s3, S3_ADDRESS_STYLE: 'dns' }, 'S3_ADDRESS_STYLE must be auto, path or virtual'],
      [{ ...s3, S3_BUCKET_NAME: 'Bad_Bucket' }, 'S3_BUCKET_NAME must be a bucket name'],
      [{ ...s3, S3_PREFIX: 'a/../b/' }, 'S3_PREFIX must not contain . or .. segments'],
      [{ ...s3, S3_READ_CONCURRENCY: '0' }, 'S3_READ_CONCURRENCY must not be less than 1'],
      [{ ...s3, S3_READ_CONCURRENCY: '1000' }, 'S3_READ_CONCURRENCY must not be greater than 256'],
      [{ ...s3, S3_REQUEST_TIMEOUT_SECONDS: 'soon' }, 'S3_REQUEST_TIMEOUT_SECONDS must be an integer number'],
    ])('refuses %j naming the variable, never the secret', (env, message) => {
      const error = (() => {
        try {
          loadAppConfig(env as Record<string, string>, dir);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error?.message).toContain(message);
      expect(error?.message).not.toContain('super-secret-key');
    });
  });

  describe('REPLICATE_*', () => {
    const keys = { S3_ACCESS_KEY: 'AKIAEXAMPLE', S3_SECRET_KEY: 'super-secret-key-9931' };

    it('copies to the S3_* bucket with ARCHIVE_STORAGE=fs, and to REPLICATE_S3_* (each unset one from S3_*) when named', () => {
      expect(loadAppConfig({}, dir).replication).toEqual({ s3: null, cron: null, delete: false, concurrency: 4 });
      const plain = loadAppConfig({ ...keys, S3_BUCKET_NAME: 'vault-offsite', S3_ENDPOINT: 'http://minio:9000', REPLICATE_CRON: '0 4 * * *' }, dir).replication;
      expect(plain).toEqual({ s3: expect.objectContaining({ bucket: 'vault-offsite', endpoint: 'http://minio:9000', pathStyle: true, prefix: '' }), cron: '0 4 * * *', delete: false, concurrency: 4 });
      const own = loadAppConfig(
        { ...keys, ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive', S3_ENDPOINT: 'http://minio:9000', REPLICATE_S3_BUCKET_NAME: 'vault-offsite', REPLICATE_S3_REGION: 'eu-west-1', REPLICATE_S3_PREFIX: 'copy', REPLICATE_DELETE: 'true', REPLICATE_CONCURRENCY: '8' },
        dir,
      ).replication;
      expect(own).toEqual({
        s3: expect.objectContaining({ bucket: 'vault-offsite', endpoint: 'http://minio:9000', region: 'eu-west-1', prefix: 'copy/', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'super-secret-key-9931' }),
        cron: null,
        delete: true,
        concurrency: 8,
      });
      // with ARCHIVE_STORAGE=s3 the S3_* bucket is the archive, not a copy
      expect(loadAppConfig({ ...keys, ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive' }, dir).replication.s3).toBeNull();
    });

    it.each([
      [{ REPLICATE_CRON: 'every night' }, 'REPLICATE_CRON must be a cron expression such as "0 2 * * *"'],
      [{ REPLICATE_CRON: '0 4 * * *' }, 'REPLICATE_CRON needs a bucket to copy to: set REPLICATE_S3_BUCKET_NAME (or S3_BUCKET_NAME)'],
      [{ ...keys, ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive', REPLICATE_CRON: '0 4 * * *' }, 'REPLICATE_CRON needs REPLICATE_S3_BUCKET_NAME: with ARCHIVE_STORAGE=s3 the S3_* bucket is the archive itself'],
      [{ ...keys, ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: 'vault-archive', REPLICATE_S3_BUCKET_NAME: 'vault-archive' }, 'REPLICATE_S3_BUCKET_NAME with REPLICATE_S3_PREFIX must name another place than the archive'],
      [{ REPLICATE_S3_BUCKET_NAME: 'vault-offsite' }, 'REPLICATE_S3_ACCESS_KEY and REPLICATE_S3_SECRET_KEY (or S3_ACCESS_KEY and S3_SECRET_KEY) are required with REPLICATE_S3_BUCKET_NAME'],
      [{ ...keys, REPLICATE_S3_BUCKET_NAME: 'Bad_Bucket' }, 'REPLICATE_S3_BUCKET_NAME must be a bucket name'],
      [{ ...keys, REPLICATE_S3_BUCKET_NAME: 'vault-offsite', REPLICATE_S3_PREFIX: 'a/../b' }, 'REPLICATE_S3_PREFIX must not contain . or .. segments'],
      [{ REPLICATE_CONCURRENCY: '0' }, 'REPLICATE_CONCURRENCY must not be less than 1'],
    ])('refuses %j naming the variable, never the secret', (env, message) => {
      const error = (() => {
        try {
          loadAppConfig(env as Record<string, string>, dir);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error?.message).toContain(message);
      expect(error?.message).not.toContain('super-secret-key');
    });

    it('refuses a bad REPLICATE_CRON when the cron decorators read their settings', () => {
      expect(() => scheduleSettingsFrom({ REPLICATE_CRON: '61 * * * *' })).toThrow(/REPLICATE_CRON must be a cron expression/);
      expect(scheduleSettingsFrom({ REPLICATE_CRON: '0 4 * * *' }).replicateCron).toBe('0 4 * * *');
      expect(scheduleSettingsFrom({}).replicateCron).toBeNull();
    });
  });

  describe('whole-workspace sources', () => {
    const consoleEntry = { console_api_url: 'http://127.0.0.1:5001/console/api', admin_api_key: 'k', workspace_id: 'ws-1' };
    const withFile = (entries: unknown[]) => {
      const file = path.join(dir, 'apps.json');
      fs.writeFileSync(file, JSON.stringify(entries));
      return loadAppConfig({ DIFY_APPS_FILE: file }, dir);
    };

    it('reads a console entry without app_id as the whole workspace, with its lists and per-app organizations', () => {
      const [sut] = withFile([{ ...consoleEntry, organization_id: 'acme', include: ['mode:agent'], apps: { 'app-1': { organization_id: 'sales' } } }]).sources;
      expect(sut).toEqual({ ...consoleEntry, app_id: 'workspace-ws-1', workspace: true, organization_id: 'acme', include: ['mode:agent'], apps: { 'app-1': { organization_id: 'sales' } } });
    });

    it('takes the single-source console variables without DIFY_APP_ID as the whole workspace', () => {
      const sut = loadAppConfig({ DIFY_CONSOLE_API_URL: 'http://127.0.0.1/console/api', DIFY_EMAIL: 'ops@example.com', DIFY_PASSWORD: 'pw', DIFY_EXCLUDE_APPS: 'mode:completion, Test*' }, dir);
      expect(sut.sources).toEqual([
        expect.objectContaining({ workspace: true, email: 'ops@example.com', exclude: ['mode:completion', 'Test*'], app_id: expect.stringMatching(/^workspace-[0-9a-f]{16}$/) }),
      ]);
      expect(JSON.stringify(sut.sources[0].app_id)).not.toContain('ops@');
    });

    it('refuses what a workspace cannot be, naming the field and the rule', () => {
      expect(() => withFile([{ dify_api_url: 'https://api.dify.ai/v1', api_key: 'app-1' }])).toThrow(
        new ConfigError('DIFY_APPS_FILE[0] (no app_id): a source without app_id backs up a whole workspace and needs the console fields: console_api_url + admin_api_key + workspace_id, or console_api_url + email + password'),
      );
      expect(() => withFile([{ ...consoleEntry, app_id: 'one', exclude: ['x'] }])).toThrow(/DIFY_APPS_FILE\[0\] \(app_id one\): exclude is for a whole workspace/);
      expect(() => withFile([{ ...consoleEntry, apps: { '../x': { organization_id: 'a' } } }])).toThrow(/apps must map App ids to settings/);
      expect(() => withFile([{ ...consoleEntry, include: [''] }])).toThrow(/each entry of include must be 1 to 200 characters/);
      expect(() => loadAppConfig({ DIFY_APP_ID: 'one', DIFY_CONSOLE_API_URL: 'http://h/console/api', DIFY_ADMIN_API_KEY: 'k', DIFY_WORKSPACE_ID: 'w', DIFY_INCLUDE_APPS: 'x' }, dir)).toThrow(
        /DIFY_INCLUDE_APPS and DIFY_EXCLUDE_APPS are for a whole workspace/,
      );
    });
  });
});
