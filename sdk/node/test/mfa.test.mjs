// protekt.mfa against a real Protekt server: enrolment (TOTP, SMS), the mfa_required login and
// its second step, backup codes, unenrolment, and the documented errors. Also the fixes of the
// security review that the SDK can see: the first factor's fresh backup codes voiding older ones
// (SECURITY M6), the other sessions it ends (S5), step-up for a password change (S6), and the
// back-off after wrong codes (M3, L1). The lock after 100 wrong codes (mfa_locked) takes hours
// of back-off in real time: the server's own tests cover it with a test clock.
//
// TOTP codes are computed from the secret in totpUri (test/harness.mjs: RFC 6238, HMAC-SHA1, 30 s
// steps). The server accepts the current step ±1, and each step only once (and never one older
// than the last used), so every user keeps track of the last step it used (see nextTotp).
// SMS codes are read from the dev outbox.

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
  waitForSms,
} from './harness.mjs';

let server;
let protekt;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
}

function decodeJwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** The answer of mfa.verify() that confirmed an enrolment (of a factor other than the first). */
const CONFIRMED = { user: null, accessToken: null, refreshToken: null, error: null };

/** The format of a backup code: 120 bits in base32, six groups of four. */
const BACKUP_CODE = /^[a-z2-7]{4}(-[a-z2-7]{4}){5}$/;

/**
 * Asserts the answer of mfa.verify() that confirmed a user's first factor: CONFIRMED plus ten
 * fresh, distinct backup codes (SECURITY M6). Returns the codes.
 */
function assertFirstFactorConfirmed(result) {
  assert.equal(result.error, null, `mfa.verify failed: ${JSON.stringify(result.error)}`);
  const { backupCodes, ...rest } = result;
  assert.deepEqual(rest, CONFIRMED);
  assert.ok(Array.isArray(backupCodes), `no backupCodes in ${JSON.stringify(result)}`);
  assert.equal(backupCodes.length, 10);
  for (const code of backupCodes) assert.match(code, BACKUP_CODE);
  assert.equal(new Set(backupCodes).size, 10);
  return backupCodes;
}

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
});

after(async () => {
  await server?.stop();
});

/** Signs up a fresh user: `{ email, user, accessToken, refreshToken }` (an aal1 session). */
async function newUser(client = protekt) {
  const email = uniqueEmail('mfa');
  const result = await client.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(result.error, null, `sign-up failed: ${JSON.stringify(result.error)}`);
  return { email, ...result };
}

/**
 * A code for the next TOTP step this user has not used yet: the current step, or a later one
 * (the server accepts up to one step ahead). When the next unused step is further ahead, waits
 * for the clock to get there.
 */
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

/**
 * A fresh user with a confirmed TOTP factor. `accessToken` is the sign-up session's (aal1);
 * `secret` and `lastStep` feed nextTotp(); `backupCodes` came with the confirmation.
 */
async function userWithTotp(client = protekt) {
  const user = await newUser(client);
  const enrolled = await client.mfa.enroll({ method: 'totp' }, user.accessToken);
  assert.equal(enrolled.error, null, `enroll failed: ${JSON.stringify(enrolled.error)}`);
  const totp = { ...user, secret: totpSecret(enrolled.totpUri), lastStep: -1 };
  totp.confirmCode = await nextTotp(totp);
  totp.backupCodes = assertFirstFactorConfirmed(
    await client.mfa.verify({ code: totp.confirmCode }, user.accessToken),
  );
  return totp;
}

/** Logs in with the password; asserts the mfa_required answer and returns its mfaToken. */
async function loginChallenge(email, client = protekt) {
  const result = await client.auth.login({ email, password: GOOD_PASSWORD });
  assertApiError(result.error, 'mfa_required', 401);
  assert.equal(typeof result.error.mfaToken, 'string');
  assert.ok(result.error.mfaToken.length >= 20);
  assert.equal(result.user, null);
  assert.equal(result.accessToken, null);
  assert.equal(result.refreshToken, null);
  return result.error.mfaToken;
}

/** Password and TOTP: an aal2 session of a user made by userWithTotp(). */
async function aal2Session(user) {
  const mfaToken = await loginChallenge(user.email);
  const verified = await protekt.mfa.verify({ code: await nextTotp(user), mfaToken });
  assert.equal(verified.error, null, `mfa.verify failed: ${JSON.stringify(verified.error)}`);
  return verified;
}

