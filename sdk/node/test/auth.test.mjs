// protekt.auth against a real Protekt server: every method's success and documented errors.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { ERROR_CODES, Protekt, ProtektError } from '@protekt/node';
import { findBinary, GOOD_PASSWORD, startServer, uniqueEmail, waitForEmail } from './harness.mjs';

let server;
let protekt;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Signs up a fresh user and returns the sign-up result plus its email. */
async function newUser(client = protekt) {
  const email = uniqueEmail();
  const result = await client.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(result.error, null, `sign-up failed: ${JSON.stringify(result.error)}`);
  return { email, ...result };
}

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
}

function decodeJwtPayload(jwt) {
  const [, payload] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

// An access token that expires 10 s (the shortest lifetime the server issues) after the start:
// made first, checked last, so the suite does not sit idle waiting for it.
let shortLived;

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
  const shortClient = new Protekt({
    loginId: server.loginId,
    apiKey: server.apiKey,
    baseUrl: server.baseUrl,
    tokenExpiry: 10,
  });
  shortLived = await newUser(shortClient);
});

after(async () => {
  await server?.stop();
});

describe('signUp', () => {
  test('creates a user and returns { user, accessToken, refreshToken, error: null }', async () => {
    const email = uniqueEmail('signup');
    const result = await protekt.auth.signUp({
      email,
      password: GOOD_PASSWORD,
      metadata: { plan: 'free', seats: 3 },
    });
    assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'error', 'refreshToken', 'user']);
    assert.equal(result.error, null);
    const { user } = result;
    assert.match(user.id, /^usr_/);
    assert.equal(user.email, email);
    assert.equal(user.emailVerified, false);
    assert.deepEqual(user.metadata, { plan: 'free', seats: 3 });
    assert.equal(user.disabled, false);
    for (const field of ['createdAt', 'updatedAt']) {
      assert.ok(!Number.isNaN(Date.parse(user[field])), `${field} is a date`);
    }
    assert.ok('lastLoginAt' in user);
    assert.equal(result.accessToken.split('.').length, 3, 'the access token is a JWT');
    assert.equal(typeof result.refreshToken, 'string');
    assert.ok(result.refreshToken.length >= 20);
    const claims = decodeJwtPayload(result.accessToken);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.aud, server.loginId);
  });

  test('accepts sendVerification: a verify_email email goes out (more in account.test.mjs)', async () => {
    const email = uniqueEmail('verify-mail');
    const result = await protekt.auth.signUp({ email, password: GOOD_PASSWORD, sendVerification: true });
    assert.equal(result.error, null);
    assert.equal(result.user.emailVerified, false);
    await waitForEmail(server.dataDir, { to: email, kind: 'verify_email' });
  });

  test('sends only the documented fields (the API refuses unknown ones)', async () => {
    const result = await protekt.auth.signUp({
      email: uniqueEmail('extra'),
      password: GOOD_PASSWORD,
      name: 'not a sign-up field',
    });
    assert.equal(result.error, null);
  });

  test('email_taken: the same email twice', async () => {
    const { email } = await newUser();
    const result = await protekt.auth.signUp({ email, password: GOOD_PASSWORD });
    assertApiError(result.error, 'email_taken', 409);
    assert.equal(result.user, null);
    assert.equal(result.accessToken, null);
    assert.equal(result.refreshToken, null);
  });

  test('weak_password names the password field', async () => {
    const result = await protekt.auth.signUp({ email: uniqueEmail('weak'), password: 'password' });
    assertApiError(result.error, 'weak_password', 422);
    assert.equal(result.error.field, 'password');
    assert.deepEqual(
      { user: result.user, accessToken: result.accessToken, refreshToken: result.refreshToken },
      { user: null, accessToken: null, refreshToken: null },
    );
  });

  test('invalid_request names the field at fault', async () => {
    const result = await protekt.auth.signUp({ email: 'not-an-email', password: GOOD_PASSWORD });
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'email');
    assert.equal(result.user, null);
  });
});

