import { ConfigError } from './config/app-config';

/**
 * The one line an entry point prints when it cannot start: a configuration error as it is (it names the
 * variable), anything else (e.g. EADDRINUSE) with its code, never a stack trace.
 */
export function startUpFailureLine(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  const e = error as NodeJS.ErrnoException;
  return `Failed to start: ${e.code ? `${e.code} ` : ''}${e.message}`;
}

export function exitOnStartUpFailure(error: unknown): never {
  console.error(startUpFailureLine(error));
  process.exit(1);
}