async function claimsOf(accessToken) {
  const { claims, error } = await protekt.auth.verifyToken(accessToken);
  assert.equal(error, null);
  return claims;
}

describe('TOTP', () => {
  test('enroll answers the otpauth:// URI and an SVG QR code; the factor counts once confirmed', async () => {
    const user = await newUser();
    assert.deepEqual(user.user.mfaMethods, []);

    const enrolled = await protekt.mfa.enroll({ method: 'totp' }, user.accessToken);
    assert.deepEqual(Object.keys(enrolled).sort(), ['error', 'qrCode', 'totpUri']);
    assert.equal(enrolled.error, null);
    const uri = new URL(enrolled.totpUri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), `/sdk-test:${user.email}`);
    assert.match(uri.searchParams.get('secret'), /^[A-Z2-7]{32}$/); // 160 bits
    assert.equal(uri.searchParams.get('issuer'), 'sdk-test');
    assert.match(enrolled.qrCode, /^data:image\/svg\+xml;base64,/);
    const svg = Buffer.from(enrolled.qrCode.split(',')[1], 'base64').toString('utf8');
    assert.match(svg, /<svg[\s>]/);

    // Pending: the factor does not count yet, so the password alone still signs in.
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods, []);
    const before = await protekt.auth.login({ email: user.email, password: GOOD_PASSWORD });
    assert.equal(before.error, null);

    // A wrong code does not confirm it.
    const secret = totpSecret(enrolled.totpUri);
    const current = totpCode(secret);
    const wrong = current === '000000' ? '111111' : '000000';
    const refused = await protekt.mfa.verify({ code: wrong }, user.accessToken);
    assertApiError(refused.error, 'invalid_code', 401);
    assert.deepEqual(refused, { user: null, accessToken: null, refreshToken: null, error: refused.error });

    // The right one does: no new session, all data fields null, and (the first factor) a fresh
    // set of backup codes.
    assertFirstFactorConfirmed(await protekt.mfa.verify({ code: current }, user.accessToken));
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods, ['totp']);
    // The confirming session goes on (it stays aal1).
    assert.equal((await claimsOf(user.accessToken)).aal, 'aal1');
  });

  test('login answers mfa_required; mfa.verify with the mfaToken and a TOTP code signs in (aal2)', async () => {
    const user = await userWithTotp();
    const mfaToken = await loginChallenge(user.email);

    const verified = await protekt.mfa.verify({ code: await nextTotp(user), mfaToken });
    assert.equal(verified.error, null);
    assert.deepEqual(Object.keys(verified).sort(), ['accessToken', 'error', 'refreshToken', 'user']);
    assert.equal(verified.user.id, user.user.id);
    assert.deepEqual(verified.user.mfaMethods, ['totp']);
    assert.equal(typeof verified.accessToken, 'string');
    assert.equal(typeof verified.refreshToken, 'string');
    const claims = await claimsOf(verified.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.aal, 'aal2');

    // The mfaToken works once.
    const again = await protekt.mfa.verify({ code: totpCode(user.secret), mfaToken });
    assertApiError(again.error, 'invalid_token', 401);
    assert.deepEqual(again, { user: null, accessToken: null, refreshToken: null, error: again.error });

    // The session refreshes as an aal2 session, and is listed.
    const refreshed = await protekt.auth.refreshToken(verified.refreshToken);
    assert.equal(refreshed.error, null);
    const refreshedClaims = await claimsOf(refreshed.accessToken);
    assert.equal(refreshedClaims.aal, 'aal2');
    assert.deepEqual(refreshedClaims.amr, ['pwd', 'otp']);
    const { sessions } = await protekt.sessions.list(refreshed.accessToken);
    assert.ok(sessions.some((s) => s.current && s.id === claims.sid));
  });

  test('a TOTP code is accepted once: a replayed code gives invalid_code', async () => {
    const user = await userWithTotp();
    const first = await loginChallenge(user.email);
    // The code that confirmed the enrolment is used up.
    const replayed = await protekt.mfa.verify({ code: user.confirmCode, mfaToken: first });
    assertApiError(replayed.error, 'invalid_code', 401);
    assert.equal(replayed.accessToken, null);
    // The challenge survives a wrong code: a fresh code finishes it.
    const code = await nextTotp(user);
    assert.equal((await protekt.mfa.verify({ code, mfaToken: first })).error, null);
    // That code too is used up, for the next login.
    const second = await loginChallenge(user.email);
    assertApiError((await protekt.mfa.verify({ code, mfaToken: second })).error, 'invalid_code', 401);
  });

  test('mfa.verify sends the client\'s tokenExpiry', async () => {
    const shortClient = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
      tokenExpiry: 60,
    });
    const user = await userWithTotp(shortClient);
    const mfaToken = await loginChallenge(user.email, shortClient);
    const verified = await shortClient.mfa.verify({ code: await nextTotp(user), mfaToken });
    assert.equal(verified.error, null);
    const { exp, iat } = decodeJwtPayload(verified.accessToken);
    assert.equal(exp - iat, 60);
  });
});

