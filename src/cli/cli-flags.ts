import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { CliFlag, ParsedOptions, UsageError } from './cli-command';

/**
 * Validates a command's flags with the API's DTO, so a rule lives in one place. Each flag with a
 * `field` fills that field as a query string would (`--dry-run` becomes "true"); the DTO's messages
 * come back with its field names replaced by the flags' (`--start-date` for `start_date`).
 */
export function validateFlags<T extends object>(
  dto: ClassConstructor<T>,
  options: ParsedOptions,
  flags: Record<string, CliFlag>,
  fixed: Record<string, string> = {},
): T {
  const plain: Record<string, string> = { ...fixed };
  for (const [name, flag] of Object.entries(flags)) {
    const value = options[name];
    if (!flag.field || value === undefined || value === false) continue;
    plain[flag.field] = value === true ? 'true' : value;
  }
  const instance = plainToInstance(dto, plain);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) throw new UsageError(messagesOf(errors, plain).map((m) => withFlagNames(m, flags)).join('; '));
  return instance;
}

/** One message a field: `is required` when it is absent, else its first broken rule. */
function messagesOf(errors: ValidationError[], plain: Record<string, string>): string[] {
  return [
    ...new Set(
      errors.map((e) => {
        if (plain[e.property] === undefined && e.constraints?.isDefined) return `${e.property} is required`;
        return Object.values(e.constraints ?? {})[0] ?? `${e.property} is invalid`;
      }),
    ),
  ];
}

/**
 * `start_date must be ...` -> `--start-date must be ...`. Short field names (`q`, `user`) are replaced
 * only where a message starts, so that ordinary words further on are left alone.
 */
export function withFlagNames(message: string, flags: Record<string, CliFlag>): string {
  let text = message;
  for (const [name, flag] of Object.entries(flags)) {
    if (!flag.field) continue;
    const field = flag.field.replace(/[^A-Za-z0-9_]/g, '');
    const pattern = field.length >= 5 ? new RegExp(`(?<![-\\w])${field}\\b`, 'g') : new RegExp(`^${field}\\b`);
    text = text.replace(pattern, `--${name}`);
  }
  return text;
}
