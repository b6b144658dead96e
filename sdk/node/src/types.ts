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
   * Ask for access tokens that expire after this many seconds (sent with sign-up, login,
   * refresh, `verifyMagicLink`, `verifyOtp`, `exchangeCode` and `mfa.verify`). The server never
   * issues a lifetime longer than the project's setting.
   */
  tokenExpiry?: number | undefined;
  /** Request timeout in milliseconds. Default: 5000. */
  timeout?: number | undefined;
}

/** A user as the API returns it. Times are RFC 3339 strings (UTC). */
export interface ProtektUser {
  /** `usr_…` */
  id: string;
  /** The email address; `null` only for a phone-only user (signed up by `verifyOtp` with a phone). */
  email: string | null;
  emailVerified: boolean;
  /** The user's phone number in E.164 form (`+14155550123`), or `null` when they have none. */
  phone: string | null;
  /** Whether the user proved the phone number (by a code sent to it). */
  phoneVerified: boolean;
  /** Free-form data owned by your application. */
  metadata: Record<string, unknown>;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
  /** The user's confirmed second factors, e.g. `['totp']` (empty without MFA). */
  mfaMethods: string[];
}

/** The claims of a verified access token. */
export interface TokenClaims {
  /** Issuer: the project's URL on the Protekt server. */
  iss: string;
  /** The user's id (for a client-credentials token: the client's id). */
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
  /**
   * Authentication methods: `['pwd']` after a password alone; after MFA, `['pwd', 'otp']`,
   * `['pwd', 'sms']` or `['pwd', 'backup_code']`. Passwordless sign-ins: `['email_link']`
   * (`verifyMagicLink`), `['email_otp']`, `['sms_otp']` or `['whatsapp_otp']` (`verifyOtp`).
   */
  amr: string[];
  /** Authenticator assurance level: `'aal1'`, or `'aal2'` for a session that passed MFA. */
  aal: string;
  /** The user's email address; absent for a phone-only user. */
  email?: string;
  email_verified: boolean;
  /** The user's phone number (E.164), when they have one. */
  phone_number?: string;
  /** Whether the phone number is verified; present with `phone_number`. */
  phone_number_verified?: boolean;
  /** The OAuth client the token was issued to (Protekt as an OpenID Connect provider). */
  client_id?: string;
  /** The scope granted to that client (space separated). */
  scope?: string;
}

/** The client of a client-credentials (machine-to-machine) token. */
export interface VerifiedClient {
  clientId: string;
  name: string;
}

/*
 * Result types. Every method resolves to an object with an `error` field: `null` on success,
 * an {@link ApiError} when the API refused the call. When `error` is set, every other field is
 * `null` at run time. The data fields are typed without `| null` so that code which has already
 * checked `error` (or, like the guide's samples, reads a field directly) needs no assertion.
 */

/**
 * The result of `auth.signUp()`, `auth.login()`, `auth.verifyMagicLink()`, `auth.verifyOtp()`
 * and `auth.exchangeCode()`.
 */
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
  /**
   * The token's user (`null` when `error` is set, and for a client-credentials token, which
   * has no user: see `client`).
   */
  user: ProtektUser;
  /** The client of a client-credentials (M2M) token; `null` for a user's token. */
  client: VerifiedClient | null;
  /**
   * The token's decoded claims (`null` when `error` is set). A client-credentials token has no
   * `sid`, `amr`, `aal` nor user claims.
   */
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
   * allowed redirect URLs (exact match), otherwise the call fails with `value_not_allowed`
   * (`invalid_request` if it is not an absolute http(s) URL at all).
   */
  redirectUrl?: string;
}

/** Parameters of `auth.sendMagicLink()`. */
export interface SendMagicLinkParams {
  email: string;
  /**
   * Where the hosted magic-link page sends the browser, with `?token=…` added for
   * `auth.verifyMagicLink()`. It must be one of the project's allowed redirect URLs (exact
   * match), otherwise the call fails with `value_not_allowed` (`invalid_request` if it is not
   * an absolute http(s) URL at all). Default: the project's first
   * allowed redirect URL (a project without any refuses the call, `value_not_allowed`).
   */
  redirectUrl?: string;
}

/**
 * How a one-time passcode travels: by email, by text message, or by WhatsApp message. The SDK
 * reference lists `'email'` and `'sms'`; `'whatsapp'` is an extension of this server.
 */
export type OtpChannel = 'email' | 'sms' | 'whatsapp';

/** Parameters of `auth.sendOtp()`: an `email` or a `phone`, not both. */
export interface SendOtpParams {
  email?: string;
  /** A phone number in E.164 form, e.g. `+14155550123`. */
  phone?: string;
  /**
   * `'email'` (the default for an email) for an email address; `'sms'` (the default for a phone)
   * or `'whatsapp'` (an extension of this server) for a phone number.
   */
  channel?: OtpChannel;
}

/** Parameters of `auth.verifyOtp()`: the `email` or `phone` the code was sent to, and the code. */
export interface VerifyOtpParams {
  email?: string;
  /** A phone number in E.164 form, e.g. `+14155550123`. */
  phone?: string;
  /** The 6-digit code the user received. */
  otp: string;
}