describe('SMS', () => {
  test('enroll texts a code, verify confirms it; login texts another, mfa.verify signs in (aal2)', async () => {
    const user = await newUser();
    const phone = uniquePhone();

    const enrolled = await protekt.mfa.enroll({ method: 'sms', phone }, user.accessToken);
    assert.deepEqual(enrolled, { totpUri: null, qrCode: null, error: null });
    const enrolSms = await waitForSms(server.dataDir, { to: phone });
    assert.equal(enrolSms.kind, 'sms');
    assert.equal(enrolSms.purpose, 'mfa_code');
    assert.match(enrolSms.code, /^\d{6}$/);
    assert.ok(enrolSms.text.includes(enrolSms.code));
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods, []);

    assertFirstFactorConfirmed(await protekt.mfa.verify({ code: enrolSms.code }, user.accessToken));
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods, ['sms']);

    // SMS is the user's only factor: the login challenge texts a code at once.
    const mfaToken = await loginChallenge(user.email);
    const loginSms = await waitForSms(server.dataDir, { to: phone }, { seen: [enrolSms.id] });
    assert.equal(loginSms.purpose, 'mfa_code');
    // The enrolment's code is bound to the enrolment, not to this login.
    if (enrolSms.code !== loginSms.code) {
      const stale = await protekt.mfa.verify({ code: enrolSms.code, mfaToken });
      assertApiError(stale.error, 'invalid_code', 401);
    }
    const verified = await protekt.mfa.verify({ code: loginSms.code, mfaToken });
    assert.equal(verified.error, null);
    assert.equal(verified.user.id, user.user.id);
    assert.deepEqual(verified.user.mfaMethods, ['sms']);
    const claims = await claimsOf(verified.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'sms']);
    assert.equal(claims.aal, 'aal2');
  });

  test('rate_limited after 3 SMS to one number in 10 minutes', async () => {
    const user = await newUser();
    const phone = uniquePhone();
    for (let i = 0; i < 3; i++) {
      const enrolled = await protekt.mfa.enroll({ method: 'sms', phone }, user.accessToken);
      assert.equal(enrolled.error, null, `SMS ${i + 1}`);
    }
    const limited = await protekt.mfa.enroll({ method: 'sms', phone }, user.accessToken);
    assertApiError(limited.error, 'rate_limited', 429);
    assert.equal(typeof limited.error.retryAfter, 'number');
    assert.ok(limited.error.retryAfter > 0 && limited.error.retryAfter <= 600);
    assert.deepEqual(limited, { totpUri: null, qrCode: null, error: limited.error });
  });
});

