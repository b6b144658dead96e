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
    assert.match(revoke.headers['content-type'], /^application\/json/);
    assert.equal(revoke.headers.authorization, undefined);
    assert.deepEqual(JSON.parse(revoke.body), { token: 'tok' });
    assert.match(revoke.headers['user-agent'], /^protekt-node\//);

    assert.equal(logout.url, '/prefix/v1/auth/logout');
    assert.equal(logout.headers.authorization, 'Bearer access.token.here');
    assert.equal(logout.headers['x-api-key'], 'pk_test_key');
    assert.equal(logout.body, '');
    assert.equal(logout.headers['content-type'], undefined);
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
