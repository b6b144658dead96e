// The guide's "TypeScript support" sample, unchanged. It is type-checked (tsc --noEmit, strict)
// against the built package by `npm run typecheck` and by test/package.test.mjs; it is not run.
import { Protekt, ProtektUser, AuthTokenResponse } from '@protekt/node';

const protekt = new Protekt({ loginId: '...', apiKey: '...' });

const response: AuthTokenResponse = await protekt.auth.login({
  email: 'user@example.com',
  password: 'secret',
});

const user: ProtektUser = response.user;
