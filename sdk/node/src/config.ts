import { ProtektError } from './errors.js';
import type { ProtektOptions } from './types.js';

/** The default server address when neither `baseUrl` nor `PROTEKT_URL` is set. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';
/** The default request timeout, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** Options of `new Protekt()` after validation and defaults. @internal */
export interface ResolvedConfig {
  readonly loginId: string;
  readonly apiKey: string;
  /** The base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly tokenExpiry: number | undefined;
  readonly timeout: number;
}

function invalid(message: string): ProtektError {
  return new ProtektError('invalid_config', message);
}

/** Visible ASCII only: what an HTTP header value can carry unescaped (the Login ID and the API
 * key are sent as headers). */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** @internal */
export function resolveConfig(options: ProtektOptions | undefined): ResolvedConfig {
  if (options === null || typeof options !== 'object') {
    throw invalid('new Protekt() needs an options object: { loginId, apiKey }');
  }
  const { loginId, apiKey, tokenExpiry, timeout } = options;
  if (typeof loginId !== 'string' || loginId.trim() === '') {
    throw invalid('loginId is required (your project\'s Login ID, e.g. from PROTEKT_LOGIN_ID)');
  }
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw invalid('apiKey is required (your project\'s API key, e.g. from PROTEKT_API_KEY)');
  }
  if (!HEADER_SAFE.test(loginId.trim())) {
    throw invalid('loginId contains characters a Login ID cannot have (spaces or non-ASCII)');
  }
  if (!HEADER_SAFE.test(apiKey)) {
    throw invalid('apiKey contains characters an API key cannot have (spaces or non-ASCII)');
  }
  if (tokenExpiry !== undefined && (!Number.isSafeInteger(tokenExpiry) || tokenExpiry <= 0)) {
    throw invalid('tokenExpiry must be a whole number of seconds greater than 0');
  }
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
    throw invalid('timeout must be a number of milliseconds greater than 0');
  }
  return {
    loginId: loginId.trim(),
    apiKey,
    baseUrl: resolveBaseUrl(options.baseUrl),
    tokenExpiry,
    timeout: timeout ?? DEFAULT_TIMEOUT_MS,
  };
}

function resolveBaseUrl(option: string | undefined): string {
  const fromEnv = typeof process !== 'undefined' ? process.env['PROTEKT_URL'] : undefined;
  const raw = option ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_BASE_URL);
  const source = option !== undefined ? 'baseUrl' : fromEnv ? 'PROTEKT_URL' : 'the default URL';
  if (typeof raw !== 'string') {
    throw invalid('baseUrl must be a string such as "https://auth.example.com"');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${source} is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${source} must be an http:// or https:// URL, not ${JSON.stringify(raw)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(`${source} must not contain a user name or password`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw invalid(`${source} must not contain a query string or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}
