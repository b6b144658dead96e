// The reset-password page behind the emailed link, in real Chromium: a weak password is refused
// on the page, a good one leads back to the app (through the page's CSP `form-action`) and is the
// password from then on; the token leaves the address bar and opening the link uses nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertArrived,
  assertPageHeaders,
  assertTokenGone,
  formAction,
  launchBrowser,
  PASSWORD,
  startApp,
  startServer,
  watchedPage,
} from './harness.mjs';

let server;
let app;
let browser;
let n = 0;
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;
const FRESH = 'a brand new passphrase 7';

before(async () => {
  app = await startApp();
  server = await startServer({ allowedRedirectUrls: [app.url('/signed-in')] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await app?.stop();
});

/** Fills the new password and submits it. */
async function submit(page, password) {
  await page.getByLabel('New password').fill(password);
  await page.getByRole('button', { name: 'Set new password' }).click();
}

test('a weak password is refused on the page; a good one lands on the redirect and is the password (SECURITY F5)', async () => {
  const address = email('reset');
  const link = await server.link(address, 'password_reset', app.url('/signed-in'));
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  assertTokenGone(page);

  await submit(page, 'password');
  const error = page.locator('.error');
  await error.waitFor();
  assert.ok(await error.isVisible(), 'the error is visible');
  assert.match(await error.textContent(), /password/i);
  // When the field names its error (aria-describedby), it must name this one.
  const describedBy = await page.getAttribute('#password', 'aria-describedby');
  if (describedBy) assert.match(await page.textContent(`#${describedBy}`), /password/i);
  assert.equal(await page.inputValue('input[name=token]'), new URL(link).searchParams.get('token'));

  await submit(page, FRESH);
  await assertArrived(page, app, app.url('/signed-in'), violations);
  assert.equal(app.hits.find((h) => h.url === '/signed-in').referer, undefined, 'no Referer reached the app');
  assert.deepEqual(violations, []);
  assert.equal((await server.api('/v1/auth/login', { email: address, password: FRESH })).status, 200);
  assert.equal((await server.api('/v1/auth/login', { email: address, password: PASSWORD })).status, 401);
  await close();
});

test('opening the link uses nothing (SECURITY O6); without a redirect the page says done, and the link is then spent', async () => {
  const address = email('reset-plain');
  const link = await server.link(address, 'password_reset');
  for (const method of ['GET', 'HEAD', 'GET']) {
    assert.equal((await fetch(link, { method })).status, 200, method);
  }
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  assertTokenGone(page);
  await submit(page, FRESH);
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();
  assert.equal((await server.api('/v1/auth/login', { email: address, password: FRESH })).status, 200);
  await page.goto(link);
  assert.match(await page.textContent('main'), /invalid, was already used, or has expired/);
  assert.deepEqual(violations, []);
  await close();
});

test('headers: strict CSP with a fresh nonce, form-action naming the redirect origin, no referrer, no caching (SECURITY U4)', async () => {
  const link = await server.link(email('headers'), 'password_reset', app.url('/signed-in'));
  const nonces = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(link);
    assert.equal(res.status, 200);
    nonces.push(assertPageHeaders(res.headers, await res.text()));
    assert.ok(formAction(res.headers).includes(app.origin), `${app.origin} in form-action`);
  }
  assert.notEqual(nonces[0], nonces[1], 'a new nonce on every load');
  // The form shown again with an error, and the page of an unknown token, carry them too.
  const [pageUrl, query] = link.split('?');
  const weak = await fetch(pageUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: new URLSearchParams(query).get('token'), password: 'password' }),
  });
  assert.equal(weak.status, 400);
  assertPageHeaders(weak.headers, await weak.text());
  assert.ok(formAction(weak.headers).includes(app.origin), `${app.origin} in form-action after an error`);
  const unknown = await fetch(`${pageUrl}?token=nope`);
  assert.equal(unknown.status, 400);
  assertPageHeaders(unknown.headers, await unknown.text());
});
