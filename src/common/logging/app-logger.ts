import { ConsoleLogger, LogLevel } from '@nestjs/common';

/** LOG_LEVEL values, from the quietest; each includes the ones before it. */
export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type AppLogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type AppLogFormat = (typeof LOG_FORMATS)[number];

export interface AppLoggerOptions {
  level: AppLogLevel;
  format: AppLogFormat;
  /** ANSI colours in text output */
  colors: boolean;
}

/**
 * Nest's start-up chatter: the route map (one line per route) and the module loading (one line per module),
 * useful when debugging and noise otherwise.
 */
const START_UP_CHATTER_CONTEXTS = new Set(['RoutesResolver', 'RouterExplorer', 'InstanceLoader', 'NestFactory', 'NestApplication']);

export class LoggingConfigError extends Error {}

/**
 * Reads LOG_LEVEL (default `log`) and LOG_FORMAT (default `text`), refusing unknown values with the
 * variable's name; colours only on a terminal and never with NO_COLOR.
 */
export function loggerOptionsFromEnv(
  env: Record<string, string | undefined>,
  stdoutIsTty: boolean = process.stdout.isTTY === true,
): AppLoggerOptions {
  const level = (env.LOG_LEVEL?.trim() || 'log').toLowerCase();
  const format = (env.LOG_FORMAT?.trim() || 'text').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new LoggingConfigError(`LOG_LEVEL must be one of: ${LOG_LEVELS.join(', ')}`);
  }
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new LoggingConfigError(`LOG_FORMAT must be one of: ${LOG_FORMATS.join(', ')}`);
  }
  return { level: level as AppLogLevel, format: format as AppLogFormat, colors: format === 'text' && stdoutIsTty && !env.NO_COLOR };
}

/** The levels Nest should print for a LOG_LEVEL (fatal is always printed). */
export function enabledLevels(level: AppLogLevel): LogLevel[] {
  return ['fatal', ...LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1)];
}

/**
 * The service's logger for Nest, the CLI and the demo: Nest's pretty text, or with LOG_FORMAT=json one JSON
 * object per line (`time`, `level`, `context`, `message`, and `stack` for errors). Nest's route map and
 * module loading lines are printed at debug only.
 */
export class AppLogger extends ConsoleLogger {
  private readonly format: AppLogFormat;

  constructor(options: AppLoggerOptions, private readonly write: (stream: 'stdout' | 'stderr', line: string) => void = defaultWrite) {
    super({ logLevels: enabledLevels(options.level), colors: options.colors, json: false });
    this.format = options.format;
  }

  static fromEnv(env: Record<string, string | undefined> = process.env): AppLogger {
    return new AppLogger(loggerOptionsFromEnv(env));
  }

  protected printMessages(
    messages: unknown[],
    context = '',
    logLevel: LogLevel = 'log',
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    let level = logLevel;
    if (level === 'log' && START_UP_CHATTER_CONTEXTS.has(context)) {
      if (!this.isLevelEnabled('debug')) return;
      level = 'debug';
    }
    if (this.format === 'text') {
      super.printMessages(messages, context, level, writeStreamType, errorStack);
      return;
    }
    for (const message of messages) {
      const entry: Record<string, unknown> = {
        time: new Date().toISOString(),
        level,
        context: context || null,
        message: typeof message === 'string' ? message : message instanceof Error ? message.message : safeJson(message),
      };
      if (typeof errorStack === 'string' && errorStack) entry.stack = errorStack;
      this.write(writeStreamType ?? 'stdout', `${JSON.stringify(entry)}\n`);
    }
  }

  protected printStackTrace(stack: string): void {
    // JSON lines carry the stack in their own field
    if (this.format === 'text') super.printStackTrace(stack);
  }
}

function defaultWrite(stream: 'stdout' | 'stderr', line: string): void {
  process[stream].write(line);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
