export { Protekt } from './client.js';
export type { AuthClient } from './auth.js';
export type { UsersClient } from './users.js';
export type { SessionsClient } from './sessions.js';
export type { MfaClient } from './mfa.js';
export { ProtektError, ERROR_CODES } from './errors.js';
export type { ApiError, ProtektErrorCode, SdkErrorCode } from './errors.js';
export { DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS } from './config.js';
export { VERSION } from './version.js';
export { createPkcePair } from './pkce.js';
export type {
  AuthTokenResponse,
  BackupCodesResponse,
  ChangePasswordParams,
  ConfirmPasswordResetParams,
  ErrorResponse,
  ExchangeCodeParams,
  GetLoginUrlParams,
  ListSessionsResponse,
  ListUsersParams,
  ListUsersResponse,
  LoginParams,
  MfaEnrollParams,
  MfaEnrollResponse,
  MfaMethod,
  MfaUnenrollParams,
  MfaVerifyParams,
  MfaVerifyResponse,
  OtpChannel,
  PkcePair,
  ProtektOptions,
  ProtektSession,
  ProtektUser,
  RefreshTokenResponse,
  RequestPasswordResetParams,
  RevokeAllSessionsParams,
  RevokeAllSessionsResponse,
  SendMagicLinkParams,
  SendOtpParams,
  SignUpParams,
  TokenClaims,
  UpdateUserParams,
  UserResponse,
  VerifiedClient,
  VerifyOtpParams,
  VerifyTokenResponse,
} from './types.js';
