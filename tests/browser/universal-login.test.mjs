// Universal Login in real Chromium: the app (the harness' loopback app, standing for the
// customer's) sends the browser to `/p/{loginId}/login` with a state and a PKCE challenge; the
// hosted pages sign up, sign in (password, then TOTP), reset a password; the browser comes back
// to the app's callback with a one-time code and the same state, and the app's backend trades
// the code (with its PKCE verifier) for tokens at POST /v1/auth/exchange. Then the browser
// session: SSO on the next visit, `prompt=login`, sign-out. Then what must be refused, and every
// page through axe-core plus screenshots at phone and desktop widths.
//
// Every hosted page of every test is also held to: an HTML body under 50 KB, and no request to any
// origin but the server's (the navigations back to the app excepted).

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assertTokenGone, launchBrowser, PASSWORD, startApp, startServer, watchedPage } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SCREENSHOTS = path.join(here, 'screenshots');
const WIDTHS = [
  { name: 'mobile', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 800 },
];
const MAX_PAGE_BYTES = 50 * 1024;
const NEW_PASSWORD = 'a brand new passphrase 7';

// The app's backend redeems the code with the Node SDK, `protekt.auth.exchangeCode(code,
// { codeVerifier })`, from ../../sdk/node/dist (built by `npm run build` in sdk/node, which
// scripts/test.sh runs before this suite). SDK SWITCH: `false` calls POST /v1/auth/exchange with
// fetch instead, for a checkout whose SDK is not built.
const USE_SDK = true;
const SDK_DIST = path.resolve(here, '..', '..', 'sdk', 'node', 'dist', 'esm', 'index.js');

let server;
let app;
let browser;
let sdk;
let n = 0;
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;

before(async () => {
  app = await startApp();
  server = await startServer({ allowedRedirectUrls: [app.url('/callback'), app.url('/signed-out')] });
  browser = await launchBrowser();
  if (USE_SDK) {
    const build = 'build the SDK first: (cd sdk/node && npm ci && npm run build), or set USE_SDK = false';
    assert.ok(existsSync(SDK_DIST), `no ${SDK_DIST}: ${build}`);
    const { Protekt } = await import(pathToFileURL(SDK_DIST).href);
    sdk = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
    assert.equal(typeof sdk.auth.exchangeCode, 'function', `the built SDK has no auth.exchangeCode: ${build}`);
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await app?.stop();
});

// ---------------------------------------------------------------------------------------------
// The app's side: PKCE, the login URL, the callback, the exchange.

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/**
 * What the app does before sending the browser to sign in: a state and a PKCE pair, and a path
 * of its own (`start`) that 302s to the login URL. `params` adds to or overrides the query.
 */
function startFlow(params = {}) {
  const state = b64url(randomBytes(12));
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const query = new URLSearchParams({
    redirect_url: app.url('/callback'),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  });
  const url = `${server.baseUrl}/p/${server.loginId}/login?${query}`;
  const start = `/sign-in/${state}`;
  app.redirect(start, url);
  return { state, verifier, challenge, url, start: app.url(start) };
}

/** A hosted page's URL. */
const hosted = (p) => `${server.baseUrl}/p/${server.loginId}/${p}`;

/** Waits (10 s) for the browser to be back on the app's callback for `flow`; the code it carries. */
async function atCallback(page, flow, violations = []) {
  const target = (url) => url.origin === app.origin && url.pathname === '/callback' && url.searchParams.get('state') === flow.state;
  try {
    await page.waitForURL(target, { timeout: 10_000 });
  } catch {
    assert.fail(
      `the browser never reached ${app.url('/callback')} with state ${flow.state}; it is at ${page.url()} ` +
        `("${(await page.textContent('main').catch(() => '')).trim()}"). CSP violations: ${violations.join(' | ') || 'none'}`,
    );
  }
  const url = new URL(page.url());
  assert.deepEqual([...url.searchParams.keys()].sort(), ['code', 'state'], page.url());
  const code = url.searchParams.get('code');
  assert.match(code, /^[A-Za-z0-9_-]{43}$/, 'a 32-byte base64url code');
  const hit = app.hits.find((h) => h.method === 'GET' && h.url === `${url.pathname}${url.search}`);
  assert.ok(hit, `the app got GET ${url.pathname}${url.search}`);
  assert.equal(hit.referer, undefined, 'no Referer reached the app');
  return code;
}

/**
 * The app's backend trades the code: `{ user, accessToken, refreshToken, error }` (error null,
 * or the API's `{ code, message, … }`), through the SDK or the REST endpoint (see USE_SDK).
 */
async function exchange(code, codeVerifier) {
  if (USE_SDK) return sdk.auth.exchangeCode(code, { codeVerifier });
  const { status, body } = await server.api('/v1/auth/exchange', codeVerifier ? { code, codeVerifier } : { code });
  if (status !== 200) return { user: null, accessToken: null, refreshToken: null, error: body.error };
  return { ...body, error: null };
}

/** Exchanges `code` and checks the tokens are for `address`; the tokens. */
async function exchangeFor(code, flow, address) {
  const tokens = await exchange(code, flow.verifier);
  assert.equal(tokens.error, null, `the exchange failed: ${JSON.stringify(tokens.error)}`);
  assert.equal(tokens.user.email, address);
  assert.ok(tokens.refreshToken, 'a refresh token');
  assert.equal(await verify(tokens.accessToken), 200, 'the access token verifies');
  return tokens;
}

/** POST /v1/auth/verify's status for an access token. */
async function verify(accessToken) {
  return (await server.api('/v1/auth/verify', { token: accessToken })).status;
}

/** The claims of a JWT, unchecked. */
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) from an otpauth:// URI's secret.

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

