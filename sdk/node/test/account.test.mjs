// Passwords against a real Protekt server: requestPasswordReset (the email is read from the
// server's dev outbox), confirmPasswordReset and changePassword, success and documented errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Protekt } from '@protekt/node';
import { GOOD_PASSWORD, expectNoEmail, startServer, uniqueEmail, waitForEmail } from './harness.mjs';

let server;
let protekt;

const NEW_PASSWORD = 'a brand new passphrase 77';

async function newUser(email = uniqueEmail('account')) {
  const result = await protekt.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(result.error, null, `sign-up failed: ${JSON.stringify(result.error)}`);
  return { email, ...result };
}

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
}

/** Asks for a reset of `email` and returns the token of the email that arrives. */
async function resetToken(email, seen = []) {
  assert.deepEqual(await protekt.auth.requestPasswordReset({ email }), { error: null });
  const message = await waitForEmail(server.dataDir, { to: email, kind: 'password_reset' }, { seen });
  return message.token;
}

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
});

after(async () => {
  await server?.stop();
});

// The server allows 30 emails per hour from one IP address, and every test here calls from
// 127.0.0.1: the tests of this file ask for fewer than that in all.

describe('requestPasswordReset', () => {
  test('answers { error: null } and emails a reset link with a token to the user', async () => {
    const { email } = await newUser();
    const result = await protekt.auth.requestPasswordReset({ email });
    assert.deepEqual(result, { error: null });
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'password_reset' });
    assert.equal(message.to, email);
    assert.equal(typeof message.subject, 'string');
    assert.equal(typeof message.token, 'string');
    assert.ok(message.token.length >= 20);
    assert.ok(message.link.includes(message.token), 'the link carries the token');
    assert.ok(message.text.includes(message.link));
    assert.ok(!Number.isNaN(Date.parse(message.createdAt)));
  });

  test('an unknown address gets exactly the same answer, and no email', async () => {
    const nobody = uniqueEmail('nobody');
    assert.deepEqual(await protekt.auth.requestPasswordReset({ email: nobody }), { error: null });
    await expectNoEmail(server.dataDir, { to: nobody }, 1_000);
  });

  test('the address is matched case-insensitively; the email goes to the stored address', async () => {
    const { email } = await newUser(uniqueEmail('casing'));
    assert.deepEqual(await protekt.auth.requestPasswordReset({ email: email.toUpperCase() }), {
      error: null,
    });
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'password_reset' });
    assert.equal(message.to, email);
  });

  test('invalid_request names the email field for a malformed address', async () => {
    const result = await protekt.auth.requestPasswordReset({ email: 'not-an-email' });
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'email');
    assert.deepEqual(Object.keys(result), ['error']);
  });

  test('redirectUrl is sent: one the project does not allow is refused naming it', async () => {
    const result = await protekt.auth.requestPasswordReset({
      email: uniqueEmail('redirect'),
      redirectUrl: 'https://evil.example.net/after-reset',
    });
    assertApiError(result.error, 'value_not_allowed', 422);
    assert.equal(result.error.field, 'redirectUrl');
  });

  test('rate_limited with retryAfter after 5 requests for one address in an hour', async () => {
    const email = uniqueEmail('limited'); // no account: the quota counts all the same
    for (let i = 1; i <= 5; i++) {
      assert.deepEqual(await protekt.auth.requestPasswordReset({ email }), { error: null }, `request ${i}`);
    }
    const result = await protekt.auth.requestPasswordReset({ email });
    assertApiError(result.error, 'rate_limited', 429);
    assert.equal(typeof result.error.retryAfter, 'number');
    assert.ok(result.error.retryAfter > 0 && result.error.retryAfter <= 3600);
    assert.deepEqual(Object.keys(result), ['error']);
    // Another address is not affected.
    assert.deepEqual(await protekt.auth.requestPasswordReset({ email: uniqueEmail('other') }), {
      error: null,
    });
  });
});

