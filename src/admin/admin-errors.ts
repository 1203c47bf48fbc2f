import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { difyErrorStatus } from '../common/filters/http-exception.filter';
import { DifyAuthError, DifyError, DifyForbiddenError, DifyNotFoundError, DifyUnavailableError } from '../dify/dify.errors';
import { ArchiveNotFoundError, ArchiveQueryError, CatalogRebuildingError } from '../log-storage/log-storage.errors';
import { CsrfRejected } from './admin-session';

export interface PageError {
  status: number;
  title: string;
  /** one or more sentences for a person; never a stack trace or a secret */
  messages: string[];
  /** unexpected: worth one log line */
  unexpected?: boolean;
}

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capital = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function httpMessages(error: HttpException): string[] {
  const response = error.getResponse();
  const raw = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
  const list = Array.isArray(raw) ? raw : [raw ?? error.message];
  return list.map((m) => sentence(String(m)));
}

/** Turns any error an admin page meets into a status and a message a person can act on. */
export function describePageError(error: unknown): PageError {
  if (error instanceof CsrfRejected) {
    return { status: HttpStatus.FORBIDDEN, title: 'Form expired', messages: [error.message] };
  }
  if (error instanceof ArchiveQueryError) {
    return { status: HttpStatus.BAD_REQUEST, title: 'Please check the form', messages: [sentence(error.message)] };
  }
  if (error instanceof CatalogRebuildingError) {
    return { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'The catalog is being rebuilt', messages: [sentence(error.message)] };
  }
  if (error instanceof ArchiveNotFoundError) {
    return { status: HttpStatus.NOT_FOUND, title: 'Not in the archive', messages: [sentence(error.message)] };
  }
  if (error instanceof DifyError) {
    const status = difyErrorStatus(error);
    const detail = sentence(error.message);
    if (error instanceof DifyUnavailableError) {
      return {
        status,
        title: 'Dify is unreachable',
        messages: [detail, 'Check that Dify is running and that the source URL is right, then try again.'],
      };
    }
    if (error instanceof DifyAuthError || error instanceof DifyForbiddenError) {
      return {
        status,
        title: 'Dify refused the credentials',
        messages: [detail, 'Check the API key, admin key or login of this source in the configuration.'],
      };
    }
    if (error instanceof DifyNotFoundError) {
      return { status, title: 'Not found in Dify', messages: [detail, 'Check the app id of this source.'] };
    }
    return { status, title: 'Dify gave an unexpected answer', messages: [detail] };
  }
  if (error instanceof DomainError) {
    const list = Array.isArray(error.detail) ? error.detail : [error.detail];
    return { status: error.status, title: titleFor(error.status), messages: list.map(sentence) };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return { status, title: titleFor(status), messages: status >= 500 ? ['The service could not complete this request. Try again in a moment.'] : httpMessages(error) };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    title: 'Something went wrong',
    messages: ['The service could not complete this request. The error has been logged; try again in a moment.'],
    unexpected: true,
  };
}

function titleFor(status: number): string {
  return (
      status === HttpStatus.NOT_FOUND
        ? 'Not found'
        : status === HttpStatus.CONFLICT
          ? 'Already running'
          : status === HttpStatus.TOO_MANY_REQUESTS
            ? 'Too many attempts'
            : status >= 500
              ? 'Something went wrong'
              : 'Please check the form'
  );
}
