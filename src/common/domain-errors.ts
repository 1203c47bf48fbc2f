/**
 * What a service throws when a request cannot be served: plain errors that name the field, mapped to
 * HTTP by DomainErrorFilter (the API) and describePageError (the admin page). Services never throw
 * HttpException.
 */
export abstract class DomainError extends Error {
  abstract readonly status: 400 | 404 | 409;

  constructor(
    /** a list when the API answers a list (validation style), else one sentence */
    readonly detail: string | string[],
    readonly field?: string,
  ) {
    super(Array.isArray(detail) ? detail.join('; ') : detail);
    this.name = new.target.name;
  }
}

/** 400: the request names something wrong; `field` says which part. */
export class InvalidRequestError extends DomainError {
  readonly status = 400;
}

/** 404 */
export class NotFoundError extends DomainError {
  readonly status = 404;
}

/** 409: the resource is busy (another backup holds the archive). */
export class ConflictError extends DomainError {
  readonly status = 409;
  /** the running job that holds what was asked for, answered as `job_id` */
  jobId?: string;
}
