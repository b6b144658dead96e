// The hosted pages behind emailed links (verify email, reset password) in real Chromium: the
// redirect back to the app must survive the page's own CSP (a bug HTTP-client tests could not
// see), the token must leave the address bar, and opening a link must not use it up.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, PASSWORD, startApp, startServer, watchedPage } from './harness.mjs';

let server;
let app;
let browser;
let n = 0;
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;

before(async () => {
  app = await startApp();
  server = await startServer({ allowedRedirectUrls: [app.url('/welcome'), app.url('/signed-in')] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await app?.stop();
});

/** Signs up `address` and asks for an emailed link of `kind`; returns the link. */
async function linkFor(address, kind, redirectUrl) {
  assert.equal((await server.api('/v1/auth/signup', { email: address, password: PASSWORD })).status, 201);
  const route = kind === 'verify_email' ? '/v1/auth/verify-email/send' : '/v1/auth/password-reset';
  const body = redirectUrl ? { email: address, redirectUrl } : { email: address };
  assert.equal((await server.api(route, body)).status, 200);
  return (await server.email(address, kind)).link;
}

async function userOf(address) {
  const { body } = await server.api(`/v1/users?search=${encodeURIComponent(address)}`);
  return body.users[0];
}

describe('verify-email page', () => {
  test('confirming lands on the redirect URL; the CSP lets the form lead there (form-action)', async () => {
    const address = email('verify-redirect');
    const link = await linkFor(address, 'verify_email', app.url('/welcome'));
    const { page, violations, close } = await watchedPage(browser);
    await page.goto(link);
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await page.waitForURL(app.url('/welcome'));
    assert.ok(app.hits.includes('/welcome'), 'the app was reached');
    assert.match(await page.textContent('h1'), /Welcome back/);
    assert.deepEqual(violations, []);
    assert.equal((await userOf(address)).emailVerified, true);
    await close();
  });

  test('without a redirect the page says so; a second use says the link is spent', async () => {
    const address = email('verify-plain');
    const link = await linkFor(address, 'verify_email');
    const { page, violations, close } = await watchedPage(browser);
    await page.goto(link);
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
    assert.equal((await userOf(address)).emailVerified, true);
    await page.goto(link);
    assert.match(await page.textContent('main'), /invalid, was already used, or has expired/);
    assert.deepEqual(violations, []);
    await close();
  });

  test('opening the link, as a mail scanner does, uses nothing (SECURITY O6)', async () => {
    const address = email('verify-scanner');
    const link = await linkFor(address, 'verify_email', app.url('/welcome'));
    for (let i = 0; i < 3; i++) assert.equal((await fetch(link)).status, 200);
    const { page, close } = await watchedPage(browser);
    await page.goto(link);
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await page.waitForURL(app.url('/welcome'));
    assert.equal((await userOf(address)).emailVerified, true);
    await close();
  });

  test('the token leaves the address bar as the page loads, and the form still works (SECURITY F5)', async () => {
    const address = email('verify-url');
    const link = await linkFor(address, 'verify_email');
    const { page, violations, close } = await watchedPage(browser);
    await page.goto(link);
    await page.waitForFunction(() => location.search === '');
    assert.equal(new URL(page.url()).search, '');
    assert.equal(await page.inputValue('input[name=token]'), new URL(link).searchParams.get('token'));
    await page.getByRole('button', { name: 'Confirm my email' }).click();
    await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
    // Replaced, not pushed: the entry before the confirmation no longer holds the token.
    await page.goBack();
    assert.ok(page.url().includes('/verify-email') && !page.url().includes('token='), page.url());
    assert.deepEqual(violations, []);
    await close();
  });
});

describe('reset-password page', () => {
  test('a weak password is refused on the page; a good one lands on the redirect and works', async () => {
    const address = email('reset');
    const link = await linkFor(address, 'password_reset', app.url('/signed-in'));
    const { page, violations, close } = await watchedPage(browser);
    await page.goto(link);
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.getByLabel('New password').fill('password');
    await page.getByRole('button', { name: 'Set new password' }).click();
    assert.match(await page.textContent('.error'), /\S/);
    const fresh = 'a brand new passphrase 7';
    await page.getByLabel('New password').fill(fresh);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.waitForURL(app.url('/signed-in'));
    assert.ok(app.hits.includes('/signed-in'));
    assert.deepEqual(violations, []);
    assert.equal((await server.api('/v1/auth/login', { email: address, password: fresh })).status, 200);
    assert.equal((await server.api('/v1/auth/login', { email: address, password: PASSWORD })).status, 401);
    await close();
  });
});

describe('headers of every hosted page (SECURITY U4)', () => {
  test('strict CSP with a fresh script nonce, no referrer, no caching, no framing', async () => {
    const address = email('headers');
    const link = await linkFor(address, 'verify_email');
    const nonces = [];
    for (const url of [link, link, `${server.baseUrl}/p/${server.loginId}/reset-password?token=nope`]) {
      const res = await fetch(url);
      const csp = res.headers.get('content-security-policy');
      for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) {
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      }
      const nonce = csp.match(/script-src 'nonce-([^']+)'/)?.[1];
      assert.ok(nonce, csp);
      assert.ok((await res.text()).includes(`<script nonce="${nonce}">`), 'the script carries the nonce');
      nonces.push(nonce);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    }
    assert.equal(new Set(nonces).size, nonces.length, 'a new nonce on every load');
  });
});
