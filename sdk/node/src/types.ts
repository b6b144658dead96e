import type { ApiError } from './errors.js';

/** Options of `new Protekt()`. */
export interface ProtektOptions {
  /** Your project's Login ID (`lp_…`). Required. */
  loginId: string | undefined;
  /** Your project's API key (`pk_live_…`), sent as `X-Api-Key`. Required. */
  apiKey: string | undefined;
  /**
   * Where the Protekt server is. Default: the `PROTEKT_URL` environment variable, else
   * `http://127.0.0.1:8787`. A path prefix is kept (`https://example.com/protekt`).
   */
  baseUrl?: string | undefined;
  /**
   * Ask for access tokens that expire after this many seconds (sent with sign-up, login and
   * refresh). The server never issues a lifetime longer than the project's setting.
   */
  tokenExpiry?: number | undefined;
  /** Request timeout in milliseconds. Default: 5000. */
  timeout?: number | undefined;
}

/** A user as the API returns it. Times are RFC 3339 strings (UTC). */
export interface ProtektUser {
  /** `usr_…` */
  id: string;
  email: string;
  emailVerified: boolean;
  /** Free-form data owned by your application. */
  metadata: Record<string, unknown>;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

/** The claims of a verified access token. */
export interface TokenClaims {
  /** Issuer: the project's URL on the Protekt server. */
  iss: string;
  /** The user's id. */
  sub: string;
  /** Audience: the project's Login ID. */
  aud: string;
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** Issue time, in seconds since the epoch. */
  iat: number;
  /** The token's id. */
  jti: string;
  /** The session's id. */
  sid: string;
  /** Authentication methods, e.g. `['pwd']`. */
  amr: string[];
  /** Authenticator assurance level, e.g. `'aal1'`. */
  aal: string;
  email: string;
  email_verified: boolean;
}

/*
 * Result types. Every method resolves to an object with an `error` field: `null` on success,
 * an {@link ApiError} when the API refused the call. When `error` is set, every other field is
 * `null` at run time. The data fields are typed without `| null` so that code which has already
 * checked `error` (or, like the guide's samples, reads a field directly) needs no assertion.
 */

/** The result of `auth.signUp()` and `auth.login()`. */
export interface AuthTokenResponse {
  /** The signed-in user (`null` when `error` is set). */
  user: ProtektUser;
  /** A JWT to send as `Authorization: Bearer` (`null` when `error` is set). */
  accessToken: string;
  /** An opaque token for `auth.refreshToken()`; it rotates on every use (`null` when `error` is set). */
  refreshToken: string;
  error: ApiError | null;
}

/** The result of `auth.verifyToken()`. */
export interface VerifyTokenResponse {
  /** The token's user (`null` when `error` is set). */
  user: ProtektUser;
  /** The token's decoded claims (`null` when `error` is set). */
  claims: TokenClaims;
  error: ApiError | null;
}

/** The result of `auth.refreshToken()`. */
export interface RefreshTokenResponse {
  /** A new access token (`null` when `error` is set). */
  accessToken: string;
  /** The next refresh token; the one you sent is used up (`null` when `error` is set). */
  refreshToken: string;
  error: ApiError | null;
}

/** The result of methods that return nothing but success or an error. */
export interface ErrorResponse {
  error: ApiError | null;
}

/** Parameters of `auth.signUp()`. */
export interface SignUpParams {
  email: string;
  password: string;
  /** Any JSON object (at most 16 KiB), stored with the user. */
  metadata?: Record<string, unknown>;
  /**
   * Email the user a link to verify their address (to the hosted verification page of the
   * Protekt server).
   */
  sendVerification?: boolean;
}

/** Parameters of `auth.login()`. */
export interface LoginParams {
  email: string;
  password: string;
}

/** Parameters of `auth.requestPasswordReset()`. */
export interface RequestPasswordResetParams {
  email: string;
  /**
   * Where the hosted reset page sends the browser afterwards. It must be one of the project's
   * allowed redirect URLs (exact match), otherwise the call fails with `invalid_request`.
   */
  redirectUrl?: string;
}

/** Parameters of `auth.confirmPasswordReset()`. */
export interface ConfirmPasswordResetParams {
  /** The token from the reset email's link. It works once. */
  resetToken: string;
  newPassword: string;
}

/** Parameters of `auth.changePassword()`. */
export interface ChangePasswordParams {
  currentPassword: string;
  newPassword: string;
}

/** Parameters of `users.list()`. */
export interface ListUsersParams {
  /** Users per page, 1 to 100. Default: 20. */
  limit?: number;
  /** The `nextCursor` of the previous page. A cursor works only with the `search` it came from. */
  cursor?: string;
  /**
   * An email prefix (case-insensitive), or, when it starts with `usr_`, an id prefix. Without
   * it, every user is listed, oldest first.
   */
  search?: string;
}

/** Parameters of `users.update()`. Fields left out are not changed. */
export interface UpdateUserParams {
  /** A new email address. It must be unused (`email_taken`), and it becomes unverified. */
  email?: string;
  /** Merged into the stored metadata at top level; a key set to `null` is removed. */
  metadata?: Record<string, unknown>;
  /** `true` disables the user and ends every session of theirs at once. */
  disabled?: boolean;
}

/** Parameters of `sessions.revokeAll()`. */
export interface RevokeAllSessionsParams {
  /** Keep the session of the access token that asks. Default: `false`. */
  keepCurrent?: boolean;
}

/** A session as the API returns it. Times are RFC 3339 strings (UTC). */
export interface ProtektSession {
  /** `ses_…` */
  id: string;
  createdAt: string;
  lastActiveAt: string;
  expiresAt: string;
  /**
   * The IP address the session was started from, as the server saw it. Through the SDK that is
   * your application server's address, not the end user's.
   */
  ip: string | null;
  /** The User-Agent the session was started with (through the SDK, the SDK's own). */
  userAgent: string | null;
  /** `true` for the session of the access token that asked. */
  current: boolean;
}

/** The result of `users.get()` and `users.update()`. */
export interface UserResponse {
  /** The user (`null` when `error` is set). */
  user: ProtektUser;
  error: ApiError | null;
}

/** The result of `users.list()`. */
export interface ListUsersResponse {
  /** One page of users (`null` when `error` is set). */
  users: ProtektUser[];
  /** Pass it as `cursor` to get the next page; `null` on the last page. */
  nextCursor: string | null;
  /** Whether there are more users after this page (`null` when `error` is set). */
  hasMore: boolean;
  error: ApiError | null;
}

/** The result of `sessions.list()`. */
export interface ListSessionsResponse {
  /** The user's live sessions, newest first (`null` when `error` is set). */
  sessions: ProtektSession[];
  error: ApiError | null;
}

/** The result of `sessions.revokeAll()`. */
export interface RevokeAllSessionsResponse {
  /** How many sessions were ended (`null` when `error` is set). */
  revokedCount: number;
  error: ApiError | null;
}
