// Passwordless sign-in against a real Protekt server: magic links (sendMagicLink, the hosted page,
// verifyMagicLink) and one-time passcodes by email, SMS and WhatsApp (sendOtp, verifyOtp), the
// users they create (phone-only users have `email: null`), and the documented errors. Links,
// tokens and codes are read from the server's dev outbox (test/harness.mjs).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Protekt } from '@protekt/node';
import {
  GOOD_PASSWORD,
  startServer,
  totpCode,
  totpSecret,
  totpStep,
  uniqueEmail,
  uniquePhone,
  waitForEmail,
  waitForSms,
} from './harness.mjs';

let server;
let protekt;

/** The project's allowed redirect URLs: the first one is where a link goes by default. */
const CALLBACK = 'http://localhost:3999/callback';
const OTHER_CALLBACK = 'http://localhost:3999/other';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
  const settings = await server.updateSettings(server.projectId, {
    allowedRedirectUrls: [CALLBACK, OTHER_CALLBACK],
  });
  assert.deepEqual(settings.allowedRedirectUrls, [CALLBACK, OTHER_CALLBACK]);
});

after(async () => {
  await server?.stop();
});

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
}

/** Asserts a failed verify: every data field null. */
function assertNoSession(result, code, status) {
  assertApiError(result.error, code, status);
  assert.deepEqual(result, { user: null, accessToken: null, refreshToken: null, error: result.error });
}

/** Asserts a successful sign-in answer; returns it. */
function assertSession(result) {
  assert.equal(result.error, null, `sign-in failed: ${JSON.stringify(result.error)}`);
  assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'error', 'refreshToken', 'user']);
  assert.match(result.user.id, /^usr_/);
  assert.equal(result.accessToken.split('.').length, 3, 'the access token is a JWT');
  assert.equal(typeof result.refreshToken, 'string');
  assert.ok(result.refreshToken.length >= 20);
  return result;
}

async function claimsOf(accessToken) {
  const { claims, error } = await protekt.auth.verifyToken(accessToken);
  assert.equal(error, null, `verifyToken failed: ${JSON.stringify(error)}`);
  return claims;
}

function decodeJwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** A code that is not `code` (for a wrong try). */
const wrongCode = (code) => (code === '000000' ? '111111' : '000000');

/** Signs up a fresh user with a password: `{ email, user, accessToken, refreshToken }`. */
async function newUser(client = protekt) {
  const email = uniqueEmail('pwless');
  const result = await client.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(result.error, null, `sign-up failed: ${JSON.stringify(result.error)}`);
  return { email, ...result };
}

/** Asks for a magic link to `email` and returns the email that arrives. */
async function magicLinkEmail(email, params = {}, client = protekt) {
  assert.deepEqual(await client.auth.sendMagicLink({ email, ...params }), { error: null });
  return waitForEmail(server.dataDir, { to: email, kind: 'magic_link' });
}

/** Asks for a sign-in code to `email` and returns it (from the email that arrives). */
async function emailCode(email, seen = []) {
  assert.deepEqual(await protekt.auth.sendOtp({ email }), { error: null });
  const message = await waitForEmail(server.dataDir, { to: email, kind: 'sign_in_code' }, { seen });
  assert.match(message.code, /^\d{6}$/);
  return message;
}

/** The hosted magic-link page's address (the emailed link without its query). */
function pageUrl(link) {
  const url = new URL(link);
  return `${url.origin}${url.pathname}`;
}

