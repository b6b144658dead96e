// Failures that are not API answers, against small local servers: they throw ProtektError.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { Protekt, ProtektError } from '@protekt/node';
import { freePort } from './harness.mjs';

const servers = [];

after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
});

/** A local HTTP server answering every request with `handler`; returns its base URL. */
async function httpServer(handler) {
  const server = http.createServer(handler);
  servers.push({
    close: (cb) => {
      server.closeAllConnections();
      server.close(cb);
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

function client(baseUrl, extra = {}) {
  return new Protekt({ loginId: 'lp_test', apiKey: 'pk_test_key', baseUrl, ...extra });
}

/** Asserts that `promise` rejects with a ProtektError of `code`; returns the error. */
async function rejectsWith(promise, code) {
  let caught;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof ProtektError, `expected a ProtektError, got ${caught}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, 'ProtektError');
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

describe('thrown ProtektError', () => {
  test('timeout: a server that accepts the connection but never answers', async () => {
    const sockets = new Set();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    servers.push({ close: (cb) => { for (const s of sockets) s.destroy(); silent.close(cb); } });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${silent.address().port}`;

    const started = Date.now();
    const err = await rejectsWith(client(baseUrl, { timeout: 200 }).auth.verifyToken('t'), 'timeout');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150, `gave up after ${elapsed} ms, before the timeout`);
    assert.ok(elapsed < 3_000, `took ${elapsed} ms for a 200 ms timeout`);
    assert.match(err.message, /200 ms/);
    assert.equal(err.status, undefined);
  });

  test('timeout also covers a body that never finishes', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":');
      // …and never ends.
    });
    await rejectsWith(client(baseUrl, { timeout: 200 }).auth.revokeToken('t'), 'timeout');
  });

  test('network_error: nothing listens on the port', async () => {
    const port = await freePort();
    const err = await rejectsWith(
      client(`http://127.0.0.1:${port}`).auth.login({ email: 'a@b.c', password: 'x' }),
      'network_error',
    );
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(err.cause, 'the underlying error is kept as cause');
    assert.equal(err.status, undefined);
  });

  test('server_error: a bare 500 answer', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    });
    const err = await rejectsWith(client(baseUrl).auth.verifyToken('t'), 'server_error');
    assert.equal(err.status, 500);
    assert.equal(err.apiError, undefined);
  });

  test('server_error keeps the API error of a 5xx answer (server_busy, retryAfter)', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'server_busy', message: 'busy', retryAfter: 1 } }));
    });
    const err = await rejectsWith(
      client(baseUrl).auth.signUp({ email: 'a@b.c', password: 'x' }),
      'server_error',
    );
    assert.equal(err.status, 503);
    assert.deepEqual(err.apiError, { code: 'server_busy', message: 'busy', retryAfter: 1, status: 503 });
    assert.match(err.message, /503/);
    assert.match(err.message, /server_busy/);
  });

  test('invalid_response: a 200 answer that is not JSON', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    });
    const err = await rejectsWith(client(baseUrl).auth.verifyToken('t'), 'invalid_response');
    assert.equal(err.status, 200);
  });

  test('invalid_response: a JSON answer without the expected fields', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accessToken: 'a' }));
    });
    const err = await rejectsWith(client(baseUrl).auth.refreshToken('r'), 'invalid_response');
    assert.match(err.message, /refreshToken/);
    await rejectsWith(client(baseUrl).auth.login({ email: 'a', password: 'b' }), 'invalid_response');
  });

  test('invalid_response: a 4xx answer without a Protekt error object', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
    });
    const err = await rejectsWith(client(baseUrl).auth.logout('t'), 'invalid_response');
    assert.equal(err.status, 404);
  });

  test('invalid_response: redirects are not followed (the API key stays here)', async () => {
    let redirectedTo = 0;
    const target = await httpServer((req, res) => {
      redirectedTo += 1;
      res.end('{}');
    });
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(307, { location: `${target}${req.url}` });
      res.end();
    });
    const err = await rejectsWith(client(baseUrl).auth.verifyToken('t'), 'invalid_response');
    assert.equal(err.status, 307);
    assert.match(err.message, /redirect/);
    assert.equal(redirectedTo, 0);
  });
});

