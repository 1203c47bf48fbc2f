import { Logger } from '@nestjs/common';
import { loadConfigFromEnvironment, startServer } from './main';
import { validateSource } from './config/app-config';
import { BackupService } from './backup/backup.service';
import { demoSourcesFor } from './simulator/main';
import { startSimulator } from './simulator/simulator';

/**
 * `npm run demo`: the service on its defaults with the bundled Dify simulator as its source,
 * and a first backup so the archive, the API and the admin page show real-looking data offline.
 */
async function demo(): Promise<void> {
  const logger = new Logger('Demo');
  const sim = await startSimulator({ port: Number(process.env.SIM_PORT ?? 0) });
  const config = loadConfigFromEnvironment({ DIFY_ALLOWED_HOSTS: '127.0.0.1' });
  config.sources = demoSourcesFor(sim).map((s, i) => validateSource(s, `demo source ${i}`));
  logger.log(`Dify simulator on ${sim.url} with ${config.sources.length} demo sources`);

  const app = await startServer(config);
  const backups = app.get(BackupService);
  for (const source of config.sources) {
    try {
      const result = await backups.run({ source, window: {} });
      logger.log(`First backup of ${source.app_id}: ${result.message}`);
    } catch (error) {
      logger.warn(`First backup of ${source.app_id} failed: ${(error as Error).message}`);
    }
  }
  logger.log(`Ready: admin page http://${config.host}:${config.port}/admin, API docs http://${config.host}:${config.port}/api/docs`);

  const stop = async () => {
    await app.close();
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void demo();
