/**
 * Every error code the Protekt server can return, in the server's order.
 *
 * This list mirrors the `ErrorCode` enum of the server (`components.schemas.ErrorCode` in
 * `/openapi.json`); a test keeps the two identical.
 */
export const ERROR_CODES = Object.freeze([
  'invalid_api_key',
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
  'not_found',
  'method_not_allowed',
  'invalid_credentials',
  'email_taken',
  'weak_password',
  'value_not_allowed',
  'conflict',
  'user_disabled',
  'email_not_verified',
  'invalid_token',
  'token_expired',
  'forbidden',
  'mfa_required',
  'mfa_step_up_required',
  'mfa_locked',
  'invalid_code',
  'rate_limited',
  'server_busy',
  'internal_error',
] as const);

/** An error code the Protekt server can return (see {@link ERROR_CODES}). */
export type ProtektErrorCode = (typeof ERROR_CODES)[number];

/**
 * The `error` field of a method's result: an error answer of the Protekt API.
 *
 * API errors are returned, never thrown. Besides `code`, `message` and `status`, every other
 * field of the server's error object is copied here as is (for example `field` or
 * `retryAfter`).
 */
export interface ApiError {
  /**
   * The machine-readable error code. Typed as {@link ProtektErrorCode}, widened to `string` so
   * that code written for codes of a newer server still compiles and an SDK older than its
   * server passes unknown codes through unchanged.
   */
  code: ProtektErrorCode | (string & {});
  /** A human-readable explanation. It may change between versions; match on `code` instead. */
  message: string;
  /** The HTTP status of the answer (400 to 499). */
  status: number;
  /** For `invalid_request`, `weak_password` and `value_not_allowed`: the request field at fault. */
  field?: string;
  /** For `rate_limited`: seconds to wait before retrying. */
  retryAfter?: number;
  /** For `mfa_required`: the token to pass to `mfa.verify()` with the user's code. */
  mfaToken?: string;
  /** Any other field the server sent with the error. */
  [key: string]: unknown;
}

/** Why a {@link ProtektError} was thrown. */
export type SdkErrorCode =
  /** The options given to `new Protekt()` are missing or malformed. */
  | 'invalid_config'
  /** The server could not be reached (connection refused, DNS failure, connection reset…). */
  | 'network_error'
  /** No complete answer arrived within the configured `timeout`. */
  | 'timeout'
  /** The server answered with a 5xx status. */
  | 'server_error'
  /** The answer was not what the Protekt API sends (not JSON, missing fields, a redirect…). */
  | 'invalid_response';

export interface ProtektErrorOptions {
  status?: number | undefined;
  apiError?: ApiError | undefined;
  cause?: unknown;
}

/**
 * Thrown for failures that are not answers of the Protekt API: bad configuration, network
 * failures, timeouts, 5xx answers and answers that cannot be understood. Errors the API reports
 * (wrong password, invalid token…) are never thrown: they are returned in the `error` field.
 */
export class ProtektError extends Error {
  /** Why the error was thrown. */
  readonly code: SdkErrorCode;
  /** The HTTP status, when an answer was received (`server_error`, `invalid_response`). */
  readonly status: number | undefined;
  /**
   * For `server_error`: the server's error object when the 5xx answer carried one (for
   * example `{ code: 'server_busy', retryAfter: 1, … }`).
   */
  readonly apiError: ApiError | undefined;

  constructor(code: SdkErrorCode, message: string, options: ProtektErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtektError';
    this.code = code;
    this.status = options.status;
    this.apiError = options.apiError;
  }
}