describe('confirmPasswordReset', () => {
  test('end to end: request, token from the email, new password, every session ends', async () => {
    const { email, accessToken, refreshToken } = await newUser();
    const second = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    const token = await resetToken(email);

    const result = await protekt.auth.confirmPasswordReset({
      resetToken: token,
      newPassword: NEW_PASSWORD,
    });
    assert.deepEqual(result, { error: null });

    // The new password works, the old one does not.
    const loggedIn = await protekt.auth.login({ email, password: NEW_PASSWORD });
    assert.equal(loggedIn.error, null);
    const old = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assertApiError(old.error, 'invalid_credentials', 401);

    // Every session that existed before the reset has ended.
    for (const t of [accessToken, second.accessToken]) {
      assertApiError((await protekt.auth.verifyToken(t)).error, 'invalid_token', 401);
    }
    assertApiError((await protekt.auth.refreshToken(refreshToken)).error, 'invalid_token', 401);

    // The user is told by email.
    await waitForEmail(server.dataDir, { to: email, kind: 'password_changed' });
  });

  test('a reset token works once: the second use is invalid_token', async () => {
    const { email } = await newUser();
    const token = await resetToken(email);
    assert.deepEqual(
      await protekt.auth.confirmPasswordReset({ resetToken: token, newPassword: NEW_PASSWORD }),
      { error: null },
    );
    const again = await protekt.auth.confirmPasswordReset({
      resetToken: token,
      newPassword: 'yet another passphrase 99',
    });
    assertApiError(again.error, 'invalid_token', 401);
    assert.deepEqual(Object.keys(again), ['error']);
    // The second attempt changed nothing.
    assert.equal((await protekt.auth.login({ email, password: NEW_PASSWORD })).error, null);
  });

  test('a new email address (users.update) voids a reset link still out', async () => {
    const { email, user } = await newUser();
    const token = await resetToken(email);
    assert.equal((await protekt.users.update(user.id, { email: uniqueEmail('moved') })).error, null);
    const result = await protekt.auth.confirmPasswordReset({ resetToken: token, newPassword: NEW_PASSWORD });
    assertApiError(result.error, 'invalid_token', 401);
  });

  test('invalid_token for an unknown token and an empty one', async () => {
    for (const resetToken of ['no-such-reset-token', 'x'.repeat(43), '']) {
      const result = await protekt.auth.confirmPasswordReset({ resetToken, newPassword: NEW_PASSWORD });
      assertApiError(result.error, 'invalid_token', 401);
    }
  });

  test('weak_password leaves the token usable', async () => {
    const { email } = await newUser();
    const token = await resetToken(email);
    const weak = await protekt.auth.confirmPasswordReset({ resetToken: token, newPassword: 'password' });
    assertApiError(weak.error, 'weak_password', 422);
    // The server names `password` here, although the request's field is `newPassword`.
    assert.ok(['newPassword', 'password'].includes(weak.error.field), weak.error.field);
    // The old password still works, and the token still does.
    assert.equal((await protekt.auth.login({ email, password: GOOD_PASSWORD })).error, null);
    assert.deepEqual(
      await protekt.auth.confirmPasswordReset({ resetToken: token, newPassword: NEW_PASSWORD }),
      { error: null },
    );
    assert.equal((await protekt.auth.login({ email, password: NEW_PASSWORD })).error, null);
  });

  test('invalid_request when a field is missing', async () => {
    const result = await protekt.auth.confirmPasswordReset({ resetToken: 'abc' });
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'newPassword');
  });
});

describe('changePassword', () => {
  test('changes the password; other sessions end, the current one stays', async () => {
    const { email, accessToken, refreshToken } = await newUser();
    const other = await protekt.auth.login({ email, password: GOOD_PASSWORD });

    const result = await protekt.auth.changePassword(
      { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD },
      accessToken,
    );
    assert.deepEqual(result, { error: null });

    assert.equal((await protekt.auth.login({ email, password: NEW_PASSWORD })).error, null);
    assertApiError(
      (await protekt.auth.login({ email, password: GOOD_PASSWORD })).error,
      'invalid_credentials',
      401,
    );
    // The current session stays: its access token verifies and its refresh token works.
    assert.equal((await protekt.auth.verifyToken(accessToken)).error, null);
    assert.equal((await protekt.auth.refreshToken(refreshToken)).error, null);
    // The other session has ended.
    assertApiError((await protekt.auth.verifyToken(other.accessToken)).error, 'invalid_token', 401);
    assertApiError((await protekt.auth.refreshToken(other.refreshToken)).error, 'invalid_token', 401);
    await waitForEmail(server.dataDir, { to: email, kind: 'password_changed' });
  });

  test('invalid_credentials for a wrong current password; nothing changes', async () => {
    const { email, accessToken } = await newUser();
    const result = await protekt.auth.changePassword(
      { currentPassword: 'not the password 123', newPassword: NEW_PASSWORD },
      accessToken,
    );
    assertApiError(result.error, 'invalid_credentials', 401);
    assert.deepEqual(Object.keys(result), ['error']);
    assert.equal((await protekt.auth.login({ email, password: GOOD_PASSWORD })).error, null);
    assert.equal((await protekt.auth.verifyToken(accessToken)).error, null);
  });

  test('weak_password for a new password the policy refuses', async () => {
    const { email, accessToken } = await newUser();
    const result = await protekt.auth.changePassword(
      { currentPassword: GOOD_PASSWORD, newPassword: 'password' },
      accessToken,
    );
    assertApiError(result.error, 'weak_password', 422);
    assert.ok(['newPassword', 'password'].includes(result.error.field), result.error.field);
    assert.equal((await protekt.auth.login({ email, password: GOOD_PASSWORD })).error, null);
  });

  test('invalid_token for a bad, a logged-out or a missing access token', async () => {
    const { accessToken } = await newUser();
    await protekt.auth.logout(accessToken);
    for (const token of ['not-a-token', accessToken, undefined]) {
      const result = await protekt.auth.changePassword(
        { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD },
        token,
      );
      assertApiError(result.error, 'invalid_token', 401);
    }
  });
});

