// Universal Login against a real Protekt server: auth.getLoginUrl, the hosted sign-in page driven
// like a browser (fetch with its own cookies, no redirects followed), auth.exchangeCode and
// createPkcePair; then the README's Express example, run from fixtures/universal-login/app.js.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Protekt, createPkcePair } from '@protekt/node';
import { GOOD_PASSWORD, startServer, uniqueEmail } from './harness.mjs';

const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The app's callback in these tests (it is never opened: the code is read off the redirect). */
const APP_URL = 'https://app.example.com/callback';
/** The README example's URLs. */
const EXAMPLE_CALLBACK = 'http://localhost:3000/callback';
const EXAMPLE_HOME = 'http://localhost:3000/';

let server;
let protekt;

before(async () => {
  server = await startServer();
  protekt = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
  await server.updateSettings(server.projectId, {
    allowedRedirectUrls: [APP_URL, EXAMPLE_CALLBACK, EXAMPLE_HOME],
  });
});

after(async () => {
  await server?.stop();
});

/**
 * A browser: cookies kept per origin (as the server sets and clears them), no redirect
 * followed, forms posted from the page's own origin.
 */
class Browser {
  #jars = new Map();

  jar(origin) {
    if (!this.#jars.has(origin)) this.#jars.set(origin, new Map());
    return this.#jars.get(origin);
  }

  async request(url, init = {}) {
    const { origin } = new URL(url);
    const jar = this.jar(origin);
    const headers = new Headers(init.headers);
    if (jar.size > 0) {
      headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie();
    for (const cookie of setCookies) {
      const [pair, ...attributes] = cookie.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const expired = attributes.some(
        (a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()),
      );
      if (expired) jar.delete(name);
      else jar.set(name, pair.slice(eq + 1));
    }
    return {
      status: res.status,
      location: res.headers.get('location'),
      setCookies,
      html: await res.text(),
    };
  }

  get(url) {
    return this.request(url);
  }

  /** Posts a form as the page would: urlencoded, with our cookies and the page's Origin. */
  post(url, form) {
    return this.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: new URL(url).origin,
      },
      body: new URLSearchParams(form).toString(),
    });
  }
}

/** The value of a hidden input of the page's form. */
function field(page, name) {
  const match = page.html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  assert.ok(match, `no ${name} field in the page:\n${page.html}`);
  return match[1];
}

/** A query parameter of a redirect's Location. */
function param(page, name) {
  assert.ok(page.location, `expected a redirect, got ${page.status}:\n${page.html}`);
  return new URL(page.location).searchParams.get(name);
}

/** Opens `loginUrl` in `browser` and signs in with the form; resolves to the page answered. */
async function signInOnPage(browser, loginUrl, email, password = GOOD_PASSWORD) {
  const page = await browser.get(loginUrl);
  assert.equal(page.status, 200, page.html);
  const flowCookie = page.setCookies.find((c) => c.startsWith(`protekt-flow-${server.loginId}=`));
  assert.ok(flowCookie, `the login page sets the flow cookie: ${JSON.stringify(page.setCookies)}`);
  const action = new URL('login', loginUrl).href.replace(/\?.*$/, '');
  return browser.post(action, {
    flow: field(page, 'flow'),
    csrf: field(page, 'csrf'),
    email,
    password,
  });
}

/** A fresh user, signed up through the API. */
async function newUser() {
  const email = uniqueEmail('ul');
  const { error } = await protekt.auth.signUp({ email, password: GOOD_PASSWORD });
  assert.equal(error, null);
  return email;
}

/** Signs `email` in on the hosted page in a new browser; returns `{ browser, code, state }`. */
async function codeFor(email, params = {}) {
  const browser = new Browser();
  const done = await signInOnPage(
    browser,
    protekt.auth.getLoginUrl({ redirectUrl: APP_URL, state: 'st4te', ...params }),
    email,
  );
  assert.equal(done.status, 303, done.html);
  return { browser, done, code: param(done, 'code'), state: param(done, 'state') };
}