describe('enroll errors', () => {
  test('invalid_request names the field (method, phone); no access token: invalid_token', async () => {
    const user = await newUser();
    for (const [params, field] of [
      [{ method: 'email' }, 'method'],
      [{ method: 'sms' }, 'phone'],
      [{ method: 'sms', phone: '4155550123' }, 'phone'],
      [{ method: 'sms', phone: '+1 415 555 0123' }, 'phone'],
    ]) {
      const result = await protekt.mfa.enroll(params, user.accessToken);
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, field, JSON.stringify(params));
      assert.deepEqual(result, { totpUri: null, qrCode: null, error: result.error });
    }
    assertApiError((await protekt.mfa.enroll({ method: 'totp' })).error, 'invalid_token', 401);
    assertApiError((await protekt.mfa.enroll({ method: 'totp' }, 'not-a-token')).error, 'invalid_token', 401);
  });

  test('a user with a factor needs an aal2 session to enrol another: mfa_step_up_required', async () => {
    const user = await userWithTotp();
    const phone = uniquePhone();
    const refused = await protekt.mfa.enroll({ method: 'sms', phone }, user.accessToken);
    assertApiError(refused.error, 'mfa_step_up_required', 403);
    const { accessToken } = await aal2Session(user);
    assert.deepEqual(await protekt.mfa.enroll({ method: 'sms', phone }, accessToken), {
      totpUri: null,
      qrCode: null,
      error: null,
    });
    // Enrolling TOTP again while it is confirmed is refused.
    const twice = await protekt.mfa.enroll({ method: 'totp' }, accessToken);
    assertApiError(twice.error, 'conflict', 409);

    // Confirming this second factor hands out no backup codes: the set that came with the
    // first factor stays (SECURITY M6).
    const sms = await waitForSms(server.dataDir, { to: phone });
    assert.deepEqual(await protekt.mfa.verify({ code: sms.code }, accessToken), CONFIRMED);
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods.sort(), ['sms', 'totp']);
    const mfaToken = await loginChallenge(user.email);
    assert.equal((await protekt.mfa.verify({ code: user.backupCodes[0], mfaToken })).error, null);
  });
});

describe('verify errors', () => {
  test('invalid_code, invalid_token, and invalid_request (mfaToken) without mfaToken or access token', async () => {
    const user = await userWithTotp();
    const mfaToken = await loginChallenge(user.email);
    const wrong = await protekt.mfa.verify({ code: '12345' /* five digits: never a TOTP code */, mfaToken });
    assertApiError(wrong.error, 'invalid_code', 401);

    const unknown = await protekt.mfa.verify({ code: totpCode(user.secret), mfaToken: 'not-an-mfa-token' });
    assertApiError(unknown.error, 'invalid_token', 401);

    const neither = await protekt.mfa.verify({ code: '123456' });
    assertApiError(neither.error, 'invalid_request', 400);
    assert.equal(neither.error.field, 'mfaToken');
    assert.deepEqual(neither, { user: null, accessToken: null, refreshToken: null, error: neither.error });

    // A malformed access token confirms nothing.
    assertApiError((await protekt.mfa.verify({ code: '123456' }, 'not-a-token')).error, 'invalid_token', 401);
    // With nothing pending, there is nothing to confirm.
    const fresh = await newUser();
    const nothing = await protekt.mfa.verify({ code: '123456' }, fresh.accessToken);
    assertApiError(nothing.error, 'conflict', 409);
  });

  test('five wrong codes kill the mfaToken: then even the right code gives invalid_token', async () => {
    const user = await userWithTotp();
    const mfaToken = await loginChallenge(user.email);
    for (let i = 1; i <= 5; i++) {
      const result = await protekt.mfa.verify({ code: `1234${i}`, mfaToken });
      assertApiError(result.error, 'invalid_code', 401);
    }
    const killed = await protekt.mfa.verify({ code: await nextTotp(user), mfaToken });
    assertApiError(killed.error, 'invalid_token', 401);
    // A new login gives a new challenge.
    const again = await loginChallenge(user.email);
    assert.notEqual(again, mfaToken);
  });

  test('wrong codes back off across challenges: five free, then 1 s, 2 s … (rate_limited); a right code starts over (SECURITY M3, L1)', async () => {
    const user = await userWithTotp(); // confirming the enrolment (a right code) starts at zero
    let mfaToken = await loginChallenge(user.email);
    for (let i = 1; i <= 5; i++) {
      const result = await protekt.mfa.verify({ code: '12345', mfaToken });
      assertApiError(result.error, 'invalid_code', 401);
    }
    // Those five killed the challenge; the count is the user's, so a new challenge waits 1 s.
    mfaToken = await loginChallenge(user.email);
    const limited = await protekt.mfa.verify({ code: '12345', mfaToken });
    assertApiError(limited.error, 'rate_limited', 429);
    assert.equal(limited.error.retryAfter, 1);
    assert.deepEqual(limited, { user: null, accessToken: null, refreshToken: null, error: limited.error });

    // After the wait a sixth wrong code is checked; the next attempt then waits 2 s, and even the
    // right code is refused until then.
    await sleep(1_100);
    assertApiError((await protekt.mfa.verify({ code: '12345', mfaToken })).error, 'invalid_code', 401);
    const code = await nextTotp(user);
    const waiting = await protekt.mfa.verify({ code, mfaToken });
    assertApiError(waiting.error, 'rate_limited', 429);
    assert.ok(waiting.error.retryAfter >= 1 && waiting.error.retryAfter <= 2, `retryAfter ${waiting.error.retryAfter}`);
    await sleep(waiting.error.retryAfter * 1_000 + 100);
    // The refused attempts did not use up the challenge or the code.
    const verified = await protekt.mfa.verify({ code, mfaToken });
    assert.equal(verified.error, null, JSON.stringify(verified.error));
    assert.equal((await claimsOf(verified.accessToken)).aal, 'aal2');

    // The right code started the count over: five wrong codes in a row are free again.
    mfaToken = await loginChallenge(user.email);
    for (let i = 1; i <= 5; i++) {
      const result = await protekt.mfa.verify({ code: '12345', mfaToken });
      assertApiError(result.error, 'invalid_code', 401);
    }
  });
});

