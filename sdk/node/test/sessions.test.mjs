// protekt.sessions against a real Protekt server: list, revoke and revokeAll, success and the
// documented errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Protekt, VERSION } from '@protekt/node';
import { GOOD_PASSWORD, startServer, uniqueEmail } from './harness.mjs';

let server;
let protekt;

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
}

/** A user with `count` sessions (sign-up, then logins); returns the email and the sessions' tokens. */
async function userWithSessions(count) {
  const email = uniqueEmail('sessions');
  const signedUp = await protekt.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(signedUp.error, null);
  const tokens = [signedUp];
  for (let i = 1; i < count; i++) {
    const loggedIn = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assert.equal(loggedIn.error, null);
    tokens.push(loggedIn);
  }
  return { email, user: signedUp.user, tokens };
}

const sid = (accessToken) =>
  JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')).sid;

async function isLive(accessToken) {
  return (await protekt.auth.verifyToken(accessToken)).error === null;
}

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
});

after(async () => {
  await server?.stop();
});

describe('sessions.list', () => {
  test('lists the user\'s live sessions; current marks the caller\'s', async () => {
    const { tokens } = await userWithSessions(3);
    const result = await protekt.sessions.list(tokens[1].accessToken);
    assert.deepEqual(Object.keys(result).sort(), ['error', 'sessions']);
    assert.equal(result.error, null);
    assert.equal(result.sessions.length, 3);
    assert.deepEqual(
      result.sessions.map((s) => s.id).sort(),
      tokens.map((t) => sid(t.accessToken)).sort(),
    );
    for (const session of result.sessions) {
      assert.deepEqual(Object.keys(session).sort(), [
        'createdAt',
        'current',
        'expiresAt',
        'id',
        'ip',
        'lastActiveAt',
        'userAgent',
      ]);
      assert.match(session.id, /^ses_/);
      for (const field of ['createdAt', 'lastActiveAt', 'expiresAt']) {
        assert.ok(!Number.isNaN(Date.parse(session[field])), `${field} is a date`);
      }
      assert.ok(Date.parse(session.expiresAt) > Date.now());
      // What the server saw: the SDK's process, not an end user's browser.
      assert.equal(session.ip, '127.0.0.1');
      assert.equal(session.userAgent, `protekt-node/${VERSION} node/${process.version}`);
    }
    const created = result.sessions.map((s) => Date.parse(s.createdAt));
    assert.deepEqual(created, [...created].sort((a, b) => b - a), 'newest first');
    const current = result.sessions.filter((s) => s.current);
    assert.deepEqual(current.map((s) => s.id), [sid(tokens[1].accessToken)]);
  });

  test('ended sessions are not listed; another user\'s sessions never are', async () => {
    const { tokens } = await userWithSessions(2);
    const stranger = await userWithSessions(1);
    await protekt.auth.logout(tokens[1].accessToken);
    const { sessions } = await protekt.sessions.list(tokens[0].accessToken);
    assert.deepEqual(sessions.map((s) => s.id), [sid(tokens[0].accessToken)]);
    assert.ok(!sessions.some((s) => s.id === sid(stranger.tokens[0].accessToken)));
  });

  test('invalid_token for a bad, a logged-out or a missing access token', async () => {
    const { tokens } = await userWithSessions(1);
    await protekt.auth.logout(tokens[0].accessToken);
    for (const token of ['not-a-token', tokens[0].accessToken, undefined, '']) {
      const result = await protekt.sessions.list(token);
      assertApiError(result.error, 'invalid_token', 401);
      assert.deepEqual(result, { sessions: null, error: result.error });
    }
  });
});

