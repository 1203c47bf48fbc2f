import type { INestApplicationContext } from '@nestjs/common';
import { parseArgs } from 'node:util';

/** A mistake in the command line: exit code 2 with the usage text. */
export class UsageError extends Error {}

export interface CliOutput {
  line(text: string): void;
  error(text: string): void;
}

/** `string` options take a value (`--days 7` or `--days=7`); `boolean` ones are bare flags (`--dry-run`). */
export type CliOptions = Record<string, { type: 'string' | 'boolean' }>;

export type ParsedOptions = Record<string, string | boolean | undefined>;

export interface CliCommand {
  usage: string;
  summary: string;
  options: CliOptions;
  /** returns the exit code */
  run(app: INestApplicationContext, options: ParsedOptions, out: CliOutput): Promise<number>;
}

/** The one parser for every command: node's strict `parseArgs`, its errors turned into UsageErrors. */
export function parseCommandArgs(argv: string[], options: CliOptions): ParsedOptions {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as ParsedOptions;
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

export function intOption(options: ParsedOptions, name: string): number | undefined {
  const value = stringOption(options, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}