describe('backup codes', () => {
  test('generateBackupCodes: ten single-use codes; with a factor it needs an aal2 session', async () => {
    // Without a factor, any session may make them.
    const plain = await newUser();
    const first = await protekt.mfa.generateBackupCodes(plain.accessToken);
    assert.equal(first.error, null);
    assert.equal(first.backupCodes.length, 10);
    for (const code of first.backupCodes) assert.match(code, BACKUP_CODE);
    assert.equal(new Set(first.backupCodes).size, 10);

    const user = await userWithTotp();
    const refused = await protekt.mfa.generateBackupCodes(user.accessToken);
    assertApiError(refused.error, 'mfa_step_up_required', 403);
    assert.deepEqual(refused, { backupCodes: null, error: refused.error });

    const { accessToken } = await aal2Session(user);
    const made = await protekt.mfa.generateBackupCodes(accessToken);
    assert.equal(made.error, null);
    assert.equal(made.backupCodes.length, 10);
    for (const code of made.backupCodes) assert.match(code, BACKUP_CODE);

    assertApiError((await protekt.mfa.generateBackupCodes('not-a-token')).error, 'invalid_token', 401);
  });

  test('a backup code finishes a login once; a new set voids the old one', async () => {
    const user = await userWithTotp();
    const { accessToken } = await aal2Session(user);
    const { backupCodes } = await protekt.mfa.generateBackupCodes(accessToken);

    let mfaToken = await loginChallenge(user.email);
    const verified = await protekt.mfa.verify({ code: backupCodes[0], mfaToken });
    assert.equal(verified.error, null);
    assert.equal(verified.user.id, user.user.id);
    const claims = await claimsOf(verified.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'backup_code']);
    assert.equal(claims.aal, 'aal2');

    // Used up.
    mfaToken = await loginChallenge(user.email);
    assertApiError((await protekt.mfa.verify({ code: backupCodes[0], mfaToken })).error, 'invalid_code', 401);
    // Another code of the set works (on the same challenge, after the wrong one).
    assert.equal((await protekt.mfa.verify({ code: backupCodes[1], mfaToken })).error, null);

    // A new set: the old codes stop working, the new ones work.
    const renewed = await protekt.mfa.generateBackupCodes(verified.accessToken);
    assert.equal(renewed.error, null);
    assert.equal(renewed.backupCodes.filter((c) => backupCodes.includes(c)).length, 0);
    mfaToken = await loginChallenge(user.email);
    assertApiError((await protekt.mfa.verify({ code: backupCodes[2], mfaToken })).error, 'invalid_code', 401);
    assert.equal((await protekt.mfa.verify({ code: renewed.backupCodes[0], mfaToken })).error, null);
  });
});

