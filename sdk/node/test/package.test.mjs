// The package as published: the ESM and CommonJS builds, the exports map and the types.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as esm from '@protekt/node';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);
const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(sdkDir, 'package.json'), 'utf8'));
const tsc = path.join(sdkDir, 'node_modules', 'typescript', 'bin', 'tsc');

const RUNTIME_EXPORTS = [
  'DEFAULT_BASE_URL',
  'DEFAULT_TIMEOUT_MS',
  'ERROR_CODES',
  'Protekt',
  'ProtektError',
  'VERSION',
  'createPkcePair',
];

test('the ESM build exports the runtime API', () => {
  assert.deepEqual(Object.keys(esm).sort(), RUNTIME_EXPORTS);
});

test('the CommonJS build loads with require()', () => {
  const cjs = require('@protekt/node');
  assert.equal(require.resolve('@protekt/node'), path.join(sdkDir, 'dist', 'cjs', 'index.js'));
  assert.deepEqual(Object.keys(cjs).filter((k) => k !== '__esModule').sort(), RUNTIME_EXPORTS);
  assert.notEqual(cjs.Protekt, esm.Protekt, 'a separate CommonJS build, not the ESM one');
  const client = new cjs.Protekt({ loginId: 'lp_x', apiKey: 'pk_live_x' });
  assert.equal(typeof client.auth.login, 'function');
  assert.equal(typeof client.auth.changePassword, 'function');
  assert.equal(typeof client.auth.verifyMagicLink, 'function');
  assert.equal(typeof client.auth.verifyOtp, 'function');
  assert.equal(typeof client.auth.exchangeCode, 'function');
  const hosted = new cjs.Protekt({ loginId: 'lp_x', apiKey: 'pk_live_x', baseUrl: 'https://auth.example.com' });
  assert.equal(hosted.auth.getLoginUrl({ state: 's' }), 'https://auth.example.com/p/lp_x/login?state=s');
  const pair = cjs.createPkcePair();
  assert.equal(pair.codeVerifier.length, 43);
  assert.equal(pair.codeChallenge.length, 43);
  assert.equal(typeof client.users.list, 'function');
  assert.equal(typeof client.sessions.revokeAll, 'function');
  assert.equal(typeof client.mfa.verify, 'function');
  assert.equal(typeof client.mfa.generateBackupCodes, 'function');
  assert.throws(() => new cjs.Protekt({ apiKey: 'pk_live_x' }), (err) => {
    return err instanceof cjs.ProtektError && err.code === 'invalid_config';
  });
  assert.deepEqual([...cjs.ERROR_CODES], [...esm.ERROR_CODES]);
});

test('the CommonJS build runs in a plain CommonJS process', async () => {
  const script = [
    "const { Protekt, ProtektError } = require('@protekt/node');",
    "const p = new Protekt({ loginId: 'lp_x', apiKey: 'pk_live_x', baseUrl: 'http://127.0.0.1:1', timeout: 2000 });",
    "p.auth.verifyToken('t').then(() => process.exit(2), (e) => {",
    "  console.log(JSON.stringify({ isProtektError: e instanceof ProtektError, code: e.code }));",
    '});',
  ].join('\n');
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=commonjs', '-e', script], {
    cwd: sdkDir,
  });
  assert.deepEqual(JSON.parse(stdout), { isProtektError: true, code: 'network_error' });
});

test('package.json: name, exports map, engines, no runtime dependencies', () => {
  assert.equal(pkg.name, '@protekt/node');
  assert.equal(pkg.engines.node, '>=18');
  assert.equal(pkg.dependencies, undefined);
  const root = pkg.exports['.'];
  assert.equal(root.import.default, './dist/esm/index.js');
  assert.equal(root.import.types, './dist/esm/index.d.ts');
  assert.equal(root.require.default, './dist/cjs/index.js');
  assert.equal(root.require.types, './dist/cjs/index.d.ts');
  const cjsPkg = JSON.parse(readFileSync(path.join(sdkDir, 'dist', 'cjs', 'package.json'), 'utf8'));
  assert.deepEqual(cjsPkg, { type: 'commonjs' });
});

test('VERSION matches package.json', () => {
  assert.equal(esm.VERSION, pkg.version);
});

test('the TypeScript samples type-check (tsc --noEmit, strict)', async () => {
  try {
    await execFileAsync(process.execPath, [tsc, '-p', path.join(sdkDir, 'test', 'tsconfig.json')], {
      cwd: sdkDir,
    });
  } catch (err) {
    assert.fail(`tsc found errors in the TypeScript samples:\n${err.stdout}${err.stderr}`);
  }
});

test('the types are real: wrong code and missing methods do not type-check', async () => {
  const project = path.join(sdkDir, 'test', 'fixtures', 'typescript-negative', 'tsconfig.json');
  const result = await execFileAsync(process.execPath, [tsc, '-p', project], { cwd: sdkDir }).then(
    () => ({ failed: false, output: '' }),
    (err) => ({ failed: true, output: `${err.stdout}${err.stderr}` }),
  );
  assert.ok(result.failed, 'tsc accepted code that must be rejected');
  const source = readFileSync(
    path.join(sdkDir, 'test', 'fixtures', 'typescript-negative', 'wrong.ts'),
    'utf8',
  ).split('\n');
  source.forEach((line, index) => {
    const expected = line.match(/\/\/ (TS\d+)/)?.[1];
    if (!expected || line.trimStart().startsWith('//')) return;
    const pattern = new RegExp(`wrong\\.ts\\(${index + 1},\\d+\\): error ${expected}`);
    assert.match(result.output, pattern, `line ${index + 1} should fail with ${expected}`);
  });
});