describe('login', () => {
  test('signs in and returns { user, accessToken, refreshToken, error: null }', async () => {
    const { email, user: created } = await newUser();
    const result = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'error', 'refreshToken', 'user']);
    assert.equal(result.error, null);
    assert.equal(result.user.id, created.id);
    assert.equal(result.user.email, email);
    assert.ok(result.user.lastLoginAt);
    assert.equal(result.accessToken.split('.').length, 3);
    assert.equal(typeof result.refreshToken, 'string');
  });

  test('invalid_credentials: wrong password and unknown email give identical errors', async () => {
    const { email } = await newUser();
    const wrongPassword = await protekt.auth.login({ email, password: 'not the password 123' });
    const unknownEmail = await protekt.auth.login({
      email: uniqueEmail('nobody'),
      password: 'not the password 123',
    });
    assertApiError(wrongPassword.error, 'invalid_credentials', 401);
    assert.deepEqual(unknownEmail, wrongPassword);
    assert.deepEqual(wrongPassword, {
      user: null,
      accessToken: null,
      refreshToken: null,
      error: wrongPassword.error,
    });
  });
});

describe('login throttling', () => {
  test('rate_limited with retryAfter after ten wrong passwords, even for the right one (L1)', async () => {
    const { email } = await newUser();
    for (let i = 0; i < 10; i += 1) {
      const wrong = await protekt.auth.login({ email, password: 'not the password 123' });
      assertApiError(wrong.error, 'invalid_credentials', 401);
    }
    const right = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assertApiError(right.error, 'rate_limited', 429);
    assert.equal(right.error.retryAfter, 90, 'seconds until the next attempt is let through');
    assert.equal(right.user, null);
    assert.equal(right.accessToken, null);
  });
});

