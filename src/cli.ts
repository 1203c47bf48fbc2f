import { ConsoleLogger, type INestApplicationContext, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanCommand, reindexCommand, verifyCommand } from './cli/archive.commands';
import { backupCommand } from './cli/backup.command';
import { CliCommand, CliOutput, EXIT, parseCommandArgs, UsageError } from './cli/cli-command';
import { withFlagNames } from './cli/cli-flags';
import { commandHelp, generalHelp } from './cli/cli-help';
import { exportCommand } from './cli/export.command';
import { searchCommand, summaryCommand } from './cli/query.commands';
import { testCommand } from './cli/test.command';
import { migrateCatalogCommand } from './cli/migrate-catalog.command';
import { eraseUserCommand } from './cli/privacy.commands';
import { replicateCommand } from './cli/replicate.command';
import { ConfigError } from './config/app-config';
import { ArchiveQueryError } from './log-storage/log-storage.errors';
import { LogStorageService } from './log-storage/log-storage.service';

/** One-shot commands against the archive, without the HTTP server: `node dist/cli.js <command> [flags]`. */

export { EXIT, UsageError };
export type { CliCommand, CliOutput };

const helpCommand: CliCommand = {
  name: 'help',
  summary: 'this list, or one command in detail',
  flags: {},
  examples: ['npm run cli -- help export'],
  async run({ out }) {
    out.line(generalHelp(COMMAND_LIST));
    return EXIT.done;
  },
};

const versionCommand: CliCommand = {
  name: 'version',
  summary: 'the version of Dify Log Vault',
  flags: {},
  examples: ['npm run cli -- version'],
  async run({ out }) {
    out.line(`dify-log-vault ${packageVersion()}`);
    return EXIT.done;
  },
};

/** In the order `--help` lists them; another command is one more entry here. */
const COMMAND_LIST: CliCommand[] = [
  backupCommand,
  testCommand,
  summaryCommand,
  exportCommand,
  searchCommand,
  cleanCommand,
  eraseUserCommand,
  verifyCommand,
  reindexCommand,
  migrateCatalogCommand,
  replicateCommand,
  versionCommand,
  helpCommand,
];

export const COMMANDS: Record<string, CliCommand> = Object.fromEntries(COMMAND_LIST.map((c) => [c.name, c]));

/** package.json beside `dist/` (and beside `src/` when run from the sources) */
function packageVersion(): string {
  const file = path.join(__dirname, '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

const consoleOutput: CliOutput = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
  stream: process.stdout,
  terminal: process.stderr.isTTY ? process.stderr : null,
};

/** Nest's logger writes warnings to stdout; here stdout is the result alone, so every log line goes to stderr. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(messages: unknown[], context?: string, logLevel?: LogLevel, _stream?: 'stdout' | 'stderr', errorStack?: unknown): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}

const HELP_HINT = 'run `npm run cli -- --help` for the commands and their flags';

/** Runs one command and returns its exit code; `createContext` is replaceable for tests. */
export async function runCli(
  argv: string[],
  out: CliOutput = consoleOutput,
  createContext: () => Promise<INestApplicationContext> = async () => {
    // loaded here so that a bad cron setting (read when the modules are imported) is reported like any config error
    const { AppModule } = await import('./app.module');
    return NestFactory.createApplicationContext(await AppModule.fromEnvironment({ ENABLE_AUTO_LOGGING: 'false' }), {
      logger: new StderrLogger({ logLevels: ['error', 'warn'], colors: !!process.stderr.isTTY }),
    });
  },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    out.error(`no command given\n\n${generalHelp(COMMAND_LIST)}`);
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    out.line(generalHelp(COMMAND_LIST));
    return EXIT.done;
  }
  if (name === '--version') return runCli(['version', ...rest], out, createContext);
  if (name === 'help') {
    const topic = rest[0] === '--help' || rest[0] === '-h' ? helpCommand : COMMANDS[rest[0]];
    if (!topic || rest.length > 1) {
      out.error(`${topic ? `unexpected argument ${rest[1]}` : `unknown command ${rest[0]}`}; ${HELP_HINT}`);
      return EXIT.usage;
    }
    out.line(commandHelp(topic));
    return EXIT.done;
  }
  const command = COMMANDS[name];
  if (!command) {
    out.error(`unknown command ${name}; ${HELP_HINT}`);
    return EXIT.usage;
  }

  let app: INestApplicationContext | undefined;
  let replay: Promise<void> | undefined;
  try {
    const options = parseCommandArgs(rest, command.flags);
    if (options.help) {
      out.line(commandHelp(command));
      return EXIT.done;
    }
    return await command.run({
      options,
      out,
      app: async () => {
        if (!app) {
          app = await createContext();
          if (command.replaysWrites) replay = app.get(LogStorageService).replayAtStartUp();
          // a missing catalog is rebuilt in the background at start-up: a one-shot command waits for it
          if (!command.duringRebuild) await app.get(LogStorageService).whenCatalogReady();
        }
        return app;
      },
    });
  } catch (error) {
    if (error instanceof UsageError || error instanceof ArchiveQueryError) {
      out.error(`${withFlagNames(error.message, command.flags)}; run \`npm run cli -- ${command.name} --help\``);
      return EXIT.usage;
    }
    out.error(error instanceof ConfigError ? `configuration: ${error.message}` : `failed: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    await replay;
    await app?.close();
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
