import { createHash, randomBytes } from 'node:crypto';

import type { PkcePair } from './types.js';

/**
 * A PKCE pair (RFC 7636) for the Universal Login hand-off: a random `codeVerifier` (32 random
 * bytes, base64url: 43 characters) and its `codeChallenge` (base64url of its SHA-256, the
 * `S256` method: 43 characters).
 *
 * Send `codeChallenge` with `auth.getLoginUrl({ codeChallenge })`, keep `codeVerifier` on your
 * server (e.g. in the user's session), and pass it to `auth.exchangeCode(code, { codeVerifier })`:
 * a code that leaked on its way back to your app is then worth nothing without it.
 *
 * ```js
 * import { createPkcePair } from '@protekt/node';
 * const { codeVerifier, codeChallenge } = createPkcePair();
 * ```
 */
export function createPkcePair(): PkcePair {
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  return { codeVerifier, codeChallenge };
}
