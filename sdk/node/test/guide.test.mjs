// The samples of the Node.js SDK guide, run against a real server. Each sample is copied
// unchanged; only the server's address (baseUrl, here through PROTEKT_URL) is added.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import express from 'express';
import { startServer } from './harness.mjs';

let server;
let protekt;
let requireAuth;
let app;
let appUrl;

// Carried from one sample to the next, as in the guide's narrative.
let existingRefreshToken;
let currentAccessToken;

before(async () => {
  server = await startServer();
  // The guide's .env
  process.env.PROTEKT_LOGIN_ID = server.loginId;
  process.env.PROTEKT_API_KEY = server.apiKey;
  process.env.PROTEKT_URL = server.baseUrl;

  ({ protekt } = await import('./fixtures/guide/lib/protekt.js'));
  ({ requireAuth } = await import('./fixtures/guide/middleware.js'));

  const expressApp = express();
  expressApp.get('/me', requireAuth, (req, res) => {
    res.json({ user: req.user });
  });
  await new Promise((resolve) => {
    app = expressApp.listen(0, '127.0.0.1', resolve);
  });
  appUrl = `http://127.0.0.1:${app.address().port}`;
});

after(async () => {
  if (app) {
    app.closeAllConnections?.();
    await new Promise((resolve) => app.close(resolve));
  }
  await server?.stop();
});

test('configuration: the client is built from PROTEKT_LOGIN_ID and PROTEKT_API_KEY', async () => {
  const { Protekt } = await import('@protekt/node');
  assert.ok(protekt instanceof Protekt);
  assert.equal(typeof protekt.auth.verifyToken, 'function');
});

test('sign up a user', async () => {
  const { user, accessToken, refreshToken, error } = await protekt.auth.signUp({
    email: 'user@example.com',
    password: 'supersecret123',
    metadata: { plan: 'free' }, // optional: any key-value data
  });

  assert.equal(error, null);
  assert.equal(user.email, 'user@example.com');
  assert.deepEqual(user.metadata, { plan: 'free' });
  assert.equal(typeof accessToken, 'string');
  assert.equal(typeof refreshToken, 'string');
});

test('log in a user', async () => {
  let mfaBranchTaken = false;

  const { user, accessToken, refreshToken, error } = await protekt.auth.login({
    email: 'user@example.com',
    password: 'supersecret123',
  });

  if (error?.code === 'mfa_required') {
    // Prompt user for their MFA code
    // Use error.mfaToken in the next step
    mfaBranchTaken = true;
  }

  assert.equal(mfaBranchTaken, false);
  assert.equal(error, null);
  assert.equal(user.email, 'user@example.com');
  existingRefreshToken = refreshToken;
  currentAccessToken = accessToken;
});

test('verify a token: the requireAuth Express middleware', async (t) => {
  await t.test('no token: 401 Missing token', async () => {
    const res = await fetch(`${appUrl}/me`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'Missing token' });
  });

  await t.test('a bad token: 401 Invalid or expired token', async () => {
    const res = await fetch(`${appUrl}/me`, { headers: { authorization: 'Bearer not-a-real-token' } });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'Invalid or expired token' });
  });

  await t.test('a valid token: next() runs with req.user set', async () => {
    const res = await fetch(`${appUrl}/me`, {
      headers: { authorization: `Bearer ${currentAccessToken}` },
    });
    assert.equal(res.status, 200);
    const { user } = await res.json();
    assert.equal(user.email, 'user@example.com');
    assert.match(user.id, /^usr_/);
  });
});

test('refresh a token', async () => {
  const { accessToken, refreshToken } = await protekt.auth.refreshToken(
    existingRefreshToken
  );

  assert.equal(typeof accessToken, 'string');
  assert.notEqual(refreshToken, existingRefreshToken);
  const res = await fetch(`${appUrl}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  assert.equal(res.status, 200);
  currentAccessToken = accessToken;
});

test('log out a user', async () => {
  const accessToken = currentAccessToken;

  await protekt.auth.logout(accessToken);

  const res = await fetch(`${appUrl}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: 'Invalid or expired token' });
});

test('error handling: a wrong password lands in the invalid_credentials case', async () => {
  const email = 'user@example.com';
  const password = 'not-the-password';
  const reached = [];
  const logged = [];
  const console = { error: (...args) => logged.push(args) };

  const { user, error } = await protekt.auth.login({ email, password });

  if (error) {
    switch (error.code) {
      case 'invalid_credentials':
        // Wrong email or password
        reached.push('invalid_credentials');
        break;
      case 'mfa_required':
        // Redirect to MFA step
        reached.push('mfa_required');
        break;
      case 'rate_limited':
        // Too many attempts
        reached.push('rate_limited');
        break;
      default:
        console.error('Unexpected error:', error.message);
    }
  }

  assert.deepEqual(reached, ['invalid_credentials']);
  assert.deepEqual(logged, []);
  assert.equal(user, null);
});
