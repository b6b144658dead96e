// protekt.users against a real Protekt server: list, get, update and delete, success and the
// documented errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Protekt } from '@protekt/node';
import { GOOD_PASSWORD, startServer, uniqueEmail, waitForEmail } from './harness.mjs';

let server;
let protekt;

async function newUser(email = uniqueEmail('users'), metadata) {
  const result = await protekt.auth.signUp({ email, password: GOOD_PASSWORD, metadata });
  assert.equal(result.error, null, `sign-up failed: ${JSON.stringify(result.error)}`);
  return { email, ...result };
}

function assertApiError(error, code, status) {
  assert.ok(error, `expected an error with code ${code}, got none`);
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(error)}`);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
}

function assertUserShape(user) {
  assert.match(user.id, /^usr_/);
  assert.equal(typeof user.email, 'string');
  assert.equal(typeof user.emailVerified, 'boolean');
  assert.ok(user.phone === null || typeof user.phone === 'string', `phone: ${user.phone}`);
  assert.equal(typeof user.phoneVerified, 'boolean');
  assert.equal(typeof user.metadata, 'object');
  assert.equal(typeof user.disabled, 'boolean');
  assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
  assert.ok(!Number.isNaN(Date.parse(user.updatedAt)));
  assert.ok('lastLoginAt' in user);
}

/** Every page of users.list(params), following nextCursor. */
async function allPages(params) {
  const pages = [];
  let cursor;
  for (;;) {
    const page = await protekt.users.list({ ...params, cursor });
    assert.equal(page.error, null, JSON.stringify(page.error));
    pages.push(page);
    if (!page.hasMore) return pages;
    assert.equal(typeof page.nextCursor, 'string');
    cursor = page.nextCursor;
  }
}

// Users whose email starts with a prefix no other test uses (for exact list assertions).
const TAG = `lst${process.pid}x`;
let tagged = [];

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
  for (let i = 0; i < 5; i++) {
    tagged.push((await newUser(`${TAG}-${i}@example.com`)).user);
  }
});

after(async () => {
  await server?.stop();
});

describe('users.list', () => {
  test('without params: { users, nextCursor, hasMore, error: null }, oldest first', async () => {
    const result = await protekt.users.list();
    assert.deepEqual(Object.keys(result).sort(), ['error', 'hasMore', 'nextCursor', 'users']);
    assert.equal(result.error, null);
    assert.ok(Array.isArray(result.users));
    assert.ok(result.users.length >= 5);
    result.users.forEach(assertUserShape);
    const created = result.users.map((u) => Date.parse(u.createdAt));
    assert.deepEqual(created, [...created].sort((a, b) => a - b));
    assert.equal(typeof result.hasMore, 'boolean');
    assert.ok(result.nextCursor === null || typeof result.nextCursor === 'string');
  });

  test('pages with limit and cursor cover every user exactly once', async () => {
    const everyone = (await protekt.users.list({ limit: 100 })).users.map((u) => u.id);
    const pages = await allPages({ limit: 2 });
    for (const page of pages.slice(0, -1)) {
      assert.equal(page.users.length, 2);
      assert.equal(page.hasMore, true);
    }
    const last = pages.at(-1);
    assert.equal(last.hasMore, false);
    assert.equal(last.nextCursor, null);
    assert.deepEqual(pages.flatMap((p) => p.users.map((u) => u.id)), everyone);
  });

  test('search: an email prefix, case-insensitive, paged', async () => {
    const result = await protekt.users.list({ search: TAG.toUpperCase() });
    assert.equal(result.error, null);
    assert.deepEqual(
      result.users.map((u) => u.id).sort(),
      tagged.map((u) => u.id).sort(),
    );
    const pages = await allPages({ search: TAG, limit: 2 });
    assert.equal(pages.length, 3);
    assert.deepEqual(
      pages.flatMap((p) => p.users.map((u) => u.email)),
      tagged.map((u) => u.email).sort(),
    );
  });

  test('search: an id prefix when it starts with usr_', async () => {
    const [target] = tagged;
    const exact = await protekt.users.list({ search: target.id });
    assert.deepEqual(exact.users.map((u) => u.id), [target.id]);
    const prefix = await protekt.users.list({ search: target.id.slice(0, 8), limit: 100 });
    assert.ok(prefix.users.some((u) => u.id === target.id));
    assert.ok(prefix.users.every((u) => u.id.startsWith(target.id.slice(0, 8))));
  });

  test('search: no match gives an empty page', async () => {
    const result = await protekt.users.list({ search: `nobody-${TAG}` });
    assert.deepEqual(result, { users: [], nextCursor: null, hasMore: false, error: null });
  });

  test('search characters are sent as data (URL-encoded), not as query syntax', async () => {
    const email = `${TAG}+a&b=c@example.com`;
    const { user } = await newUser(email);
    const result = await protekt.users.list({ search: `${TAG}+a&b=` });
    assert.deepEqual(result.users.map((u) => u.id), [user.id]);
    await protekt.users.delete(user.id);
  });

  test('invalid_request with field limit outside 1..100', async () => {
    for (const limit of [0, 101, -1]) {
      const result = await protekt.users.list({ limit });
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, 'limit');
      assert.deepEqual(result, { users: null, nextCursor: null, hasMore: null, error: result.error });
    }
    assert.equal((await protekt.users.list({ limit: 1 })).users.length, 1);
    assert.equal((await protekt.users.list({ limit: 100 })).error, null);
  });

  test('value_not_allowed for a cursor the server did not make', async () => {
    const result = await protekt.users.list({ cursor: 'not-a-cursor' });
    assertApiError(result.error, 'value_not_allowed', 422);
    assert.equal(result.error.field, 'cursor');
  });
});

describe('users.get', () => {
  test('returns { user, error: null }', async () => {
    const { user: created } = await newUser(uniqueEmail('get'), { plan: 'free' });
    const result = await protekt.users.get(created.id);
    assert.deepEqual(Object.keys(result).sort(), ['error', 'user']);
    assert.equal(result.error, null);
    assertUserShape(result.user);
    assert.deepEqual(result.user, created);
  });

  test('not_found for an unknown id', async () => {
    const result = await protekt.users.get('usr_doesnotexist');
    assertApiError(result.error, 'not_found', 404);
    assert.deepEqual(result, { user: null, error: result.error });
  });

  test('the id is one URL-encoded path segment: it cannot change the route', async () => {
    const { user } = await newUser();
    for (const id of ['../x', '..%2Fx', `../users/${user.id}`, `${user.id}/../x`, `x?search=a`, 'a#b', '%2e%2e', '.', '..']) {
      const result = await protekt.users.get(id);
      assertApiError(result.error, 'not_found', 404);
    }
    // An id with a slash in front of a real id does not reach that user.
    assertApiError((await protekt.users.get(`x/${user.id}`)).error, 'not_found', 404);
    // Deleting with such ids deletes nothing.
    for (const id of [`../users/${user.id}`, `${user.id}/..`, '..', '.']) {
      assertApiError((await protekt.users.delete(id)).error, 'not_found', 404);
    }
    assert.equal((await protekt.users.get(user.id)).error, null);
  });

  test('invalid_request naming userId for a missing or empty id (nothing is sent)', async () => {
    for (const id of [undefined, '', null, 42]) {
      const result = await protekt.users.get(id);
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, 'userId');
      assert.equal(result.user, null);
    }
  });

  test("another project's user is not_found", async () => {
    const second = await server.createProject('second');
    const otherClient = new Protekt({
      loginId: second.loginId,
      apiKey: second.apiKey,
      baseUrl: server.baseUrl,
    });
    const { user } = await otherClient.auth.signUp({
      email: uniqueEmail('other'),
      password: GOOD_PASSWORD,
    });
    assertApiError((await protekt.users.get(user.id)).error, 'not_found', 404);
    assertApiError((await protekt.users.update(user.id, { disabled: true })).error, 'not_found', 404);
    assertApiError((await protekt.users.delete(user.id)).error, 'not_found', 404);
    assert.deepEqual((await protekt.users.list({ search: user.id })).users, []);
    // Untouched in its own project.
    const own = await otherClient.users.get(user.id);
    assert.equal(own.user.disabled, false);
  });
});

describe('users.update', () => {
  test('merges metadata at top level; a null value removes a key', async () => {
    const { user } = await newUser(uniqueEmail('meta'), { plan: 'free', seats: 3, keep: { a: 1 } });
    const result = await protekt.users.update(user.id, {
      metadata: { plan: 'pro', seats: null, added: true },
    });
    assert.deepEqual(Object.keys(result).sort(), ['error', 'user']);
    assert.equal(result.error, null);
    assert.deepEqual(result.user.metadata, { plan: 'pro', keep: { a: 1 }, added: true });
    assert.equal(result.user.email, user.email);
    assert.equal(result.user.disabled, false);
    assert.ok(Date.parse(result.user.updatedAt) > Date.parse(user.updatedAt));
    assert.deepEqual((await protekt.users.get(user.id)).user, result.user);
  });

  test('a new email must be unique (email_taken), and becomes unverified', async () => {
    // A user with a verified address: sign-up with sendVerification, then the emailed token.
    const email = uniqueEmail('verified');
    const { user } = await protekt.auth.signUp({ email, password: GOOD_PASSWORD, sendVerification: true });
    const message = await waitForEmail(server.dataDir, { to: email, kind: 'verify_email' });
    const res = await fetch(`${server.baseUrl}/v1/auth/verify-email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.apiKey },
      body: JSON.stringify({ token: message.token }),
    });
    assert.equal(res.status, 200);
    assert.equal((await protekt.users.get(user.id)).user.emailVerified, true);

    const { email: takenEmail } = await newUser();
    const taken = await protekt.users.update(user.id, { email: takenEmail });
    assertApiError(taken.error, 'email_taken', 409);
    assert.deepEqual(taken, { user: null, error: taken.error });
    // Any case of a taken address is taken.
    const upper = await protekt.users.update(user.id, { email: takenEmail.toUpperCase() });
    assertApiError(upper.error, 'email_taken', 409);
    // Nothing changed.
    const unchanged = (await protekt.users.get(user.id)).user;
    assert.equal(unchanged.email, email);
    assert.equal(unchanged.emailVerified, true);

    const newEmail = uniqueEmail('changed');
    const changed = await protekt.users.update(user.id, { email: newEmail });
    assert.equal(changed.error, null);
    assert.equal(changed.user.email, newEmail);
    assert.equal(changed.user.emailVerified, false);
    assert.equal((await protekt.auth.login({ email: newEmail, password: GOOD_PASSWORD })).error, null);
    assertApiError(
      (await protekt.auth.login({ email, password: GOOD_PASSWORD })).error,
      'invalid_credentials',
      401,
    );
  });

  test('disabled: true ends every session; verify and login answer user_disabled', async () => {
    const { email, user, accessToken, refreshToken } = await newUser();
    const disabled = await protekt.users.update(user.id, { disabled: true });
    assert.equal(disabled.error, null);
    assert.equal(disabled.user.disabled, true);

    // The token no longer verifies. The brief says user_disabled (403); this server answers
    // invalid_token (401), because the disabling ended the token's session first.
    const verified = await protekt.auth.verifyToken(accessToken);
    assert.ok(verified.error, 'the access token no longer verifies');
    assert.ok(
      ['user_disabled', 'invalid_token'].includes(verified.error.code),
      JSON.stringify(verified.error),
    );
    assert.equal(verified.user, null);
    const login = await protekt.auth.login({ email, password: GOOD_PASSWORD });
    assertApiError(login.error, 'user_disabled', 403);
    assert.notEqual((await protekt.auth.refreshToken(refreshToken)).error, null);

    // Enabling again lets the user log in; the old sessions stay ended.
    const enabled = await protekt.users.update(user.id, { disabled: false });
    assert.equal(enabled.user.disabled, false);
    assert.equal((await protekt.auth.login({ email, password: GOOD_PASSWORD })).error, null);
    assert.notEqual((await protekt.auth.verifyToken(accessToken)).error, null);
    assert.notEqual((await protekt.auth.refreshToken(refreshToken)).error, null);
  });

  test('not_found for an unknown id', async () => {
    const result = await protekt.users.update('usr_doesnotexist', { metadata: { a: 1 } });
    assertApiError(result.error, 'not_found', 404);
    assert.deepEqual(result, { user: null, error: result.error });
  });

  test('invalid_request for a malformed email, naming it', async () => {
    const { user } = await newUser();
    const result = await protekt.users.update(user.id, { email: 'not-an-email' });
    assertApiError(result.error, 'invalid_request', 400);
    assert.equal(result.error.field, 'email');
  });

  test('invalid_request naming metadata when it is not an object or too large', async () => {
    const { user } = await newUser(uniqueEmail('big'), { keep: 1 });
    for (const metadata of [[1, 2], { big: 'x'.repeat(17 * 1024) }]) {
      const result = await protekt.users.update(user.id, { metadata });
      assertApiError(result.error, 'invalid_request', 400);
      assert.equal(result.error.field, 'metadata');
    }
    assert.deepEqual((await protekt.users.get(user.id)).user.metadata, { keep: 1 });
  });

  test('sends only the documented fields', async () => {
    const { user } = await newUser();
    const result = await protekt.users.update(user.id, { metadata: { x: 1 }, password: 'ignored' });
    assert.equal(result.error, null);
    assert.deepEqual(result.user.metadata, { x: 1 });
  });
});

describe('users.delete', () => {
  test('deletes: { error: null }, then get is not_found and the tokens stop verifying', async () => {
    const { email, user, accessToken, refreshToken } = await newUser();
    const result = await protekt.users.delete(user.id);
    assert.deepEqual(result, { error: null });
    assertApiError((await protekt.users.get(user.id)).error, 'not_found', 404);
    const verified = await protekt.auth.verifyToken(accessToken);
    assertApiError(verified.error, 'invalid_token', 401);
    assert.notEqual((await protekt.auth.refreshToken(refreshToken)).error, null);
    assertApiError(
      (await protekt.auth.login({ email, password: GOOD_PASSWORD })).error,
      'invalid_credentials',
      401,
    );
    // The address is free again.
    assert.equal((await protekt.auth.signUp({ email, password: GOOD_PASSWORD })).error, null);
  });

  test('not_found for an unknown or an already deleted id', async () => {
    const { user } = await newUser();
    assert.deepEqual(await protekt.users.delete(user.id), { error: null });
    for (const id of [user.id, 'usr_doesnotexist']) {
      const result = await protekt.users.delete(id);
      assertApiError(result.error, 'not_found', 404);
      assert.deepEqual(Object.keys(result), ['error']);
    }
  });
});
