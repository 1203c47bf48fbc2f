import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';

function reason(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** ValidationPipe repeats a message once per failed constraint of a composite rule. */
function unique(message: unknown): unknown {
  return Array.isArray(message) ? [...new Set(message)] : message;
}
import { ConflictError, DomainError } from '../domain-errors';
import {
  DifyAuthError,
  DifyBadRequestError,
  DifyBadResponseError,
  DifyError,
  DifyForbiddenError,
  DifyNotFoundError,
  DifyUnavailableError,
} from '../../dify/dify.errors';
import { ArchiveNotFoundError, ArchiveQueryError, CatalogRebuildingError } from '../../log-storage/log-storage.errors';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  field?: string;
  /** a 409 caused by a running job: its id */
  job_id?: string;
}

const DIFY_STATUS: [new (...a: never[]) => DifyError, number][] = [
  [DifyAuthError, HttpStatus.BAD_REQUEST],
  [DifyForbiddenError, HttpStatus.BAD_REQUEST],
  [DifyBadRequestError, HttpStatus.BAD_REQUEST],
  [DifyNotFoundError, HttpStatus.NOT_FOUND],
  [DifyUnavailableError, HttpStatus.BAD_GATEWAY],
  [DifyBadResponseError, HttpStatus.BAD_GATEWAY],
];

/** The HTTP status for a Dify failure: the one place that decides it, for the API and the admin page. */
export function difyErrorStatus(error: DifyError): number {
  return DIFY_STATUS.find(([type]) => error instanceof type)?.[1] ?? HttpStatus.BAD_GATEWAY;
}

/** Maps Dify's failures to clear 4xx/5xx answers naming what to fix. */
@Catch(DifyError)
export class DifyErrorFilter implements ExceptionFilter {
  catch(error: DifyError, host: ArgumentsHost): void {
    const status = difyErrorStatus(error);
    const body: ErrorBody = {
      statusCode: status,
      error: reason(status),
      message: error.message,
      ...(error.field ? { field: error.field } : {}),
    };
    host.switchToHttp().getResponse<Response>().status(status).json(body);
  }
}

/** Everything else: HttpExceptions pass through; unknown errors become a generic 500, logged once. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Unhandled');

  catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const response = error.getResponse();
      const body: ErrorBody =
        typeof response === 'object' && response !== null
          ? { statusCode: status, error: reason(status), message: error.message, ...(response as object) }
          : { statusCode: status, error: reason(status), message: String(response) };
      body.error = reason(status);
      body.message = unique(body.message) as ErrorBody['message'];
      res.status(status).json(body);
      return;
    }
    const bodyError = error as { type?: string; status?: number; expose?: boolean; message?: string };
    if (typeof bodyError?.status === 'number' && bodyError.status >= 400 && bodyError.status < 500 && bodyError.expose) {
      // body-parser's own errors (too large, malformed JSON)
      res.status(bodyError.status).json({
        statusCode: bodyError.status,
        error: reason(bodyError.status),
        message:
          bodyError.type === 'entity.too.large'
            ? 'request body is larger than the allowed limit'
            : bodyError.type === 'entity.parse.failed'
              ? 'request body is not valid JSON'
              : (bodyError.message ?? 'bad request'),
      });
      return;
    }
    this.logger.error(`Failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    res.status(500).json({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}

/** The archive's domain errors as 400 (naming the parameter), 404 and 503 (catalog being rebuilt). */
@Catch(ArchiveQueryError, ArchiveNotFoundError, CatalogRebuildingError)
export class ArchiveErrorFilter implements ExceptionFilter {
  catch(error: ArchiveQueryError | ArchiveNotFoundError | CatalogRebuildingError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof ArchiveQueryError) {
      res.status(400).json({ statusCode: 400, error: 'Bad Request', message: [error.message], field: error.field });
    } else if (error instanceof CatalogRebuildingError) {
      res.status(503).set('Retry-After', '30').json({ statusCode: 503, error: 'Service Unavailable', message: error.message });
    } else {
      res.status(404).json({ statusCode: 404, error: 'Not Found', message: error.message });
    }
  }
}


/** The services' domain errors (bad request, not found, conflict) with the field they name. */
@Catch(DomainError)
export class DomainErrorFilter implements ExceptionFilter {
  catch(error: DomainError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: ErrorBody = {
      statusCode: error.status,
      error: reason(error.status),
      message: error.detail,
      ...(error.field ? { field: error.field } : {}),
      ...(error instanceof ConflictError && error.jobId ? { job_id: error.jobId } : {}),
    };
    res.status(error.status).json(body);
  }
}
