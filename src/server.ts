import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { configureApp } from './configure-app';

/** The HTTP server, configured from `.env` and the environment unless a validated `config` is given. */
export async function startServer(config?: AppConfig): Promise<NestExpressApplication> {
  const root = config ? AppModule.forRoot(config) : await AppModule.fromEnvironment();
  const app = await NestFactory.create<NestExpressApplication>(root, { bodyParser: false, bufferLogs: false });
  const { host, port } = app.get(AppConfig);
  configureApp(app, app.get(AppConfig));
  await app.listen(port, host);
  new Logger('Main').log(`Listening on http://${host}:${port} (API docs at /api/docs)`);
  return app;
}
