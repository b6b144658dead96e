// The guide's other samples written in TypeScript, type-checked under `strict` (not run): what
// a TypeScript user copying them gets. Includes codes the server does not send yet
// ('mfa_required'), which must still compile.
import type { Request, Response, NextFunction } from 'express';
import {
  Protekt,
  ProtektError,
  ERROR_CODES,
  type ApiError,
  type ProtektErrorCode,
  type ProtektUser,
  type SdkErrorCode,
  type TokenClaims,
} from '@protekt/node';

export const protekt = new Protekt({
  loginId: process.env.PROTEKT_LOGIN_ID,
  apiKey: process.env.PROTEKT_API_KEY,
  baseUrl: process.env.PROTEKT_URL,
  tokenExpiry: 900,
  timeout: 5000,
});

export async function requireAuth(req: Request, res: Response, next: NextFunction) {
  const token = req.headers.authorization?.split(' ')[1];
  if (!token) {
    return res.status(401).json({ error: 'Missing token' });
  }
  const { user, claims, error } = await protekt.auth.verifyToken(token);
  if (error) {
    return res.status(401).json({ error: 'Invalid or expired token' });
  }
  res.locals.user = user satisfies ProtektUser;
  res.locals.sessionId = claims.sid;
  next();
}

export async function samples(existingRefreshToken: string, email: string, password: string) {
  {
    const { user, accessToken, refreshToken, error } = await protekt.auth.signUp({
      email: 'user@example.com',
      password: 'supersecret123',
      metadata: { plan: 'free' },
    });
    const id: string = user.id;
    const tokens: [string, string] = [accessToken, refreshToken];
    const e: ApiError | null = error;
    void id, tokens, e;
  }
  {
    const { error } = await protekt.auth.login({ email: 'user@example.com', password: 'supersecret123' });
    if (error?.code === 'mfa_required') {
      const mfaToken: string | undefined = error.mfaToken;
      void mfaToken;
    }
  }
  {
    const { accessToken, refreshToken } = await protekt.auth.refreshToken(existingRefreshToken);
    const pair: string[] = [accessToken, refreshToken];
    void pair;
  }
  {
    const { error } = await protekt.auth.logout('access-token');
    const { error: revokeError } = await protekt.auth.revokeToken('token');
    void error, revokeError;
  }
  {
    const { user, error } = await protekt.auth.login({ email, password });
    void user;
    if (error) {
      switch (error.code) {
        case 'invalid_credentials':
          break;
        case 'mfa_required':
          break;
        case 'rate_limited': {
          const wait: number | undefined = error.retryAfter;
          void wait;
          break;
        }
        default:
          console.error('Unexpected error:', error.message, error.status, error.field);
      }
    }
  }
  try {
    await protekt.auth.verifyToken('t');
  } catch (err) {
    if (err instanceof ProtektError) {
      const code: SdkErrorCode = err.code;
      const status: number | undefined = err.status;
      void code, status, err.apiError?.retryAfter;
    }
  }
  const codes: readonly ProtektErrorCode[] = ERROR_CODES;
  const claims: TokenClaims | null = null;
  void codes, claims;
}
