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
    const url = this.#config.baseUrl + options.path;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      'x-api-key': this.#config.apiKey,
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
          `Protekt did not answer ${method} ${options.path} within ${this.#config.timeout} ms (${this.#config.baseUrl})`,
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
        `Protekt answered ${method} ${options.path} with HTTP ${status}${detail}`,
        { status, apiError },
      );
    }
    if (status >= 400) {
      const apiError = readApiError(parsed, status);
      if (!apiError) {
        throw invalidResponse(
          `HTTP ${status} from ${method} ${options.path} without a Protekt error object`,
          status,
        );
      }
      return { data: null, error: apiError };
    }
    if (status >= 300) {
      throw invalidResponse(
        `HTTP ${status} redirect from ${method} ${options.path}${location ? ` to ${location}` : ''}; ` +
          'check baseUrl (redirects are not followed)',
        status,
      );
    }
    if (status < 200 || !isObject(parsed)) {
      throw invalidResponse(
        `HTTP ${status} from ${method} ${options.path} is not a JSON object`,
        status,
      );
    }
    return { data: parsed, error: null };
  }
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
  const user = readObject(data, 'user', context);
  readString(user, 'id', `${context} (user)`);
  readString(user, 'email', `${context} (user)`);
  return user as unknown as ProtektUser;
}
