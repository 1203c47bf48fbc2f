/**
 * Errors from talking to Dify. Messages are written for people and never carry a secret.
 * `field` names the request/source field the user should fix, when there is one.
 */
export class DifyError extends Error {
  constructor(
    message: string,
    /** HTTP status Dify answered, if it answered */
    readonly difyStatus?: number,
    /** Dify's error code (`unauthorized`, `not_found`, ...) */
    readonly difyCode?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Dify refused the credentials (401), or the login failed. Never retried. */
export class DifyAuthError extends DifyError {}

/** Dify answered 403: app gone, API disabled, role too low. */
export class DifyForbiddenError extends DifyError {}

/** Dify answered 404 for the app or a conversation. */
export class DifyNotFoundError extends DifyError {}

/** Dify rejected a parameter (400). */
export class DifyBadRequestError extends DifyError {}

/** Dify could not be reached, timed out, or kept failing (429/5xx/network) after every retry. */
export class DifyUnavailableError extends DifyError {}

/** Dify answered something that is not the JSON it documents. */
export class DifyBadResponseError extends DifyError {}