function assertInvalidToken(result) {
  assert.ok(result.error, 'expected an error');
  assert.equal(result.error.code, 'invalid_token', JSON.stringify(result.error));
  assert.equal(result.error.status, 401);
  assert.equal(result.user, null);
  assert.equal(result.accessToken, null);
  assert.equal(result.refreshToken, null);
}

const decodeJwtPayload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

describe('getLoginUrl', () => {
  const offline = new Protekt({ loginId: 'lp_test', apiKey: 'pk_live_x', baseUrl: 'https://auth.example.com' });

  test('without parameters: the hosted login page of the project', () => {
    const url = protekt.auth.getLoginUrl();
    assert.equal(typeof url, 'string', 'synchronous: a string, not a promise');
    assert.equal(url, `${server.baseUrl}/p/${server.loginId}/login`);
    assert.equal(protekt.auth.getLoginUrl({}), url);
    assert.equal(offline.auth.getLoginUrl(), 'https://auth.example.com/p/lp_test/login');
  });

  test('every parameter, in order, URL-encoded', () => {
    const { codeChallenge } = createPkcePair();
    assert.equal(
      offline.auth.getLoginUrl({
        redirectUrl: 'https://app.example.com/callback',
        state: 'st4te',
        codeChallenge,
        prompt: 'login',
        lang: 'fr',
      }),
      'https://auth.example.com/p/lp_test/login' +
        '?redirect_url=https%3A%2F%2Fapp.example.com%2Fcallback' +
        '&state=st4te' +
        `&code_challenge=${codeChallenge}&code_challenge_method=S256` +
        '&prompt=login&lang=fr',
    );
  });

  test('values round-trip whatever characters they hold', () => {
    const redirectUrl = 'https://app.example.com/cb?next=/a b&x=1#frag';
    const state = 'a b+c&d=e/f?g#h%i é 😀';
    const url = offline.auth.getLoginUrl({ redirectUrl, state });
    assert.equal(
      url,
      'https://auth.example.com/p/lp_test/login' +
        '?redirect_url=https%3A%2F%2Fapp.example.com%2Fcb%3Fnext%3D%2Fa%20b%26x%3D1%23frag' +
        '&state=a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25i%20%C3%A9%20%F0%9F%98%80',
    );
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('redirect_url'), redirectUrl);
    assert.equal(parsed.searchParams.get('state'), state);
    assert.equal(parsed.hash, '');
  });

  test('parameters left out, undefined or empty are not sent; the method needs a challenge', () => {
    const base = 'https://auth.example.com/p/lp_test/login';
    assert.equal(offline.auth.getLoginUrl({ lang: 'fr' }), `${base}?lang=fr`);
    assert.equal(offline.auth.getLoginUrl({ state: 's', redirectUrl: undefined }), `${base}?state=s`);
    assert.equal(offline.auth.getLoginUrl({ state: '', codeChallenge: '', lang: undefined }), base);
    assert.equal(offline.auth.getLoginUrl({ prompt: 'login' }), `${base}?prompt=login`);
    assert.equal(offline.auth.getLoginUrl(undefined), base);
  });

  test('a base URL with a path prefix keeps it', () => {
    const prefixed = new Protekt({ loginId: 'lp_test', apiKey: 'k', baseUrl: 'https://example.com/protekt/' });
    assert.equal(prefixed.auth.getLoginUrl({ state: 'x' }), 'https://example.com/protekt/p/lp_test/login?state=x');
  });

  test('sends nothing: it works with no server behind the base URL', () => {
    const nowhere = new Protekt({ loginId: 'lp_test', apiKey: 'k', baseUrl: 'http://127.0.0.1:1', timeout: 1 });
    assert.equal(nowhere.auth.getLoginUrl({ state: 's' }), 'http://127.0.0.1:1/p/lp_test/login?state=s');
  });

  test('the server opens the page it names, and refuses a redirect URL it does not allow', async () => {
    const page = await new Browser().get(
      protekt.auth.getLoginUrl({ redirectUrl: APP_URL, codeChallenge: createPkcePair().codeChallenge, lang: 'fr' }),
    );
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<html lang="fr"/);
    assert.match(page.html, /name="password"/);
    const refused = await new Browser().get(protekt.auth.getLoginUrl({ redirectUrl: 'https://evil.test/callback' }));
    assert.equal(refused.status, 400);
    assert.equal(refused.location, null, 'an error page, never a redirect');
  });
});

