import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { BackupLock } from './backup/backup-lock';
import { JobsService } from './backup/jobs.service';
import { ServerPresence } from './backup/server-presence';
import { archiveWriteProblem, retentionWarning } from './backup/start-up-checks';
import { AppConfig, ConfigError } from './config/app-config';
import { loadConfigFromEnvironment } from './config/load-environment';
import { configureApp } from './configure-app';

export async function startServer(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: false,
  });
  configureApp(app, config);
  await app.listen(config.port, config.host);
  const logger = new Logger('Main');
  const url = `http://${config.host}:${config.port}`;
  logger.log(`Listening on ${url} (API docs at /api/docs)`);
  await warnAboutOtherProcesses(app, config, url, logger);
  const retention = retentionWarning(config);
  if (retention) logger.warn(retention);
  await app.get(JobsService).resumeInterrupted();
  return app;
}

/** Two servers on one LOGS_DIR work (their backups take turns through the lock), but the operator should know. */
async function warnAboutOtherProcesses(app: NestExpressApplication, config: AppConfig, url: string, logger: Logger): Promise<void> {
  const others = await app.get(ServerPresence).announce(url);
  for (const o of others) {
    logger.warn(
      `Another server uses ${config.logsDir}: pid ${o.pid} on ${o.hostname} (${o.url}, since ${o.started_at}); ` +
        `backups take turns through the backup lock, a run that finds it held is skipped`,
    );
  }
  const holder = await app.get(BackupLock).otherHolder();
  if (holder && !others.some((o) => o.pid === holder.pid && o.hostname === holder.hostname)) {
    logger.warn(`Another ${holder.owner === 'cli' ? 'CLI backup' : 'server'} (pid ${holder.pid} on ${holder.hostname}) is backing up ${config.logsDir} since ${holder.since}`);
  }
}

if (require.main === module) {
  void (async () => {
    let config: AppConfig;
    try {
      config = loadConfigFromEnvironment();
    } catch (e) {
      if (e instanceof ConfigError) {
        console.error(e.message);
        process.exit(1);
      }
      throw e;
    }
    const problem = await archiveWriteProblem(config.logsDir);
    if (problem) {
      console.error(problem);
      process.exit(1);
    }
    await startServer(config).catch((error: NodeJS.ErrnoException) => {
      // e.g. EADDRINUSE: one clear line instead of a stack trace
      console.error(`Failed to start: ${error.code ? `${error.code} ` : ''}${error.message}`);
      process.exit(1);
    });
  })();
}
