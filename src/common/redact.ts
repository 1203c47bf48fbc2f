/** The secret-bearing fields of a Dify source. */
export interface SecretFields {
  api_key?: string;
  admin_api_key?: string;
  password?: string;
  email?: string;
}

const SECRET_FIELD = /key|password|passwd|secret|token|cookie|authorization|email|csrf/i;

/** The values of a source that must never leave the process. */
export function secretsOf(source: SecretFields): string[] {
  return [source.api_key, source.admin_api_key, source.password, source.email].filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
}

/** Drops query strings and fragments from URLs and masks each known secret. */
export function redactText(text: string, secrets: string[] = []): string {
  let out = text.replace(/\b(https?:\/\/[^\s?#"'<>]+)[?#][^\s"'<>]*/gi, '$1');
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** A copy of a JSON-like value with secret-looking fields removed and every string redacted. */
export function redactValue(value: unknown, secrets: string[] = []): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !SECRET_FIELD.test(k))
        .map(([k, v]) => [k, redactValue(v, secrets)]),
    );
  }
  return value;
}
