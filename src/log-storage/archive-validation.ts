import { isSafeName, SAFE_NAME_RULE } from '../common/safe-name';
import { isValidDay } from './archive-paths';
import { ftsQuery } from './catalog-query';
import { ArchiveQueryError } from './log-storage.errors';
import type { ArchiveFilter, ExportFormat } from './log-storage.types';

/** Checks of the programmatic API's arguments (the HTTP DTOs check the same before they get here). */

export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'ndjson', 'csv'];

export function checkName(field: string, value: unknown): void {
  if (value !== undefined && !isSafeName(value)) throw new ArchiveQueryError(field, `${field} ${SAFE_NAME_RULE}`);
}

export function checkDay(field: string, value: unknown): void {
  if (value !== undefined && !isValidDay(value)) {
    throw new ArchiveQueryError(field, `${field} must be a date in the form YYYY-MM-DD`);
  }
}

export function checkRange(start?: string, end?: string): void {
  checkDay('start_date', start);
  checkDay('end_date', end);
  if (start && end && end < start) throw new ArchiveQueryError('end_date', 'end_date must not be before start_date');
}

export function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ArchiveQueryError(field, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function checkFilter(filter: ArchiveFilter): void {
  checkRange(filter.start_date, filter.end_date);
  checkName('organization_id', filter.organization_id);
  checkName('app_id', filter.app_id);
  if (filter.from_source !== undefined && filter.from_source !== 'api' && filter.from_source !== 'console') {
    throw new ArchiveQueryError('from_source', 'from_source must be one of: api, console');
  }
  if (filter.rating !== undefined && filter.rating !== 'like' && filter.rating !== 'dislike') {
    throw new ArchiveQueryError('rating', 'rating must be one of: like, dislike');
  }
  if (filter.user !== undefined && (typeof filter.user !== 'string' || !filter.user || filter.user.length > 256)) {
    throw new ArchiveQueryError('user', 'user must be 1 to 256 characters');
  }
  if (filter.keyword !== undefined && (typeof filter.keyword !== 'string' || !ftsQuery(filter.keyword) || filter.keyword.length > 500)) {
    throw new ArchiveQueryError('keyword', 'keyword must contain a letter or digit (at most 500 characters)');
  }
}

export function checkFormat(format: unknown): ExportFormat {
  if (!EXPORT_FORMATS.includes(format as ExportFormat)) {
    throw new ArchiveQueryError('format', `format must be one of: ${EXPORT_FORMATS.join(', ')}`);
  }
  return format as ExportFormat;
}
