import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import * as dotenv from 'dotenv';
import * as fs from 'node:fs';
import { AppModule } from './app.module';
import { AppLogger } from './common/logging/app-logger';
import { AppConfig, ConfigError, loadAppConfig } from './config/app-config';
import { configureApp } from './configure-app';

/** `.env` (when present) under the real environment. */
function environment(overrides: Record<string, string> = {}): Record<string, string | undefined> {
  const fromFile = fs.existsSync('.env') ? dotenv.parse(fs.readFileSync('.env')) : {};
  return { ...fromFile, ...process.env, ...overrides };
}

/** Reads `.env` (when present) under the real environment, then validates everything. */
export function loadConfigFromEnvironment(overrides: Record<string, string> = {}): AppConfig {
  return loadAppConfig(environment(overrides));
}

export async function startServer(config: AppConfig, logger: AppLogger = AppLogger.fromEnv(environment())): Promise<NestExpressApplication> {
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
