/** DATABASE_URL without its secret, for logs and errors. */

export const DATABASE_URL_RULE = 'must be a postgres:// or postgresql:// URL with a host and a database name, such as postgres://vault:secret@db:5432/vault';

/** Whether the text is a PostgreSQL URL the catalog can use (the value itself never appears in a message). */
export function isDatabaseUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 2048) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '' && /^\/[^/]+$/.test(url.pathname);
}

/** `postgres://user:***@host:port/db` (no query string: it may carry a password or key file too). */
export function redactDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    const user = url.username ? `${url.username}${url.password ? ':***' : ''}@` : '';
    return `${url.protocol}//${user}${url.host}${url.pathname}`;
  } catch {
    return 'an unreadable DATABASE_URL';
  }
}

/** The message with the URL's password (plain or percent-encoded) and the URL itself taken out. */
export function scrubSecret(message: string, value: string): string {
  let out = message.split(value).join(redactDatabaseUrl(value));
  try {
    const password = new URL(value).password;
    if (password) {
      for (const form of new Set([password, decodeURIComponent(password)])) out = out.split(form).join('***');
    }
  } catch {
    // nothing more to take out
  }
  return out;
}
