/** Small HTTP helpers for the simulator's own tests (Node's fetch, cookies kept by hand). */
export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
  setCookies: string[];
}

export async function call<T = any>(url: string, init: RequestInit = {}): Promise<Reply<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers, setCookies: res.headers.getSetCookie() };
}

export const bearer = (token: string, extra: Record<string, string> = {}) => ({ headers: { Authorization: `Bearer ${token}`, ...extra } });

/** `name=value` pairs of Set-Cookie headers */
export function cookiesOf(setCookies: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of setCookies) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export const cookieHeader = (jar: Record<string, string>) =>
  Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** a GET on the console API with the admin key and workspace header */
export const consoleGet = <T = any>(sim: { consoleApiUrl: string; adminApiKey: string | null; workspaceId: string }, path: string) =>
  call<T>(`${sim.consoleApiUrl}${path}`, bearer(sim.adminApiKey!, { 'X-WORKSPACE-ID': sim.workspaceId }));