describe('email verification (no SDK method; checked here for signUp\'s sendVerification)', () => {
  test('signUp with sendVerification emails a verify_email link whose token verifies the address', async () => {
    const email = uniqueEmail('verify');
    const { user, error } = await protekt.auth.signUp({
      email,
      password: GOOD_PASSWORD,
      sendVerification: true,
    });
    assert.equal(error, null);
    assert.equal(user.emailVerified, false);
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'verify_email' });
    assert.ok(message.link.includes(message.token));

    // The server's endpoint, called directly (the SDK reference has no method for it).
    const res = await fetch(`${server.baseUrl}/v1/auth/verify-email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.apiKey },
      body: JSON.stringify({ token: message.token }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).user.emailVerified, true);
    assert.equal((await protekt.users.get(user.id)).user.emailVerified, true);
  });

  test('signUp without sendVerification sends no email', async () => {
    const { email } = await newUser();
    await expectNoEmail(server.dataDir, { to: email }, 500);
  });

  test('a password reset proves the mailbox: the address becomes verified', async () => {
    const { email, user } = await newUser();
    assert.equal(user.emailVerified, false);
    const token = await resetToken(email);
    await protekt.auth.confirmPasswordReset({ resetToken: token, newPassword: NEW_PASSWORD });
    assert.equal((await protekt.users.get(user.id)).user.emailVerified, true);
  });
});

describe('project settings that change these calls', () => {
  test('redirectUrl: one of the project\'s allowed redirect URLs is accepted', async () => {
    const second = await server.createProject('redirects');
    await server.updateSettings(second.id, {
      allowedRedirectUrls: ['https://app.example.com/after-reset'],
    });
    const client = new Protekt({ loginId: second.loginId, apiKey: second.apiKey, baseUrl: server.baseUrl });
    const email = uniqueEmail('redirect-ok');
    assert.equal((await client.auth.signUp({ email, password: GOOD_PASSWORD })).error, null);
    const result = await client.auth.requestPasswordReset({
      email,
      redirectUrl: 'https://app.example.com/after-reset',
    });
    assert.deepEqual(result, { error: null });
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'password_reset' });
    assert.deepEqual(
      await client.auth.confirmPasswordReset({ resetToken: message.token, newPassword: NEW_PASSWORD }),
      { error: null },
    );
    // Still exact match only.
    const other = await client.auth.requestPasswordReset({
      email,
      redirectUrl: 'https://app.example.com/after-reset/../elsewhere',
    });
    assert.equal(other.error?.code, 'value_not_allowed');
    assert.equal(other.error?.field, 'redirectUrl');
  });

  test('email_not_verified (403) from login when the project requires verified addresses', async () => {
    const second = await server.createProject('verified-only');
    await server.updateSettings(second.id, { requireEmailVerification: true });
    const client = new Protekt({ loginId: second.loginId, apiKey: second.apiKey, baseUrl: server.baseUrl });
    const email = uniqueEmail('unverified');
    // Sign-up creates the user but no session until the address is verified.
    const signUp = await client.auth.signUp({ email, password: GOOD_PASSWORD });
    assert.equal(signUp.error, null);
    assert.equal(signUp.user.email, email);
    assert.equal(signUp.accessToken, null);
    assert.equal(signUp.refreshToken, null);
    const result = await client.auth.login({ email, password: GOOD_PASSWORD });
    assertApiError(result.error, 'email_not_verified', 403);
    assert.deepEqual(result, { user: null, accessToken: null, refreshToken: null, error: result.error });
    // A password reset proves the mailbox, after which login works.
    const token = await (async () => {
      assert.deepEqual(await client.auth.requestPasswordReset({ email }), { error: null });
      return (await waitForEmail(server.dataDir, { to: email, kind: 'password_reset' })).token;
    })();
    await client.auth.confirmPasswordReset({ resetToken: token, newPassword: NEW_PASSWORD });
    assert.equal((await client.auth.login({ email, password: NEW_PASSWORD })).error, null);
  });
});
