import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { AppConfig, loadAppConfig } from './app-config';

/** What ConfigModule holds: the one typed, validated object. */
interface ValidatedConfig {
  app: AppConfig;
}

/**
 * `@nestjs/config` validated by our class-validator schema (`loadAppConfig`), global, exposing the typed
 * AppConfig as an injectable: every module asks for `AppConfig`, never for raw variables.
 */
@Module({})
export class AppConfigModule {
  /** An already validated object (tests, the demo): neither `.env` nor process.env is read. */
  static forRoot(config: AppConfig): DynamicModule {
    return AppConfigModule.around(
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        validatePredefined: false,
        skipProcessEnv: true,
        validate: (): ValidatedConfig => ({ app: config }),
      }),
    );
  }

  /**
   * `.env` (when present) under the real environment, then `overrides`, validated before Nest starts:
   * a bad value rejects with a ConfigError naming the variable.
   */
  static async fromEnvironment(overrides: Record<string, string> = {}): Promise<DynamicModule> {
    const configModule = await ConfigModule.forRoot({
      isGlobal: true,
      skipProcessEnv: true,
      validate: (env): ValidatedConfig => ({ app: loadAppConfig({ ...(env as Record<string, string | undefined>), ...overrides }) }),
    });
    return AppConfigModule.around(configModule);
  }

  private static around(configModule: DynamicModule | Promise<DynamicModule>): DynamicModule {
    return {
      module: AppConfigModule,
      global: true,
      imports: [configModule],
      providers: [
        {
          provide: AppConfig,
          inject: [ConfigService],
          useFactory: (config: ConfigService<ValidatedConfig, true>) => config.get('app', { infer: true }),
        },
      ],
      exports: [AppConfig],
    };
  }
}
