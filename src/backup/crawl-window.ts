import { rangeEndMs, rangeStartMs } from '../common/date-range';
import { InvalidRequestError } from '../common/domain-errors';
import type { CrawlWindow } from '../dify/dify.types';

export interface WindowFilters {
  start_date?: string;
  end_date?: string;
  from_source?: 'api' | 'console';
}

export class WindowError extends InvalidRequestError {
  constructor(field: string, message: string) {
    super([message], field);
  }
}

/**
 * Parses ISO filters into a crawl window; a plain date is a whole day in `timeZone` (the archive's day
 * folders), so a plain `end_date` includes that day; an end in the future means now.
 */
export function windowFromFilters(filters: WindowFilters = {}, now = new Date(), timeZone = 'UTC'): CrawlWindow {
  const parse = (field: 'start_date' | 'end_date'): Date | undefined => {
    const value = filters[field];
    if (value === undefined) return undefined;
    const ms = field === 'start_date' ? rangeStartMs(value, timeZone) : rangeEndMs(value, timeZone);
    if (Number.isNaN(ms)) throw new WindowError(`filters.${field}`, `filters.${field} must be an ISO 8601 date or date-time`);
    return new Date(ms);
  };
  const start = parse('start_date');
  let end = parse('end_date');
  if (end && end.getTime() > now.getTime()) end = now;
  if (start && start.getTime() > now.getTime()) {
    throw new WindowError('filters.start_date', 'filters.start_date must not be in the future');
  }
  if (start && end && end.getTime() < start.getTime()) {
    throw new WindowError('filters.end_date', 'filters.end_date must not be before filters.start_date');
  }
  return {
    ...(start ? { start } : {}),
    ...(end ? { end } : {}),
    ...(filters.from_source ? { from_source: filters.from_source } : {}),
  };
}
