import type { INestApplicationContext } from '@nestjs/common';
import { parseArgs } from 'node:util';

/** The documented exit codes of `node dist/cli.js`. */
export const EXIT = {
  done: 0,
  failed: 1,
  usage: 2,
  /** another server or CLI holds the archive's backup lock (or, for `replicate`, its replication lock) */
  locked: 3,
  /** SIGINT or SIGTERM stopped the command */
  interrupted: 4,
} as const;

/** A mistake in the command line: exit code 2 with a hint to `--help`. */
export class UsageError extends Error {}

export interface CliOutput {
  /** one line of the result, on stdout */
  line(text: string): void;
  /** one line of diagnostics, on stderr */
  error(text: string): void;
  /** where a streamed result (export) goes; stdout by default */
  stream?: NodeJS.WritableStream;
  /** stderr when it is a terminal, for progress; null or absent when piped (then no progress at all) */
  terminal?: NodeJS.WriteStream | null;
}

export interface CliFlag {
  type: 'string' | 'boolean';
  /** the value's placeholder in help, e.g. `YYYY-MM-DD` */
  value?: string;
  description: string;
  /** shown without brackets in help (the DTO enforces it) */
  required?: boolean;
  /** the API DTO's field this flag fills, so the DTO's rules validate it and its messages name the flag */
  field?: string;
}

export type ParsedOptions = Record<string, string | boolean | undefined>;

export interface CommandContext {
  options: ParsedOptions;
  out: CliOutput;
  /** the service without its HTTP server or cron jobs, made on first use and closed by the runner */
  app(): Promise<INestApplicationContext>;
}

export interface CliCommand {
  name: string;
  summary: string;
  /** the flags after the command's name, `--help` excepted */
  flags: Record<string, CliFlag>;
  examples: string[];
  /**
   * true: runs at once while a start-up catalog rebuild is under way (reindex joins it); otherwise the
   * command waits for the catalog before it starts
   */
  duringRebuild?: boolean;
  /**
   * true: a command that writes the archive settles meanwhile the writes a killed process of this host left
   * unindexed (the write journal), finished before it exits; read-only commands leave them alone
   */
  replaysWrites?: boolean;
  /** returns the exit code */
  run(context: CommandContext): Promise<number>;
}

/** The one parser for every command: node's strict `parseArgs`, its errors turned into UsageErrors. */
export function parseCommandArgs(argv: string[], flags: Record<string, CliFlag>): ParsedOptions & { help?: boolean } {
  const options = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f.type }]));
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values as ParsedOptions & { help?: boolean };
  } catch (error) {
    throw new UsageError(usageMessage(error));
  }
}

function usageMessage(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const option = /'(-{1,2}[^' ]+)/.exec(e.message ?? '')?.[1];
  const positional = /unexpected argument '([^']*)'/i.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message ?? '')) return `${option ?? 'that option'} takes no value`;
      return `${option ?? 'an option'} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${positional ?? ''}`.trim();
    default:
      return e.message ?? 'invalid arguments';
  }
}

export function stringOption(options: ParsedOptions, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}
