// new Protekt(options): required options and validation. No server needed.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, Protekt, ProtektError } from '@protekt/node';

function throwsInvalidConfig(options, pattern) {
  let caught;
  assert.throws(
    () => new Protekt(options),
    (err) => {
      caught = err;
      return true;
    },
  );
  assert.ok(caught instanceof ProtektError, `expected a ProtektError, got ${caught}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.code, 'invalid_config');
  assert.equal(caught.status, undefined);
  if (pattern) assert.match(caught.message, pattern);
}

test('loginId is required', () => {
  throwsInvalidConfig({ apiKey: 'pk_live_x' }, /loginId/);
  throwsInvalidConfig({ loginId: undefined, apiKey: 'pk_live_x' }, /loginId/);
  throwsInvalidConfig({ loginId: '', apiKey: 'pk_live_x' }, /loginId/);
  throwsInvalidConfig({ loginId: '   ', apiKey: 'pk_live_x' }, /loginId/);
  throwsInvalidConfig({ loginId: 42, apiKey: 'pk_live_x' }, /loginId/);
  // It is sent as the X-Login-Id header.
  throwsInvalidConfig({ loginId: 'lp with spaces', apiKey: 'pk_live_x' }, /loginId/);
  throwsInvalidConfig({ loginId: 'lp_é', apiKey: 'pk_live_x' }, /loginId/);
  new Protekt({ loginId: '  lp_x  ', apiKey: 'pk_live_x' }); // surrounding spaces are trimmed
});

test('apiKey is required', () => {
  throwsInvalidConfig({ loginId: 'lp_x' }, /apiKey/);
  throwsInvalidConfig({ loginId: 'lp_x', apiKey: '' }, /apiKey/);
  throwsInvalidConfig({ loginId: 'lp_x', apiKey: null }, /apiKey/);
  throwsInvalidConfig({ loginId: 'lp_x', apiKey: 'pk live with spaces' }, /apiKey/);
});

test('the guide\'s configuration throws invalid_config when the environment is not set', () => {
  const saved = { id: process.env.PROTEKT_LOGIN_ID, key: process.env.PROTEKT_API_KEY };
  delete process.env.PROTEKT_LOGIN_ID;
  delete process.env.PROTEKT_API_KEY;
  try {
    throwsInvalidConfig({
      loginId: process.env.PROTEKT_LOGIN_ID,
      apiKey: process.env.PROTEKT_API_KEY,
    });
  } finally {
    if (saved.id !== undefined) process.env.PROTEKT_LOGIN_ID = saved.id;
    if (saved.key !== undefined) process.env.PROTEKT_API_KEY = saved.key;
  }
});

test('an options object is required', () => {
  throwsInvalidConfig(undefined);
  throwsInvalidConfig(null);
  throwsInvalidConfig('lp_x');
});

test('baseUrl must be an http(s) URL without credentials, query or fragment', () => {
  const base = { loginId: 'lp_x', apiKey: 'pk_live_x' };
  throwsInvalidConfig({ ...base, baseUrl: 'not a url' }, /baseUrl/);
  throwsInvalidConfig({ ...base, baseUrl: 'ftp://example.com' }, /http/);
  throwsInvalidConfig({ ...base, baseUrl: 'https://user:pw@example.com' }, /password/);
  throwsInvalidConfig({ ...base, baseUrl: 'https://example.com/?a=1' }, /query/);
  throwsInvalidConfig({ ...base, baseUrl: 42 }, /baseUrl/);
  new Protekt({ ...base, baseUrl: 'https://auth.example.com' });
  new Protekt({ ...base, baseUrl: 'http://127.0.0.1:8787/protekt/' });
});

test('a malformed PROTEKT_URL is reported as such', () => {
  const saved = process.env.PROTEKT_URL;
  process.env.PROTEKT_URL = 'nope';
  try {
    throwsInvalidConfig({ loginId: 'lp_x', apiKey: 'pk_live_x' }, /PROTEKT_URL/);
    // An explicit baseUrl wins over the environment.
    new Protekt({ loginId: 'lp_x', apiKey: 'pk_live_x', baseUrl: 'http://127.0.0.1:1' });
  } finally {
    if (saved === undefined) delete process.env.PROTEKT_URL;
    else process.env.PROTEKT_URL = saved;
  }
});

test('timeout and tokenExpiry must be positive numbers', () => {
  const base = { loginId: 'lp_x', apiKey: 'pk_live_x' };
  for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5000']) {
    throwsInvalidConfig({ ...base, timeout }, /timeout/);
  }
  for (const tokenExpiry of [0, -60, 1.5, '60']) {
    throwsInvalidConfig({ ...base, tokenExpiry }, /tokenExpiry/);
  }
  new Protekt({ ...base, timeout: 250, tokenExpiry: 300 });
});

test('defaults: http://127.0.0.1:8787 and 5000 ms', () => {
  assert.equal(DEFAULT_BASE_URL, 'http://127.0.0.1:8787');
  assert.equal(DEFAULT_TIMEOUT_MS, 5000);
});

test('ProtektError is an Error with a code', () => {
  const err = new ProtektError('server_error', 'boom', { status: 502 });
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'ProtektError');
  assert.equal(err.code, 'server_error');
  assert.equal(err.status, 502);
  assert.equal(err.message, 'boom');
  assert.match(String(err.stack), /ProtektError: boom/);
});
