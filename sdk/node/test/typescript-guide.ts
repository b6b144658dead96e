// The guide's other samples written in TypeScript, type-checked under `strict` (not run): what
// a TypeScript user copying them gets. Then the MFA, passwordless and Universal Login methods,
// as the README shows them.
import { randomBytes } from 'node:crypto';
import type { Request, Response, NextFunction } from 'express';
import {
  Protekt,
  ProtektError,
  ERROR_CODES,
  createPkcePair,
  type ExchangeCodeParams,
  type GetLoginUrlParams,
  type PkcePair,
  type ApiError,
  type ListUsersResponse,
  type MfaEnrollResponse,
  type MfaMethod,
  type MfaVerifyResponse,
  type BackupCodesResponse,
  type AuthTokenResponse,
  type ErrorResponse,
  type OtpChannel,
  type SendMagicLinkParams,
  type SendOtpParams,
  type VerifyOtpParams,
  type ProtektErrorCode,
  type ProtektSession,
  type ProtektUser,
  type RevokeAllSessionsResponse,
  type UpdateUserParams,
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
  // Working with users (each statement in a block: the guide declares `user` twice).
  {
    // Get a user by ID
    const { user } = await protekt.users.get('usr_9klabc');
    const id: string = user.id;
    void id;
  }
  {
    // Update user metadata
    const { user } = await protekt.users.update('usr_9klabc', {
      metadata: { plan: 'pro' },
    });
    const plan: unknown = user.metadata['plan'];
    void plan;
  }
  {
    // Delete a user
    await protekt.users.delete('usr_9klabc');
  }
  // Session management
  {
    const accessToken = 'access-token';
    const sessionId = 'ses_1';
    // List a user's active sessions (pass their access token)
    const { sessions } = await protekt.sessions.list(accessToken);
    const current: ProtektSession | undefined = sessions.find((s) => s.current);
    const ip: string | null | undefined = current?.ip;
    void ip;

    // Revoke a specific session
    await protekt.sessions.revoke(sessionId, accessToken);

    // Sign out everywhere
    await protekt.sessions.revokeAll(accessToken, { keepCurrent: true });
    const all: RevokeAllSessionsResponse = await protekt.sessions.revokeAll(accessToken);
    const count: number = all.revokedCount;
    void count;
  }
  // Listing with paging, and the password methods.
  {
    let cursor: string | undefined;
    do {
      const page: ListUsersResponse = await protekt.users.list({ limit: 50, cursor, search: 'a' });
      if (page.error) break;
      const emails: (string | null)[] = page.users.map((u) => u.email);
      void emails;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const changes: UpdateUserParams = { email: 'new@example.com', disabled: false, metadata: { a: null } };
    await protekt.users.update('usr_1', changes);
    const { error: resetError } = await protekt.auth.requestPasswordReset({ email });
    await protekt.auth.requestPasswordReset({ email, redirectUrl: 'https://app.example.com/login' });
    await protekt.auth.confirmPasswordReset({ resetToken: 'token', newPassword: password });
    const { error: changeError } = await protekt.auth.changePassword(
      { currentPassword: password, newPassword: 'a new passphrase' },
      'access-token',
    );
    if (changeError?.code === 'invalid_credentials') {
      const message: string = changeError.message;
      void message;
    }
    if (resetError?.code === 'rate_limited') {
      const wait: number | undefined = resetError.retryAfter;
      void wait;
    }
  }
  // MFA: enrol (TOTP, SMS), confirm, the login's second step, backup codes, unenrol.
  {
    const accessToken = 'access-token';
    const { totpUri, qrCode, error } = await protekt.mfa.enroll({ method: 'totp' }, accessToken);
    if (!error) {
      const secret: string | null = new URL(totpUri).searchParams.get('secret');
      const img: string = `<img src="${qrCode}" alt="Scan with your authenticator app">`;
      void secret, img;
    }
    const sms: MfaEnrollResponse<'sms'> = await protekt.mfa.enroll(
      { method: 'sms', phone: '+14155550123' },
      accessToken,
    );
    const noUri: null = sms.totpUri;
    const method = 'totp' as MfaMethod;
    const either: string | null = (await protekt.mfa.enroll({ method }, accessToken)).totpUri;
    void noUri, either;

    const confirmed: MfaVerifyResponse = await protekt.mfa.verify({ code: '123456' }, accessToken);
    if (confirmed.error?.code === 'invalid_code') {
      // Wrong code: ask again
    }
    // The user's first factor: ten fresh backup codes, shown once (absent otherwise).
    const { backupCodes } = confirmed;
    const fresh: string[] | undefined = backupCodes;
    if (backupCodes) {
      const shown: string = backupCodes.join('\n');
      void shown;
    }
    void fresh;

    const login = await protekt.auth.login({ email, password });
    if (login.error?.code === 'mfa_required') {
      const { user, accessToken: newAccessToken, refreshToken, error: mfaError } =
        await protekt.mfa.verify({ code: '123456', mfaToken: login.error.mfaToken });
      if (!mfaError) {
        const methods: string[] = user.mfaMethods;
        const tokens: [string, string] = [newAccessToken, refreshToken];
        void methods, tokens;
      }
    }

    const backup: BackupCodesResponse = await protekt.mfa.generateBackupCodes(accessToken);
    if (backup.error?.code === 'mfa_step_up_required') {
      // Sign in again with MFA first
    }
    const first: string | undefined = backup.backupCodes[0];
    const { error: unenrollError } = await protekt.mfa.unenroll({ method: 'sms' }, accessToken);
    void first, unenrollError;
    const mfaCodes: ProtektErrorCode[] = ['mfa_required', 'mfa_step_up_required', 'mfa_locked', 'invalid_code'];
    void mfaCodes;
  }
  // Passwordless: magic links and one-time passcodes.
  {
    const { error } = await protekt.auth.sendMagicLink({
      email: 'user@example.com',
      redirectUrl: 'https://app.example.com/auth/callback', // optional (an allowed redirect URL)
    });
    if (error?.code === 'rate_limited') {
      const wait: number | undefined = error.retryAfter;
      void wait;
    }
    const params: SendMagicLinkParams = { email };
    const sent: ErrorResponse = await protekt.auth.sendMagicLink(params);
    void sent;

    // The route behind the redirect URL: the token comes in its query string.
    const query: Record<string, unknown> = { token: 'from-the-redirect' };
    const token = String(query['token'] ?? '');
    const verified: AuthTokenResponse = await protekt.auth.verifyMagicLink(token);
    if (verified.error?.code === 'mfa_required') {
      const { error: mfaError } = await protekt.mfa.verify({
        code: '123456',
        mfaToken: verified.error.mfaToken,
      });
      void mfaError;
    } else if (!verified.error) {
      const tokens: [string, string] = [verified.accessToken, verified.refreshToken];
      const address: string | null = verified.user.email;
      void tokens, address;
    }

    const { error: otpError } = await protekt.auth.sendOtp({ email: 'user@example.com' });
    await protekt.auth.sendOtp({ phone: '+14155550123' });
    await protekt.auth.sendOtp({ phone: '+14155550123', channel: 'whatsapp' });
    const channel: OtpChannel = 'sms';
    const otpParams: SendOtpParams = { phone: '+14155550123', channel };
    await protekt.auth.sendOtp(otpParams);
    void otpError;

    const { user, accessToken, refreshToken, error: codeError } = await protekt.auth.verifyOtp({
      email: 'user@example.com', // or phone: '+14155550123': where the code was sent
      otp: '492039',
    });
    if (codeError?.code === 'invalid_code') {
      // Wrong or expired code: let the user try again, or send a new one
    } else if (!codeError) {
      const phone: string | null = user.phone;
      const verifiedPhone: boolean = user.phoneVerified;
      const pair: [string, string] = [accessToken, refreshToken];
      void phone, verifiedPhone, pair;
    }
    const byPhone: VerifyOtpParams = { phone: '+14155550123', otp: '492039' };
    const phoneOnly = await protekt.auth.verifyOtp(byPhone);
    const display: string = phoneOnly.user.email ?? phoneOnly.user.phone ?? phoneOnly.user.id;
    const { claims } = await protekt.auth.verifyToken(phoneOnly.accessToken);
    const claimed: [string | undefined, string | undefined, boolean | undefined] = [
      claims.email,
      claims.phone_number,
      claims.phone_number_verified,
    ];
    void display, claimed;
  }
  const codes: readonly ProtektErrorCode[] = ERROR_CODES;
  const claims: TokenClaims | null = null;
  void codes, claims;
}

// Universal Login: the login URL (synchronous, a string), the PKCE pair and the code hand-off,
// in the shape of the README's Express example (a server-side session holds the pair and state).
interface AppSession {
  signIn?: { state: string; codeVerifier: string };
  accessToken?: string;
  refreshToken?: string;
}

export function startSignIn(session: AppSession, res: Response): void {
  const { codeVerifier, codeChallenge }: PkcePair = createPkcePair();
  const state = randomBytes(16).toString('base64url');
  session.signIn = { state, codeVerifier };
  const url: string = protekt.auth.getLoginUrl({
    redirectUrl: 'https://app.example.com/callback',
    state,
    codeChallenge,
  });
  res.redirect(url);
}

export async function callback(session: AppSession, req: Request, res: Response): Promise<void> {
  const signIn = session.signIn;
  delete session.signIn;
  const { code, state } = req.query;
  if (!signIn || typeof code !== 'string' || state !== signIn.state) {
    res.status(400).send('Try again');
    return;
  }
  const params: ExchangeCodeParams = { codeVerifier: signIn.codeVerifier };
  const { user, accessToken, refreshToken, error }: AuthTokenResponse = await protekt.auth.exchangeCode(
    code,
    params,
  );
  if (error?.code === 'invalid_token') {
    res.status(400).send('This sign-in has expired');
    return;
  }
  session.accessToken = accessToken;
  session.refreshToken = refreshToken;
  const who: string = user.email ?? user.id;
  void who;
  res.redirect('/');
}

export function loginUrls(): string[] {
  const every: GetLoginUrlParams = {
    redirectUrl: 'https://app.example.com/callback',
    state: 'xyz',
    codeChallenge: createPkcePair().codeChallenge,
    prompt: 'login',
    lang: 'fr',
  };
  return [
    protekt.auth.getLoginUrl(),
    protekt.auth.getLoginUrl({ redirectUrl: 'https://app.example.com/callback' }), // the SDK reference's form
    protekt.auth.getLoginUrl(every),
  ];
}

export async function exchangeWithoutPkce(code: string): Promise<string | null> {
  const plain = await protekt.auth.exchangeCode(code);
  const bound = await protekt.auth.exchangeCode(code, { redirectUrl: 'https://app.example.com/callback' });
  return plain.error?.message ?? bound.accessToken;
}
