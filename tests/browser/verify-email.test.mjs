// The verify-email page behind the emailed link, in real Chromium: the redirect back to the app
// must survive the page's own CSP (`form-action`, which HTTP-client tests cannot see), the token
// must leave the address bar, and opening the link must not use it up.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertArrived,
  assertPageHeaders,
  assertTokenGone,
  formAction,
  launchBrowser,
  startApp,
  startServer,
  watchedPage,
} from './harness.mjs';

let server;
let app;
let browser;
let n = 0;
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;
const confirm = (page) => page.getByRole('button', { name: 'Confirm my email' }).click();
const INVALID = /invalid, was already used, or has expired/;

before(async () => {
  app = await startApp();
  server = await startServer({ allowedRedirectUrls: [app.url('/welcome')] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await app?.stop();
});

test('confirming lands on the redirect URL, which the CSP lets the form reach (form-action), with no referrer (SECURITY F5)', async () => {
  const address = email('verify-redirect');
  const link = await server.link(address, 'verify_email', app.url('/welcome'));
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  await confirm(page);
  await assertArrived(page, app, app.url('/welcome'), violations);
  assert.match(await page.textContent('h1'), /Welcome back/);
  assert.equal(app.hits.find((h) => h.url === '/welcome').referer, undefined, 'no Referer reached the app');
  assert.deepEqual(violations, []);
  assert.equal((await server.user(address)).emailVerified, true);
  await close();
});

test('without a redirect the page says the email is confirmed', async () => {
  const address = email('verify-plain');
  const link = await server.link(address, 'verify_email');
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  await confirm(page);
  await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  assert.equal((await server.user(address)).emailVerified, true);
  assert.deepEqual(violations, []);
  await close();
});

test('a second click, or opening the link again, says the link is spent', async () => {
  const address = email('verify-twice');
  const link = await server.link(address, 'verify_email');
  const { context, page, violations, close } = await watchedPage(browser);
  // The link opened twice (two tabs), confirmed in the first: the second tab's button is spent.
  const second = await context.newPage();
  await page.goto(link);
  await second.goto(link);
  await confirm(page);
  await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  await confirm(second);
  await second.getByText(INVALID).waitFor();
  // And the link itself.
  await page.goto(link);
  assert.match(await page.textContent('main'), INVALID);
  assert.deepEqual(violations, []);
  await close();
});

test('opening the link, as a mail scanner does, uses nothing (SECURITY O6)', async () => {
  const address = email('verify-scanner');
  const link = await server.link(address, 'verify_email', app.url('/welcome'));
  for (const method of ['GET', 'HEAD', 'GET']) {
    assert.equal((await fetch(link, { method })).status, 200, method);
  }
  assert.equal((await server.user(address)).emailVerified, false, 'still unverified after the scanner');
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  await confirm(page);
  await assertArrived(page, app, app.url('/welcome'), violations);
  assert.equal((await server.user(address)).emailVerified, true);
  assert.deepEqual(violations, []);
  await close();
});

test('the token leaves the address bar as the page loads, and the form still works (SECURITY F5)', async () => {
  const address = email('verify-url');
  const link = await server.link(address, 'verify_email');
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  assertTokenGone(page);
  assert.equal(await page.inputValue('input[name=token]'), new URL(link).searchParams.get('token'));
  await confirm(page);
  await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  // Replaced, not pushed: the history entry before the confirmation no longer holds the token.
  await page.goBack();
  assert.ok(page.url().includes('/verify-email') && !page.url().includes('token='), page.url());
  assert.deepEqual(violations, []);
  await close();
});

test('headers: strict CSP with a fresh nonce, form-action naming the redirect origin, no referrer, no caching (SECURITY U4)', async () => {
  const withRedirect = await server.link(email('headers-redirect'), 'verify_email', app.url('/welcome'));
  const plain = await server.link(email('headers-plain'), 'verify_email');
  const nonces = [];
  for (const url of [withRedirect, withRedirect, plain]) {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    nonces.push(assertPageHeaders(res.headers, await res.text()));
    assert.ok(formAction(res.headers).includes("'self'"));
    if (url === withRedirect) {
      assert.ok(formAction(res.headers).includes(app.origin), `${app.origin} in form-action`);
    }
  }
  assert.equal(new Set(nonces).size, nonces.length, 'a new nonce on every load');
  // The page after the POST, and the page of a spent or unknown token, carry them too.
  const token = new URL(plain).searchParams.get('token');
  const post = (t) =>
    fetch(plain.split('?')[0], {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t }),
      redirect: 'manual',
    });
  for (const [res, status] of [[await post(token), 200], [await post(token), 400], [await fetch(`${plain.split('?')[0]}?token=nope`), 400]]) {
    assert.equal(res.status, status);
    assertPageHeaders(res.headers, await res.text());
  }
});
