import type { CliFlag } from './cli-command';

/** The flags of the API's archive filters, each filling its DTO field. */
export const ORGANIZATION_FLAG: CliFlag = { type: 'string', value: 'ID', description: 'only this organization', field: 'organization_id' };

export const FILTER_FLAGS: Record<string, CliFlag> = {
  organization: ORGANIZATION_FLAG,
  app: { type: 'string', value: 'ID', description: 'only this app', field: 'app_id' },
  'from-source': { type: 'string', value: 'api|console', description: "Dify's from_source: api (WebApp, Service API) or console", field: 'from_source' },
  user: { type: 'string', value: 'USER', description: 'only this end user (the `user` string the app sent)', field: 'user' },
  rating: { type: 'string', value: 'like|dislike', description: 'only conversations with a message rated so', field: 'rating' },
};

export const DAY_RANGE_FLAGS: Record<string, CliFlag> = {
  'start-date': { type: 'string', value: 'YYYY-MM-DD', description: 'first day folder (inclusive)', field: 'start_date' },
  'end-date': { type: 'string', value: 'YYYY-MM-DD', description: 'last day folder (inclusive)', field: 'end_date' },
};

export const JSON_FLAG: CliFlag = { type: 'boolean', description: 'print the answer as the API returns it (JSON)' };

/** The DTO's optional fields left out, as the service expects. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
