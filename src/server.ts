import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { AppLogger } from './common/logging/app-logger';
import { AppConfig } from './config/app-config';
import { readEnvironment } from './config/load-environment';
import { configureApp } from './configure-app';

/** The HTTP server, configured from `.env` and the environment unless a validated `config` is given. */
export async function startServer(config?: AppConfig, logger: AppLogger = AppLogger.fromEnv(readEnvironment())): Promise<NestExpressApplication> {
  const root = config ? AppModule.forRoot(config) : await AppModule.fromEnvironment();
  const app = await NestFactory.create<NestExpressApplication>(root, { bodyParser: false, bufferLogs: false, logger });
  const { host, port } = app.get(AppConfig);
  configureApp(app, app.get(AppConfig));
  await app.listen(port, host);
  new Logger('Main').log(`Listening on http://${host}:${port} (API docs at /api/docs)`);
  return app;
}
