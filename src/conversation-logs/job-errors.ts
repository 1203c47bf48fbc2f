import { accessModeOf } from '../dify/access-mode';
import {
  DifyAuthError,
  DifyBadRequestError,
  DifyBadResponseError,
  DifyError,
  DifyForbiddenError,
  DifyNotFoundError,
  DifyUnavailableError,
} from '../dify/dify.errors';
import type { DifySource } from '../dify/dify.types';

const KINDS: Record<string, new (message: string, status?: number, code?: string, field?: string) => DifyError> = {
  DifyAuthError,
  DifyForbiddenError,
  DifyNotFoundError,
  DifyBadRequestError,
  DifyUnavailableError,
  DifyBadResponseError,
};

/** The source field a user fixes for each kind of failure. */
function fieldFor(kind: string, source: DifySource): string | undefined {
  const mode = accessModeOf(source);
  const url = mode === 'service' ? 'dify_api_url' : 'console_api_url';
  switch (kind) {
    case 'DifyAuthError':
    case 'DifyForbiddenError':
      return mode === 'service' ? 'api_key' : mode === 'console-admin' ? 'admin_api_key' : 'password';
    case 'DifyNotFoundError':
      return 'app_id';
    case 'DifyUnavailableError':
    case 'DifyBadResponseError':
      return url;
    default:
      return undefined;
  }
}

/**
 * A job records why a source failed as text (it outlives the process); a synchronous request
 * answers with the matching HTTP error, so the Dify error is rebuilt from the record.
 */
export function difyErrorFromJob(kind: string | null, message: string, source: DifySource): Error {
  const Type = kind ? KINDS[kind] : undefined;
  if (!Type) return new Error(message);
  return new Type(message, undefined, undefined, fieldFor(kind!, source));
}