const totpStep = (ms = Date.now()) => Math.floor(ms / 1000 / 30);

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// RFC 6238 Appendix B (SHA-1; its 8-digit codes' last 6 digits).
assert.equal(totp(Buffer.from('12345678901234567890'), Math.floor(59 / 30)), '287082');
assert.equal(totp(Buffer.from('12345678901234567890'), Math.floor(1111111109 / 30)), '081804');

/**
 * Signs `address` up through the API and confirms a TOTP factor with its access token.
 * Returns `{ secret, step }`: the step whose code the confirmation used (a code works once).
 */
async function userWithTotp(address) {
  const signup = await server.api('/v1/auth/signup', { email: address, password: PASSWORD });
  assert.equal(signup.status, 201, JSON.stringify(signup.body));
  const access = signup.body.accessToken;
  const enrolled = await server.api('/v1/mfa/enroll', { method: 'totp' }, access);
  assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
  const uri = new URL(enrolled.body.totpUri);
  assert.equal(uri.protocol, 'otpauth:');
  const secret = base32(uri.searchParams.get('secret'));
  assert.ok(secret.length >= 20, 'a 160-bit seed');
  const step = totpStep();
  const confirmed = await server.api('/v1/mfa/verify', { code: totp(secret, step) }, access);
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { secret, step };
}

/** A TOTP code the server has not seen yet: the current step's, or the next one (±1 is accepted). */
const freshTotp = ({ secret, step }) => totp(secret, Math.max(totpStep(), step + 1));

// ---------------------------------------------------------------------------------------------
// The browser's side.

/**
 * A page in a new context (harness' watchedPage: CSP violations are recorded) that also records
 * the requests and the hosted documents; `close()` asserts that every hosted page's HTML was under
 * 50 KB and that no request left for another origin than the server's, except the navigations
 * back to the app (and whatever the app's own page asks for).
 */
async function openPage(contextOptions) {
  const watched = await watchedPage(browser, contextOptions);
  const serverOrigin = new URL(server.baseUrl).origin;
  const foreign = [];
  const documents = [];
  watched.context.on('request', (request) => {
    const url = new URL(request.url());
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) || url.origin === serverOrigin) return;
    if (url.origin === app.origin && request.isNavigationRequest()) return; // to the app: the hand-off
    let from;
    try {
      from = new URL(request.frame().url()).origin;
    } catch {
      from = null;
    }
    if (from === app.origin) return; // the app's own page, not ours
    foreign.push(`${request.method()} ${request.url()} (${request.resourceType()}, from ${from})`);
  });
  watched.context.on('response', (response) => {
    if (response.request().resourceType() !== 'document' || new URL(response.url()).origin !== serverOrigin) return;
    if (response.status() >= 300 && response.status() < 400) return; // a redirect has no page
    // Read now: Chromium may let go of a document's body once the page has moved on.
    documents.push(
      response.body().then(
        (body) => ({ url: response.url(), status: response.status(), bytes: body.length }),
        (err) => ({ url: response.url(), status: response.status(), error: err.message }),
      ),
    );
  });
  watched.context.setDefaultTimeout(10_000);
  return {
    ...watched,
    /** The hosted documents so far: `{ url, status, bytes }`. */
    documents: () => Promise.all(documents),
    async close() {
      const seen = await Promise.all(documents);
      await watched.close();
      assert.deepEqual(foreign, [], 'hosted pages asked another origin for something');
      for (const d of seen) {
        assert.ok(d.error === undefined, `could not read the body of ${d.url}: ${d.error}`);
        assert.ok(d.bytes < MAX_PAGE_BYTES, `${d.url} (${d.status}) is ${d.bytes} bytes, over ${MAX_PAGE_BYTES}`);
      }
      assert.ok(seen.length > 0, 'at least one hosted page was seen');
    },
  };
}