describe('what goes on the wire', () => {
  test('headers, method, path and JSON body', async () => {
    const seen = [];
    const baseUrl = await httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    const protekt = client(`${baseUrl}/prefix/`, { tokenExpiry: 120 });
    await protekt.auth.revokeToken('tok');
    await protekt.auth.logout('access.token.here');

    const [revoke, logout] = seen;
    assert.equal(revoke.method, 'POST');
    assert.equal(revoke.url, '/prefix/v1/auth/revoke');
    assert.equal(revoke.headers['x-api-key'], 'pk_test_key');
    assert.equal(revoke.headers['x-login-id'], 'lp_test');
    assert.match(revoke.headers['content-type'], /^application\/json/);
    assert.equal(revoke.headers.authorization, undefined);
    assert.deepEqual(JSON.parse(revoke.body), { token: 'tok' });
    assert.match(revoke.headers['user-agent'], /^protekt-node\//);

    assert.equal(logout.url, '/prefix/v1/auth/logout');
    assert.equal(logout.headers.authorization, 'Bearer access.token.here');
    assert.equal(logout.headers['x-api-key'], 'pk_test_key');
    assert.equal(logout.headers['x-login-id'], 'lp_test');
    assert.equal(logout.body, '');
    assert.equal(logout.headers['content-type'], undefined);
  });

  test('every new method: HTTP method, path, query, body, X-Login-Id and Authorization', async () => {
    const seen = [];
    const baseUrl = await httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        // One answer with every field any of these methods reads.
        const answer = {
          ok: true,
          user: { id: 'usr_1', email: 'a@b.c' },
          users: [],
          nextCursor: null,
          hasMore: false,
          sessions: [],
          revokedCount: 0,
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    const protekt = client(`${baseUrl}/p`, { loginId: 'lp_login' });
    const calls = [
      () => protekt.auth.requestPasswordReset({ email: 'a@b.c' }),
      () => protekt.auth.requestPasswordReset({ email: 'a@b.c', redirectUrl: 'https://app.test/done' }),
      () => protekt.auth.confirmPasswordReset({ resetToken: 'rt', newPassword: 'np' }),
      () => protekt.auth.changePassword({ currentPassword: 'cp', newPassword: 'np' }, 'at'),
      () => protekt.users.list(),
      () => protekt.users.list({ limit: 5, cursor: 'c/+=', search: 'A b&c=d' }),
      () => protekt.users.get('usr_1'),
      () => protekt.users.update('usr_1', { metadata: { a: null }, disabled: false }),
      () => protekt.users.delete('usr_1'),
      () => protekt.users.get('../x'),
      () => protekt.users.delete('a/b?c#d%e'),
      () => protekt.sessions.list('at'),
      () => protekt.sessions.revoke('ses_1', 'at'),
      () => protekt.sessions.revoke('../../users/usr_1', 'at'),
      () => protekt.sessions.revokeAll('at'),
      () => protekt.sessions.revokeAll('at', { keepCurrent: true }),
    ];
    for (const call of calls) assert.equal((await call()).error, null);
    const wire = seen.map((r) => [
      r.method,
      r.url,
      r.body === '' ? null : JSON.parse(r.body),
      r.headers.authorization ?? null,
    ]);
    assert.deepEqual(wire, [
      ['POST', '/p/v1/auth/password-reset', { email: 'a@b.c' }, null],
      ['POST', '/p/v1/auth/password-reset', { email: 'a@b.c', redirectUrl: 'https://app.test/done' }, null],
      ['POST', '/p/v1/auth/password-reset/confirm', { resetToken: 'rt', newPassword: 'np' }, null],
      ['POST', '/p/v1/auth/change-password', { currentPassword: 'cp', newPassword: 'np' }, 'Bearer at'],
      ['GET', '/p/v1/users', null, null],
      ['GET', '/p/v1/users?limit=5&cursor=c%2F%2B%3D&search=A+b%26c%3Dd', null, null],
      ['GET', '/p/v1/users/usr_1', null, null],
      ['PATCH', '/p/v1/users/usr_1', { metadata: { a: null }, disabled: false }, null],
      ['DELETE', '/p/v1/users/usr_1', null, null],
      ['GET', '/p/v1/users/..%2Fx', null, null],
      ['DELETE', '/p/v1/users/a%2Fb%3Fc%23d%25e', null, null],
      ['GET', '/p/v1/sessions', null, 'Bearer at'],
      ['DELETE', '/p/v1/sessions/ses_1', null, 'Bearer at'],
      ['DELETE', '/p/v1/sessions/..%2F..%2Fusers%2Fusr_1', null, 'Bearer at'],
      ['POST', '/p/v1/sessions/revoke-all', {}, 'Bearer at'],
      ['POST', '/p/v1/sessions/revoke-all', { keepCurrent: true }, 'Bearer at'],
    ]);
    for (const request of seen) {
      assert.equal(request.headers['x-login-id'], 'lp_login');
      assert.equal(request.headers['x-api-key'], 'pk_test_key');
    }
  });

  test('ids that cannot be one path segment are answered without a request', async () => {
    let requests = 0;
    const baseUrl = await httpServer((req, res) => {
      requests += 1;
      res.end('{}');
    });
    const protekt = client(baseUrl);
    for (const id of ['.', '..']) {
      for (const result of [
        await protekt.users.get(id),
        await protekt.users.update(id, { disabled: true }),
        await protekt.users.delete(id),
        await protekt.sessions.revoke(id, 'at'),
      ]) {
        assert.equal(result.error.code, 'not_found');
        assert.equal(result.error.status, 404);
      }
    }
    for (const id of ['', undefined, null, 7]) {
      const got = await protekt.users.get(id);
      assert.deepEqual(got, { user: null, error: got.error });
      assert.equal(got.error.code, 'invalid_request');
      assert.equal(got.error.field, 'userId');
      const revoked = await protekt.sessions.revoke(id, 'at');
      assert.equal(revoked.error.code, 'invalid_request');
      assert.equal(revoked.error.field, 'sessionId');
    }
    assert.equal(requests, 0);
  });

  test('invalid_response: malformed success answers of the new methods', async () => {
    const bodies = {
      '/v1/users': { users: 'nope', hasMore: false },
      '/v1/users/usr_1': { ok: true },
      '/v1/sessions': { sessions: [{ current: true }] },
      '/v1/sessions/revoke-all': { revokedCount: 'two' },
    };
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bodies[req.url.split('?')[0]] ?? {}));
    });
    const protekt = client(baseUrl);
    await rejectsWith(protekt.users.list(), 'invalid_response');
    await rejectsWith(protekt.users.get('usr_1'), 'invalid_response');
    await rejectsWith(protekt.users.update('usr_1', {}), 'invalid_response');
    await rejectsWith(protekt.sessions.list('at'), 'invalid_response');
    await rejectsWith(protekt.sessions.revokeAll('at'), 'invalid_response');
  });

  test('mfa: paths, bodies, and the access token sent only where it belongs', async () => {
    const seen = [];
    const baseUrl = await httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const parsed = body === '' ? {} : JSON.parse(body);
        const answers = {
          '/v1/mfa/enroll':
            parsed.method === 'totp'
              ? { totpUri: 'otpauth://totp/x:a?secret=AAAA&issuer=x', qrCode: 'data:image/svg+xml;base64,PHN2Zy8+' }
              : { totpUri: null, qrCode: null },
          '/v1/mfa/verify': parsed.mfaToken
            ? { user: { id: 'usr_1', email: 'a@b.c', mfaMethods: ['totp'] }, accessToken: 'at2', refreshToken: 'rt2', expiresIn: 60 }
            : { user: null, accessToken: null, refreshToken: null, expiresIn: null },
          '/v1/mfa/unenroll': { ok: true },
          '/v1/mfa/backup-codes': { backupCodes: ['aaaa-bbbb', 'cccc-dddd'] },
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answers[req.url]));
      });
    });
    const protekt = client(baseUrl, { tokenExpiry: 60 });
    const results = [
      await protekt.mfa.enroll({ method: 'totp' }, 'at'),
      await protekt.mfa.enroll({ method: 'sms', phone: '+14155550123' }, 'at'),
      await protekt.mfa.verify({ code: '123456' }, 'at'),
      await protekt.mfa.verify({ code: '123456', mfaToken: 'mt' }),
      await protekt.mfa.verify({ code: '123456', mfaToken: 'mt' }, 'at'),
      await protekt.mfa.unenroll({ method: 'sms' }, 'at'),
      await protekt.mfa.generateBackupCodes('at'),
    ];
    const wire = seen.map((r) => [
      r.method,
      r.url,
      r.body === '' ? null : JSON.parse(r.body),
      r.headers.authorization ?? null,
    ]);
    assert.deepEqual(wire, [
      ['POST', '/v1/mfa/enroll', { method: 'totp' }, 'Bearer at'],
      ['POST', '/v1/mfa/enroll', { method: 'sms', phone: '+14155550123' }, 'Bearer at'],
      // Confirming an enrolment: the access token; tokenExpiry goes along (the server ignores it).
      ['POST', '/v1/mfa/verify', { code: '123456', tokenExpiry: 60 }, 'Bearer at'],
      // A login challenge is named by mfaToken: no access token, even when one is given.
      ['POST', '/v1/mfa/verify', { code: '123456', mfaToken: 'mt', tokenExpiry: 60 }, null],
      ['POST', '/v1/mfa/verify', { code: '123456', mfaToken: 'mt', tokenExpiry: 60 }, null],
      ['POST', '/v1/mfa/unenroll', { method: 'sms' }, 'Bearer at'],
      ['POST', '/v1/mfa/backup-codes', null, 'Bearer at'],
    ]);
    assert.equal(seen[6].headers['content-type'], undefined);
    assert.deepEqual(results, [
      { totpUri: 'otpauth://totp/x:a?secret=AAAA&issuer=x', qrCode: 'data:image/svg+xml;base64,PHN2Zy8+', error: null },
      { totpUri: null, qrCode: null, error: null },
      { user: null, accessToken: null, refreshToken: null, error: null },
      { user: { id: 'usr_1', email: 'a@b.c', mfaMethods: ['totp'] }, accessToken: 'at2', refreshToken: 'rt2', error: null },
      { user: { id: 'usr_1', email: 'a@b.c', mfaMethods: ['totp'] }, accessToken: 'at2', refreshToken: 'rt2', error: null },
      { error: null },
      { backupCodes: ['aaaa-bbbb', 'cccc-dddd'], error: null },
    ]);
  });

  test('passwordless: paths, bodies (only the fields given), tokenExpiry on the verify calls', async () => {
    const phoneUser = {
      id: 'usr_2',
      email: null,
      emailVerified: false,
      phone: '+14155550123',
      phoneVerified: true,
      mfaMethods: [],
    };
    const seen = [];
    const baseUrl = await httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const session = { user: phoneUser, accessToken: 'at', refreshToken: 'rt', expiresIn: 60 };
        const answers = {
          '/p/v1/auth/magic-link': { ok: true },
          '/p/v1/auth/otp': { ok: true },
          '/p/v1/auth/magic-link/verify': session,
          '/p/v1/auth/otp/verify': session,
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answers[req.url]));
      });
    });
    const protekt = client(`${baseUrl}/p`, { loginId: 'lp_login', tokenExpiry: 60 });
    const plain = client(`${baseUrl}/p`, { loginId: 'lp_login' });
    const results = [
      await protekt.auth.sendMagicLink({ email: 'a@b.c' }),
      await protekt.auth.sendMagicLink({ email: 'a@b.c', redirectUrl: 'https://app.test/cb' }),
      await protekt.auth.verifyMagicLink('ml_token'),
      await plain.auth.verifyMagicLink('ml_token'),
      await protekt.auth.sendOtp({ email: 'a@b.c' }),
      await protekt.auth.sendOtp({ phone: '+14155550123' }),
      await protekt.auth.sendOtp({ phone: '+14155550123', channel: 'whatsapp' }),
      await protekt.auth.sendOtp({ email: 'a@b.c', channel: 'email' }),
      await protekt.auth.verifyOtp({ email: 'a@b.c', otp: '123456' }),
      await plain.auth.verifyOtp({ phone: '+14155550123', otp: '654321' }),
    ];
    const wire = seen.map((r) => [
      r.method,
      r.url,
      r.body === '' ? null : JSON.parse(r.body),
      r.headers.authorization ?? null,
    ]);
    assert.deepEqual(wire, [
      ['POST', '/p/v1/auth/magic-link', { email: 'a@b.c' }, null],
      ['POST', '/p/v1/auth/magic-link', { email: 'a@b.c', redirectUrl: 'https://app.test/cb' }, null],
      ['POST', '/p/v1/auth/magic-link/verify', { token: 'ml_token', tokenExpiry: 60 }, null],
      ['POST', '/p/v1/auth/magic-link/verify', { token: 'ml_token' }, null],
      ['POST', '/p/v1/auth/otp', { email: 'a@b.c' }, null],
      ['POST', '/p/v1/auth/otp', { phone: '+14155550123' }, null],
      ['POST', '/p/v1/auth/otp', { phone: '+14155550123', channel: 'whatsapp' }, null],
      ['POST', '/p/v1/auth/otp', { email: 'a@b.c', channel: 'email' }, null],
      ['POST', '/p/v1/auth/otp/verify', { email: 'a@b.c', otp: '123456', tokenExpiry: 60 }, null],
      ['POST', '/p/v1/auth/otp/verify', { phone: '+14155550123', otp: '654321' }, null],
    ]);
    for (const request of seen) {
      assert.equal(request.headers['x-login-id'], 'lp_login');
      assert.equal(request.headers['x-api-key'], 'pk_test_key');
      assert.equal(request.headers['content-type'], 'application/json');
    }
    // A phone-only user (email: null) is a well-formed user.
    const session = { user: phoneUser, accessToken: 'at', refreshToken: 'rt', error: null };
    assert.deepEqual(results, [
      { error: null },
      { error: null },
      session,
      session,
      { error: null },
      { error: null },
      { error: null },
      { error: null },
      session,
      session,
    ]);
  });

  test('passwordless: API errors are returned (mfaToken, field, retryAfter passed through)', async () => {
    const errors = {
      '/v1/auth/magic-link': [422, { code: 'value_not_allowed', message: 'no', field: 'redirectUrl' }],
      '/v1/auth/magic-link/verify': [401, { code: 'mfa_required', message: 'MFA', mfaToken: 'mfa_1' }],
      '/v1/auth/otp': [429, { code: 'rate_limited', message: 'wait', retryAfter: 42 }],
      '/v1/auth/otp/verify': [401, { code: 'invalid_code', message: 'wrong code' }],
    };
    const baseUrl = await httpServer((req, res) => {
      const [status, error] = errors[req.url];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error }));
    });
    const protekt = client(baseUrl);
    const none = { user: null, accessToken: null, refreshToken: null };
    assert.deepEqual(await protekt.auth.sendMagicLink({ email: 'a@b.c', redirectUrl: 'https://x.test/' }), {
      error: { code: 'value_not_allowed', message: 'no', field: 'redirectUrl', status: 422 },
    });
    assert.deepEqual(await protekt.auth.verifyMagicLink('t'), {
      ...none,
      error: { code: 'mfa_required', message: 'MFA', mfaToken: 'mfa_1', status: 401 },
    });
    assert.deepEqual(await protekt.auth.sendOtp({ phone: '+14155550123' }), {
      error: { code: 'rate_limited', message: 'wait', retryAfter: 42, status: 429 },
    });
    assert.deepEqual(await protekt.auth.verifyOtp({ email: 'a@b.c', otp: '000000' }), {
      ...none,
      error: { code: 'invalid_code', message: 'wrong code', status: 401 },
    });
  });

  test('invalid_response: malformed success answers of the passwordless verify methods', async () => {
    const bodies = [
      // A user's email must be a string or null, never missing or another type.
      { user: { id: 'usr_1' }, accessToken: 'at', refreshToken: 'rt' },
      { user: { id: 'usr_1', email: 7 }, accessToken: 'at', refreshToken: 'rt' },
      { user: { id: null, email: null }, accessToken: 'at', refreshToken: 'rt' },
      // A sign-in always answers a session.
      { user: { id: 'usr_1', email: null }, accessToken: null, refreshToken: null },
    ];
    let next = 0;
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bodies[next++ % bodies.length]));
    });
    const protekt = client(baseUrl);
    for (let i = 0; i < bodies.length; i++) {
      await rejectsWith(protekt.auth.verifyMagicLink('t'), 'invalid_response');
    }
    for (let i = 0; i < bodies.length; i++) {
      await rejectsWith(protekt.auth.verifyOtp({ email: 'a@b.c', otp: '123456' }), 'invalid_response');
    }
  });

  test('exchangeCode: path, body (only the fields given, tokenExpiry), answers; getLoginUrl sends nothing', async () => {
    const user = { id: 'usr_1', email: 'a@b.c', emailVerified: true, phone: null, phoneVerified: false, mfaMethods: [] };
    const seen = [];
    const baseUrl = await httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const parsed = JSON.parse(body || '{}');
        if (parsed.code === 'used') {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'invalid_token', message: 'no such code' } }));
        } else if (parsed.code === 'malformed') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ user, accessToken: null, refreshToken: 'rt' }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ user, accessToken: 'at', refreshToken: 'rt', expiresIn: 60 }));
        }
      });
    });
    const protekt = client(`${baseUrl}/p`, { loginId: 'lp_login', tokenExpiry: 60 });
    const plain = client(`${baseUrl}/p`, { loginId: 'lp_login' });

    assert.equal(
      protekt.auth.getLoginUrl({ redirectUrl: 'https://app.test/cb', state: 's' }),
      `${baseUrl}/p/p/lp_login/login?redirect_url=https%3A%2F%2Fapp.test%2Fcb&state=s`,
    );
    assert.equal(seen.length, 0, 'getLoginUrl made no request');

    const session = { user, accessToken: 'at', refreshToken: 'rt', error: null };
    assert.deepEqual(await protekt.auth.exchangeCode('c1', { codeVerifier: 'v', redirectUrl: 'https://app.test/cb' }), session);
    assert.deepEqual(await plain.auth.exchangeCode('c2'), session);
    assert.deepEqual(await plain.auth.exchangeCode('c3', {}), session);
    assert.deepEqual(await plain.auth.exchangeCode('used', { codeVerifier: 'v' }), {
      user: null,
      accessToken: null,
      refreshToken: null,
      error: { code: 'invalid_token', message: 'no such code', status: 401 },
    });
    await rejectsWith(plain.auth.exchangeCode('malformed'), 'invalid_response');

    const wire = seen.map((r) => [r.method, r.url, JSON.parse(r.body), r.headers.authorization ?? null]);
    assert.deepEqual(wire, [
      ['POST', '/p/v1/auth/exchange', { code: 'c1', codeVerifier: 'v', redirectUrl: 'https://app.test/cb', tokenExpiry: 60 }, null],
      ['POST', '/p/v1/auth/exchange', { code: 'c2' }, null],
      ['POST', '/p/v1/auth/exchange', { code: 'c3' }, null],
      ['POST', '/p/v1/auth/exchange', { code: 'used', codeVerifier: 'v' }, null],
      ['POST', '/p/v1/auth/exchange', { code: 'malformed' }, null],
    ]);
    for (const request of seen) {
      assert.equal(request.headers['x-login-id'], 'lp_login');
      assert.equal(request.headers['x-api-key'], 'pk_test_key');
      assert.equal(request.headers['content-type'], 'application/json');
    }
  });

  test('invalid_response: malformed success answers of the mfa methods', async () => {
    const bodies = {
      '/v1/mfa/enroll': { totpUri: 42, qrCode: null },
      // A login challenge must answer a session.
      '/v1/mfa/verify': { user: null, accessToken: null, refreshToken: null },
      '/v1/mfa/backup-codes': { backupCodes: ['ok', 7] },
    };
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bodies[req.url] ?? {}));
    });
    const protekt = client(baseUrl);
    await rejectsWith(protekt.mfa.enroll({ method: 'totp' }, 'at'), 'invalid_response');
    await rejectsWith(protekt.mfa.verify({ code: '1', mfaToken: 'mt' }), 'invalid_response');
    await rejectsWith(protekt.mfa.generateBackupCodes('at'), 'invalid_response');
  });

  test('extra fields of an API error are passed through', async () => {
    const baseUrl = await httpServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'mfa_required', message: 'MFA needed', mfaToken: 'mfa_123', extra: [1] },
        }),
      );
    });
    const result = await client(baseUrl).auth.login({ email: 'a@b.c', password: 'x' });
    assert.deepEqual(result, {
      user: null,
      accessToken: null,
      refreshToken: null,
      error: { code: 'mfa_required', message: 'MFA needed', mfaToken: 'mfa_123', extra: [1], status: 401 },
    });
  });
});
