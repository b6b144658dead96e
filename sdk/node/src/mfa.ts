import type { ResolvedConfig } from './config.js';
import {
  failed,
  malformed,
  readArray,
  readNullableString,
  readString,
  readUser,
  type JsonObject,
  type Transport,
} from './http.js';
import type {
  BackupCodesResponse,
  ErrorResponse,
  MfaEnrollParams,
  MfaEnrollResponse,
  MfaMethod,
  MfaUnenrollParams,
  MfaVerifyParams,
  MfaVerifyResponse,
} from './types.js';

const VERIFY_FIELDS = ['user', 'accessToken', 'refreshToken'] as const;

/**
 * `protekt.mfa`: second factors (TOTP apps and SMS) of the user whose access token you pass,
 * the second step of a login that answered `mfa_required`, and backup codes.
 */
export class MfaClient {
  readonly #transport: Transport;
  readonly #config: ResolvedConfig;

  /** @internal */
  constructor(transport: Transport, config: ResolvedConfig) {
    this.#transport = transport;
    this.#config = config;
  }

  /**
   * Start enrolling a factor for the access token's user. `totp` answers the `otpauth://` URI
   * and a QR code of it (an SVG data URI) for an authenticator app; `sms` texts a code to
   * `phone` (E.164, e.g. `+14155550123`) and answers `null` for both. The factor counts once
   * {@link MfaClient.verify} confirms it with a code. A user who already has a factor needs an
   * aal2 session (one that passed MFA), otherwise `mfa_step_up_required`.
   */
  async enroll<M extends MfaMethod>(
    params: MfaEnrollParams<M>,
    accessToken: string,
  ): Promise<MfaEnrollResponse<M>> {
    const p: Partial<MfaEnrollParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/mfa/enroll',
      body: { method: p.method, phone: p.phone },
      accessToken,
    });
    if (result.error) return failed<MfaEnrollResponse<M>>(['totpUri', 'qrCode'], result.error);
    return {
      totpUri: readNullableString(result.data, 'totpUri', 'mfa.enroll'),
      qrCode: readNullableString(result.data, 'qrCode', 'mfa.enroll'),
      error: null,
    } as MfaEnrollResponse<M>;
  }

  /**
   * Verify an MFA code (from the authenticator app, the SMS, or a backup code).
   *
   * - With `mfaToken` (from the `mfa_required` error of `auth.login()`, `auth.verifyMagicLink()`
   *   or `auth.verifyOtp()`): finishes the login and returns `{ user, accessToken,
   *   refreshToken }` of a new aal2 session. No access token is needed.
   * - Without `mfaToken`, with the user's `accessToken`: confirms the pending enrolment. The
   *   factor now counts; `user`, `accessToken` and `refreshToken` are `null` (the session
   *   stays as it is). For the user's first factor the result also carries `backupCodes`, a
   *   fresh set that replaces any made before, and the user's other sessions end (unless the
   *   project turned that off).
   *
   * Wrong codes of a user back off (`rate_limited` with `retryAfter` after five in a row); after
   * 100 in a row app and SMS codes stop working (`mfa_locked`) and only a backup code does.
   */
  async verify(params: MfaVerifyParams, accessToken?: string): Promise<MfaVerifyResponse> {
    const p: Partial<MfaVerifyParams> = params ?? {};
    const login = p.mfaToken !== undefined && p.mfaToken !== null;
    const result = await this.#transport.request({
      path: '/v1/mfa/verify',
      body: { code: p.code, mfaToken: p.mfaToken, tokenExpiry: this.#config.tokenExpiry },
      // The access token only confirms an enrolment; a login challenge is named by mfaToken.
      accessToken: login ? undefined : accessToken,
    });
    if (result.error) return failed<MfaVerifyResponse>(VERIFY_FIELDS, result.error);
    const data = result.data;
    if (!login && data['user'] === null && data['accessToken'] === null && data['refreshToken'] === null) {
      // An enrolment was confirmed: no new session (typed as strings, like signUp's tokens).
      const confirmed: MfaVerifyResponse = {
        user: null as unknown as MfaVerifyResponse['user'],
        accessToken: null as unknown as string,
        refreshToken: null as unknown as string,
        error: null,
      };
      if (Array.isArray(data['backupCodes'])) confirmed.backupCodes = readCodes(data);
      return confirmed;
    }
    return {
      user: readUser(data, 'mfa.verify'),
      accessToken: readString(data, 'accessToken', 'mfa.verify'),
      refreshToken: readString(data, 'refreshToken', 'mfa.verify'),
      error: null,
    };
  }

  /**
   * Remove a factor (confirmed or pending) of the access token's user. Needs an aal2 session
   * (`mfa_step_up_required` otherwise); `not_found` when the user has no such factor.
   */
  async unenroll(params: MfaUnenrollParams, accessToken: string): Promise<ErrorResponse> {
    const p: Partial<MfaUnenrollParams> = params ?? {};
    const result = await this.#transport.request({
      path: '/v1/mfa/unenroll',
      body: { method: p.method },
      accessToken,
    });
    return { error: result.error };
  }

  /**
   * Generate ten single-use backup codes for the access token's user (shown only this once;
   * the previous set stops working). A backup code can stand in for a code in
   * {@link MfaClient.verify} with an `mfaToken`, once. A user with a factor needs an aal2
   * session (`mfa_step_up_required` otherwise).
   */
  async generateBackupCodes(accessToken: string): Promise<BackupCodesResponse> {
    const result = await this.#transport.request({ path: '/v1/mfa/backup-codes', accessToken });
    if (result.error) return failed<BackupCodesResponse>(['backupCodes'], result.error);
    return { backupCodes: readCodes(result.data), error: null };
  }
}

function readCodes(data: JsonObject): string[] {
  return readArray(data, 'backupCodes', 'mfa.generateBackupCodes').map((code, i) => {
    if (typeof code !== 'string') {
      throw malformed(`mfa.generateBackupCodes: backupCodes[${i}] is not a string`);
    }
    return code;
  });
}
