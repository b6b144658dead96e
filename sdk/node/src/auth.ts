import type { ResolvedConfig } from './config.js';
import { failed, readObject, readString, readUser, type Transport } from './http.js';
import type {
  AuthTokenResponse,
  ChangePasswordParams,
  ConfirmPasswordResetParams,
  ErrorResponse,
  ExchangeCodeParams,
  GetLoginUrlParams,
  LoginParams,
  RefreshTokenResponse,
  RequestPasswordResetParams,
  SendMagicLinkParams,
  SendOtpParams,
  SignUpParams,
  ProtektUser,
  TokenClaims,
  VerifiedClient,
  VerifyOtpParams,
  VerifyTokenResponse,
} from './types.js';

const TOKEN_FIELDS = ['user', 'accessToken', 'refreshToken'] as const;

/**
 * `protekt.auth`: sign-up, login (with a password, a magic link, a one-time passcode or the
 * hosted Universal Login page), logout, tokens and passwords.
 */
export class AuthClient {
  readonly #transport: Transport;
  readonly #config: ResolvedConfig;

  /** @internal */
  constructor(transport: Transport, config: ResolvedConfig) {
    this.#transport = transport;
    this.#config = config;
  }

  /** Create a new user account and sign it in. */
  async signUp(params: SignUpParams): Promise<AuthTokenResponse> {
    const p: Partial<SignUpParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/signup',
      body: {
        email: p.email,
        password: p.password,
        metadata: p.metadata,
        sendVerification: p.sendVerification,
        tokenExpiry: this.#config.tokenExpiry,
      },
    });
    if (result.error) return failed<AuthTokenResponse>(TOKEN_FIELDS, result.error);
    return tokensWithUser(result.data, 'signUp');
  }

  /**
   * Authenticate a user with email and password. A wrong password and an unknown email give
   * the same error (`invalid_credentials`).
   */
  async login(params: LoginParams): Promise<AuthTokenResponse> {
    const p: Partial<LoginParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/login',
      body: { email: p.email, password: p.password, tokenExpiry: this.#config.tokenExpiry },
    });
    if (result.error) return failed<AuthTokenResponse>(TOKEN_FIELDS, result.error);
    return tokensWithUser(result.data, 'login');
  }

  /**
   * Revoke the user's current session (the session of this access token). An access token that
   * has expired but is otherwise genuine still works, as long as its session is live.
   */
  async logout(accessToken: string): Promise<ErrorResponse> {
    const result = await this.#transport.request({ path: '/v1/auth/logout', accessToken });
    return { error: result.error };
  }

  /**
   * Validate an access token (signature, expiry, and that its session is still live) and
   * return its user and decoded claims.
   */
  async verifyToken(token: string): Promise<VerifyTokenResponse> {
    const result = await this.#transport.request({ path: '/v1/auth/verify', body: { token } });
    if (result.error) {
      return failed<VerifyTokenResponse>(['user', 'client', 'claims'], result.error);
    }
    // A client-credentials (M2M) token has no user: `user` is null and `client` names it.
    const m2m = (result.data as { user?: unknown }).user === null;
    return {
      user: m2m ? (null as unknown as ProtektUser) : readUser(result.data, 'verifyToken'),
      client: m2m
        ? (readObject(result.data, 'client', 'verifyToken') as unknown as VerifiedClient)
        : null,
      claims: readObject(result.data, 'claims', 'verifyToken') as unknown as TokenClaims,
      error: null,
    };
  }

  /**
   * Exchange a refresh token for a new access/refresh token pair. The refresh token you send
   * is used up: keep the new one.
   */
  async refreshToken(refreshToken: string): Promise<RefreshTokenResponse> {
    const result = await this.#transport.request({
      path: '/v1/auth/refresh',
      body: { refreshToken, tokenExpiry: this.#config.tokenExpiry },
    });
    if (result.error) {
      return failed<RefreshTokenResponse>(['accessToken', 'refreshToken'], result.error);
    }
    return {
      accessToken: readString(result.data, 'accessToken', 'refreshToken'),
      refreshToken: readString(result.data, 'refreshToken', 'refreshToken'),
      error: null,
    };
  }

  /**
   * Immediately invalidate an access token, or a refresh token (which ends its session).
   * Unknown tokens are accepted silently.
   */
  async revokeToken(token: string): Promise<ErrorResponse> {
    const result = await this.#transport.request({ path: '/v1/auth/revoke', body: { token } });
    return { error: result.error };
  }

  /**
   * Send a magic link to a user's email. The answer is the same whether or not the address has
   * an account (an unknown address becomes a user when the link is used, if the project allows
   * passwordless sign-up); the email is sent in the background. Its link opens the server's
   * hosted page, whose button sends the browser to `redirectUrl` (or the project's first allowed
   * redirect URL) with `?token=…` for `verifyMagicLink`. The email also carries a 6-digit
   * code for `verifyOtp`.
   */
  async sendMagicLink(params: SendMagicLinkParams): Promise<ErrorResponse> {
    const p: Partial<SendMagicLinkParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/magic-link',
      body: { email: p.email, redirectUrl: p.redirectUrl },
    });
    return { error: result.error };
  }

  /**
   * Verify a magic link token (the `token` your redirect URL received, or the emailed one) and
   * sign the user in. A token works once. A user with a second factor gets `mfa_required`.
   */
  async verifyMagicLink(token: string): Promise<AuthTokenResponse> {
    const result = await this.#transport.request({
      path: '/v1/auth/magic-link/verify',
      body: { token, tokenExpiry: this.#config.tokenExpiry },
    });
    if (result.error) return failed<AuthTokenResponse>(TOKEN_FIELDS, result.error);
    return tokensWithUser(result.data, 'verifyMagicLink');
  }

  /**
   * Send a one-time passcode (6 digits, valid 10 minutes) to an email address or a phone number
   * (by SMS, or WhatsApp with `channel: 'whatsapp'`). The answer is the same whether or not the
   * address or number has an account.
   */
  async sendOtp(params: SendOtpParams): Promise<ErrorResponse> {
    const p: Partial<SendOtpParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/otp',
      body: { email: p.email, phone: p.phone, channel: p.channel },
    });
    return { error: result.error };
  }

  /**
   * Verify a one-time passcode sent to `email` or `phone` and sign the user in. A phone number
   * that has no user yet becomes one (with `email: null`). A user with a second factor gets
   * `mfa_required`.
   */
  async verifyOtp(params: VerifyOtpParams): Promise<AuthTokenResponse> {
    const p: Partial<VerifyOtpParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/otp/verify',
      body: { email: p.email, phone: p.phone, otp: p.otp, tokenExpiry: this.#config.tokenExpiry },
    });
    if (result.error) return failed<AuthTokenResponse>(TOKEN_FIELDS, result.error);
    return tokensWithUser(result.data, 'verifyOtp');
  }

  /**
   * The URL of the project's hosted Universal Login page, to redirect the user's browser to:
   * `${baseUrl}/p/${loginId}/login`, with `redirect_url`, `state`, `code_challenge` (and
   * `code_challenge_method=S256`), `prompt` and `lang` as query parameters for the parameters
   * given. Nothing is sent and nothing is checked here: the page itself refuses a redirect URL
   * the project does not allow, with an error page.
   *
   * After the sign-in the page sends the browser to the redirect URL with `?code=…&state=…`;
   * pass the code to {@link AuthClient.exchangeCode}. A browser already signed in to the project
   * skips the form (single sign-on) unless `prompt: 'login'`.
   */
  getLoginUrl(params?: GetLoginUrlParams): string {
    const p: Partial<GetLoginUrlParams> = params ?? {};
    const query: [string, unknown][] = [
      ['redirect_url', p.redirectUrl],
      ['state', p.state],
      ['code_challenge', p.codeChallenge],
      ['code_challenge_method', given(p.codeChallenge) ? 'S256' : undefined],
      ['prompt', p.prompt],
      ['lang', p.lang],
    ];
    const search = query
      .filter(([, value]) => given(value))
      .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
      .join('&');
    const url = `${this.#config.baseUrl}/p/${encodeURIComponent(this.#config.loginId)}/login`;
    return search === '' ? url : `${url}?${search}`;
  }

  /**
   * Redeem the `code` the hosted login page sent to your redirect URL for the user and tokens of
   * the signed-in session (a refresh token of your app's own). A code works once and for 60 seconds; pass the `codeVerifier` when the
   * login URL had a `codeChallenge`. Any failure (unknown, used or expired code, wrong or
   * missing verifier, another redirect URL) is `invalid_token`; a code redeemed a second time
   * also ends the session the first redemption started.
   */
  async exchangeCode(code: string, params?: ExchangeCodeParams): Promise<AuthTokenResponse> {
    const p: Partial<ExchangeCodeParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/exchange',
      body: {
        code,
        codeVerifier: p.codeVerifier,
        redirectUrl: p.redirectUrl,
        tokenExpiry: this.#config.tokenExpiry,
      },
    });
    if (result.error) return failed<AuthTokenResponse>(TOKEN_FIELDS, result.error);
    return tokensWithUser(result.data, 'exchangeCode');
  }

  /**
   * Trigger a password reset email. The answer is the same whether or not the address has an
   * account; the email (with a link to the server's hosted reset page) is sent in the
   * background. `redirectUrl`, if given, must be one of the project's allowed redirect URLs.
   */
  async requestPasswordReset(params: RequestPasswordResetParams): Promise<ErrorResponse> {
    const p: Partial<RequestPasswordResetParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/password-reset',
      body: { email: p.email, redirectUrl: p.redirectUrl },
    });
    return { error: result.error };
  }

  /**
   * Complete a password reset with the token from the email link. Every session of the user
   * ends. A weak new password is refused (`weak_password`) without using up the token.
   */
  async confirmPasswordReset(params: ConfirmPasswordResetParams): Promise<ErrorResponse> {
    const p: Partial<ConfirmPasswordResetParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/password-reset/confirm',
      body: { resetToken: p.resetToken, newPassword: p.newPassword },
    });
    return { error: result.error };
  }

  /**
   * Change the password of the access token's user, who must give the current one. The user's
   * other sessions end; the session of `accessToken` stays. A user with a second factor needs
   * an aal2 session (one that passed MFA), otherwise `mfa_step_up_required`.
   */
  async changePassword(params: ChangePasswordParams, accessToken: string): Promise<ErrorResponse> {
    const p: Partial<ChangePasswordParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/auth/change-password',
      body: { currentPassword: p.currentPassword, newPassword: p.newPassword },
      accessToken,
    });
    return { error: result.error };
  }
}

/** A query parameter value worth sending: not left out, not `null`, not an empty string. */
function given(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function tokensWithUser(
  data: Record<string, unknown>,
  context: string,
): AuthTokenResponse {
  // A sign-up in a project that requires a verified email creates the user but no session:
  // the server answers null tokens, and so do we (typed as strings for the guide's samples).
  if (context === 'signUp' && data.accessToken === null && data.refreshToken === null) {
    return {
      user: readUser(data, context),
      accessToken: null as unknown as string,
      refreshToken: null as unknown as string,
      error: null,
    };
  }
  return {
    user: readUser(data, context),
    accessToken: readString(data, 'accessToken', context),
    refreshToken: readString(data, 'refreshToken', context),
    error: null,
  };
}
