import { SchedulerRegistry } from '@nestjs/schedule';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';
import { importWithEnvironment } from './scheduler-kit';

/** An app whose configuration and cron settings both come from `env`. */
async function startWithEnvironment(env: Record<string, string>): Promise<{ t: TestApp; registry: SchedulerRegistry }> {
  const loaded = importWithEnvironment(env);
  const t = await loaded.createTestApp(env);
  return { t, registry: t.app.get(loaded.SchedulerRegistry) };
}

const activeJobs = (registry: SchedulerRegistry) =>
  [...registry.getCronJobs()].filter(([, job]) => job.isActive).map(([name]) => name).sort();

describe('SchedulerModule cron registration', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('registers no job with ENABLE_AUTO_LOGGING=false', async () => {
    t = await createTestApp({ ENABLE_AUTO_LOGGING: 'false' });
    const sut = t.app.get(SchedulerRegistry);
    expect([...sut.getCronJobs().keys()]).toEqual([]);
    expect(sut.getIntervals()).toEqual([]);
    const res = await request(t.server).get('/api/schedule').expect(200);
    expect(res.body).toEqual({ enabled: false, tasks: [] });
  });

  it('runs exactly the backup and retention jobs with the default expressions, and the stale-source check', async () => {
    const started = await startWithEnvironment({ ENABLE_AUTO_LOGGING: 'true' });
    t = started.t;
    const sut = started.registry;
    expect(activeJobs(sut)).toEqual(['backup', 'retention']);
    expect(sut.getCronJob('backup').cronTime.source).toBe('0 2 * * *');
    expect(sut.getCronJob('retention').cronTime.source).toBe('0 3 * * 0');
    expect(sut.getIntervals()).toEqual(['stale-sources']);

    const res = await request(t.server).get('/api/schedule').expect(200);
    expect(res.body.enabled).toBe(true);
    expect(res.body.tasks.map((x: { name: string }) => x.name)).toEqual(['backup', 'retention']);
    const backup = res.body.tasks.find((x: { name: string }) => x.name === 'backup');
    expect(backup).toMatchObject({ expression: '0 2 * * *', timezone: 'UTC', running: false });
    expect(new Date(backup.next_run).getUTCHours()).toBe(2);
    expect(backup.next_run).toBe(sut.getCronJob('backup').nextDate().toJSDate().toISOString());
  });

  it('adds the compression job only when COMPRESS_AFTER_DAYS is set, in CRON_TIMEZONE', async () => {
    const started = await startWithEnvironment({
      ENABLE_AUTO_LOGGING: 'true',
      COMPRESS_AFTER_DAYS: '7',
      COMPRESS_CRON: '15 4 * * *',
      BACKUP_CRON: '5 1 * * *',
      CRON_TIMEZONE: 'Europe/Berlin',
    });
    t = started.t;
    const sut = started.registry;
    expect(activeJobs(sut)).toEqual(['backup', 'compression', 'retention']);
    expect(sut.getCronJob('compression').cronTime.source).toBe('15 4 * * *');
    expect(sut.getCronJob('compression').cronTime.timeZone).toBe('Europe/Berlin');
    expect(sut.getCronJob('backup').cronTime.source).toBe('5 1 * * *');

    const res = await request(t.server).get('/api/schedule').expect(200);
    expect(res.body.tasks.map((x: { name: string; timezone: string }) => [x.name, x.timezone])).toEqual([
      ['backup', 'Europe/Berlin'],
      ['retention', 'Europe/Berlin'],
      ['compression', 'Europe/Berlin'],
    ]);
  });

  it.each([
    [{ BACKUP_CRON: 'every day' }, 'BACKUP_CRON must be a cron expression'],
    [{ CLEANUP_CRON: '61 * * * *' }, 'CLEANUP_CRON must be a cron expression'],
    [{ CRON_TIMEZONE: 'Nowhere' }, 'CRON_TIMEZONE must be an IANA time zone'],
  ])('refuses to load the modules with %j, naming the variable', (env, message) => {
    expect(() => importWithEnvironment(env)).toThrow(message);
  });

  it('documents every scheduler route in the OpenAPI document', async () => {
    t = await createTestApp({ ENABLE_AUTO_LOGGING: 'false' });
    const doc = (await request(t.server).get('/api/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/jobs', '/api/jobs/{id}', '/api/jobs/{id}/events', '/api/sources', '/api/sources/{app_id}/test', '/api/conversation-logs/scheduled', '/api/schedule']),
    );
    expect(doc.paths['/api/conversation-logs/scheduled'].post.responses).toHaveProperty('202');
    expect(doc.components.schemas.JobDto.properties.status.example).toBe('succeeded');
  });
});
