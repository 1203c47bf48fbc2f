import { zoneOffsetMs } from '../common/time-zone';
import type { IncomingMessage } from 'node:http';
import { UUID_PATTERN } from './simulator.random';

/** An error answered with Dify's envelope `{code, message, status}`. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A handler's answer. `body` is serialised as JSON unless it is a string. */
export interface SimResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  cookies?: string[];
}

export interface SimRequest {
  method: string;
  path: string;
  /** the first value of each query parameter */
  query: Record<string, string>;
  /** every value of each query parameter, for repeated keys (`sources=a&sources=b`) */
  queryAll: Record<string, string[]>;
  headers: IncomingMessage['headers'];
  cookies: Record<string, string>;
  body: unknown;
  params: string[];
}

export const ok = (body: unknown, extra: Partial<SimResponse> = {}): SimResponse => ({ status: 200, body, ...extra });

export const notFound = (message: string) => new SimError(404, 'not_found', message);
export const invalidParam = (message: string) => new SimError(400, 'invalid_param', message);
export const unauthorized = (message: string) => new SimError(401, 'unauthorized', message);

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** an integer query parameter inside [min, max], as Flask's `int_range` checks it */
export function intParam(query: Record<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw invalidParam(`${name}: invalid literal for int() with base 10: '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) throw invalidParam(`${name}: Invalid ${name}, must be in the range ${min}-${max}`);
  return value;
}

export function uuidParam(query: Record<string, string>, name: string, required = false): string | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') {
    if (required) throw invalidParam(`${name}: Missing required parameter in the query string`);
    return undefined;
  }
  if (!UUID_PATTERN.test(raw)) throw invalidParam(`${name}: ${raw} is not a valid uuid`);
  return raw.toLowerCase();
}

export function choiceParam<T extends string>(query: Record<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(choices as readonly string[]).includes(raw)) throw invalidParam(`${name}: The value '${raw}' is not a valid choice for '${name}'.`);
  return raw as T;
}

/** naive UTC ISO string as Python's `datetime.isoformat()` prints it: no zone suffix */
export function isoNaive(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}


/**
 * `YYYY-MM-DD HH:MM` read as wall-clock time in `timeZone` with the given seconds, to Unix seconds.
 * Throws invalid_param for another format, like Dify's `DatetimeString("%Y-%m-%d %H:%M")`.
 */
export function consoleTimeToUnix(name: string, value: string, timeZone: string, second: number): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(value);
  if (!m) throw invalidParam(`${name}: Invalid ${name}: ${value}`);
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], second);
  let utc = wall - zoneOffsetMs(wall, timeZone);
  utc = wall - zoneOffsetMs(utc, timeZone);
  return Math.floor(utc / 1000);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
