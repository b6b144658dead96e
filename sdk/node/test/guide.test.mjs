// The samples of the Node.js SDK guide, run against a real server. Each sample is copied
// unchanged; only the server's address (baseUrl, here through PROTEKT_URL) is added. The
// "Working with users", "Session management" and "Log in a user" samples are kept verbatim in
// fixtures/guide/*.js and run from there, so that a variant can substitute a real user id (and
// the login sample runs again once user@example.com has MFA, to take its mfa_required branch).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import express from 'express';
import {
  GOOD_PASSWORD,
  startServer,
  totpCode,
  totpSecret,
  totpStep,
  uniqueEmail,
} from './harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * The guide's "Error handling" sample, with a line added to each case to record that it was
 * reached, and its `console` captured.
 */
async function errorHandlingSample(email, password) {
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

  return { reached, logged, user, error };
}

test('error handling: a wrong password lands in the invalid_credentials case', async () => {
  const email = 'user@example.com';
  const password = 'not-the-password';

  const { reached, logged, user } = await errorHandlingSample(email, password);

  assert.deepEqual(reached, ['invalid_credentials']);
  assert.deepEqual(logged, []);
  assert.equal(user, null);
});

const AsyncFunction = (async () => {}).constructor;
const sample = (name) =>
  readFileSync(new URL(`./fixtures/guide/${name}`, import.meta.url), 'utf8');
const USERS_SAMPLE = sample('working-with-users.js');
const SESSIONS_SAMPLE = sample('session-management.js');
const LOGIN_SAMPLE = sample('log-in.js');

/**
 * The guide's `protekt`, wrapped so that every call of a sample is recorded with what it
 * returned: the samples discard most results, the tests look at them here.
 */
function recording(client) {
  const calls = [];
  const wrap = (namespace) =>
    new Proxy(client[namespace], {
      get(target, name) {
        const value = target[name];
        if (typeof value !== 'function') return value;
        return async (...args) => {
          const result = await value.apply(target, args);
          calls.push({ method: `${namespace}.${String(name)}`, args, result });
          return result;
        };
      },
    });
  return {
    protekt: {
      auth: wrap('auth'),
      users: wrap('users'),
      sessions: wrap('sessions'),
      mfa: wrap('mfa'),
    },
    calls,
  };
}

/** Runs sample code as the body of an async function, with `scope`'s names defined. */
function run(source, scope) {
  const names = Object.keys(scope);
  return new AsyncFunction(...names, source)(...names.map((n) => scope[n]));
}

/**
 * The statements of the "Working with users" sample, each as written. As one block the sample
 * does not compile: it declares `const { user }` twice. So each statement (with its comment) runs
 * in a scope of its own.
 */
const usersStatements = () => USERS_SAMPLE.split(/\n\s*\n/).map((s) => s.trim());

describe('working with users', () => {
  test('as one block the guide\'s sample does not compile (`user` is declared twice)', () => {
    assert.throws(() => new AsyncFunction('protekt', USERS_SAMPLE), (err) => {
      assert.ok(err instanceof SyntaxError);
      assert.match(err.message, /user/);
      return true;
    });
    assert.equal(usersStatements().length, 3);
  });

  test('as written (usr_9klabc): each call returns a not_found error, nothing throws', async () => {
    const { protekt: recorded, calls } = recording(protekt);
    for (const statement of usersStatements()) {
      await assert.doesNotReject(run(statement, { protekt: recorded }), statement);
    }
    assert.deepEqual(
      calls.map((c) => [c.method, c.args[0]]),
      [
        ['users.get', 'usr_9klabc'],
        ['users.update', 'usr_9klabc'],
        ['users.delete', 'usr_9klabc'],
      ],
    );
    for (const { method, result } of calls) {
      assert.ok(result.error, `${method} returned an error`);
      assert.equal(result.error.code, 'not_found', method);
      assert.equal(result.error.status, 404);
    }
    assert.deepEqual(calls[0].result, { user: null, error: calls[0].result.error });
    assert.deepEqual(calls[1].result, { user: null, error: calls[1].result.error });
    assert.deepEqual(calls[2].result, { error: calls[2].result.error });
  });

  test('with a real user id substituted: get, update (metadata merged) and delete succeed', async () => {
    const email = uniqueEmail('guide-users');
    const created = await protekt.auth.signUp({
      email,
      password: GOOD_PASSWORD,
      metadata: { plan: 'free', seats: 2 },
    });
    assert.equal(created.error, null);
    const id = created.user.id;
    const { protekt: recorded, calls } = recording(protekt);
    for (const statement of usersStatements()) {
      const variant = statement.replaceAll("'usr_9klabc'", `'${id}'`);
      assert.notEqual(variant, statement);
      await run(variant, { protekt: recorded });
    }
    const [got, updated, deleted] = calls.map((c) => c.result);
    assert.equal(got.error, null);
    assert.deepEqual(got.user, created.user);
    assert.equal(updated.error, null);
    assert.deepEqual(updated.user.metadata, { plan: 'pro', seats: 2 });
    assert.deepEqual(deleted, { error: null });
    // The user is gone, and so are their tokens.
    assert.equal((await protekt.users.get(id)).error.code, 'not_found');
    assert.notEqual((await protekt.auth.verifyToken(created.accessToken)).error, null);
  });
});

