// The CommonJS side of the package's types: `require` resolves to dist/cjs/index.d.ts.
import {
  Protekt,
  ProtektError,
  createPkcePair,
  type AuthTokenResponse,
  type MfaVerifyResponse,
  type PkcePair,
} from '@protekt/node';

const protekt = new Protekt({ loginId: 'lp_x', apiKey: 'pk_live_x' });

export async function login(): Promise<AuthTokenResponse> {
  try {
    return await protekt.auth.login({ email: 'user@example.com', password: 'secret' });
  } catch (err) {
    if (err instanceof ProtektError) console.error(err.code);
    throw err;
  }
}

export function finishLogin(code: string, mfaToken: string): Promise<MfaVerifyResponse> {
  return protekt.mfa.verify({ code, mfaToken });
}

export async function signInWithCode(phone: string, otp: string): Promise<AuthTokenResponse> {
  const { error } = await protekt.auth.sendOtp({ phone, channel: 'sms' });
  if (error) throw new Error(error.message);
  return protekt.auth.verifyOtp({ phone, otp });
}

export function signInWithLink(token: string): Promise<AuthTokenResponse> {
  return protekt.auth.verifyMagicLink(token);
}

export function loginUrl(state: string): { url: string; pair: PkcePair } {
  const pair = createPkcePair();
  const url: string = protekt.auth.getLoginUrl({ state, codeChallenge: pair.codeChallenge });
  return { url, pair };
}

export function finishHostedLogin(code: string, codeVerifier: string): Promise<AuthTokenResponse> {
  return protekt.auth.exchangeCode(code, { codeVerifier });
}