/** The app sends the browser to sign in; waits for the login form. */
async function toLoginForm(page, flow) {
  const res = await page.goto(flow.start);
  assert.equal(res.status(), 200, `the login page answered ${res.status()}: ${await res.text()}`);
  assert.equal(new URL(page.url()).pathname, `/p/${server.loginId}/login`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

/** Fills the login form and submits it. */
async function signIn(page, address, password) {
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Signs `address` up through the API. */
async function apiUser(address, password = PASSWORD) {
  const res = await server.api('/v1/auth/signup', { email: address, password });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The response to the next POST of `page`, with `action` run meanwhile. */
async function posting(page, action) {
  const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), action()]);
  return response;
}

// ---------------------------------------------------------------------------------------------
// The flows.

test("the login form as Chromium posts it is accepted (Origin: null under the pages' Referrer-Policy: no-referrer)", async () => {
  const address = email('origin');
  await apiUser(address);
  const flow = startFlow();
  const { page, violations, close } = await openPage();
  await toLoginForm(page, flow);
  const response = await posting(page, () => signIn(page, address, PASSWORD));
  const sent = await response.request().allHeaders();
  // SERVER DEFECT (for the lead, see the report): Chromium sends `Origin: null` on a form POST
  // from a page whose Referrer-Policy is no-referrer (Fetch spec, "serializing a request origin"),
  // with `Sec-Fetch-Site: same-origin`; cross_site() in crates/server/src/http/pages/login.rs
  // compares a present Origin with the public URL's and so refuses every hosted form with 403.
  // Every flow below fails at its first form for the same reason until the server accepts it.
  if (response.status() === 403) {
    assert.fail(
      `SERVER DEFECT: the hosted login form, posted by Chromium, got 403 ("${(await page.textContent('main')).trim()}"); ` +
        `Chromium sent Origin: ${sent.origin}, Sec-Fetch-Site: ${sent['sec-fetch-site']}`,
    );
  }
  assert.equal(response.status(), 303);
  await exchangeFor(await atCallback(page, flow, violations), flow, address);
  assert.deepEqual(violations, []);
  await close();
});

test('sign up: "Create an account", email and password, the emailed code, back to the app with a code the backend exchanges', async () => {
  const address = email('signup');
  const flow = startFlow();
  const { page, violations, close } = await openPage();
  await toLoginForm(page, flow);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  assertTokenGone(page); // the flow id of the link
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  assert.match(await page.textContent('main'), new RegExp(`sent a 6-digit code to ${address.replace(/[.+]/g, '\\$&')}`));
  const mail = await server.email(address, 'sign_in_code');
  assert.match(mail.code, /^\d{6}$/, JSON.stringify(mail));
  await page.getByLabel('Code', { exact: true }).fill(mail.code);
  await page.getByRole('button', { name: 'Continue' }).click();

  const code = await atCallback(page, flow, violations);
  assert.match(await page.textContent('h1'), /Welcome back/);
  const tokens = await exchangeFor(code, flow, address);
  assert.equal(tokens.user.emailVerified, true, 'the emailed code proved the address');
  assert.equal((await server.user(address))?.id, tokens.user.id);
  // A code works once.
  const again = await exchange(code, flow.verifier);
  assert.equal(again.error?.code, 'invalid_token');
  assert.deepEqual(violations, []);
  await close();
});

test('sign in with a password: back to the app with the state and a code; the exchange needs the PKCE verifier', async () => {
  const address = email('password');
  await apiUser(address);
  const { page, violations, close } = await openPage();

  // A wrong password first: the same form again, status 401, the error named by the fields.
  const flow = startFlow();
  await toLoginForm(page, flow);
  const wrong = await posting(page, () => signIn(page, address, 'not the password at all'));
  assert.equal(wrong.status(), 401);
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
  assert.equal(await page.getAttribute('#password', 'aria-describedby'), 'form-error');
  assert.equal(await page.inputValue('#email'), address, 'the address is kept');

  await signIn(page, address, PASSWORD);
  const tokens = await exchangeFor(await atCallback(page, flow, violations), flow, address);
  const c = claims(tokens.accessToken);
  assert.equal(c.aal, 'aal1');
  assert.deepEqual(c.amr, ['pwd']);

  // PKCE: a code of a flow with a challenge needs that flow's verifier (codes of the live
  // session, each flow its own).
  const noVerifier = startFlow();
  await page.goto(noVerifier.start);
  assert.equal((await exchange(await atCallback(page, noVerifier, violations), undefined)).error?.code, 'invalid_token');
  const otherVerifier = startFlow();
  await page.goto(otherVerifier.start);
  assert.equal((await exchange(await atCallback(page, otherVerifier, violations), flow.verifier)).error?.code, 'invalid_token');
  assert.deepEqual(violations, []);
  await close();
});

test('sign in with a TOTP factor: password, "Two-step verification", the code, back to the app; the tokens are aal2', async () => {
  const address = email('totp');
  const factor = await userWithTotp(address);
  const flow = startFlow();
  const { page, violations, close } = await openPage();
  await toLoginForm(page, flow);
  await signIn(page, address, PASSWORD);
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
  assert.equal(new URL(page.url()).origin, server.baseUrl, 'no code before the second factor');

  // A wrong code: the page again, 401, the error tied to the field.
  const wrong = await posting(page, async () => {
    await page.getByLabel('Verification code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
  });
  assert.equal(wrong.status(), 401);
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getAttribute('#code', 'aria-describedby'), 'code-error');

  await page.getByLabel('Verification code').fill(freshTotp(factor));
  await page.getByRole('button', { name: 'Verify' }).click();
  const tokens = await exchangeFor(await atCallback(page, flow, violations), flow, address);
  const c = claims(tokens.accessToken);
  assert.equal(c.aal, 'aal2');
  assert.deepEqual(c.amr, ['pwd', 'otp']);
  assert.deepEqual(violations, []);
  await close();
});

test('forgot password: the link from the login page, "Check your email", the emailed reset link, then sign in with the new password', async () => {
  const address = email('forgot');
  await apiUser(address);
  const flow = startFlow();
  const { page, violations, close } = await openPage();
  await toLoginForm(page, flow);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  assertTokenGone(page); // the flow id of the link
  await page.getByLabel('Email').fill(address);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  assert.match(await page.textContent('main'), /If an account uses this address, we sent it a link/);

  const mail = await server.email(address, 'password_reset');
  assert.ok(mail.link.startsWith(`${hosted('reset-password')}?token=`), mail.link);
  await page.goto(mail.link);
  assertTokenGone(page);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();

  const next = startFlow();
  await toLoginForm(page, next);
  await signIn(page, address, PASSWORD);
  await page.getByText('Wrong email or password.').waitFor();
  await signIn(page, address, NEW_PASSWORD);
  await exchangeFor(await atCallback(page, next, violations), next, address);
  assert.deepEqual(violations, []);
  await close();
});

test('SSO: a second visit goes straight back to the app with a code, no form; prompt=login shows the form', async () => {
  const address = email('sso');
  await apiUser(address);
  const { page, violations, documents, close } = await openPage();
  const first = startFlow();
  await toLoginForm(page, first);
  await signIn(page, address, PASSWORD);
  const tokens = await exchangeFor(await atCallback(page, first, violations), first, address);

  const pagesBefore = (await documents()).length;
  const second = startFlow();
  const res = await page.goto(second.start);
  const code = await atCallback(page, second, violations);
  // The chain the browser followed: app 302 -> login 303 -> callback, and no page of ours.
  const hops = [];
  for (let r = res.request(); r; r = r.redirectedFrom()) hops.unshift(`${new URL(r.url()).pathname} ${(await r.response())?.status()}`);
  assert.deepEqual(hops, [`/sign-in/${second.state} 302`, `/p/${server.loginId}/login 303`, '/callback 200']);
  assert.equal((await documents()).length, pagesBefore, 'no hosted page was shown');
  const again = await exchangeFor(code, second, address);
  assert.equal(again.user.id, tokens.user.id);
  assert.notEqual(again.accessToken, tokens.accessToken);

  // The app asks for the password again.
  const forced = startFlow({ prompt: 'login' });
  await toLoginForm(page, forced);
  assert.ok(await page.getByLabel('Password', { exact: true }).isVisible(), 'the password field');
  await signIn(page, address, PASSWORD);
  await exchangeFor(await atCallback(page, forced, violations), forced, address);
  assert.deepEqual(violations, []);
  await close();
});

test('logout: back to the app, the next visit shows the form, and the tokens of the earlier exchanges stop verifying', async () => {
  const address = email('logout');
  await apiUser(address);
  const { page, violations, close } = await openPage();
  const first = startFlow();
  await toLoginForm(page, first);
  await signIn(page, address, PASSWORD);
  const tokens = await exchangeFor(await atCallback(page, first, violations), first, address);
  const second = startFlow();
  await page.goto(second.start);
  const sso = await exchangeFor(await atCallback(page, second, violations), second, address);

  // The signed-in page names the user and links to sign-out.
  await page.goto(hosted(''));
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor();
  assert.match(await page.textContent('main'), new RegExp(address.replace(/[.+]/g, '\\$&')));
  assert.ok(await page.getByRole('link', { name: 'Sign out' }).isVisible());

  const out = await page.goto(hosted(`logout?redirect_url=${encodeURIComponent(app.url('/signed-out'))}`));
  assert.equal(page.url(), app.url('/signed-out'));
  assert.equal(out.status(), 200);
  assert.equal((await out.request().redirectedFrom()?.response())?.status(), 303, 'a 303 from logout');
  assert.ok(app.hits.some((h) => h.url === '/signed-out'), 'the app got GET /signed-out');

  const next = startFlow();
  await toLoginForm(page, next);
  assert.equal(await verify(tokens.accessToken), 401, "the first exchange's access token");
  assert.equal(await verify(sso.accessToken), 401, "the SSO exchange's access token");
  const refreshed = await server.api('/v1/auth/refresh', { refreshToken: tokens.refreshToken });
  assert.notEqual(refreshed.status, 200, 'the refresh token is dead too');
  // And the signed-in page sends the browser to sign in.
  await page.goto(hosted(''));
  assert.equal(new URL(page.url()).pathname, `/p/${server.loginId}/login`);
  assert.deepEqual(violations, []);
  await close();
});

test('refused: a redirect_url off the allow-list, a form finished in another browser, a form without its csrf field', async () => {
  const address = email('refused');
  await apiUser(address);

  // 1. Our own 400 page, no redirect anywhere.
  {
    const { page, violations, close } = await openPage();
    const flow = startFlow({ redirect_url: app.url('/not-allowed') });
    const res = await page.goto(flow.start);
    assert.equal(res.status(), 400);
    assert.equal(new URL(page.url()).origin, server.baseUrl, `the browser left for ${page.url()}`);
    assert.equal(new URL(page.url()).pathname, `/p/${server.loginId}/login`);
    await page.getByRole('heading', { name: 'Cannot sign in' }).waitFor();
    assert.match(await page.textContent('main'), /an address this project does not allow/);
    assert.equal(await page.locator('form').count(), 0, 'no form');
    assert.ok(!app.hits.some((h) => h.url.startsWith('/not-allowed')), 'the app never got the refused URL');
    assert.deepEqual(violations, []);
    await close();
  }

  // 2. The form of browser A (its flow and csrf), sent from browser B (B's own flow cookie): 403.
  {
    const a = await openPage();
    const b = await openPage();
    const flowA = startFlow();
    const flowB = startFlow();
    await toLoginForm(a.page, flowA);
    await toLoginForm(b.page, flowB);
    const formA = await a.page.locator('form').evaluate((f) => f.outerHTML);
    assert.notEqual(await b.page.inputValue('input[name=flow]'), await a.page.inputValue('input[name=flow]'));
    await b.page.locator('form').evaluate((f, html) => (f.outerHTML = html), formA);
    assert.equal(await b.page.inputValue('input[name=flow]'), await a.page.inputValue('input[name=flow]'));
    const refused = await posting(b.page, () => signIn(b.page, address, PASSWORD));
    assert.equal(refused.status(), 403);
    await b.page.getByText('This form was not sent from the sign-in page opened in this browser').waitFor();
    assert.equal(new URL(b.page.url()).origin, server.baseUrl, `browser B left for ${b.page.url()}`);
    // The browser that opened it still can.
    await signIn(a.page, address, PASSWORD);
    await exchangeFor(await atCallback(a.page, flowA, a.violations), flowA, address);
    assert.deepEqual(a.violations, []);
    assert.deepEqual(b.violations, []);
    await a.close();
    await b.close();
  }

  // 3. The form without its csrf field: 403.
  {
    const { page, violations, close } = await openPage();
    const flow = startFlow();
    await toLoginForm(page, flow);
    await page.locator('input[name=csrf]').evaluate((input) => input.remove());
    const refused = await posting(page, () => signIn(page, address, PASSWORD));
    assert.equal(refused.status(), 403);
    await page.getByText('This form was not sent from the sign-in page opened in this browser').waitFor();
    assert.equal(new URL(page.url()).origin, server.baseUrl, `the browser left for ${page.url()}`);
    assert.ok(!app.hits.some((h) => h.url.includes(`state=${flow.state}`)), 'no code reached the app');
    // The same form with its csrf field, in the same browser, is taken.
    const control = startFlow();
    await toLoginForm(page, control);
    await signIn(page, address, PASSWORD);
    await atCallback(page, control, violations);
    assert.deepEqual(violations, []);
    await close();
  }
});

// ---------------------------------------------------------------------------------------------
// Every page through axe-core, and screenshots.

/** axe's violations of `page` (default rules), each `{ id, impact, help, targets }`. */
async function axe(page) {
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.ok(results.passes.length > 0, `axe checked nothing on ${page.url()}`);
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((node) => node.target.join(' ')),
  }));
}

