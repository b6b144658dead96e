import { AuthClient } from './auth.js';
import { resolveConfig } from './config.js';
import { Transport } from './http.js';
import { MfaClient } from './mfa.js';
import { SessionsClient } from './sessions.js';
import type { ProtektOptions } from './types.js';
import { UsersClient } from './users.js';

/**
 * The Protekt client. Create one at start-up and reuse it.
 *
 * ```js
 * const protekt = new Protekt({
 *   loginId: process.env.PROTEKT_LOGIN_ID,
 *   apiKey: process.env.PROTEKT_API_KEY,
 * });
 * const { user, error } = await protekt.auth.verifyToken(token);
 * ```
 *
 * @throws {ProtektError} with code `invalid_config` when `loginId` or `apiKey` is missing, or
 *   another option is malformed.
 */
export class Protekt {
  /** Sign-up, login, logout, tokens and passwords. */
  readonly auth: AuthClient;
  /** The project's users (with the API key). */
  readonly users: UsersClient;
  /** The sessions of the user whose access token you pass. */
  readonly sessions: SessionsClient;
  /** Second factors (TOTP, SMS), the MFA step of a login, and backup codes. */
  readonly mfa: MfaClient;

  constructor(options: ProtektOptions) {
    const config = resolveConfig(options);
    const transport = new Transport(config);
    // Each API area is one namespace object sharing the transport.
    this.auth = new AuthClient(transport, config);
    this.users = new UsersClient(transport);
    this.sessions = new SessionsClient(transport);
    this.mfa = new MfaClient(transport, config);
  }
}
