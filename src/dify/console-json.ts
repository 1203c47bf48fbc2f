import { Logger } from '@nestjs/common';
import { isValidTimeZone } from '../common/time-zone';
import type { ConsoleAuth } from './console-auth';
import type { DifyRequest } from './dify-http';
import { DifyBadResponseError } from './dify.errors';

type Row = Record<string, unknown>;

/** One console GET whose answer must be a JSON object. */
export async function consoleJson<T = Row>(
  auth: ConsoleAuth,
  path: string,
  query?: DifyRequest['query'],
  extra: Partial<DifyRequest> = {},
): Promise<T> {
  const res = await auth.request<T>({ path, query, ...extra });
  if (!res.data || typeof res.data !== 'object') {
    throw new DifyBadResponseError(`Dify answered ${path.split('?')[0]} with JSON that is not an object`, res.status);
  }
  return res.data;
}

/** The account's IANA timezone (in which the console reads `start`/`end`), asked once. */
export class AccountTimeZone {
  private readonly logger = new Logger(AccountTimeZone.name);
  private zone: Promise<string> | null = null;

  constructor(private readonly auth: ConsoleAuth) {}

  get(): Promise<string> {
    this.zone ??= consoleJson<Row>(this.auth, '/account/profile').then(
      (profile) => {
        if (isValidTimeZone(profile.timezone)) return profile.timezone;
        this.logger.warn('The console account has no valid timezone; assuming UTC');
        return 'UTC';
      },
      (error: unknown) => {
        this.zone = null;
        throw error;
      },
    );
    return this.zone;
  }
}
