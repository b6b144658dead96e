export { Protekt } from './client.js';
export type { AuthClient } from './auth.js';
export { ProtektError, ERROR_CODES } from './errors.js';
export type { ApiError, ProtektErrorCode, SdkErrorCode } from './errors.js';
export { DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS } from './config.js';
export { VERSION } from './version.js';
export type {
  AuthTokenResponse,
  ErrorResponse,
  LoginParams,
  ProtektOptions,
  ProtektUser,
  RefreshTokenResponse,
  SignUpParams,
  TokenClaims,
  VerifyTokenResponse,
} from './types.js';