/** Submits the hosted page's form (what its "Sign in" button does). */
function submitPage(link, token) {
  return fetch(pageUrl(link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
}

describe('sendMagicLink and verifyMagicLink', () => {
  test('emails a link to the hosted page with a token and a code; verifyMagicLink signs in, once', async () => {
    const { email, user } = await newUser();
    const message = await magicLinkEmail(email);
    assert.equal(message.to, email);
    assert.equal(typeof message.subject, 'string');
    assert.equal(typeof message.token, 'string');
    assert.ok(message.token.length >= 20);
    assert.equal(pageUrl(message.link), `${server.baseUrl}/p/${server.loginId}/magic-link`);
    assert.equal(new URL(message.link).searchParams.get('token'), message.token);
    assert.match(message.code, /^\d{6}$/);
    assert.ok(message.text.includes(message.link), 'the text carries the link');
    assert.ok(message.text.includes(message.code), 'the text carries the code');

    assert.equal(user.emailVerified, false);
    const signedIn = assertSession(await protekt.auth.verifyMagicLink(message.token));
    assert.equal(signedIn.user.id, user.id);
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.user.emailVerified, true, 'the link proves the address');
    const claims = await claimsOf(signedIn.accessToken);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['email_link']);
    assert.equal(claims.aal, 'aal1');

    // The token works once.
    assertNoSession(await protekt.auth.verifyMagicLink(message.token), 'invalid_token', 401);
    // The session is a real one: its refresh token works.
    assert.equal((await protekt.auth.refreshToken(signedIn.refreshToken)).error, null);
  });

  test('an unknown address gets { error: null } too; the link signs a new user up, address verified', async () => {
    const email = uniqueEmail('newcomer');
    const message = await magicLinkEmail(email);
    const { user } = assertSession(await protekt.auth.verifyMagicLink(message.token));
    assert.equal(user.email, email);
    assert.equal(user.emailVerified, true);
    assert.equal(user.phone, null);
    assert.equal(user.phoneVerified, false);
    assert.deepEqual(user.mfaMethods, []);
    assert.equal((await protekt.users.get(user.id)).user.email, email);
  });

  test('the hosted page: GET uses nothing; its form redirects (303) to redirectUrl with a new single-use token', async () => {
    const email = uniqueEmail('hosted');
    const message = await magicLinkEmail(email, { redirectUrl: OTHER_CALLBACK });

    // A mail scanner, then the person: the page shows, twice, and the token is still good.
    for (let i = 0; i < 2; i++) {
      const page = await fetch(message.link, { redirect: 'manual' });
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      await page.text();
    }

    const submitted = await submitPage(message.link, message.token);
    assert.equal(submitted.status, 303);
    await submitted.text();
    const location = new URL(submitted.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, OTHER_CALLBACK);
    const token = location.searchParams.get('token');
    assert.ok(token, `no token in ${location}`);
    assert.notEqual(token, message.token);

    // The form used the emailed token up: the page's form and verifyMagicLink refuse it now.
    const again = await submitPage(message.link, message.token);
    assert.notEqual(again.status, 303);
    assert.equal(again.headers.get('location'), null);
    await again.text();
    assertNoSession(await protekt.auth.verifyMagicLink(message.token), 'invalid_token', 401);

    // The redirect's token signs in, once.
    const { user } = assertSession(await protekt.auth.verifyMagicLink(token));
    assert.equal(user.email, email);
    assert.equal(user.emailVerified, true);
    assertNoSession(await protekt.auth.verifyMagicLink(token), 'invalid_token', 401);
  });

  test('without redirectUrl the hosted page sends the browser to the project\'s first allowed redirect URL', async () => {
    const { email, user } = await newUser();
    const message = await magicLinkEmail(email);
    const submitted = await submitPage(message.link, message.token);
    assert.equal(submitted.status, 303);
    await submitted.text();
    const location = new URL(submitted.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
    const signedIn = assertSession(await protekt.auth.verifyMagicLink(location.searchParams.get('token')));
    assert.equal(signedIn.user.id, user.id);
  });

  test('the 6-digit code of the magic-link email signs in with verifyOtp({ email, otp })', async () => {
    const { email, user } = await newUser();
    const message = await magicLinkEmail(email);
    const signedIn = assertSession(await protekt.auth.verifyOtp({ email, otp: message.code }));
    assert.equal(signedIn.user.id, user.id);
  });

  test('redirectUrl: value_not_allowed for one the project does not allow, invalid_request for a malformed one', async () => {
    const email = uniqueEmail('redirect');
    const refused = await protekt.auth.sendMagicLink({ email, redirectUrl: 'https://evil.example.net/callback' });
    assertApiError(refused.error, 'value_not_allowed', 422);
    assert.equal(refused.error.field, 'redirectUrl');
    assert.deepEqual(Object.keys(refused), ['error']);
    // Exact match only.
    const near = await protekt.auth.sendMagicLink({ email, redirectUrl: `${CALLBACK}/../x` });
    assertApiError(near.error, 'value_not_allowed', 422);
    assert.equal(near.error.field, 'redirectUrl');

    const malformed = await protekt.auth.sendMagicLink({ email, redirectUrl: 'not a url' });
    assertApiError(malformed.error, 'invalid_request', 400);
    assert.equal(malformed.error.field, 'redirectUrl');

    const badEmail = await protekt.auth.sendMagicLink({ email: 'not-an-email' });
    assertApiError(badEmail.error, 'invalid_request', 400);
    assert.equal(badEmail.error.field, 'email');
  });

  test('a project without allowed redirect URLs refuses a link: the browser must go somewhere', async () => {
    const bare = await server.createProject('no-redirects');
    const client = new Protekt({ loginId: bare.loginId, apiKey: bare.apiKey, baseUrl: server.baseUrl });
    const result = await client.auth.sendMagicLink({ email: uniqueEmail('bare') });
    assertApiError(result.error, 'value_not_allowed', 422);
    assert.equal(result.error.field, 'redirectUrl');
  });

  test('invalid_token for a token the server did not make', async () => {
    assertNoSession(await protekt.auth.verifyMagicLink('no-such-magic-link-token'), 'invalid_token', 401);
    assertNoSession(await protekt.auth.verifyMagicLink('x'.repeat(43)), 'invalid_token', 401);
  });

  test('rate_limited with retryAfter after 5 links for one address in an hour', async () => {
    const email = uniqueEmail('ml-limited'); // no account: the quota counts all the same
    for (let i = 1; i <= 5; i++) {
      assert.deepEqual(await protekt.auth.sendMagicLink({ email }), { error: null }, `link ${i}`);
    }
    const limited = await protekt.auth.sendMagicLink({ email });
    assertApiError(limited.error, 'rate_limited', 429);
    assert.equal(typeof limited.error.retryAfter, 'number');
    assert.ok(limited.error.retryAfter > 0 && limited.error.retryAfter <= 3600);
    assert.deepEqual(Object.keys(limited), ['error']);
    // Another address is not affected.
    assert.deepEqual(await protekt.auth.sendMagicLink({ email: uniqueEmail('ml-other') }), { error: null });
  });
});

describe('sendOtp and verifyOtp by email', () => {
  test('an unknown address gets { error: null } and a 6-digit code that signs a new user up, address verified', async () => {
    const email = uniqueEmail('otp-new');
    const message = await emailCode(email);
    assert.equal(message.to, email);
    assert.ok(message.text.includes(message.code), 'the text carries the code');

    const signedIn = assertSession(await protekt.auth.verifyOtp({ email, otp: message.code }));
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.user.emailVerified, true);
    assert.equal(signedIn.user.phone, null);
    assert.equal(signedIn.user.phoneVerified, false);
    const claims = await claimsOf(signedIn.accessToken);
    assert.deepEqual(claims.amr, ['email_otp']);
    assert.equal(claims.aal, 'aal1');

    // A code works once.
    assertNoSession(await protekt.auth.verifyOtp({ email, otp: message.code }), 'invalid_code', 401);
  });

  test('an existing user signs in with a code (channel: \'email\' given explicitly)', async () => {
    const { email, user } = await newUser();
    assert.deepEqual(await protekt.auth.sendOtp({ email, channel: 'email' }), { error: null });
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'sign_in_code' });
    const signedIn = assertSession(await protekt.auth.verifyOtp({ email, otp: message.code }));
    assert.equal(signedIn.user.id, user.id);
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.user.emailVerified, true, 'the code proves the address');
    assert.equal((await protekt.users.get(user.id)).user.emailVerified, true);
  });

  test('invalid_code for a wrong code; the right one still works after it', async () => {
    const email = uniqueEmail('otp-wrong');
    const { code } = await emailCode(email);
    assertNoSession(await protekt.auth.verifyOtp({ email, otp: wrongCode(code) }), 'invalid_code', 401);
    assertSession(await protekt.auth.verifyOtp({ email, otp: code }));
  });

  test('five wrong tries kill the code: then even the right one gives invalid_code', async () => {
    const email = uniqueEmail('otp-dead');
    const { code } = await emailCode(email);
    for (let i = 1; i <= 5; i++) {
      const result = await protekt.auth.verifyOtp({ email, otp: wrongCode(code) });
      assertApiError(result.error, 'invalid_code', 401);
    }
    assertNoSession(await protekt.auth.verifyOtp({ email, otp: code }), 'invalid_code', 401);
  });

  test('a code is bound to the address it was sent to; none sent: invalid_code', async () => {
    const email = uniqueEmail('otp-bound');
    const other = uniqueEmail('otp-other');
    const { code } = await emailCode(email);
    assertNoSession(await protekt.auth.verifyOtp({ email: other, otp: code }), 'invalid_code', 401);
    assertNoSession(
      await protekt.auth.verifyOtp({ email: uniqueEmail('otp-none'), otp: '123456' }),
      'invalid_code',
      401,
    );
    // The right address still works.
    assertSession(await protekt.auth.verifyOtp({ email, otp: code }));
  });

  test('verifyOtp sends the client\'s tokenExpiry', async () => {
    const shortClient = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
      tokenExpiry: 60,
    });
    const email = uniqueEmail('otp-expiry');
    const { code } = await emailCode(email);
    const signedIn = assertSession(await shortClient.auth.verifyOtp({ email, otp: code }));
    const { exp, iat } = decodeJwtPayload(signedIn.accessToken);
    assert.equal(exp - iat, 60);
  });

  test('invalid_request: both or neither of email and phone, a malformed one, a channel that does not fit', async () => {
    const email = uniqueEmail('otp-bad');
    const phone = uniquePhone();
    for (const params of [{}, { email, phone }, { channel: 'sms' }]) {
      const result = await protekt.auth.sendOtp(params);
      assertApiError(result.error, 'invalid_request', 400);
      assert.deepEqual(Object.keys(result), ['error'], JSON.stringify(params));
    }
    for (const [params, field] of [
      [{ email: 'not-an-email' }, 'email'],
      [{ phone: '4155550123' }, 'phone'],
      [{ phone: '+1 415 555 0123' }, 'phone'],
      [{ email, channel: 'sms' }, 'channel'],
      [{ email, channel: 'whatsapp' }, 'channel'],
      [{ phone, channel: 'email' }, 'channel'],
      [{ phone, channel: 'pigeon' }, 'channel'],
    ]) {
      const result = await protekt.auth.sendOtp(params);
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, field, JSON.stringify(params));
    }
    for (const params of [{ otp: '123456' }, { email, phone, otp: '123456' }]) {
      assertNoSession(await protekt.auth.verifyOtp(params), 'invalid_request', 400);
    }
  });

  test('a disabled user: verifying gives user_disabled; sendOtp and sendMagicLink answer as for anyone', async () => {
    // A code and a link, each sent while its user is enabled; then the users are disabled.
    const first = await newUser();
    const { code } = await emailCode(first.email);
    const second = await newUser();
    const { token } = await magicLinkEmail(second.email);
    for (const { user } of [first, second]) {
      assert.equal((await protekt.users.update(user.id, { disabled: true })).error, null);
    }
    assertNoSession(await protekt.auth.verifyOtp({ email: first.email, otp: code }), 'user_disabled', 403);
    assertNoSession(await protekt.auth.verifyMagicLink(token), 'user_disabled', 403);
    assert.deepEqual(await protekt.auth.sendOtp({ email: first.email }), { error: null });
    assert.deepEqual(await protekt.auth.sendMagicLink({ email: second.email }), { error: null });
  });
});

