import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { BACKUP_LOCK, BackupLock } from './backup/backup-lock';
import { JobsService } from './backup/jobs.service';
import { ServerPresence } from './backup/server-presence';
import { SourcesService } from './backup/sources.service';
import { orgAppLabel } from './common/org-app-label';
import { archiveWriteProblem, retentionWarning } from './backup/start-up-checks';
import { AppLogger } from './common/logging/app-logger';
import { AppConfig, ConfigError } from './config/app-config';
import { loadConfigFromEnvironment, readEnvironment } from './config/load-environment';
import { configureApp } from './configure-app';
import { LogStorageService } from './log-storage/log-storage.service';

/**
 * The HTTP server, configured from `.env` and the environment unless a validated `config` is given.
 * Refuses to start (a ConfigError, one line) when LOGS_DIR cannot be written; once listening, warns about
 * other servers on the same archive and resumes the runs a shutdown interrupted.
 */
export async function startServer(config?: AppConfig, logger: AppLogger = AppLogger.fromEnv(readEnvironment())): Promise<NestExpressApplication> {
  const problem = await archiveWriteProblem((config ?? loadConfigFromEnvironment()).logsDir);
  if (problem) throw new ConfigError(problem);
  const root = config ? AppModule.forRoot(config) : await AppModule.fromEnvironment();
  const app = await NestFactory.create<NestExpressApplication>(root, { bodyParser: false, bufferLogs: false, logger });
  const settings = app.get(AppConfig);
  configureApp(app, settings);
  await app.listen(settings.port, settings.host);
  const main = new Logger('Main');
  const url = `http://${settings.host}:${settings.port}`;
  main.log(`Listening on ${url} (API docs at /api/docs)`);
  logSources(app.get(SourcesService), main);
  await warnAboutOtherProcesses(app, settings, url, main);
  const retention = retentionWarning(settings);
  if (retention) main.warn(retention);
  // in the background: a job settles its sources' writes itself, under its locks
  void app.get(LogStorageService).replayAtStartUp();
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
  const holder = await app.get<BackupLock>(BACKUP_LOCK).otherHolder();
  if (holder && !others.some((o) => o.pid === holder.pid && o.hostname === holder.hostname)) {
    logger.warn(`Another ${holder.owner === 'cli' ? 'CLI backup' : 'server'} (pid ${holder.pid} on ${holder.hostname}) is backing up ${config.logsDir} since ${holder.since}`);
  }
}

/** One line per configured source: what it is and where it reads from, never a credential. */
function logSources(sources: SourcesService, logger: Logger): void {
  const views = sources.list();
  if (views.length === 0) logger.log('No Dify source configured: backups have nothing to read');
  for (const v of views) {
    const what = v.workspace ? 'whole workspace' : 'app';
    logger.log(`Source ${orgAppLabel(v)}${v.name ? ` "${v.name}"` : ''}: ${what}, ${v.access_mode ?? 'unknown access mode'}, ${v.hosts.join(', ')}`);
  }
}
