import type { ResolvedConfig } from './config.js';
import { ProtektError, type ApiError } from './errors.js';
import type { ProtektUser } from './types.js';
import { VERSION } from './version.js';

/** A JSON object as the API sends it. @internal */
export type JsonObject = Record<string, unknown>;

/** One call of the Protekt API. @internal */
export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** The path below the base URL, starting with `/`. */
  path: string;
  /** The JSON body. Fields whose value is `undefined` are not sent. */
  body?: JsonObject;
  /**
   * An id (a user's, a session's) appended to `path` as one URL-encoded path segment, so that
   * no id can change the route. An id that cannot be sent this way is answered locally: a
   * missing or empty one with `invalid_request` (naming `field`), `.` and `..` with
   * `not_found` (no object can have them as its id).
   */
  id?: { value: unknown; field: string };
  /** Query parameters; `undefined` and `null` values are left out. */
  query?: Record<string, string | number | boolean | undefined | null>;
  /** The user's access token, sent as `Authorization: Bearer`. */
  accessToken?: unknown;
}

/** The outcome of a call: the answer's JSON object, or the API's error. @internal */
export type RequestResult =
  | { data: JsonObject; error: null }
  | { data: null; error: ApiError };

const USER_AGENT = `protekt-node/${VERSION} node/${typeof process !== 'undefined' ? process.version : 'unknown'}`;

/** A bearer token that can travel in a header; anything else is left out (the API then
 * answers `invalid_token`, as for a missing token). */
const BEARER_SAFE = /^[\x21-\x7e]+$/;

/**
 * Sends requests to the Protekt API and sorts the outcomes: a JSON object (2xx), an
 * {@link ApiError} (4xx) or a thrown {@link ProtektError} (anything else). Every namespace of
 * the client goes through {@link Transport.request}. @internal
 */
export class Transport {
  readonly #config: ResolvedConfig;

  constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  async request(options: RequestOptions): Promise<RequestResult> {
    const method = options.method ?? 'POST';
    let path = options.path;
    if (options.id !== undefined) {
      const segment = pathSegment(options.id.value, options.id.field);
      if (typeof segment !== 'string') return { data: null, error: segment };
      path += `/${segment}`;
    }
    const query = queryString(options.query);
    const url = this.#config.baseUrl + path + query;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      'x-api-key': this.#config.apiKey,
      // The server refuses (invalid_api_key) an API key that is not this Login ID's project.
      'x-login-id': this.#config.loginId,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    if (typeof options.accessToken === 'string' && BEARER_SAFE.test(options.accessToken)) {
      headers['authorization'] = `Bearer ${options.accessToken}`;
    }

    const signal = AbortSignal.timeout(this.#config.timeout);
    let status: number;
    let text: string;
    let location: string | null;
    try {
      // `redirect: 'manual'`: a redirect would carry the API key to wherever it points.
      const response = await fetch(url, { method, headers, body, signal, redirect: 'manual' });
      status = response.status;
      location = response.headers.get('location');
      text = await response.text();
    } catch (err) {
      if (signal.aborted) {
        throw new ProtektError(
          'timeout',
          `Protekt did not answer ${method} ${path} within ${this.#config.timeout} ms (${this.#config.baseUrl})`,
          { cause: err },
        );
      }
      throw new ProtektError(
        'network_error',
        `cannot reach Protekt at ${this.#config.baseUrl}: ${describeNetworkError(err)}`,
        { cause: err },
      );
    }

    const parsed = parseJson(text);

    if (status >= 500) {
      const apiError = readApiError(parsed, status);
      const detail = apiError ? `: ${apiError.code}: ${apiError.message}` : '';
      throw new ProtektError(
        'server_error',
        `Protekt answered ${method} ${path} with HTTP ${status}${detail}`,
        { status, apiError },
      );
    }
    if (status >= 400) {
      const apiError = readApiError(parsed, status);
      if (!apiError) {
        throw invalidResponse(
          `HTTP ${status} from ${method} ${path} without a Protekt error object`,
          status,
        );
      }
      return { data: null, error: apiError };
    }
    if (status >= 300) {
      throw invalidResponse(
        `HTTP ${status} redirect from ${method} ${path}${location ? ` to ${location}` : ''}; ` +
          'check baseUrl (redirects are not followed)',
        status,
      );
    }
    if (status < 200 || !isObject(parsed)) {
      throw invalidResponse(
        `HTTP ${status} from ${method} ${path} is not a JSON object`,
        status,
      );
    }
    return { data: parsed, error: null };
  }
}

/**
 * `value` as one URL path segment, or the error to answer locally when it cannot be one.
 * `encodeURIComponent` escapes `/`, `?`, `#` and `%`; the dot segments `.` and `..` stay as they
 * are (URL parsers resolve them, even percent-encoded), so they are never sent.
 */
