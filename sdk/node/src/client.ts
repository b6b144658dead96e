import { AuthClient } from './auth.js';
import { resolveConfig } from './config.js';
import { Transport } from './http.js';
import type { ProtektOptions } from './types.js';

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
  /** Sign-up, login, logout and tokens. */
  readonly auth: AuthClient;

  constructor(options: ProtektOptions) {
    const config = resolveConfig(options);
    const transport = new Transport(config);
    // Each API area is one namespace object sharing the transport (users, sessions and mfa
    // join here as the server gains them).
    this.auth = new AuthClient(transport, config);
  }
}
