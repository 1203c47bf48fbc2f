import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import { AppModule } from '../../src/app.module';
import { runCli } from '../../src/cli';
import { loadAppConfig } from '../../src/config/app-config';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { readArchive } from '../support/archive';
import { makeTempDir } from '../support/test-app';
import { chatApp, consoleEnv, DAY, nowSeconds, readCheckpoint } from './scheduler-kit';

describe('CLI backup', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let logsDir: string;

  beforeEach(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    logsDir = makeTempDir();
    const now = nowSeconds();
    for (let i = 0; i < 3; i++) sim.addConversation({ app_id: app.id, created_at: now - DAY + i * 60 });
  });
  afterEach(async () => {
    await sim.close();
    fs.rmSync(logsDir, { recursive: true, force: true });
  });

  const cli = async (argv: string[]) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const config = loadAppConfig({ NODE_ENV: 'test', ENABLE_AUTO_LOGGING: 'false', LOGS_DIR: logsDir, BACKFILL_FROM: '2d', ...consoleEnv(sim, app) });
    const code = await runCli(argv, { line: (l) => lines.push(l), error: (e) => errors.push(e) }, () =>
      NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false }),
    );
    return { code, lines, errors };
  };

  it('runs the catch-up as a cli job, prints the result (no progress without a terminal), exits 0 on full success', async () => {
    const sut = await cli(['backup', '--app', app.id]);
    expect(sut.errors).toEqual([]);
    expect(sut.code).toBe(0);
    expect(sut.lines[0]).toMatch(/^job [0-9a-f-]{36}: backing up 1 sources from their checkpoints$/);
    expect(sut.lines[1]).toMatch(new RegExp(`^acme/${app.id}: succeeded: `));
    expect(sut.lines.at(-1)).toMatch(/^job [0-9a-f-]{36} succeeded: /);
    expect(readArchive(logsDir)).toHaveLength(3);
    expect(readCheckpoint(logsDir, app.id)).not.toBeNull();
    const history = JSON.parse(fs.readFileSync(`${logsDir}/state/jobs.json`, 'utf8'));
    expect(history.jobs[0]).toMatchObject({ trigger: 'cli', status: 'succeeded' });
  });

  it('exits 1 when a conversation could not be saved, 2 for an unknown app', async () => {
    sim.injectFault({ path: /\/chat-messages$/, after: 1, fault: { kind: 'status', status: 500 } });
    const failed = await cli(['backup']);
    expect(failed.code).toBe(1);
    expect(failed.lines.at(-1)).toMatch(/ partial: /);

    const unknown = await cli(['backup', '--app', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.errors[0]).toContain('no configured source matches --app nope');
  });
});
