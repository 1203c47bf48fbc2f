import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { makeTempDir } from '../support/test-app';
import { chatApp, seedConversations, sourceEnv } from './hardening-kit';
import { buildService, ServiceProcess, startService, waitFor } from './process';

jest.setTimeout(120_000);

const ROUTE_MAP = /RoutesResolver|RouterExplorer|Mapped \{/;

describe('Logging of the service process (node dist/main.js)', () => {
  let build: ReturnType<typeof buildService>;
  let sim: DifySimulator;
  let app: SimulatedApp;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    build = buildService();
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 6);
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await sim.close();
    build.cleanup();
  });

  const start = async (extra: Record<string, string>) => {
    const env = { ...sourceEnv(sim, app), LOGS_DIR: makeTempDir(), ENABLE_AUTO_LOGGING: 'false', NODE_ENV: 'production', BACKFILL_FROM: '20d', ...extra };
    const p = await startService(build.dir, env);
    running.push(p);
    return p;
  };
  const stop = async (p: ServiceProcess) => {
    p.child.kill('SIGTERM');
    await p.exited;
  };
  /** a catch-up over 20 days: one backup per day slice */
  const scheduledBackup = async (p: ServiceProcess) => {
    const res = await fetch(`${p.url}/api/conversation-logs/scheduled`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('succeeded');
  };
  const lines = (chunks: string[]) => chunks.join('').split('\n').filter((l) => l !== '');

  it('LOG_FORMAT=json: every stdout line is one JSON object with time, level, context and message', async () => {
    const p = await start({ LOG_FORMAT: 'json' });
    await scheduledBackup(p);
    await waitFor(() => lines(p.stdout).some((l) => l.includes('Backup of acme/')), 'the summary line');
    await stop(p);
    const entries = lines(p.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) {
      expect(Object.keys(e).sort()).toEqual(['context', 'level', 'message', 'time']);
      expect(new Date(e.time as string).toISOString()).toBe(e.time);
      expect(['fatal', 'error', 'warn', 'log']).toContain(e.level);
      expect(typeof e.message).toBe('string');
    }
    expect(entries).toContainEqual(expect.objectContaining({ level: 'log', context: 'Main', message: expect.stringMatching(/^Listening on http:\/\/127\.0\.0\.1:\d+/) }));
    // one line for the source, however many day slices the catch-up ran
    const summaries = entries.filter((e) => String(e.message).startsWith(`Backup of acme/${app.id} `));
    expect(summaries).toEqual([expect.objectContaining({ level: 'log', context: 'JobsService', message: expect.stringMatching(/ succeeded \(job [0-9a-f-]+\): seen=6 saved=6 unchanged=0 failed=0$/) })]);
    expect(entries.filter((e) => /Started backup|Finished backup/.test(String(e.message)))).toEqual([]);
  });

  it('default level: no route map, no per-slice lines and no colours on a pipe; LOG_LEVEL=debug brings both back', async () => {
    const quiet = await start({});
    await scheduledBackup(quiet);
    await stop(quiet);
    const text = lines(quiet.stdout);
    expect(text.some((l) => l.includes('Listening on'))).toBe(true);
    // start-up names each source and where it reads from, never a credential
    expect(text.filter((l) => l.includes(`Source acme/${app.id}`))).toEqual([expect.stringMatching(/: app, console-admin, 127\.0\.0\.1:\d+$/)]);
    expect(text.filter((l) => l.includes(app.apiKey) || l.includes(sim.adminApiKey!))).toEqual([]);
    // ENABLE_AUTO_LOGGING=false: start-up says the schedule is off, and lists no task
    expect(text.filter((l) => /\[ScheduledTasksService\]/.test(l))).toEqual([
      expect.stringMatching(/LOG \[ScheduledTasksService\] Automatic backups are off \(ENABLE_AUTO_LOGGING=false\): no cron job registered$/),
    ]);
    expect(text.filter((l) => ROUTE_MAP.test(l))).toEqual([]);
    expect(text.filter((l) => /Started backup/.test(l))).toEqual([]);
    expect(text.join('\n')).not.toContain('\u001b[');

    const verbose = await start({ LOG_LEVEL: 'debug' });
    await scheduledBackup(verbose);
    await stop(verbose);
    const debug = lines(verbose.stdout);
    expect(debug.some((l) => /DEBUG \[RouterExplorer\] Mapped \{/.test(l))).toBe(true);
    expect(debug.filter((l) => /Started backup/.test(l)).length).toBeGreaterThan(10);
  });

  it('start-up lists the source and the schedule in a few lines: one per task with its expression, zone and next run', async () => {
    const p = await start({
      ENABLE_AUTO_LOGGING: 'true',
      BACKUP_CRON: '15 1 * * *',
      CLEANUP_CRON: '45 4 * * 0',
      CRON_TIMEZONE: 'Europe/Paris',
      LOG_RETENTION_DAYS: '365',
    });
    await stop(p);
    const text = lines(p.stdout);
    const listening = text.findIndex((l) => l.includes('Listening on'));
    expect(listening).toBeGreaterThanOrEqual(0);
    const startUp = text.slice(0, listening + 1);
    const tasks = text.filter((l) => l.includes('[ScheduledTasksService] Registered'));
    expect(tasks).toEqual([
      expect.stringMatching(/Registered backup task "15 1 \* \* \*" \(Europe\/Paris\), next run \d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/),
      expect.stringMatching(/Registered retention task "45 4 \* \* 0" \(Europe\/Paris\), next run \d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/),
    ]);
    // the next runs are the cron's own: 01:15 and 04:45 in Paris (UTC+1 or UTC+2), the retention on a Sunday
    const [backupNext, retentionNext] = tasks.map((l) => new Date(/next run (\S+)$/.exec(l)![1]));
    const paris = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
    expect(paris(backupNext)).toMatch(/ 01:15$/);
    expect(paris(retentionNext)).toBe('Sun 04:45');
    for (const next of [backupNext, retentionNext]) expect(next.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(text).toContainEqual(expect.stringMatching(new RegExp(`Source acme/${app.id}: app, console-admin, 127\\.0\\.0\\.1:\\d+$`)));
    expect(text.filter((l) => /Automatic backups are off/.test(l))).toEqual([]);
    // a few lines: the catalog, the schedule, where it listens, the source
    expect([startUp.length <= 8, startUp]).toEqual([true, startUp]);
  });

  it('refuses an unknown LOG_LEVEL or LOG_FORMAT at start, naming the variable', async () => {
    for (const [name, value] of [['LOG_LEVEL', 'loud'], ['LOG_FORMAT', 'xml']]) {
      await expect(start({ [name]: value })).rejects.toThrow(new RegExp(`${name} must be one of`));
    }
  });
});