describe('the first factor: fresh backup codes, other sessions end, step-up for the password', () => {
  /** Enrols TOTP with `accessToken` and confirms it; returns mfa.verify's answer and the user's TOTP state. */
  async function enrolTotp(user, accessToken = user.accessToken, client = protekt) {
    const enrolled = await client.mfa.enroll({ method: 'totp' }, accessToken);
    assert.equal(enrolled.error, null, `enroll failed: ${JSON.stringify(enrolled.error)}`);
    const totp = { ...user, secret: totpSecret(enrolled.totpUri), lastStep: -1 };
    const confirmed = await client.mfa.verify({ code: await nextTotp(totp) }, accessToken);
    return { confirmed, totp };
  }

  test('confirming the first TOTP factor answers ten fresh backup codes; one finishes a login, once (SECURITY M6)', async () => {
    const user = await newUser();
    const { confirmed } = await enrolTotp(user);
    const backupCodes = assertFirstFactorConfirmed(confirmed);
    assert.deepEqual(Object.keys(confirmed).sort(), ['accessToken', 'backupCodes', 'error', 'refreshToken', 'user']);

    let mfaToken = await loginChallenge(user.email);
    const verified = await protekt.mfa.verify({ code: backupCodes[3], mfaToken });
    assert.equal(verified.error, null, JSON.stringify(verified.error));
    assert.equal(verified.user.id, user.user.id);
    assert.equal(verified.backupCodes, undefined, 'a login hands out no codes');
    const claims = await claimsOf(verified.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'backup_code']);
    assert.equal(claims.aal, 'aal2');

    // Single use; the others of the set still work (typed in capitals and without dashes too).
    mfaToken = await loginChallenge(user.email);
    assertApiError((await protekt.mfa.verify({ code: backupCodes[3], mfaToken })).error, 'invalid_code', 401);
    const loose = backupCodes[4].replaceAll('-', '').toUpperCase();
    assert.equal((await protekt.mfa.verify({ code: loose, mfaToken })).error, null);
  });

  test('backup codes made before the first factor stop working once it is confirmed: invalid_code (SECURITY M6)', async () => {
    // The attack: someone with an aal1 session of the user (a guessed password, a stolen token)
    // makes backup codes while the user has no factor, hoping they outlive the owner's TOTP.
    const owner = await newUser();
    const intruder = await protekt.auth.login({ email: owner.email, password: GOOD_PASSWORD });
    assert.equal(intruder.error, null);
    const planted = await protekt.mfa.generateBackupCodes(intruder.accessToken);
    assert.equal(planted.error, null);
    assert.equal(planted.backupCodes.length, 10);
    // So does the owner, before enrolling.
    const early = await protekt.mfa.generateBackupCodes(owner.accessToken);
    assert.equal(early.error, null);

    const { confirmed } = await enrolTotp(owner);
    const fresh = assertFirstFactorConfirmed(confirmed);
    const before = [...planted.backupCodes, ...early.backupCodes];
    assert.equal(fresh.filter((c) => before.includes(c)).length, 0);

    // No code made before the factor finishes a login; the fresh ones do.
    const mfaToken = await loginChallenge(owner.email);
    for (const code of [planted.backupCodes[0], early.backupCodes[0]]) {
      const refused = await protekt.mfa.verify({ code, mfaToken });
      assertApiError(refused.error, 'invalid_code', 401);
      assert.deepEqual(refused, { user: null, accessToken: null, refreshToken: null, error: refused.error });
    }
    const verified = await protekt.mfa.verify({ code: fresh[0], mfaToken });
    assert.equal(verified.error, null, JSON.stringify(verified.error));
    assert.deepEqual((await claimsOf(verified.accessToken)).amr, ['pwd', 'backup_code']);
  });

  test('confirming the first factor ends the user\'s other sessions; the confirming one stays (SECURITY S5)', async () => {
    const user = await newUser();
    const other = await protekt.auth.login({ email: user.email, password: GOOD_PASSWORD });
    assert.equal(other.error, null);
    assert.equal((await protekt.auth.verifyToken(other.accessToken)).error, null);

    const { confirmed } = await enrolTotp(user);
    assertFirstFactorConfirmed(confirmed);

    // The session started before the confirmation is dead: its access token no longer
    // verifies and its refresh token no longer refreshes.
    const dead = await protekt.auth.verifyToken(other.accessToken);
    assertApiError(dead.error, 'invalid_token', 401);
    assert.deepEqual(dead, { user: null, client: null, claims: null, error: dead.error });
    assertApiError((await protekt.auth.refreshToken(other.refreshToken)).error, 'invalid_token', 401);
    // The confirming session goes on, aal1, and is the user's only one.
    const claims = await claimsOf(user.accessToken);
    assert.equal(claims.aal, 'aal1');
    const { sessions, error } = await protekt.sessions.list(user.accessToken);
    assert.equal(error, null);
    assert.deepEqual(sessions.map((s) => [s.id, s.current]), [[claims.sid, true]]);
    assert.equal((await protekt.auth.refreshToken(user.refreshToken)).error, null);
  });

  test('a project with endOtherSessionsOnMfaChange: false keeps the other sessions; the codes are still replaced (SECURITY S5, M6)', async () => {
    const second = await server.createProject('keep-sessions');
    const settings = await server.updateSettings(second.id, { endOtherSessionsOnMfaChange: false });
    assert.equal(settings.endOtherSessionsOnMfaChange, false);
    const client = new Protekt({ loginId: second.loginId, apiKey: second.apiKey, baseUrl: server.baseUrl });
    const user = await newUser(client);
    const other = await client.auth.login({ email: user.email, password: GOOD_PASSWORD });
    assert.equal(other.error, null);
    const early = await client.mfa.generateBackupCodes(other.accessToken);
    assert.equal(early.error, null);

    const { confirmed } = await enrolTotp(user, user.accessToken, client);
    const fresh = assertFirstFactorConfirmed(confirmed);
    assert.equal((await client.auth.verifyToken(other.accessToken)).error, null);
    const mfaToken = await loginChallenge(user.email, client);
    assertApiError((await client.mfa.verify({ code: early.backupCodes[0], mfaToken })).error, 'invalid_code', 401);
    assert.equal((await client.mfa.verify({ code: fresh[0], mfaToken })).error, null);
  });

  test('auth.changePassword with the aal1 session of a user with TOTP: mfa_step_up_required; with aal2 it works (SECURITY S6)', async () => {
    const user = await userWithTotp();
    const NEW_PASSWORD = 'another long passphrase 77';
    const refused = await protekt.auth.changePassword(
      { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD },
      user.accessToken,
    );
    assertApiError(refused.error, 'mfa_step_up_required', 403);
    assert.deepEqual(refused, { error: refused.error });
    // Nothing changed: the password still leads to the MFA step, the aal1 session still verifies.
    await loginChallenge(user.email);
    assert.equal((await protekt.auth.verifyToken(user.accessToken)).error, null);

    // A session that passed MFA may change it.
    const { accessToken } = await aal2Session(user);
    assert.deepEqual(
      await protekt.auth.changePassword({ currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD }, accessToken),
      { error: null },
    );
    const login = await protekt.auth.login({ email: user.email, password: NEW_PASSWORD });
    assertApiError(login.error, 'mfa_required', 401);
    // The change ended the other sessions, the aal1 one among them.
    assertApiError((await protekt.auth.verifyToken(user.accessToken)).error, 'invalid_token', 401);
  });
});

