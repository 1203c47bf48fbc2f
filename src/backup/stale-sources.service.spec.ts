import { ConsoleLogger, Logger } from '@nestjs/common';
import type { AlertsService } from './alerts.service';
import { checkpointService, FakeAlerts, FakeClock, fakeRegistry, MemoryCheckpointRepository, testConfig } from '../../test/fakes/backup.fakes';
import { StaleSourcesService } from './stale-sources.service';

describe(StaleSourcesService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  const source = { app_id: 'alpha', organization_id: 'acme', console_api_url: 'http://h/console/api', admin_api_key: 'k', workspace_id: 'w' };

  it('alerts once per ALERT_STALE_HOURS about a source with no successful run', async () => {
    const clock = new FakeClock(new Date('2025-10-15T00:00:00Z'));
    const checkpoints = checkpointService(new MemoryCheckpointRepository(), [source], clock);
    await checkpoints.onModuleInit();
    const alerts = new FakeAlerts();
    const sut = new StaleSourcesService(testConfig(), fakeRegistry([source]), checkpoints, alerts as unknown as AlertsService, clock);

    expect(await sut.check()).toEqual([]);
    clock.current = new Date('2025-10-16T13:00:00Z'); // 37 h later
    expect(await sut.check()).toEqual(['acme/alpha']);
    expect(alerts.sent.map((a) => [a.event, a.app_id, a.organization_id])).toEqual([['source_stale', 'alpha', 'acme']]);
    expect(alerts.sent[0].text).toContain('no successful backup for 37 h');

    clock.current = new Date('2025-10-16T14:00:00Z');
    await sut.check();
    expect(alerts.sent).toHaveLength(1);

    await checkpoints.update(source, { last_success_at: '2025-10-16T14:00:00.000Z' });
    clock.current = new Date('2025-10-16T15:00:00Z');
    expect(await sut.check()).toEqual([]);
  });
});
