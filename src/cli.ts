import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AppConfig, ConfigError } from './config/app-config';
import { ArchiveQueryError } from './log-storage/log-storage.errors';
import { LogStorageService } from './log-storage/log-storage.service';
import { loadConfigFromEnvironment } from './main';
import { backupCommand } from './scheduler/backup.command';

/** One-shot commands against the archive, without the HTTP server: `node dist/cli.js <command> [options]`. */

export class UsageError extends Error {}

export interface CliOutput {
  line(text: string): void;
  error(text: string): void;
}

export interface CliCommand {
  usage: string;
  summary: string;
  /** returns the exit code */
  run(app: INestApplicationContext, args: ParsedArgs, out: CliOutput): Promise<number>;
}

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string | true>;
}

/** `--name value`, `--name=value` and bare `--flag`. */
export function parseArgs(argv: string[], flags: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) options.set(name, inline);
    else if (flags.includes(name)) options.set(name, true);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(name, argv[++i]);
    else throw new UsageError(`--${name} needs a value`);
  }
  return { positional, options };
}

function intOption(args: ParsedArgs, name: string): number | undefined {
  const value = args.options.get(name);
  if (value === undefined) return undefined;
  if (value === true || !/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}

function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

function rejectUnknown(args: ParsedArgs, known: string[]): void {
  for (const name of args.options.keys()) if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
}

/** Another command (e.g. `backup`) is one more entry here. */
export const COMMANDS: Record<string, CliCommand & { flags?: string[] }> = {
  reindex: {
    usage: 'reindex',
    summary: 'drop the catalog and rebuild it from the files',
    async run(app, args, out) {
      rejectUnknown(args, []);
      const result = await app.get(LogStorageService).reindex();
      out.line(`indexed ${result.indexed} files in ${result.duration_ms} ms`);
      for (const s of result.skipped) out.line(`skipped ${s.path}: ${s.reason}`);
      out.line(`skipped ${result.skipped.length} files`);
      return 0;
    },
  },
  verify: {
    usage: 'verify',
    summary: 're-hash every file against the catalog; exit code 1 when anything differs',
    async run(app, args, out) {
      rejectUnknown(args, []);
      const r = await app.get(LogStorageService).verify();
      for (const [kind, paths] of [['missing', r.missing], ['changed', r.changed], ['unindexed', r.unindexed], ['corrupt', r.corrupt]] as const) {
        for (const p of paths) out.line(`${kind} ${p}`);
      }
      out.line(`checked ${r.checked}: missing ${r.missing.length}, changed ${r.changed.length}, unindexed ${r.unindexed.length}, corrupt ${r.corrupt.length}`);
      return r.missing.length + r.changed.length + r.unindexed.length + r.corrupt.length === 0 ? 0 : 1;
    },
  },
  clean: {
    usage: 'clean --days N [--dry-run] [--organization ID]',
    summary: 'delete day folders older than N days (default LOG_RETENTION_DAYS)',
    flags: ['dry-run'],
    async run(app, args, out) {
      rejectUnknown(args, ['days', 'dry-run', 'organization']);
      const storage = app.get(LogStorageService);
      const organizationId = stringOption(args, 'organization');
      const result = await storage.cleanOldLogs({
        daysToKeep: intOption(args, 'days') ?? app.get(AppConfig).retentionDays,
        dryRun: args.options.get('dry-run') === true,
        ...(organizationId ? { organizationId } : {}),
      });
      out.line(result.message);
      out.line(`files ${result.deleted_files}, bytes ${result.deleted_size_bytes}, days ${result.first_day ?? '-'} to ${result.last_day ?? '-'}`);
      return 0;
    },
  },
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
  createContext: () => Promise<INestApplicationContext> = () =>
    NestFactory.createApplicationContext(AppModule.forRoot(loadConfigFromEnvironment({ ENABLE_AUTO_LOGGING: 'false' })), {
      logger: ['error', 'warn'],
    }),
): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    out.error(name ? `unknown command ${name}` : 'no command given');
    out.error(usage());
    return 2;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, command.flags);
  } catch (error) {
    out.error(`${(error as Error).message}\n${usage()}`);
    return 2;
  }
  let app: INestApplicationContext | undefined;
  try {
    app = await createContext();
    return await command.run(app, args, out);
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