function pathSegment(value: unknown, field: string): string | ApiError {
  if (typeof value !== 'string' || value === '') {
    return {
      code: 'invalid_request',
      message: `${field} must be a non-empty string (the request was not sent)`,
      status: 400,
      field,
    };
  }
  if (value === '.' || value === '..') {
    return {
      code: 'not_found',
      message: `no object has the ${field} ${JSON.stringify(value)} (the request was not sent)`,
      status: 404,
    };
  }
  return encodeURIComponent(value);
}

function queryString(query: RequestOptions['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * A result whose data fields are all `null` because the API answered with an error. The result
 * types declare their data fields non-null (see `types.ts`), hence the cast. @internal
 */
export function failed<T extends { error: ApiError | null }>(
  fields: readonly Exclude<keyof T, 'error'>[],
  error: ApiError,
): T {
  const result: Record<string, unknown> = {};
  for (const field of fields) result[field as string] = null;
  result['error'] = error;
  return result as T;
}

const NOT_JSON = Symbol('not JSON');

function parseJson(text: string): unknown {
  if (text === '') return NOT_JSON;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** @internal */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The API's `{"error": {"code", "message", …}}`, with the HTTP status added. */
function readApiError(parsed: unknown, status: number): ApiError | undefined {
  if (!isObject(parsed) || !isObject(parsed['error'])) return undefined;
  const detail = parsed['error'];
  if (typeof detail['code'] !== 'string' || typeof detail['message'] !== 'string') {
    return undefined;
  }
  return { ...detail, code: detail['code'], message: detail['message'], status };
}

function invalidResponse(message: string, status?: number): ProtektError {
  return new ProtektError('invalid_response', `unexpected answer from Protekt: ${message}`, {
    status,
  });
}

function describeNetworkError(err: unknown): string {
  // undici reports "fetch failed" and puts the system error (ECONNREFUSED…) in `cause`.
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${code}: ${cause.message}`
      : cause.message;
  }
  return String(cause);
}

/** Reads a string field of a success answer, or throws `invalid_response`. @internal */
export function readString(data: JsonObject, key: string, context: string): string {
  const value = data[key];
  if (typeof value !== 'string') {
    throw invalidResponse(`${context}: "${key}" is missing or not a string`);
  }
  return value;
}

/** Reads an object field of a success answer, or throws `invalid_response`. @internal */
export function readObject(data: JsonObject, key: string, context: string): JsonObject {
  const value = data[key];
  if (!isObject(value)) {
    throw invalidResponse(`${context}: "${key}" is missing or not an object`);
  }
  return value;
}

/** Reads the `user` field of a success answer, or throws `invalid_response`. @internal */
export function readUser(data: JsonObject, context: string): ProtektUser {
  return checkUser(readObject(data, 'user', context), `${context} (user)`);
}

function checkUser(user: JsonObject, context: string): ProtektUser {
  readString(user, 'id', context);
  // A phone-only user has `email: null`; a missing or non-string email is still malformed.
  if (user['email'] !== null) readString(user, 'email', context);
  return user as unknown as ProtektUser;
}

/** Reads an array field of a success answer, or throws `invalid_response`. @internal */
export function readArray(data: JsonObject, key: string, context: string): unknown[] {
  const value = data[key];
  if (!Array.isArray(value)) {
    throw invalidResponse(`${context}: "${key}" is missing or not an array`);
  }
  return value;
}

/** Reads the `users` array of a success answer, or throws `invalid_response`. @internal */
export function readUsers(data: JsonObject, context: string): ProtektUser[] {
  return readArray(data, 'users', context).map((user, i) => {
    if (!isObject(user)) throw invalidResponse(`${context}: users[${i}] is not an object`);
    return checkUser(user, `${context} (users[${i}])`);
  });
}

/** Reads a boolean field of a success answer, or throws `invalid_response`. @internal */
export function readBoolean(data: JsonObject, key: string, context: string): boolean {
  const value = data[key];
  if (typeof value !== 'boolean') {
    throw invalidResponse(`${context}: "${key}" is missing or not a boolean`);
  }
  return value;
}

/** Reads a number field of a success answer, or throws `invalid_response`. @internal */
export function readNumber(data: JsonObject, key: string, context: string): number {
  const value = data[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidResponse(`${context}: "${key}" is missing or not a number`);
  }
  return value;
}

/** Reads a field that is a string or null (absent counts as null), or throws. @internal */
export function readNullableString(data: JsonObject, key: string, context: string): string | null {
  const value = data[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    throw invalidResponse(`${context}: "${key}" is not a string or null`);
  }
  return value;
}

/** An `invalid_response` error about a success answer. @internal */
export function malformed(message: string): ProtektError {
  return invalidResponse(message);
}