describe('createPkcePair', () => {
  test('a 43-character base64url verifier and its S256 challenge', () => {
    const { codeVerifier, codeChallenge } = createPkcePair();
    assert.match(codeVerifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(codeVerifier, 'base64url').length, 32);
    assert.match(codeChallenge, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(codeChallenge, createHash('sha256').update(codeVerifier).digest('base64url'));
    assert.deepEqual(Object.keys(createPkcePair()).sort(), ['codeChallenge', 'codeVerifier']);
  });

  test('a new verifier every time', () => {
    const verifiers = new Set(Array.from({ length: 50 }, () => createPkcePair().codeVerifier));
    assert.equal(verifiers.size, 50);
  });
});

describe('the hosted page and exchangeCode', () => {
  test('sign in on the page, then exchange the code (with PKCE) for the user and tokens', async () => {
    const email = await newUser();
    const { codeVerifier, codeChallenge } = createPkcePair();
    const browser = new Browser();
    const url = protekt.auth.getLoginUrl({ redirectUrl: APP_URL, state: 'st4te', codeChallenge });
    const done = await signInOnPage(browser, url, email);
    assert.equal(done.status, 303, done.html);
    assert.ok(done.location.startsWith(`${APP_URL}?code=`), done.location);
    assert.equal(param(done, 'state'), 'st4te');
    const code = param(done, 'code');
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);

    const result = await protekt.auth.exchangeCode(code, { codeVerifier });
    assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'error', 'refreshToken', 'user']);
    assert.equal(result.error, null);
    assert.equal(result.user.email, email);
    assert.match(result.user.id, /^usr_/);
    assert.equal(result.accessToken.split('.').length, 3);
    assert.equal(typeof result.refreshToken, 'string');

    const verified = await protekt.auth.verifyToken(result.accessToken);
    assert.equal(verified.error, null);
    assert.equal(verified.user.id, result.user.id);
    assert.equal(verified.claims.sub, result.user.id);
    assert.deepEqual([verified.claims.amr, verified.claims.aal], [['pwd'], 'aal1']);
    const refreshed = await protekt.auth.refreshToken(result.refreshToken);
    assert.equal(refreshed.error, null, 'the refresh token works');

    // A second redemption of the code is refused, and ends the session the first one started.
    assertInvalidToken(await protekt.auth.exchangeCode(code, { codeVerifier }));
    assert.equal((await protekt.auth.verifyToken(result.accessToken)).error?.code, 'invalid_token');
    assert.equal((await protekt.auth.verifyToken(refreshed.accessToken)).error?.code, 'invalid_token');
  });

  test('the wrong verifier, or none when there was a challenge: invalid_token', async () => {
    const email = await newUser();
    const { codeChallenge } = createPkcePair();
    const wrong = await codeFor(email, { codeChallenge });
    assertInvalidToken(await protekt.auth.exchangeCode(wrong.code, { codeVerifier: createPkcePair().codeVerifier }));
    const none = await codeFor(email, { codeChallenge });
    assertInvalidToken(await protekt.auth.exchangeCode(none.code));
  });

  test('a verifier when there was no challenge: invalid_token; neither: fine', async () => {
    const email = await newUser();
    const extra = await codeFor(email);
    assertInvalidToken(await protekt.auth.exchangeCode(extra.code, { codeVerifier: createPkcePair().codeVerifier }));
    const plain = await codeFor(email);
    const result = await protekt.auth.exchangeCode(plain.code);
    assert.equal(result.error, null);
    assert.equal(result.user.email, email);
  });

  test('redirectUrl, when given, must be the one the code was sent to', async () => {
    const email = await newUser();
    const other = await codeFor(email);
    assertInvalidToken(await protekt.auth.exchangeCode(other.code, { redirectUrl: 'https://app.example.com/other' }));
    const same = await codeFor(email);
    const result = await protekt.auth.exchangeCode(same.code, { redirectUrl: APP_URL });
    assert.equal(result.error, null);
  });

  test('an unknown code: invalid_token', async () => {
    assertInvalidToken(await protekt.auth.exchangeCode('A'.repeat(43)));
  });

  test('tokenExpiry applies to the exchanged tokens', async () => {
    const shortLived = new Protekt({
      loginId: server.loginId,
      apiKey: server.apiKey,
      baseUrl: server.baseUrl,
      tokenExpiry: 30,
    });
    const { code } = await codeFor(await newUser());
    const result = await shortLived.auth.exchangeCode(code);
    assert.equal(result.error, null);
    const { exp, iat } = decodeJwtPayload(result.accessToken);
    assert.equal(exp - iat, 30);
  });

  test('single sign-on: a second app\'s login URL skips the form, unless prompt: \'login\'', async () => {
    const email = await newUser();
    const first = await codeFor(email);
    const tokens = await protekt.auth.exchangeCode(first.code);
    assert.equal(tokens.error, null);

    // Another app of the project (another client, another state and challenge): straight back.
    const secondApp = new Protekt({ loginId: server.loginId, apiKey: server.apiKey, baseUrl: server.baseUrl });
    const { codeVerifier, codeChallenge } = createPkcePair();
    const sso = await first.browser.get(
      secondApp.auth.getLoginUrl({ redirectUrl: APP_URL, state: 'second', codeChallenge }),
    );
    assert.equal(sso.status, 303, sso.html);
    assert.equal(param(sso, 'state'), 'second');
    const second = await secondApp.auth.exchangeCode(param(sso, 'code'), { codeVerifier });
    assert.equal(second.error, null);
    assert.equal(second.user.id, tokens.user.id);

    // prompt: 'login' asks for the password again.
    const again = await first.browser.get(protekt.auth.getLoginUrl({ redirectUrl: APP_URL, prompt: 'login' }));
    assert.equal(again.status, 200);
    assert.match(again.html, /name="password"/);

    // logout() through the API ends the browser's sign-in too: the form again, and the tokens
    // of every app of that session stop verifying.
    assert.equal((await protekt.auth.logout(tokens.accessToken)).error, null);
    const after = await first.browser.get(protekt.auth.getLoginUrl({ redirectUrl: APP_URL }));
    assert.equal(after.status, 200);
    assert.equal((await protekt.auth.verifyToken(second.accessToken)).error?.code, 'invalid_token');
  });
});

