import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** Pure rules for the Host and Origin checks and for TRUST_PROXY; the middleware applies them. */

export const PUBLIC_URL_RULE = 'must be an absolute http(s) URL such as https://vault.example.com, without user name or password';
export const HOSTNAME_LIST_RULE =
  'must be a comma-separated list of host names or addresses without scheme or port, such as vault.example.com,10.0.0.5';
export const TRUST_PROXY_RULE =
  'must be false, true (one proxy), the number of proxies in front, or a comma-separated list of proxy addresses or subnets (loopback, linklocal, uniquelocal allowed)';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`, 'i');
/** a Host header: a name, an IPv4 address or a bracketed IPv6 address, with an optional port */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[^\s[\]/\\@?#:%]+)(:\d{1,5})?$/i;
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Lower case, IPv6 without brackets, no trailing dot: the form every comparison uses. */
export function normalizeHostname(name: string): string {
  return name.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

function isHostnameOrAddress(entry: string): boolean {
  const bare = entry.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 || (!entry.includes(':') && HOSTNAME.test(entry));
}

export function isPublicUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !url.username && !url.password;
}

export function isHostnameList(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const entries = value.split(',').map((e) => e.trim());
  return entries.length > 0 && entries.every((e) => e !== '' && isHostnameOrAddress(e));
}

export function parseHostnameList(value: string | undefined): string[] {
  return value ? [...new Set(value.split(',').map(normalizeHostname).filter(Boolean))] : [];
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry.toLowerCase())) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export function isTrustProxy(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const v = value.trim().toLowerCase();
  if (['true', 'false'].includes(v) || /^\d{1,2}$/.test(v)) return true;
  const entries = v.split(',').map((e) => e.trim());
  return entries.every((e) => e !== '' && isProxyAddress(e));
}

/**
 * Express's `trust proxy` setting. `true` means one proxy: the client is the address that proxy appended to
 * X-Forwarded-For, which the client cannot forge (Express's own `true` would take the left-most, forgeable entry).
 */
export type TrustProxy = false | number | string[];

export function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === '0') return false;
  if (v === 'true') return 1;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((e) => e.trim());
}

/** The host name of a Host header (normalised), or null when the header is missing or malformed. */
export function hostnameOfHostHeader(header: string | undefined): string | null {
  if (!header) return null;
  const match = HOST_HEADER.exec(header.trim());
  if (!match) return null;
  try {
    return normalizeHostname(new URL(`http://${match[1]}`).hostname);
  } catch {
    return null;
  }
}

export interface HostSettings {
  host: string;
  publicUrl: string | null;
  allowedHostnames: string[];
}

/**
 * The names a request may address the service by: the loopback names, the address it listens on (every
 * interface address when it listens on all of them), PUBLIC_URL's host and ALLOWED_HOSTNAMES.
 */
export function allowedHostnames(
  config: HostSettings,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {},
): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  const listening = normalizeHostname(config.host);
  if (WILDCARD_HOSTS.has(config.host.trim()) || WILDCARD_HOSTS.has(listening)) {
    for (const list of Object.values(interfaces)) for (const i of list ?? []) names.add(normalizeHostname(i.address.replace(/%.*$/, '')));
  } else {
    names.add(listening);
  }
  if (config.publicUrl) names.add(normalizeHostname(new URL(config.publicUrl).hostname));
  for (const name of config.allowedHostnames) names.add(name);
  return names;
}

/** Whether an Origin header names the service itself (its own Host, PUBLIC_URL, or a name in ALLOWED_HOSTNAMES). */
export function isSameOrigin(origin: string, hostHeader: string | undefined, config: HostSettings): boolean {
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return false;
  }
  if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
  if (config.publicUrl && from.origin === new URL(config.publicUrl).origin) return true;
  if (config.allowedHostnames.includes(normalizeHostname(from.hostname))) return true;
  if (!hostHeader) return false;
  try {
    return new URL(`${from.protocol}//${hostHeader.trim()}`).host === from.host;
  } catch {
    return false;
  }
}

/** Shown at start-up when the service listens beyond loopback and names no public host. */
export function hostSettingsWarning(config: HostSettings, allowed: Set<string>): string | null {
  const listening = normalizeHostname(config.host);
  if (LOOPBACK_NAMES.includes(listening) || /^127\./.test(listening)) return null;
  if (config.publicUrl || config.allowedHostnames.length) return null;
  const extra = [...allowed].filter((n) => !LOOPBACK_NAMES.includes(n));
  return (
    `HOST is ${config.host} but neither PUBLIC_URL nor ALLOWED_HOSTNAMES is set: only requests addressed to ` +
    `${extra.length ? extra.join(', ') : 'a loopback name'} or a loopback name are answered; ` +
    'add the name clients use to ALLOWED_HOSTNAMES or PUBLIC_URL'
  );
}