describe('sessions.revoke', () => {
  test('ends one session: its tokens stop working, the others go on', async () => {
    const { tokens } = await userWithSessions(3);
    const [mine, target, bystander] = tokens;
    const result = await protekt.sessions.revoke(sid(target.accessToken), mine.accessToken);
    assert.deepEqual(result, { error: null });
    assert.equal(await isLive(target.accessToken), false);
    assertApiError((await protekt.auth.refreshToken(target.refreshToken)).error, 'invalid_token', 401);
    assert.equal(await isLive(mine.accessToken), true);
    assert.equal(await isLive(bystander.accessToken), true);
    const { sessions } = await protekt.sessions.list(mine.accessToken);
    assert.equal(sessions.length, 2);
  });

  test('can end the caller\'s own session', async () => {
    const { tokens } = await userWithSessions(1);
    const { accessToken } = tokens[0];
    assert.deepEqual(await protekt.sessions.revoke(sid(accessToken), accessToken), { error: null });
    assert.equal(await isLive(accessToken), false);
  });

  test('not_found for another user\'s session, which stays live', async () => {
    const me = await userWithSessions(1);
    const other = await userWithSessions(1);
    const result = await protekt.sessions.revoke(
      sid(other.tokens[0].accessToken),
      me.tokens[0].accessToken,
    );
    assertApiError(result.error, 'not_found', 404);
    assert.deepEqual(Object.keys(result), ['error']);
    assert.equal(await isLive(other.tokens[0].accessToken), true);
  });

  test('not_found for an unknown or an already ended session', async () => {
    const { tokens } = await userWithSessions(2);
    const ended = sid(tokens[1].accessToken);
    assert.deepEqual(await protekt.sessions.revoke(ended, tokens[0].accessToken), { error: null });
    for (const id of [ended, 'ses_doesnotexist', '../users', `../sessions/${ended}`, '..', '.']) {
      const result = await protekt.sessions.revoke(id, tokens[0].accessToken);
      assertApiError(result.error, 'not_found', 404);
    }
    assert.equal(await isLive(tokens[0].accessToken), true);
  });

  test('invalid_request naming sessionId for a missing id (nothing is sent)', async () => {
    const { tokens } = await userWithSessions(1);
    for (const id of [undefined, '']) {
      const result = await protekt.sessions.revoke(id, tokens[0].accessToken);
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, 'sessionId');
    }
  });

  test('invalid_token without a valid access token; nothing is revoked', async () => {
    const { tokens } = await userWithSessions(1);
    const result = await protekt.sessions.revoke(sid(tokens[0].accessToken), 'not-a-token');
    assertApiError(result.error, 'invalid_token', 401);
    assert.equal(await isLive(tokens[0].accessToken), true);
  });
});

describe('sessions.revokeAll', () => {
  test('without params: ends every session, the caller\'s too', async () => {
    const { tokens } = await userWithSessions(3);
    const result = await protekt.sessions.revokeAll(tokens[0].accessToken);
    assert.deepEqual(result, { revokedCount: 3, error: null });
    for (const t of tokens) assert.equal(await isLive(t.accessToken), false);
    for (const t of tokens) {
      assertApiError((await protekt.auth.refreshToken(t.refreshToken)).error, 'invalid_token', 401);
    }
  });

  test('keepCurrent: true keeps the caller\'s session only', async () => {
    const { tokens } = await userWithSessions(3);
    const other = await userWithSessions(1);
    const result = await protekt.sessions.revokeAll(tokens[2].accessToken, { keepCurrent: true });
    assert.deepEqual(result, { revokedCount: 2, error: null });
    assert.equal(await isLive(tokens[2].accessToken), true);
    assert.equal(await isLive(tokens[0].accessToken), false);
    assert.equal(await isLive(tokens[1].accessToken), false);
    assert.equal(await isLive(other.tokens[0].accessToken), true, 'other users are not affected');
    const { sessions } = await protekt.sessions.list(tokens[2].accessToken);
    assert.deepEqual(sessions.map((s) => [s.id, s.current]), [[sid(tokens[2].accessToken), true]]);
    // Nothing left to revoke.
    assert.deepEqual(await protekt.sessions.revokeAll(tokens[2].accessToken, { keepCurrent: true }), {
      revokedCount: 0,
      error: null,
    });
  });

  test('keepCurrent: false is the same as no params', async () => {
    const { tokens } = await userWithSessions(2);
    const result = await protekt.sessions.revokeAll(tokens[0].accessToken, { keepCurrent: false });
    assert.deepEqual(result, { revokedCount: 2, error: null });
    assert.equal(await isLive(tokens[0].accessToken), false);
  });

  test('invalid_token for a bad or an ended session\'s token', async () => {
    const { tokens } = await userWithSessions(2);
    await protekt.auth.logout(tokens[1].accessToken);
    for (const token of ['not-a-token', tokens[1].accessToken, undefined]) {
      const result = await protekt.sessions.revokeAll(token, { keepCurrent: true });
      assertApiError(result.error, 'invalid_token', 401);
      assert.deepEqual(result, { revokedCount: null, error: result.error });
    }
    assert.equal(await isLive(tokens[0].accessToken), true);
  });
});
