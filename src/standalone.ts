import { NestFactory } from '@nestjs/core';
import { ConversationLogService } from './conversation-logs/conversation-log.service';

export interface StandaloneConversationLogs {
  service: ConversationLogService;
  close(): Promise<void>;
}

/**
 * The programmatic API for scripts: the whole service without its HTTP server or cron jobs,
 * configured like the server (.env, then the environment, then `overrides`).
 */
export async function createConversationLogService(overrides: Record<string, string> = {}): Promise<StandaloneConversationLogs> {
  // loaded here so that a bad cron setting (read when the modules are imported) rejects this promise
  const { AppModule } = await import('./app.module');
  const root = await AppModule.fromEnvironment({ ENABLE_AUTO_LOGGING: 'false', ...overrides });
  const app = await NestFactory.createApplicationContext(root, { logger: ['error', 'warn'] });
  return { service: app.get(ConversationLogService), close: () => app.close() };
}

export { ConversationLogService };
