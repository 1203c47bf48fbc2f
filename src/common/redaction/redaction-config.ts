import { RedactionKind, REDACTION_KINDS } from './redaction-rules';
import type { CustomRedactionPattern, RedactionSettings } from './redactor';

/** A wrong `REDACT` or `REDACT_PATTERNS`; the message names the variable (and the entry). */
export class RedactionConfigError extends Error {}

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const FLAGS = /^[imsu]*$/;

/** `REDACT=email,phone`: comma-separated built-in kinds, case-insensitive; empty or unset = none. */
export function parseRedactKinds(value: string | undefined): RedactionKind[] {
  const names = (value ?? '')
    .split(',')
    .map((k) => k.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((k) => !(REDACTION_KINDS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new RedactionConfigError(
      `REDACT has unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed kinds: ${REDACTION_KINDS.join(', ')}`,
    );
  }
  return REDACTION_KINDS.filter((k) => names.includes(k));
}

/** `REDACT_PATTERNS='[{"name":"order","pattern":"ORD-\\d{6}","flags":"i"}]'`; empty or unset = none. */
export function parseRedactPatterns(value: string | undefined): CustomRedactionPattern[] {
  if (value === undefined || value.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new RedactionConfigError('REDACT_PATTERNS is not valid JSON: expected a list such as [{"name":"order","pattern":"ORD-\\\\d{6}"}]');
  }
  if (!Array.isArray(parsed)) throw new RedactionConfigError('REDACT_PATTERNS must be a JSON list of {name, pattern, flags?}');
  const seen = new Set<string>();
  return parsed.map((entry: unknown, i) => {
    const where = `REDACT_PATTERNS[${i}]`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new RedactionConfigError(`${where} must be an object with name, pattern and optional flags`);
    }
    const { name, pattern, flags = '', ...rest } = entry as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new RedactionConfigError(`${where} has unknown field ${extra.map((k) => `"${k}"`).join(', ')}`);
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new RedactionConfigError(`${where}.name must be 1-32 lower-case letters, digits, "_" or "-", starting with a letter`);
    }
    if ((REDACTION_KINDS as readonly string[]).includes(name)) {
      throw new RedactionConfigError(`${where}.name "${name}" clashes with the built-in kind of that name`);
    }
    if (seen.has(name)) throw new RedactionConfigError(`${where}.name "${name}" is used by an earlier entry`);
    seen.add(name);
    if (typeof pattern !== 'string' || pattern === '') throw new RedactionConfigError(`${where}.pattern must be a non-empty string`);
    if (typeof flags !== 'string' || !FLAGS.test(flags) || new Set(flags).size !== flags.length) {
      throw new RedactionConfigError(`${where}.flags may hold only i, m, s and u, each once`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, flags);
    } catch (e) {
      throw new RedactionConfigError(`${where}.pattern is not a valid regular expression: ${(e as Error).message}`);
    }
    if (regex.test('')) throw new RedactionConfigError(`${where}.pattern matches the empty string`);
    return { name, pattern, flags };
  });
}

export function parseRedactionSettings(env: { REDACT?: string; REDACT_PATTERNS?: string }): RedactionSettings {
  return { kinds: parseRedactKinds(env.REDACT), patterns: parseRedactPatterns(env.REDACT_PATTERNS) };
}