/**
 * Parameters of `auth.getLoginUrl()`. All are optional; each one given becomes a query parameter
 * of the login URL (one left out, or given as an empty string, is not sent).
 */
export interface GetLoginUrlParams {
  /**
   * Where the hosted login page sends the browser back, with `?code=…&state=…` added
   * (`redirect_url`). It must be one of the project's allowed redirect URLs (exact match): the
   * page refuses any other with an error page of its own, never a redirect. Default: the
   * project's first allowed redirect URL.
   */
  redirectUrl?: string;
  /**
   * An opaque value the page hands back unchanged next to the `code` (`state`, at most 2048
   * characters). Make it random per sign-in, keep it in the user's session, and check it on the
   * way back: that stops another site from landing its own code in your callback.
   */
  state?: string;
  /**
   * The PKCE challenge (`code_challenge`, with `code_challenge_method=S256`): the `codeChallenge`
   * of `createPkcePair()`. The code then works only with the matching `codeVerifier`.
   */
  codeChallenge?: string;
  /**
   * `'login'` shows the sign-in form even when the browser is already signed in to the project
   * (no single sign-on for this visit), e.g. before a sensitive action.
   */
  prompt?: 'login';
  /** The language of the hosted pages, e.g. `'fr'` (`lang`). Default: the browser's `Accept-Language`. */
  lang?: string;
}

/** Parameters of `auth.exchangeCode()`. */
export interface ExchangeCodeParams {
  /**
   * The PKCE verifier whose challenge went into the login URL. Required when the URL had a
   * `codeChallenge`; must be left out when it had none.
   */
  codeVerifier?: string;
  /**
   * If given, it must be the redirect URL the code was issued for: a code delivered to
   * another URL is refused.
   */
  redirectUrl?: string;
}

/** A PKCE verifier and its S256 challenge, from `createPkcePair()`. */
export interface PkcePair {
  /** 43 base64url characters (32 random bytes). Keep it on your server; pass it to `auth.exchangeCode()`. */
  codeVerifier: string;
  /** base64url(SHA-256(codeVerifier)), 43 characters. Put it in the login URL (`auth.getLoginUrl()`). */
  codeChallenge: string;
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

/** A second-factor method: an authenticator app (`totp`) or a code by text message (`sms`). */
export type MfaMethod = 'totp' | 'sms';

/** Parameters of `mfa.enroll()`. */
export interface MfaEnrollParams<M extends MfaMethod = MfaMethod> {
  method: M;
  /** For `sms`: the phone number in E.164 form, e.g. `+14155550123`. */
  phone?: string;
}

/**
 * The result of `mfa.enroll()`. For `totp`, the `otpauth://` URI (it carries the secret) and
 * its QR code; for `sms`, both are `null` (the code goes to the phone).
 */
export interface MfaEnrollResponse<M extends MfaMethod = MfaMethod> {
  /**
   * For `totp`: `otpauth://totp/<issuer>:<email>?secret=…&issuer=…`, for an authenticator app
   * (`null` for `sms`, and when `error` is set).
   */
  totpUri: M extends 'totp' ? string : null;
  /**
   * For `totp`: a QR code of `totpUri` as a `data:image/svg+xml;base64,…` URI, usable as an
   * `<img src>` (`null` for `sms`, and when `error` is set).
   */
  qrCode: M extends 'totp' ? string : null;
  error: ApiError | null;
}

/** Parameters of `mfa.verify()`. */
export interface MfaVerifyParams {
  /** The code from the authenticator app or the SMS, or a backup code. */
  code: string;
  /**
   * The `mfaToken` of the `mfa_required` error of `auth.login()` (or of `auth.verifyMagicLink()`
   * and `auth.verifyOtp()`): required to finish a login.
   * Leave it out (and pass the access token) to confirm an enrolment.
   */
  mfaToken?: string | undefined;
}

/**
 * The result of `mfa.verify()`. After a login challenge (with `mfaToken`): the new session's
 * user and tokens. After confirming an enrolment (without `mfaToken`): `user`, `accessToken` and
 * `refreshToken` are `null`, with `error: null`.
 */
export interface MfaVerifyResponse {
  /** The signed-in user (`null` when `error` is set, and after confirming an enrolment). */
  user: ProtektUser;
  /** A JWT of the new aal2 session (`null` when `error` is set, and after confirming an enrolment). */
  accessToken: string;
  /** The new session's refresh token (`null` when `error` is set, and after confirming an enrolment). */
  refreshToken: string;
  /**
   * Only after confirming the user's first factor: ten fresh single-use backup codes, shown
   * this once (codes made before the factor stop working). Absent otherwise.
   */
  backupCodes?: string[];
  error: ApiError | null;
}

/** Parameters of `mfa.unenroll()`. */
export interface MfaUnenrollParams {
  method: MfaMethod;
}

/** The result of `mfa.generateBackupCodes()`. */
export interface BackupCodesResponse {
  /**
   * Ten single-use codes (`xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`), shown only this once; the previous
   * set stops working (`null` when `error` is set).
   */
  backupCodes: string[];
  error: ApiError | null;
}
