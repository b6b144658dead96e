// The magic-link page behind the emailed link, in real Chromium: opening it (as a person or a
// mail scanner) shows the masked address and a "Sign in" button and uses nothing; the button
// leads back to the app (through the page's CSP `form-action`) with a one-time exchange token
// that the app's backend trades for a session once; the spent link then only says so.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertPageHeaders, assertTokenGone, formAction, launchBrowser, startApp, startServer, watchedPage } from './harness.mjs';

let server;
let app;
let browser;
let n = 0;
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;
const masked = (address) => `${address[0]}***@${address.split('@')[1]}`;
const signIn = (page) => page.getByRole('button', { name: 'Sign in' }).click();
const INVALID = /This sign-in link is invalid, was already used, or has expired/;

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

/** Asks for a magic link to `address` (with `redirectUrl` if given); the email from the outbox. */
async function magicLink(address, redirectUrl) {
  const res = await server.api('/v1/auth/magic-link', redirectUrl ? { email: address, redirectUrl } : { email: address });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const mail = await server.email(address, 'magic_link');
  assert.ok(mail.link.startsWith(`${server.baseUrl}/p/${server.loginId}/magic-link?token=`), mail.link);
  return mail;
}

/** Waits (10 s) for the browser to reach the app's /signed-in; the exchange token it carries. */
async function arrivedWithToken(page, violations) {
  const target = (url) => url.origin === app.origin && url.pathname === '/signed-in';
  try {
    await page.waitForURL(target, { timeout: 10_000 });
  } catch {
    assert.fail(
      `the browser never reached ${app.url('/signed-in')}; it is at ${page.url()}. CSP violations: ` +
        (violations.length ? violations.join(' | ') : 'none'),
    );
  }
  const token = new URL(page.url()).searchParams.get('token');
  assert.ok(token, `token= in ${page.url()}`);
  const hit = app.hits.find((h) => h.method === 'GET' && new URL(h.url, app.origin).searchParams.get('token') === token);
  assert.ok(hit, `the app got GET /signed-in?token=… (hits: ${JSON.stringify(app.hits.map((h) => h.url))})`);
  assert.equal(new URL(hit.url, app.origin).pathname, '/signed-in');
  assert.equal(hit.referer, undefined, 'no Referer reached the app');
  return token;
}

test('opening the link shows the masked address and the button, and uses nothing (SECURITY O6, U4)', async () => {
  const address = email('magic-open');
  const { link, token } = await magicLink(address);
  // A mail scanner first: GET and HEAD answer the page, with the hosted-page headers.
  for (const method of ['GET', 'HEAD']) {
    assert.equal((await fetch(link, { method })).status, 200, method);
  }
  const res = await fetch(link);
  assertPageHeaders(res.headers, await res.text());
  const allowed = formAction(res.headers);
  assert.ok(allowed.includes("'self'"), `'self' in form-action ${allowed}`);
  assert.ok(allowed.includes(app.origin), `${app.origin} in form-action ${allowed}`);

  const { context, page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  assertTokenGone(page);
  assert.ok((await page.textContent('main')).includes(` as ${masked(address)}.`), 'the masked address is on the page');
  assert.ok(!(await page.textContent('main')).includes(address), 'the full address is not on the page');
  assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible(), 'the Sign in button is visible');
  assert.equal(await page.inputValue('input[name=token]'), token);
  assert.doesNotMatch(await page.textContent('main'), INVALID);

  // The link is still good: opened again (a reload would not do: the token left the address
  // bar), in this tab and in another, it shows the button again, not the error.
  const second = await context.newPage();
  for (const p of [page, second]) {
    await p.goto(link);
    assert.ok(await p.getByRole('button', { name: 'Sign in' }).isVisible(), 'the button again');
    assert.doesNotMatch(await p.textContent('main'), INVALID);
  }
  // Nobody was signed in nor created by all those loads.
  assert.equal((await server.user(address)) ?? null, null, 'no user before the button is pressed');
  assert.deepEqual(violations, []);
  await close();
});

test('"Sign in" lands on the app with an exchange token that signs in once (SECURITY F5)', async () => {
  const address = email('magic-click');
  const { link, token: emailed } = await magicLink(address, app.url('/signed-in'));
  const { page, violations, close } = await watchedPage(browser);
  await page.goto(link);
  await signIn(page);
  const exchange = await arrivedWithToken(page, violations);
  assert.match(await page.textContent('h1'), /Welcome back/);
  assert.notEqual(exchange, emailed, 'the app gets a new token, not the emailed one');
  assert.deepEqual(violations, []);
  await close();

  // The app's backend trades it for a session, once.
  const first = await server.api('/v1/auth/magic-link/verify', { token: exchange });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.user.email, address);
  assert.equal(first.body.user.emailVerified, true);
  assert.ok(first.body.accessToken, 'an access token');
  assert.ok(first.body.refreshToken, 'a refresh token');
  // Created by the sign-in (passwordlessSignup defaults to true), the address proven by the link.
  const user = await server.user(address);
  assert.equal(user?.id, first.body.user.id);
  assert.equal(user.emailVerified, true);
  const again = await server.api('/v1/auth/magic-link/verify', { token: exchange });
  assert.equal(again.status, 401, JSON.stringify(again.body));
  assert.equal(again.body.error.code, 'invalid_token');
  // The emailed token was used up by the button: it signs nobody in either.
  const spent = await server.api('/v1/auth/magic-link/verify', { token: emailed });
  assert.equal(spent.status, 401, JSON.stringify(spent.body));
  assert.equal(spent.body.error.code, 'invalid_token');
});

test('once used, a second click, going back, or opening the link again shows the error page', async () => {
  const address = email('magic-twice');
  const { link } = await magicLink(address);
  const { context, page, violations, close } = await watchedPage(browser);
  // The link opened twice (two tabs), used in the first: the second tab's button is spent.
  const second = await context.newPage();
  await page.goto(link);
  await second.goto(link);
  await signIn(page);
  await arrivedWithToken(page, violations);

  const [posted] = await Promise.all([
    second.waitForResponse((r) => r.request().method() === 'POST'),
    signIn(second),
  ]);
  assert.equal(posted.status(), 400);
  await second.getByText(INVALID).waitFor();
  assert.equal(await second.getByRole('button', { name: 'Sign in' }).count(), 0, 'no button on the error page');

  // Back from the app: whatever Chromium shows, it is the error or a button that leads to it.
  await page.goBack();
  if (await page.getByRole('button', { name: 'Sign in' }).count()) await signIn(page);
  await page.getByText(INVALID).waitFor();

  // And the link itself, opened again.
  const res = await page.goto(link);
  assert.equal(res.status(), 400);
  assert.match(await page.textContent('main'), INVALID);
  assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 0, 'no button on the error page');
  const spent = await fetch(link);
  assert.equal(spent.status, 400);
  assertPageHeaders(spent.headers, await spent.text());
  assert.deepEqual(violations, []);
  await close();
});
