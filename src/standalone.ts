import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { loadConfigFromEnvironment } from './config/load-environment';
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
  const config = loadConfigFromEnvironment({ ENABLE_AUTO_LOGGING: 'false', ...overrides });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
  return { service: app.get(ConversationLogService), close: () => app.close() };
}

export { ConversationLogService };