describe('sendOtp and verifyOtp by phone', () => {
  test('SMS: a code to the number; verifyOtp signs a phone-only user up (email: null), then signs them in', async () => {
    const phone = uniquePhone();
    assert.deepEqual(await protekt.auth.sendOtp({ phone }), { error: null });
    const sms = await waitForSms(server.dataDir, { to: phone });
    assert.equal(sms.kind, 'sms');
    assert.equal(sms.purpose, 'sign_in_code');
    assert.equal(sms.to, phone);
    assert.match(sms.code, /^\d{6}$/);
    assert.ok(sms.text.includes(sms.code), 'the text carries the code');

    const signedIn = assertSession(await protekt.auth.verifyOtp({ phone, otp: sms.code }));
    const { user } = signedIn;
    assert.equal(user.phone, phone);
    assert.equal(user.phoneVerified, true);
    assert.equal(user.email, null);
    assert.equal(user.emailVerified, false);
    const claims = await claimsOf(signedIn.accessToken);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['sms_otp']);
    // The token names the phone (OIDC's claim names) and no email.
    assert.equal(claims.email, undefined);
    assert.equal(claims.phone_number, phone);
    assert.equal(claims.phone_number_verified, true);
    // users.get reads the phone-only user back.
    const stored = await protekt.users.get(user.id);
    assert.equal(stored.error, null);
    assert.equal(stored.user.email, null);
    assert.equal(stored.user.phone, phone);

    // The code works once; a new one signs the same user in.
    assertNoSession(await protekt.auth.verifyOtp({ phone, otp: sms.code }), 'invalid_code', 401);
    assert.deepEqual(await protekt.auth.sendOtp({ phone, channel: 'sms' }), { error: null });
    const next = await waitForSms(server.dataDir, { to: phone }, { seen: [sms.id] });
    const again = assertSession(await protekt.auth.verifyOtp({ phone, otp: next.code }));
    assert.equal(again.user.id, user.id);
  });

  test('WhatsApp (the server\'s extension of the reference): channel \'whatsapp\' sends the code there', async () => {
    const phone = uniquePhone();
    assert.deepEqual(await protekt.auth.sendOtp({ phone, channel: 'whatsapp' }), { error: null });
    const message = await waitForSms(server.dataDir, { to: phone, kind: 'whatsapp' });
    assert.equal(message.kind, 'whatsapp');
    assert.equal(message.purpose, 'sign_in_code');
    assert.equal(message.to, phone);
    assert.match(message.code, /^\d{6}$/);

    const signedIn = assertSession(await protekt.auth.verifyOtp({ phone, otp: message.code }));
    assert.equal(signedIn.user.phone, phone);
    assert.equal(signedIn.user.phoneVerified, true);
    assert.equal(signedIn.user.email, null);
    assert.deepEqual((await claimsOf(signedIn.accessToken)).amr, ['whatsapp_otp']);
  });

  test('invalid_code for a wrong code', async () => {
    const phone = uniquePhone();
    assert.deepEqual(await protekt.auth.sendOtp({ phone }), { error: null });
    const { code } = await waitForSms(server.dataDir, { to: phone });
    assertNoSession(await protekt.auth.verifyOtp({ phone, otp: wrongCode(code) }), 'invalid_code', 401);
    // Sent to a number, not to an email address.
    assertNoSession(await protekt.auth.verifyOtp({ email: uniqueEmail('not-a-phone'), otp: code }), 'invalid_code', 401);
  });

  test('rate_limited with retryAfter after 3 SMS to one number in 10 minutes', async () => {
    const phone = uniquePhone();
    for (let i = 1; i <= 3; i++) {
      assert.deepEqual(await protekt.auth.sendOtp({ phone }), { error: null }, `SMS ${i}`);
    }
    const limited = await protekt.auth.sendOtp({ phone });
    assertApiError(limited.error, 'rate_limited', 429);
    assert.equal(typeof limited.error.retryAfter, 'number');
    assert.ok(limited.error.retryAfter > 0 && limited.error.retryAfter <= 600);
    assert.deepEqual(Object.keys(limited), ['error']);
  });

  test('smsAllowedCountries: a number of another country is value_not_allowed naming phone', async () => {
    const uk = await server.createProject('uk-only');
    const settings = await server.updateSettings(uk.id, { smsAllowedCountries: ['44'] });
    assert.deepEqual(settings.smsAllowedCountries, ['44']);
    const client = new Protekt({ loginId: uk.loginId, apiKey: uk.apiKey, baseUrl: server.baseUrl });
    const refused = await client.auth.sendOtp({ phone: uniquePhone() }); // +1…
    assertApiError(refused.error, 'value_not_allowed', 422);
    assert.equal(refused.error.field, 'phone');
    const ukPhone = `+447700${String(process.pid % 1_000_000).padStart(6, '0')}`;
    assert.deepEqual(await client.auth.sendOtp({ phone: ukPhone }), { error: null });
  });
});