test('accessibility (axe-core: nothing serious or critical) and screenshots at 390 and 1280 px of every page', async (t) => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // axe-core comes in through Playwright's init script (CDP), which the pages' CSP (a nonce for
  // their one script) does not apply to, so the pages keep their real CSP: no bypassCSP needed.
  // axe then runs through page.evaluate, which CSP does not govern either.
  const { context, page, violations, close } = await openPage();
  await context.addInitScript({ path: AXE });

  /** Runs axe and takes the screenshots at both widths; one subtest per page. */
  const audit = async (name) => {
    await page.getByRole('heading').first().waitFor();
    const found = [];
    for (const size of WIDTHS) {
      await page.setViewportSize({ width: size.width, height: size.height });
      found.push(...(await axe(page)).map((v) => ({ ...v, width: size.width })));
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${size.width}.png`), fullPage: true });
    }
    for (const v of found) t.diagnostic(`axe ${name} @${v.width}px: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
    await t.test(`${name}: no serious or critical axe violation`, () => {
      const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad, [], `axe on ${name} (${page.url()}), all violations: ${JSON.stringify(found, null, 1)}`);
    });
  };

  // Login, then sign-up, then its code page, then the signed-in page.
  const address = email('a11y');
  const flow = startFlow();
  await toLoginForm(page, flow);
  await audit('login');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await audit('signup');
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await audit('code');
  await page.getByLabel('Code', { exact: true }).fill((await server.email(address, 'sign_in_code')).code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await atCallback(page, flow);
  await page.goto(hosted(''));
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor();
  await audit('signed-in');

  // The login form with an error on it.
  const again = startFlow({ prompt: 'login' });
  await toLoginForm(page, again);
  await signIn(page, address, 'not the password at all');
  await page.getByText('Wrong email or password.').waitFor();
  await audit('login-error');

  // Forgot password, its "Check your email", the reset page.
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  await audit('forgot-password');
  await page.getByLabel('Email').fill(address);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await audit('forgot-password-sent');
  await page.goto((await server.email(address, 'password_reset')).link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await audit('reset-password');

  // The second factor.
  const mfaAddress = email('a11y-mfa');
  await userWithTotp(mfaAddress);
  const mfa = startFlow({ prompt: 'login' });
  await toLoginForm(page, mfa);
  await signIn(page, mfaAddress, PASSWORD);
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
  await audit('mfa');

  // An error page: a redirect_url the project does not allow.
  const refused = startFlow({ redirect_url: app.url('/not-allowed') });
  assert.equal((await page.goto(refused.start)).status(), 400);
  await page.getByRole('heading', { name: 'Cannot sign in' }).waitFor();
  await audit('error');

  assert.deepEqual(violations, [], 'CSP violations (axe itself must not cause any)');
  await close();
});