describe('unenroll', () => {
  test('needs an aal2 session (mfa_step_up_required); not_found for a method not enrolled', async () => {
    const user = await userWithTotp();
    const refused = await protekt.mfa.unenroll({ method: 'totp' }, user.accessToken);
    assertApiError(refused.error, 'mfa_step_up_required', 403);
    assert.deepEqual(refused, { error: refused.error });
    const { accessToken } = await aal2Session(user);

    assertApiError((await protekt.mfa.unenroll({ method: 'sms' }, accessToken)).error, 'not_found', 404);
    assert.deepEqual(await protekt.mfa.unenroll({ method: 'totp' }, accessToken), { error: null });
    assert.deepEqual((await protekt.users.get(user.user.id)).user.mfaMethods, []);
    assertApiError((await protekt.mfa.unenroll({ method: 'totp' }, accessToken)).error, 'not_found', 404);

    // The password alone signs in again.
    const login = await protekt.auth.login({ email: user.email, password: GOOD_PASSWORD });
    assert.equal(login.error, null);
    assert.deepEqual(login.user.mfaMethods, []);
    assert.equal((await claimsOf(login.accessToken)).aal, 'aal1');

    assertApiError((await protekt.mfa.unenroll({ method: 'totp' }, 'not-a-token')).error, 'invalid_token', 401);
  });
});