describe('session management', () => {
  /** A user with three sessions: the sample's `accessToken` is the first one's. */
  async function threeSessions() {
    const email = uniqueEmail('guide-sessions');
    const first = await protekt.auth.signUp({ email, password: GOOD_PASSWORD });
    const second = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    const third = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    for (const r of [first, second, third]) assert.equal(r.error, null);
    const sid = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()).sid;
    return { tokens: [first, second, third].map((r) => r.accessToken), sid };
  }

  test('the sample as written: list, revoke one session, revokeAll keeping the current one', async () => {
    const { tokens, sid } = await threeSessions();
    const accessToken = tokens[0];
    const sessionId = sid(tokens[1]); // the session the guide revokes: another of the user's

    const { protekt: recorded, calls } = recording(protekt);
    await run(SESSIONS_SAMPLE, { protekt: recorded, accessToken, sessionId });

    const [listed, revoked, revokedAll] = calls;
    assert.equal(listed.method, 'sessions.list');
    assert.equal(listed.result.error, null);
    assert.deepEqual(
      listed.result.sessions.map((s) => s.id).sort(),
      tokens.map(sid).sort(),
    );
    assert.deepEqual(
      listed.result.sessions.filter((s) => s.current).map((s) => s.id),
      [sid(accessToken)],
    );
    assert.deepEqual([revoked.method, revoked.result], ['sessions.revoke', { error: null }]);
    assert.deepEqual(
      [revokedAll.method, revokedAll.args[1], revokedAll.result],
      ['sessions.revokeAll', { keepCurrent: true }, { revokedCount: 1, error: null }],
    );
    // Only the current session is left.
    assert.equal((await protekt.auth.verifyToken(accessToken)).error, null);
    for (const t of tokens.slice(1)) {
      assert.equal((await protekt.auth.verifyToken(t)).error?.code, 'invalid_token');
    }
    const { sessions } = await protekt.sessions.list(accessToken);
    assert.deepEqual(sessions.map((s) => s.id), [sid(accessToken)]);
  });

  test('a sessionId that is not the user\'s: revoke returns not_found, nothing throws', async () => {
    const mine = await threeSessions();
    const theirs = await threeSessions();
    const { protekt: recorded, calls } = recording(protekt);
    await run(SESSIONS_SAMPLE, {
      protekt: recorded,
      accessToken: mine.tokens[0],
      sessionId: theirs.sid(theirs.tokens[1]),
    });
    assert.equal(calls[1].result.error.code, 'not_found');
    assert.equal((await protekt.auth.verifyToken(theirs.tokens[1])).error, null);
    assert.deepEqual(calls[2].result, { revokedCount: 2, error: null });
  });
});

