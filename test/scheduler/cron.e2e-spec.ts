import { SchedulerRegistry } from '@nestjs/schedule';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

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

  it('registers exactly the backup and retention jobs with the default expressions', async () => {
    t = await createTestApp({ ENABLE_AUTO_LOGGING: 'true' });
    const sut = t.app.get(SchedulerRegistry);
    const jobs = sut.getCronJobs();
    expect([...jobs.keys()].sort()).toEqual(['backup', 'retention']);
    expect(jobs.get('backup')!.cronTime.source).toBe('0 2 * * *');
    expect(jobs.get('retention')!.cronTime.source).toBe('0 3 * * 0');
    expect(jobs.get('backup')!.isActive).toBe(true);

    const res = await request(t.server).get('/api/schedule').expect(200);
    expect(res.body.enabled).toBe(true);
    const backup = res.body.tasks.find((x: { name: string }) => x.name === 'backup');
    expect(backup).toMatchObject({ expression: '0 2 * * *', timezone: 'UTC', running: false });
    expect(new Date(backup.next_run).getUTCHours()).toBe(2);
  });

  it('adds the compression job only when COMPRESS_AFTER_DAYS is set, in CRON_TIMEZONE', async () => {
    t = await createTestApp({ ENABLE_AUTO_LOGGING: 'true', COMPRESS_AFTER_DAYS: '7', COMPRESS_CRON: '15 4 * * *', CRON_TIMEZONE: 'Europe/Berlin' });
    const jobs = t.app.get(SchedulerRegistry).getCronJobs();
    expect([...jobs.keys()].sort()).toEqual(['backup', 'compression', 'retention']);
    expect(jobs.get('compression')!.cronTime.source).toBe('15 4 * * *');
    expect(jobs.get('compression')!.cronTime.timeZone).toBe('Europe/Berlin');
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