describe('verifyToken', () => {
  test('returns the user and the claims of a valid token', async () => {
    const { user, accessToken } = await newUser();
    const result = await protekt.auth.verifyToken(accessToken);
    assert.equal(result.error, null);
    assert.equal(result.user.id, user.id);
    assert.equal(result.user.email, user.email);
    assert.equal(result.claims.sub, user.id);
    assert.equal(result.claims.aud, server.loginId);
    assert.equal(result.claims.email, user.email);
    assert.ok(result.claims.exp > result.claims.iat);
  });

  test('a client-credentials (M2M) token: no user, the client named', async () => {
    // An OAuth client of the project's OpenID provider, registered with the CLI.
    const { stdout } = await promisify(execFile)(findBinary(), [
      'client', 'create', '--project', server.projectId, '--name', 'Billing job',
      '--grant-type', 'client_credentials', '--scope', 'invoices:read', '--json',
      '--data-dir', server.dataDir,
    ]);
    const client = JSON.parse(stdout.trim().split('\n').pop());
    const res = await fetch(`${server.baseUrl}/p/${server.loginId}/oauth2/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials&scope=invoices%3Aread',
    });
    assert.equal(res.status, 200);
    const { access_token: token } = await res.json();
    const result = await protekt.auth.verifyToken(token);
    assert.equal(result.error, null);
    assert.equal(result.user, null);
    assert.deepEqual(result.client, { clientId: client.clientId, name: 'Billing job' });
    assert.equal(result.claims.sub, client.clientId);
    assert.equal(result.claims.client_id, client.clientId);
    assert.equal(result.claims.scope, 'invoices:read');
    assert.equal(result.claims.sid, undefined);
    // A user's token says it has no client.
    const { accessToken } = await newUser();
    assert.equal((await protekt.auth.verifyToken(accessToken)).client, null);
  });

  test('invalid_token for garbage, a tampered token and an empty string', async () => {
    const { accessToken } = await newUser();
    const [header, payload, signature] = accessToken.split('.');
    const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    for (const token of ['not-a-token', tampered, '']) {
      const result = await protekt.auth.verifyToken(token);
      assertApiError(result.error, 'invalid_token', 401);
      assert.equal(result.user, null);
      assert.equal(result.claims, null);
      assert.equal(result.client, null);
    }
  });
});

describe('logout', () => {
  test('ends the session: the access token then fails verification', async () => {
    const { accessToken, refreshToken } = await newUser();
    assert.deepEqual(await protekt.auth.logout(accessToken), { error: null });
    const verified = await protekt.auth.verifyToken(accessToken);
    assertApiError(verified.error, 'invalid_token', 401);
    const refreshed = await protekt.auth.refreshToken(refreshToken);
    assertApiError(refreshed.error, 'invalid_token', 401);
  });

  test('leaves the user\'s other sessions alone', async () => {
    const { email, accessToken } = await newUser();
    const second = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assert.equal((await protekt.auth.logout(accessToken)).error, null);
    assert.equal((await protekt.auth.verifyToken(second.accessToken)).error, null);
  });

  test('invalid_token for a bad, an empty or a missing token', async () => {
    for (const token of ['not-a-token', '', undefined, 'has a space']) {
      const result = await protekt.auth.logout(token);
      assert.deepEqual(Object.keys(result), ['error']);
      assertApiError(result.error, 'invalid_token', 401);
    }
  });
});

describe('refreshToken', () => {
  test('rotates: a new pair, the new access token verifies', async () => {
    const { user, accessToken, refreshToken } = await newUser();
    const result = await protekt.auth.refreshToken(refreshToken);
    assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'error', 'refreshToken']);
    assert.equal(result.error, null);
    assert.notEqual(result.refreshToken, refreshToken);
    assert.notEqual(result.accessToken, accessToken);
    const verified = await protekt.auth.verifyToken(result.accessToken);
    assert.equal(verified.error, null);
    assert.equal(verified.user.id, user.id);
    // The chain goes on with the new refresh token.
    const again = await protekt.auth.refreshToken(result.refreshToken);
    assert.equal(again.error, null);
    assert.notEqual(again.refreshToken, result.refreshToken);
  });

  test('invalid_token for an unknown refresh token', async () => {
    const result = await protekt.auth.refreshToken('no-such-refresh-token');
    assertApiError(result.error, 'invalid_token', 401);
    assert.deepEqual(result, { accessToken: null, refreshToken: null, error: result.error });
  });

  test('invalid_request when the refresh token is missing', async () => {
    const result = await protekt.auth.refreshToken(undefined);
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'refreshToken');
  });
});

describe('revokeToken', () => {
  test('a revoked access token fails verification at once', async () => {
    const { accessToken } = await newUser();
    assert.deepEqual(await protekt.auth.revokeToken(accessToken), { error: null });
    const result = await protekt.auth.verifyToken(accessToken);
    assertApiError(result.error, 'invalid_token', 401);
  });

  test('revoking a refresh token ends its session', async () => {
    const { accessToken, refreshToken } = await newUser();
    assert.deepEqual(await protekt.auth.revokeToken(refreshToken), { error: null });
    assertApiError((await protekt.auth.refreshToken(refreshToken)).error, 'invalid_token', 401);
    assertApiError((await protekt.auth.verifyToken(accessToken)).error, 'invalid_token', 401);
  });

  test('unknown tokens are accepted silently', async () => {
    assert.deepEqual(await protekt.auth.revokeToken('no-such-token'), { error: null });
  });
});

describe('configuration against the server', () => {
  /** One call of every method, with a client `c`; the tokens and ids are genuine. */
  async function everyMethod(c) {
    const { user, accessToken, refreshToken } = await newUser();
    const sessionId = decodeJwtPayload(accessToken).sid;
    const results = {
      'auth.signUp': await c.auth.signUp({ email: uniqueEmail(), password: GOOD_PASSWORD }),
      'auth.login': await c.auth.login({ email: uniqueEmail(), password: GOOD_PASSWORD }),
      'auth.logout': await c.auth.logout(accessToken),
      'auth.verifyToken': await c.auth.verifyToken(accessToken),
      'auth.refreshToken': await c.auth.refreshToken(refreshToken),
      'auth.revokeToken': await c.auth.revokeToken(accessToken),
      'auth.requestPasswordReset': await c.auth.requestPasswordReset({ email: user.email }),
      'auth.confirmPasswordReset': await c.auth.confirmPasswordReset({
        resetToken: 'x',
        newPassword: GOOD_PASSWORD,
      }),
      'auth.changePassword': await c.auth.changePassword(
        { currentPassword: GOOD_PASSWORD, newPassword: `${GOOD_PASSWORD} new` },
        accessToken,
      ),
      'users.list': await c.users.list(),
      'users.get': await c.users.get(user.id),
      'users.update': await c.users.update(user.id, { disabled: true }),
      'users.delete': await c.users.delete(user.id),
      'sessions.list': await c.sessions.list(accessToken),
      'sessions.revoke': await c.sessions.revoke(sessionId, accessToken),
      'sessions.revokeAll': await c.sessions.revokeAll(accessToken),
    };
    return { user, accessToken, refreshToken, results };
  }

  async function assertAllRefused(c) {
    const { user, accessToken, results } = await everyMethod(c);
    for (const [method, result] of Object.entries(results)) {
      assert.ok(result.error, `${method}: expected invalid_api_key, got no error`);
      assert.equal(result.error.code, 'invalid_api_key', `${method}: ${JSON.stringify(result.error)}`);
      assertApiError(result.error, 'invalid_api_key', 401);
      for (const [key, value] of Object.entries(result)) {
        if (key !== 'error') assert.equal(value, null, `${method}: ${key} is null on error`);
      }
    }
    // Nothing was done by the refused calls: the token, the user and the session are intact.
    assert.equal((await protekt.auth.verifyToken(accessToken)).error, null);
    const { user: after } = await protekt.users.get(user.id);
    assert.equal(after.disabled, false);
  }

  test('invalid_api_key with a wrong API key, on every method', async () => {
    const wrong = new Protekt({
      loginId: server.loginId,
      apiKey: 'pk_live_wrongwrongwrongwrongwrong',
      baseUrl: server.baseUrl,
    });
    await assertAllRefused(wrong);
  });

  test('invalid_api_key with a valid API key and another Login ID (X-Login-Id), on every method', async () => {
    const wrongLoginId = new Protekt({
      loginId: 'lp_notthisprojectsloginid',
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
    });
    await assertAllRefused(wrongLoginId);
    // With the right Login ID the same API key works.
    const right = await protekt.users.list({ limit: 1 });
    assert.equal(right.error, null);
  });

  test('two projects on one server: each API key works only with its own Login ID', async () => {
    const second = await server.createProject('second');
    const client = (loginId, apiKey) => new Protekt({ loginId, apiKey, baseUrl: server.baseUrl });
    const mixed = [client(second.loginId, server.apiKey), client(server.loginId, second.apiKey)];
    for (const c of mixed) {
      assertApiError((await c.users.list()).error, 'invalid_api_key', 401);
      assertApiError((await c.auth.verifyToken('x')).error, 'invalid_api_key', 401);
    }
    const own = client(second.loginId, second.apiKey);
    const { user, accessToken, error } = await own.auth.signUp({
      email: uniqueEmail('second'),
      password: GOOD_PASSWORD,
    });
    assert.equal(error, null);
    // The projects do not see each other's users or tokens.
    assertApiError((await protekt.users.get(user.id)).error, 'not_found', 404);
    assert.equal((await own.users.get(user.id)).error, null);
    assert.notEqual((await protekt.auth.verifyToken(accessToken)).error, null);
    assert.equal((await own.auth.verifyToken(accessToken)).error, null);
  });

  test('tokenExpiry is sent with login, sign-up and refresh', async () => {
    const client = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
      tokenExpiry: 60,
    });
    const signedUp = await newUser(client);
    const lifetime = (jwt) => {
      const claims = decodeJwtPayload(jwt);
      return claims.exp - claims.iat;
    };
    assert.equal(lifetime(signedUp.accessToken), 60);
    const loggedIn = await client.auth.login({ email: signedUp.email, password: GOOD_PASSWORD });
    assert.equal(lifetime(loggedIn.accessToken), 60);
    const refreshed = await client.auth.refreshToken(loggedIn.refreshToken);
    assert.equal(lifetime(refreshed.accessToken), 60);
    // Without tokenExpiry the project's (longer) lifetime applies.
    const plain = await protekt.auth.login({ email: signedUp.email, password: GOOD_PASSWORD });
    assert.ok(lifetime(plain.accessToken) > 60);
  });

  test('a tokenExpiry the server refuses comes back as an API error, not a throw', async () => {
    const client = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
      tokenExpiry: 5,
    });
    const result = await client.auth.login({ email: uniqueEmail(), password: GOOD_PASSWORD });
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'tokenExpiry');
  });

  test('baseUrl defaults to PROTEKT_URL', async () => {
    const saved = process.env.PROTEKT_URL;
    process.env.PROTEKT_URL = server.baseUrl;
    try {
      const client = new Protekt({ loginId: server.loginId, apiKey: server.apiKey });
      const { accessToken } = await newUser(client);
      assert.equal((await client.auth.verifyToken(accessToken)).error, null);
    } finally {
      if (saved === undefined) delete process.env.PROTEKT_URL;
      else process.env.PROTEKT_URL = saved;
    }
  });

  test('a baseUrl with a trailing slash works', async () => {
    const client = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: `${server.baseUrl}/`,
    });
    await newUser(client);
  });

  test('a baseUrl that is not a Protekt server gives not_found, not a crash', async () => {
    const client = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: `${server.baseUrl}/wrong-prefix`,
    });
    const result = await client.auth.verifyToken('x');
    assertApiError(result.error, 'not_found', 404);
  });

  test('ERROR_CODES equals the server\'s ErrorCode enum in /openapi.json', async () => {
    const res = await fetch(`${server.baseUrl}/openapi.json`);
    assert.equal(res.status, 200);
    const spec = await res.json();
    const serverCodes = spec.components?.schemas?.ErrorCode?.enum;
    assert.ok(Array.isArray(serverCodes), 'components.schemas.ErrorCode.enum is in /openapi.json');
    assert.deepEqual([...ERROR_CODES], serverCodes);
    assert.ok(Object.isFrozen(ERROR_CODES));
  });

  test('the client has exactly the methods the server offers', () => {
    assert.deepEqual(Object.keys(protekt), ['auth', 'users', 'sessions', 'mfa']);
    const methods = (namespace) =>
      Object.getOwnPropertyNames(Object.getPrototypeOf(namespace))
        .filter((name) => name !== 'constructor')
        .sort();
    assert.deepEqual(methods(protekt.auth), [
      'changePassword',
      'confirmPasswordReset',
      'exchangeCode',
      'getLoginUrl',
      'login',
      'logout',
      'refreshToken',
      'requestPasswordReset',
      'revokeToken',
      'sendMagicLink',
      'sendOtp',
      'signUp',
      'verifyMagicLink',
      'verifyOtp',
      'verifyToken',
    ]);
    assert.deepEqual(methods(protekt.users), ['delete', 'get', 'list', 'update']);
    assert.deepEqual(methods(protekt.sessions), ['list', 'revoke', 'revokeAll']);
    assert.deepEqual(methods(protekt.mfa), ['enroll', 'generateBackupCodes', 'unenroll', 'verify']);
    // The rest of the SDK reference (the social and SSO login URLs) is not offered yet: those
    // methods do not exist at all.
    for (const name of ['getSocialLoginUrl', 'getSsoUrl']) {
      assert.equal(protekt.auth[name], undefined, `auth.${name} does not exist`);
    }
    // POST /v1/mfa/resend has no method in the SDK reference, so none here either.
    assert.equal(protekt.mfa.resend, undefined);
    assert.equal(protekt.projects, undefined);
  });
});

test('token_expired once an access token outlives its lifetime', async () => {
  const { exp } = decodeJwtPayload(shortLived.accessToken);
  const wait = exp * 1000 - Date.now() + 1_100;
  if (wait > 0) await sleep(wait);
  const verified = await protekt.auth.verifyToken(shortLived.accessToken);
  assertApiError(verified.error, 'token_expired', 401);
  assert.equal(verified.user, null);
  // Other calls that need a valid access token refuse it too.
  assertApiError((await protekt.sessions.list(shortLived.accessToken)).error, 'token_expired', 401);
  // The session lives on: its refresh token still gives a fresh access token.
  const refreshed = await protekt.auth.refreshToken(shortLived.refreshToken);
  assert.equal(refreshed.error, null);
  assert.equal((await protekt.auth.verifyToken(refreshed.accessToken)).error, null);
  // Logout works with the expired (but genuine) access token: the session ends, so the access
  // token refreshed from it and the next refresh token stop working too.
  assert.deepEqual(await protekt.auth.logout(shortLived.accessToken), { error: null });
  assertApiError((await protekt.auth.verifyToken(refreshed.accessToken)).error, 'invalid_token', 401);
  assertApiError((await protekt.auth.refreshToken(refreshed.refreshToken)).error, 'invalid_token', 401);
  // A second logout with it: the session has already ended.
  assertApiError((await protekt.auth.logout(shortLived.accessToken)).error, 'invalid_token', 401);
});

test('API errors are never thrown as ProtektError', async () => {
  const result = await protekt.auth.login({ email: 'x', password: 'y' });
  assert.ok(result.error);
  assert.ok(!(result.error instanceof ProtektError));
  assert.ok(!(result.error instanceof Error));
});
