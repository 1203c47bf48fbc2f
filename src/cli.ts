import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { backupCommand } from './cli/backup.command';
import { cleanCommand, reindexCommand, verifyCommand } from './cli/archive.commands';
import { CliCommand, CliOutput, parseCommandArgs, ParsedOptions, UsageError } from './cli/cli-command';
import { ConfigError } from './config/app-config';
import { ArchiveQueryError } from './log-storage/log-storage.errors';

/** One-shot commands against the archive, without the HTTP server: `node dist/cli.js <command> [options]`. */

export { UsageError };
export type { CliCommand, CliOutput };

/** Another command is one more entry here. */
export const COMMANDS: Record<string, CliCommand> = {
  reindex: reindexCommand,
  verify: verifyCommand,
  clean: cleanCommand,
  backup: backupCommand,
};

function usage(): string {
  return ['usage: node dist/cli.js <command> [options]', ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(48)} ${c.summary}`)].join('\n');
}

const consoleOutput: CliOutput = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};

/** Runs one command and returns its exit code; `createContext` is replaceable for tests. */
export async function runCli(
  argv: string[],
  out: CliOutput = consoleOutput,
  createContext: () => Promise<INestApplicationContext> = async () => {
    // loaded here so that a bad cron setting (read when the modules are imported) is reported like any config error
    const { AppModule } = await import('./app.module');
    return NestFactory.createApplicationContext(await AppModule.fromEnvironment({ ENABLE_AUTO_LOGGING: 'false' }), {
      logger: ['error', 'warn'],
    });
  },
): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    out.error(name ? `unknown command ${name}` : 'no command given');
    out.error(usage());
    return 2;
  }
  let options: ParsedOptions;
  try {
    options = parseCommandArgs(rest, command.options);
  } catch (error) {
    out.error(`${(error as Error).message}\n${usage()}`);
    return 2;
  }
  let app: INestApplicationContext | undefined;
  try {
    app = await createContext();
    return await command.run(app, options, out);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ArchiveQueryError) {
      out.error(`${error.message}\n${usage()}`);
      return 2;
    }
    out.error(error instanceof ConfigError ? error.message : `failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await app?.close();
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
