import { ConsoleLogger, INestApplication, LogLevel } from '@nestjs/common';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppModule } from '../../src/app.module';
import { AppConfig, loadAppConfig } from '../../src/config/app-config';
import { configureApp } from '../../src/configure-app';

export interface TestApp {
  app: INestApplication;
  /** pass to supertest: request(t.server) */
  server: ReturnType<INestApplication['getHttpServer']>;
  config: AppConfig;
  logsDir: string;
  /** every line the service logged (all levels), for asserting that no secret is ever logged */
  logLines: string[];
  close(): Promise<void>;
}

/**
 * Records every log line. Tests provoke failures on purpose, so nothing is printed unless
 * VAULT_TEST_LOGS=1 (then warnings and errors are).
 */
const PRINT = process.env.VAULT_TEST_LOGS === '1';

class RecordingLogger extends ConsoleLogger {
  constructor(private readonly lines: string[]) {
    super();
    this.setLogLevels(['error', 'warn']);
  }
  protected printMessages(messages: unknown[], context?: string, logLevel?: LogLevel, writeStreamType?: 'stdout' | 'stderr'): void {
    for (const m of messages) this.lines.push(`${logLevel ?? 'log'} [${context ?? ''}] ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    if (PRINT && (logLevel === 'error' || logLevel === 'warn')) super.printMessages(messages, context, logLevel, writeStreamType);
  }
  isLevelEnabled(): boolean {
    return true;
  }
}

/** A temp directory that is removed by `cleanup()`. */
export function makeTempDir(prefix = 'vault-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Boots the whole service through the same setup as main.ts, on a fresh temp LOGS_DIR,
 * with the given environment (no .env file, no process.env leakage).
 */
export async function createTestApp(
  env: Record<string, string> = {},
  /** e.g. `(b) => b.overrideProvider(X).useValue(y)` to put a fault behind a repository */
  override: (builder: TestingModuleBuilder) => TestingModuleBuilder = (b) => b,
): Promise<TestApp> {
  const logsDir = env.LOGS_DIR ?? makeTempDir();
  const config = loadAppConfig({
    NODE_ENV: 'test',
    ENABLE_AUTO_LOGGING: 'false',
    DIFY_RETRY_BASE_MS: '5',
    DIFY_TIMEOUT_MS: '2000',
    ...env,
    LOGS_DIR: logsDir,
  });
  const moduleRef = await override(Test.createTestingModule({ imports: [AppModule.forRoot(config)] })).compile();
  const logLines: string[] = [];
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: new RecordingLogger(logLines) });
  configureApp(app, config);
  await app.init();
  return {
    app,
    server: app.getHttpServer(),
    config,
    logsDir,
    logLines,
    async close() {
      await app.close();
      if (!env.LOGS_DIR) fs.rmSync(logsDir, { recursive: true, force: true });
    },
  };
}