describe('the README\'s Express example', () => {
  let appServer;
  let appUrl;

  before(async () => {
    // The example's environment.
    process.env.PROTEKT_URL = server.baseUrl;
    process.env.PROTEKT_LOGIN_ID = server.loginId;
    process.env.PROTEKT_API_KEY = server.apiKey;
    process.env.SESSION_SECRET = 'a long random string for the tests';
    const { default: app } = await import('./fixtures/universal-login/app.js');
    await new Promise((resolve) => {
      appServer = app.listen(0, '127.0.0.1', resolve);
    });
    appUrl = `http://127.0.0.1:${appServer.address().port}`;
  });

  after(async () => {
    if (appServer) {
      appServer.closeAllConnections?.();
      await new Promise((resolve) => appServer.close(resolve));
    }
  });

  test('is the README\'s code, but for the last line', () => {
    const readme = readFileSync(path.join(sdkDir, 'README.md'), 'utf8');
    const block = readme.match(/```js\n(\/\/ app\.js: sign-in through Protekt's hosted[\s\S]*?)```/)?.[1];
    assert.ok(block, 'the README has the example');
    const fixture = readFileSync(path.join(sdkDir, 'test', 'fixtures', 'universal-login', 'app.js'), 'utf8');
    assert.equal(
      fixture.replace('export default app; // README: app.listen(3000);\n', 'app.listen(3000);\n'),
      block,
    );
  });

  /** The example's `localhost:3000` URL `url` as the test's app serves it. */
  const onApp = (url) => {
    const u = new URL(url);
    assert.equal(u.origin, 'http://localhost:3000');
    return `${appUrl}${u.pathname}${u.search}`;
  };

  test('sign in, see who is signed in, sign out (and the hosted pages forget the browser)', async () => {
    const email = await newUser();
    const browser = new Browser();

    const home = await browser.get(`${appUrl}/`);
    assert.equal(home.status, 200);
    assert.match(home.html, /href="\/login"/);

    // /login: to the hosted page, with the callback, a state and a PKCE challenge.
    const start = await browser.get(`${appUrl}/login`);
    assert.equal(start.status, 302);
    const loginUrl = new URL(start.location);
    assert.equal(`${loginUrl.origin}${loginUrl.pathname}`, `${server.baseUrl}/p/${server.loginId}/login`);
    assert.equal(loginUrl.searchParams.get('redirect_url'), EXAMPLE_CALLBACK);
    assert.equal(loginUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.match(loginUrl.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    const state = loginUrl.searchParams.get('state');
    assert.ok(state && state.length >= 16);

    // The hosted page, then back to /callback with the code and the state.
    const done = await signInOnPage(browser, start.location, email);
    assert.equal(done.status, 303, done.html);
    assert.ok(done.location.startsWith(`${EXAMPLE_CALLBACK}?code=`), done.location);
    assert.equal(param(done, 'state'), state);
    const sidBefore = browser.jar(appUrl).get('connect.sid');
    const callback = await browser.get(onApp(done.location));
    assert.equal(callback.status, 302, callback.html);
    assert.equal(callback.location, '/');
    assert.notEqual(browser.jar(appUrl).get('connect.sid'), sidBefore, 'a new session id');

    const signedIn = await browser.get(`${appUrl}/`);
    assert.equal(signedIn.status, 200);
    assert.match(signedIn.html, new RegExp(`Signed in as ${email.replace(/[.+]/g, '\\$&')}`));

    // The same callback again (a replayed code, and the sign-in is over): refused.
    const replay = await browser.get(onApp(done.location));
    assert.equal(replay.status, 400);

    // Sign out: the session ends, then the browser goes to the hosted logout page, which clears
    // its cookie and sends it home.
    const out = await browser.post(`${appUrl}/logout`, {});
    assert.equal(out.status, 302, out.html);
    assert.equal(
      out.location,
      `${server.baseUrl}/p/${server.loginId}/logout?redirect_url=${encodeURIComponent(EXAMPLE_HOME)}`,
    );
    const hostedOut = await browser.get(out.location);
    assert.equal(hostedOut.status, 303, hostedOut.html);
    assert.equal(hostedOut.location, EXAMPLE_HOME);
    const signedOut = await browser.get(`${appUrl}/`);
    assert.match(signedOut.html, /href="\/login"/);

    // The next /login shows the form again: no single sign-on from the ended session.
    const next = await browser.get(`${appUrl}/login`);
    const form = await browser.get(next.location);
    assert.equal(form.status, 200);
    assert.match(form.html, /name="password"/);
  });

  test('a callback whose state is not the session\'s is refused', async () => {
    const email = await newUser();
    const browser = new Browser();
    const start = await browser.get(`${appUrl}/login`);
    const done = await signInOnPage(browser, start.location, email);
    assert.equal(done.status, 303, done.html);
    const forged = new URL(onApp(done.location));
    forged.searchParams.set('state', 'not-the-state');
    const refused = await browser.get(forged.href);
    assert.equal(refused.status, 400);
    assert.doesNotMatch((await browser.get(`${appUrl}/`)).html, /Signed in as/);
    // Another browser (no session of the app) cannot use the callback either.
    const stranger = await new Browser().get(onApp(done.location));
    assert.equal(stranger.status, 400);
  });
});
