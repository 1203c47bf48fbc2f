/** A minimal cookie store for one console origin: enough for Dify's session, CSRF and refresh cookies. */

export interface ParsedCookie {
  /** the name as sent, prefix included (`__Host-csrf_token`) */
  name: string;
  value: string;
  /** true when the cookie deletes itself (Max-Age <= 0 or an Expires in the past) */
  expired: boolean;
}

const PREFIXES = /^__(Host|Secure)-/;

/** The name without the `__Host-` / `__Secure-` prefix HTTPS deployments add. */
export function baseCookieName(name: string): string {
  return name.replace(PREFIXES, '');
}

/** Parses one `Set-Cookie` header value (attributes are read only for expiry). */
export function parseSetCookie(header: string, nowMs = Date.now()): ParsedCookie | null {
  const [pair, ...attributes] = header.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return null;
  const name = pair.slice(0, eq).trim();
  let value = pair.slice(eq + 1).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (!name) return null;
  let expired = false;
  let maxAgeSeen = false;
  for (const attribute of attributes) {
    const [rawKey, ...rest] = attribute.split('=');
    const key = rawKey.trim().toLowerCase();
    const attrValue = rest.join('=').trim();
    if (key === 'max-age') {
      maxAgeSeen = true;
      const seconds = Number(attrValue);
      if (Number.isFinite(seconds) && seconds <= 0) expired = true;
    } else if (key === 'expires' && !maxAgeSeen) {
      const at = Date.parse(attrValue);
      if (!Number.isNaN(at) && at <= nowMs) expired = true;
    }
  }
  return { name, value, expired };
}

export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Stores every cookie of a response's `Set-Cookie` header(s); expired ones are removed. */
  store(setCookie: string | string[] | undefined, nowMs = Date.now()): void {
    if (!setCookie) return;
    for (const header of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const cookie = parseSetCookie(header, nowMs);
      if (!cookie) continue;
      if (cookie.expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  /** Value of a cookie looked up by its base name, with or without a prefix. */
  get(name: string): string | undefined {
    const wanted = baseCookieName(name);
    for (const [stored, value] of this.cookies) {
      if (baseCookieName(stored) === wanted) return value;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The `Cookie` request header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Values only, so that error scrubbing can hide them. */
  values(): string[] {
    return [...this.cookies.values()];
  }

  clear(): void {
    this.cookies.clear();
  }
}
