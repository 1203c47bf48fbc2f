import { Logger } from '@nestjs/common';
import { AppLogger } from './common/logging/app-logger';
import { loadConfigFromEnvironment, readEnvironment } from './config/load-environment';
import { validateSource } from './config/app-config';
import { DEMO_SIMULATOR_OPTIONS } from './simulator/main';
import { startSimulator } from './simulator/simulator';
import { exitOnStartUpFailure } from './start-up';

/**
 * `npm run demo`: the service on its defaults with the bundled Dify simulator as its source,
 * and a first backup so the archive, the API and the admin page show real-looking data offline.
 */
async function demo(): Promise<void> {
  // the service's logger from the first line on: LOG_LEVEL, LOG_FORMAT, and no colours on a pipe
  const appLogger = AppLogger.fromEnv(readEnvironment());
  Logger.overrideLogger(appLogger);
  const logger = new Logger('Demo');
  const sim = await startSimulator({ ...DEMO_SIMULATOR_OPTIONS, port: Number(process.env.SIM_PORT ?? 0) });
  const config = loadConfigFromEnvironment({ DIFY_ALLOWED_HOSTS: '127.0.0.1' });
  // one whole-workspace source: every app of the simulated workspace, the Agent app included
  config.sources = [
    validateSource(
      { name: 'Demo workspace', console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey, workspace_id: sim.workspaceId },
      'demo workspace source',
    ),
  ];
  logger.log(`Dify simulator on ${sim.url}: ${sim.apps.length} apps, backed up as one whole-workspace source`);

  // loaded here so that a bad cron setting (read when the modules are imported) ends as one line
  const { startServer } = await import('./server');
  const { JobsService } = await import('./backup/jobs.service');
  const app = await startServer(config, appLogger);
  const job = await app.get(JobsService).runBackup({ sources: config.sources, trigger: 'manual' });
  logger.log(`First backup: ${job.message}`);
  logger.log(`Ready: admin page http://${config.host}:${config.port}/admin, API docs http://${config.host}:${config.port}/api/docs`);

  const stop = async () => {
    await app.close();
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

demo().catch(exitOnStartUpFailure);
