/**
 * Errors from talking to Dify. Messages are written for people and never carry a secret.
 * `field` names the request/source field the user should fix, when there is one.
 * `retryable` says whether running again unchanged can succeed: false for mistakes in the configuration
 * (bad credentials, a wrong URL or scheme), true for faults on Dify's side or on the way to it.
 */
export class DifyError extends Error {
  readonly retryable: boolean;

  constructor(
    message: string,
    /** HTTP status Dify answered, if it answered */
    readonly difyStatus?: number,
    /** Dify's error code (`unauthorized`, `not_found`, ...) */
    readonly difyCode?: string,
    readonly field?: string,
    options: { retryable?: boolean } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.retryable = options.retryable ?? (this.constructor as typeof DifyError).retryableByDefault;
  }

  /** what a subclass means unless a thrower knows better */
  static readonly retryableByDefault: boolean = false;
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
export class DifyUnavailableError extends DifyError {
  static override readonly retryableByDefault: boolean = true;
}

/** Dify answered something that is not the JSON it documents. */
export class DifyBadResponseError extends DifyError {
  static override readonly retryableByDefault: boolean = true;
}

/** The URL does not lead to the Dify API it should (no console API there, or HTTP and HTTPS mixed up). */
export class DifyWrongUrlError extends DifyBadRequestError {}