describe('log in a user who has MFA (TOTP): the sample\'s mfa_required branch', () => {
  // user@example.com, signed up by the guide's sample above, turns on TOTP. The login sample then
  // takes its mfa_required branch, and mfa.verify with error.mfaToken finishes the login.
  let secret;
  let lastStep;

  before(async () => {
    const { accessToken, error } = await protekt.auth.login({
      email: 'user@example.com',
      password: 'supersecret123',
    });
    assert.equal(error, null, 'user@example.com has no MFA yet');
    const { totpUri, error: enrollError } = await protekt.mfa.enroll({ method: 'totp' }, accessToken);
    assert.equal(enrollError, null);
    secret = totpSecret(totpUri);
    // Confirmed with the previous step's code (the server accepts one step either way), so that
    // the current and the next step are left for the two logins below without waiting. Not in
    // the last seconds of a step, when "previous" could be two steps back by the time it arrives.
    if (Date.now() % 30_000 > 27_000) await sleep(30_000 - (Date.now() % 30_000) + 100);
    lastStep = totpStep() - 1;
    const confirmed = await protekt.mfa.verify({ code: totpCode(secret, lastStep) }, accessToken);
    // The user's first factor: the answer also carries a fresh set of ten backup codes.
    const { backupCodes, ...rest } = confirmed;
    assert.deepEqual(rest, { user: null, accessToken: null, refreshToken: null, error: null });
    assert.equal(backupCodes.length, 10);
  });

  /**
   * A TOTP code the server has not seen yet: it accepts one step either way of the current one,
   * and each step once, never one older than the last used. Waits when the next unused step is
   * further ahead.
   */
  async function nextCode() {
    for (;;) {
      const step = Math.max(lastStep + 1, totpStep());
      if (step <= totpStep() + 1) {
        lastStep = step;
        return totpCode(secret, step);
      }
      await sleep(30_000 - (Date.now() % 30_000) + 100);
    }
  }

  test('the sample as written: error.code is mfa_required, error.mfaToken is set', async () => {
    const { protekt: recorded, calls } = recording(protekt);
    // The sample unchanged; the statement after it hands its results to the test.
    const { user, accessToken, refreshToken, error } = await run(
      `${LOGIN_SAMPLE}\nreturn { user, accessToken, refreshToken, error };`,
      { protekt: recorded },
    );

    assert.deepEqual(calls.map((c) => c.method), ['auth.login']);
    assert.equal(error?.code === 'mfa_required', true, 'the branch condition holds');
    assert.equal(error.status, 401);
    assert.equal(typeof error.mfaToken, 'string');
    assert.ok(error.mfaToken.length > 0);
    assert.equal(user, null);
    assert.equal(accessToken, null);
    assert.equal(refreshToken, null);

    // The next step: the user's code and error.mfaToken.
    const verified = await protekt.mfa.verify({ code: await nextCode(), mfaToken: error.mfaToken });
    assert.equal(verified.error, null);
    assert.equal(verified.user.email, 'user@example.com');
    assert.deepEqual(verified.user.mfaMethods, ['totp']);
    const res = await fetch(`${appUrl}/me`, {
      headers: { authorization: `Bearer ${verified.accessToken}` },
    });
    assert.equal(res.status, 200, 'the requireAuth middleware accepts the new access token');
    assert.equal((await res.json()).user.email, 'user@example.com');
  });

  test('the branch runs: its placeholder filled in with the next step, mfa.verify', async () => {
    // The branch's two comments say what goes there; this variant does just that.
    const placeholder = '  // Use error.mfaToken in the next step\n';
    assert.ok(LOGIN_SAMPLE.includes(placeholder));
    const variant = LOGIN_SAMPLE.replace(
      placeholder,
      `${placeholder}  branchTaken(error.mfaToken);\n` +
        '  return protekt.mfa.verify({ code: await promptForMfaCode(), mfaToken: error.mfaToken });\n',
    );
    const seen = [];
    const { protekt: recorded, calls } = recording(protekt);
    const result = await run(variant, {
      protekt: recorded,
      branchTaken: (mfaToken) => seen.push(mfaToken),
      promptForMfaCode: nextCode,
    });

    assert.equal(seen.length, 1, 'the mfa_required branch was taken');
    assert.equal(typeof seen[0], 'string');
    assert.deepEqual(calls.map((c) => c.method), ['auth.login', 'mfa.verify']);
    assert.equal(calls[0].result.error.mfaToken, seen[0]);
    assert.equal(calls[1].args[0].mfaToken, seen[0]);
    assert.equal(result.error, null);
    assert.equal(result.user.email, 'user@example.com');
    const { claims } = await protekt.auth.verifyToken(result.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.aal, 'aal2');
  });

  test('error handling: the right password now lands in the mfa_required case', async () => {
    const { reached, logged, user, error } = await errorHandlingSample(
      'user@example.com',
      'supersecret123',
    );
    assert.deepEqual(reached, ['mfa_required']);
    assert.deepEqual(logged, []);
    assert.equal(user, null);
    assert.equal(typeof error.mfaToken, 'string');
  });
});