describe('a user with a second factor', () => {
  /** A code for the next TOTP step this user has not used yet (see mfa.test.mjs). */
  async function nextTotp(user) {
    for (;;) {
      const current = totpStep();
      const step = Math.max(user.lastStep + 1, current);
      if (step <= current + 1) {
        user.lastStep = step;
        return totpCode(user.secret, step);
      }
      await sleep(30_000 - (Date.now() % 30_000) + 50);
    }
  }

  /** A fresh password user with a confirmed TOTP factor, as mfa.test.mjs makes them. */
  async function userWithTotp() {
    const user = await newUser();
    const enrolled = await protekt.mfa.enroll({ method: 'totp' }, user.accessToken);
    assert.equal(enrolled.error, null, `enroll failed: ${JSON.stringify(enrolled.error)}`);
    const totp = { ...user, secret: totpSecret(enrolled.totpUri), lastStep: -1 };
    const confirmed = await protekt.mfa.verify({ code: await nextTotp(totp) }, user.accessToken);
    assert.equal(confirmed.error, null, `mfa.verify failed: ${JSON.stringify(confirmed.error)}`);
    return totp;
  }

  test('verifyOtp and verifyMagicLink answer mfa_required with an mfaToken; mfa.verify finishes the sign-in', async () => {
    const user = await userWithTotp();

    const { code } = await emailCode(user.email);
    const challenged = await protekt.auth.verifyOtp({ email: user.email, otp: code });
    assertNoSession(challenged, 'mfa_required', 401);
    assert.equal(typeof challenged.error.mfaToken, 'string');
    assert.ok(challenged.error.mfaToken.length >= 20);

    const verified = await protekt.mfa.verify({
      code: await nextTotp(user),
      mfaToken: challenged.error.mfaToken,
    });
    assert.equal(verified.error, null, `mfa.verify failed: ${JSON.stringify(verified.error)}`);
    assert.equal(verified.user.id, user.user.id);
    assert.equal((await claimsOf(verified.accessToken)).aal, 'aal2');

    const { token } = await magicLinkEmail(user.email);
    const linked = await protekt.auth.verifyMagicLink(token);
    assertNoSession(linked, 'mfa_required', 401);
    assert.equal(typeof linked.error.mfaToken, 'string');
    assert.ok(linked.error.mfaToken.length >= 20);
  });
});
