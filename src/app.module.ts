import { DynamicModule, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './common/auth/auth.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { ConversationLogsModule } from './conversation-logs/conversation-logs.module';
import { DifyModule } from './dify/dify.module';
import { HealthModule } from './health/health.module';
import { LogStorageModule } from './log-storage/log-storage.module';
import { MetricsModule } from './metrics/metrics.module';
import { SchedulerModule } from './scheduler/scheduler.module';

@Module({})
export class AppModule implements OnApplicationShutdown {
  private readonly logger = new Logger('Main');

  /** Called after every module's destroy hook: the running jobs are drained and the catalog is closed. */
  onApplicationShutdown(signal?: string): void {
    this.logger.log(signal ? `Shut down after ${signal}: running jobs drained, archive closed` : 'Shut down');
  }

  /** With an already validated configuration (tests, the demo). */
  static forRoot(config: AppConfig): DynamicModule {
    return AppModule.around(AppConfigModule.forRoot(config));
  }

  /** Configured from `.env` and the environment (then `overrides`); rejects with a ConfigError on a bad value. */
  static async fromEnvironment(overrides: Record<string, string> = {}): Promise<DynamicModule> {
    return AppModule.around(await AppConfigModule.fromEnvironment(overrides));
  }

  private static around(config: DynamicModule): DynamicModule {
    return {
      module: AppModule,
      imports: [config, AuthModule, DifyModule, LogStorageModule, ConversationLogsModule, SchedulerModule, AdminModule, HealthModule, MetricsModule],
    };
  }
}
