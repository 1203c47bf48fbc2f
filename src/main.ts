import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { AppLogger } from './common/logging/app-logger';
import { AppConfig, ConfigError } from './config/app-config';
import { loadConfigFromEnvironment, readEnvironment } from './config/load-environment';
import { configureApp } from './configure-app';

export async function startServer(config: AppConfig, logger: AppLogger = AppLogger.fromEnv(readEnvironment())): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: false,
    logger,
  });
  configureApp(app, config);
  await app.listen(config.port, config.host);
  new Logger('Main').log(`Listening on http://${config.host}:${config.port} (API docs at /api/docs)`);
  return app;
}

if (require.main === module) {
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
  startServer(config).catch((error: NodeJS.ErrnoException) => {
    // e.g. EADDRINUSE: one clear line instead of a stack trace
    console.error(`Failed to start: ${error.code ? `${error.code} ` : ''}${error.message}`);
    process.exit(1);
  });
}
