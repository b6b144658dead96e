import type { ResolvedConfig } from './config.js';
import type { ApiError } from './errors.js';
import { readObject, readString, readUser, type Transport } from './http.js';
import type {
  AuthTokenResponse,
  ErrorResponse,
  LoginParams,
  RefreshTokenResponse,
  SignUpParams,
  TokenClaims,
  VerifyTokenResponse,
} from './types.js';

/**
 * A result whose data fields are all `null` because the API answered with an error. The result
 * types declare their data fields non-null (see `types.ts`), hence the cast.
 */
function failed<T extends { error: ApiError | null }>(
  fields: readonly Exclude<keyof T, 'error'>[],
  error: ApiError,
): T {
  const result: Record<string, unknown> = {};
  for (const field of fields) result[field as string] = null;
  result['error'] = error;
  return result as T;
}

const TOKEN_FIELDS = ['user', 'accessToken', 'refreshToken'] as const;

/** `protekt.auth`: sign-up, login, logout and tokens. */
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

  /** Revoke the user's current session (the session of this access token). */
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
      return failed<VerifyTokenResponse>(['user', 'claims'], result.error);
    }
    return {
      user: readUser(result.data, 'verifyToken'),
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
}

function tokensWithUser(
  data: Record<string, unknown>,
  context: string,
): AuthTokenResponse {
  return {
    user: readUser(data, context),
    accessToken: readString(data, 'accessToken', context),
    refreshToken: readString(data, 'refreshToken', context),
    error: null,
  };
}
