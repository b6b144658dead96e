// Protekt as an OpenID Connect provider (the contract: docs/oidc-provider.md), driven by independent
// client libraries against the real binary, with the hosted login, consent and device pages in
// Chromium. One server for the file; the harness' loopback app is every client's redirect URI.
//
// - openid-client (the OpenID-certified relying party): discovery, the code flow with PKCE and a
//   nonce, userinfo, refresh, revocation, introspection, client credentials (secret and
//   private_key_jwt), the device flow, RP-initiated logout.
// - oauth4webapi: a second, separate code flow (RFC 8414 discovery, PKCE, its own ID token checks).
// - jose: every access token (typ at+jwt, aud = the project's loginId) and ID token (typ JWT,
//   aud = the client) is verified against the published JWKS.
// - Raw HTTP for what must be refused: redirect URI variants (AS1, AS5), PKCE downgrades (AS3),
//   code replay and binding (AS2), implicit and password grants (AS4), scopes and client
//   assertions of M2M clients (AS6), consent and prompt=none (AS8), ID tokens as bearers (T3),
//   consent forms without their CSRF token (U2), hosted-page headers (U4).
// - The management API (clients, rotate-secret, delete) and the user's APIs (/v1/sessions,
//   /v1/grants, /v1/auth/verify, /v1/auth/logout) around those tokens.

import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { assertPageHeaders, launchBrowser, PASSWORD, startApp, startServer, watchedPage } from './harness.mjs';

const SCOPE = 'openid email profile';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let server;
let app;
let browser;
/** The issuer, `{baseUrl}/p/{loginId}`. */
let iss;
/** The provider's metadata as GET {iss}/.well-known/openid-configuration answers it. */
let meta;
/** The published keys (jose). */
let jwks;
/** The redirect URI every client registers: the loopback app's /callback. */
let CALLBACK;
const pages = [];
let n = 0;

before(async () => {
  app = await startApp();
  server = await startServer();
  browser = await launchBrowser();
  CALLBACK = app.url('/callback');
  iss = `${server.baseUrl}/p/${server.loginId}`;
  const res = await fetch(`${iss}/.well-known/openid-configuration`);
  assert.equal(res.status, 200, `discovery: ${res.status} ${await res.clone().text()}`);
  meta = await res.json();
  jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
});

after(async () => {
  for (const p of pages) await p.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await app?.stop();
});

// ---------------------------------------------------------------------------------------------
// Small helpers.

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const once = (make) => {
  let made;
  return () => (made ??= make());
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const email = (label) => `${label}-${++n}-${Date.now()}@example.com`;
const scopes = (s) => new Set((s ?? '').split(' ').filter(Boolean));

/** A PKCE pair (S256). */
function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

/** Registers a client through the management API (first-party, confidential, our callback unless `body` says otherwise). */
async function register(label, body = {}) {
  const res = await server.manage('POST', `/v1/projects/${server.projectId}/clients`, {
    name: `${label} ${++n}`,
    type: 'confidential',
    redirectUris: [CALLBACK],
    firstParty: true,
    ...body,
  });
  assert.equal(res.status, 201, `client create: ${JSON.stringify(res.body)}`);
  return { ...res.body.client, secret: res.body.clientSecret };
}

/** openid-client's Configuration for a registered client, from discovery. */
function configure(client, auth) {
  const how = auth ?? (client.secret ? oidc.ClientSecretBasic(client.secret) : oidc.None());
  return oidc.discovery(new URL(iss), client.clientId, client.secret, how, { execute: [oidc.allowInsecureRequests] });
}

/** A registered client and its openid-client Configuration: `{ clientId, secret, ..., config }`. */
async function relyingParty(label, body = {}, auth) {
  const client = await register(label, body);
  return { ...client, config: await configure(client, auth) };
}

/** A user signed up through the API, with a browser (context) of their own that has no session yet. */
async function newUser(label) {
  const address = email(label);
  const res = await server.api('/v1/auth/signup', { email: address, password: PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const watched = await watchedPage(browser);
  watched.context.setDefaultTimeout(10_000);
  pages.push(watched);
  return { address, id: res.body.user.id, page: watched.page };
}

/** Waits for the browser to be where `predicate` says; on failure says where it is and what it shows. */
async function waitFor(page, predicate, what) {
  try {
    await page.waitForURL(predicate, { timeout: 10_000 });
  } catch {
    const text = (await page.textContent('body').catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 300);
    assert.fail(`the browser never reached ${what}; it is at ${page.url()} ("${text}")`);
  }
}

const hosted = (name) => (u) => u.origin === server.baseUrl && u.pathname === `/p/${server.loginId}/${name}`;

/**
 * Waits for the consent page: the form with the Allow and Deny buttons, posting to {iss}/consent.
 * (Right after signing in, the server renders it as the answer to the login form, under /login.)
 */
async function atConsent(page) {
  const form = page.locator('form:has(button[name=decision][value=allow]):has(button[name=decision][value=deny])');
  try {
    await form.waitFor({ timeout: 10_000 });
  } catch {
    const text = (await page.textContent('body').catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 300);
    assert.fail(`the browser never reached the consent page; it is at ${page.url()} ("${text}")`);
  }
  const action = new URL(await form.evaluate((f) => f.action));
  assert.equal(`${action.origin}${action.pathname}`, `${iss}/consent`, 'the consent form posts to {iss}/consent');
}

/** Fills the hosted login form (Universal Login's selectors) and submits it. */
async function signIn(user) {
  const { page } = user;
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(user.address);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * The user's browser follows an authorization request `url`: signs in when `login` (the form must
 * show), answers the consent page when `consent` is 'allow' or 'deny' (it must show), and ends
 * on the app. Returns the URL it landed on.
 */
async function visit(user, url, { login = false, consent } = {}) {
  await user.page.goto(String(url));
  if (login) {
    await waitFor(user.page, hosted('login'), 'the login page');
    await signIn(user);
  }
  if (consent) {
    await atConsent(user.page);
    await user.page.click(`button[name=decision][value=${consent}]`);
  }
  await waitFor(user.page, (u) => u.origin === app.origin, `the app (${CALLBACK})`);
  return new URL(user.page.url());
}

/** The authorization endpoint's URL for `clientId` with our callback, a code request, and `params` on top. */
function authorizeUrl(clientId, params = {}) {
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, scope: SCOPE, ...params });
  for (const [k, v] of [...query]) if (v === '') query.delete(k);
  return `${meta.authorization_endpoint}?${query}`;
}

/** GET on the authorization endpoint without a browser: `{ status, location, contentType, body }`. */
async function authorizeRaw(clientId, params = {}) {
  const res = await fetch(authorizeUrl(clientId, params), { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), contentType: res.headers.get('content-type'), body: await res.text() };
}

/** A valid authorization request's parameters, PKCE included. */
function codeParams() {
  const { verifier, challenge } = pkce();
  return { verifier, params: { state: b64url(randomBytes(12)), code_challenge: challenge, code_challenge_method: 'S256' } };
}

/** AS5: the authorization endpoint's own 400 page, no redirect anywhere. */
function assertRefusedPage(res, what) {
  assert.equal(res.status, 400, `${what}: status ${res.status}, Location ${res.location}`);
  assert.equal(res.location, null, `${what}: a Location header`);
  assert.match(res.contentType ?? '', /text\/html/, `${what}: an HTML page`);
}

/** The answer went on to the hosted login page (the request was accepted). */
function assertToLogin(res, what) {
  assert.equal(res.status, 303, `${what}: status ${res.status}: ${res.body.slice(0, 200)}`);
  const to = new URL(res.location, meta.authorization_endpoint);
  assert.equal(`${to.origin}${to.pathname}`, `${iss}/login`, `${what}: went to ${to}`);
}

/** An error sent back to the client: to the callback with error, state and iss (error_description: its own test). */
function assertErrorRedirect(location, error, state) {
  const to = new URL(location);
  assert.equal(`${to.origin}${to.pathname}`, CALLBACK, `the error went to ${location}`);
  assert.equal(to.searchParams.get('error'), error, location);
  assert.equal(to.searchParams.get('state'), state, location);
  assert.equal(to.searchParams.get('iss'), iss, location);
  assert.equal(to.searchParams.get('code'), null, location);
}

/** A code for `client` from the user's browser (raw request, PKCE S256): `{ code, verifier }`. */
async function codeFor(client, user, { login = false, consent, params = {} } = {}) {
  const { verifier, params: base } = codeParams();
  const landed = await visit(user, authorizeUrl(client.clientId, { ...base, ...params }), { login, consent });
  assert.equal(landed.searchParams.get('state'), base.state, String(landed));
  const code = landed.searchParams.get('code');
  assert.ok(code, `a code in ${landed}`);
  return { code, verifier };
}

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/**
 * POST to a form endpoint of the provider (token by default) with client authentication `auth`:
 * 'basic', 'post', 'none' (client_id only) or null: `{ status, headers, body }`.
 */
async function post(client, params, { auth = 'basic', secret = client?.secret, endpoint = meta.token_endpoint } = {}) {
  const form = new URLSearchParams(params);
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth === 'basic') headers.authorization = basic(client.clientId, secret);
  if (auth === 'post') form.set('client_secret', secret);
  if (auth === 'post' || auth === 'none') form.set('client_id', client.clientId);
  const res = await fetch(endpoint, { method: 'POST', headers, body: form });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** Redeems a code at the token endpoint (Basic auth unless said). */
const redeem = (client, { code, verifier }, options) =>
  post(client, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, ...(verifier ? { code_verifier: verifier } : {}) }, options);

/** An RFC 6749 §5.2 error answer. */
function assertOAuthError(res, error, status = 400) {
  assert.equal(res.body?.error, error, `expected ${error}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.status, status, `status for ${error}: ${JSON.stringify(res.body)}`);
}

/** A successful token answer. */
function assertTokens(res) {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.ok(res.body.access_token, JSON.stringify(res.body));
  return res.body;
}

/** POST /v1/auth/verify's answer for a token. */
const verifyApi = (token) => server.api('/v1/auth/verify', { token });

/** A call to the user's API (/v1/…) with the project's API key and the user's Bearer. */
async function userApi(method, route, bearer) {
  const res = await fetch(`${server.baseUrl}${route}`, {
    method,
    headers: { 'x-api-key': server.apiKey, authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Introspection of `token` by `rp` (openid-client), as plain JSON. */
const introspect = async (rp, token) => JSON.parse(JSON.stringify(await oidc.tokenIntrospection(rp.config, token)));

/** jose: an access token verifies against the JWKS as an RFC 9068 JWT of this project. */
async function verifyAccessToken(token) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: iss,
    audience: server.loginId,
    typ: 'at+jwt',
    algorithms: meta.id_token_signing_alg_values_supported,
  });
  assert.ok(protectedHeader.kid, 'a kid in the access token header');
  for (const claim of ['sub', 'exp', 'iat', 'jti', 'client_id', 'scope']) {
    assert.ok(payload[claim] !== undefined, `the access token has ${claim}: ${JSON.stringify(payload)}`);
  }
  return payload;
}

/** jose: an ID token verifies against the JWKS, for `clientId`. */
async function verifyIdToken(token, clientId) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: iss,
    audience: clientId,
    typ: 'JWT',
    algorithms: meta.id_token_signing_alg_values_supported,
  });
  assert.ok(protectedHeader.kid, 'a kid in the ID token header');
  return payload;
}

/** OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url. */
const atHash = (accessToken) => b64url(createHash('sha256').update(accessToken).digest().subarray(0, 16));

/**
 * openid-client's code flow: PKCE, state, nonce; the browser does the rest (see visit); then the
 * token request and openid-client's checks (state, iss, nonce, ID token claims).
 */
async function codeFlow(rp, user, { login = false, consent, scope = SCOPE } = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: CALLBACK,
    scope,
    nonce,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const landed = await visit(user, url, { login, consent });
  const tokens = await granted(
    'the code redemption',
    oidc.authorizationCodeGrant(rp.config, landed, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: scopes(scope).has('openid'),
    }),
  );
  return { tokens, landed, nonce, state };
}

/** Awaits a client library call; an OAuth error answer fails with its error and description. */
async function granted(what, promise) {
  try {
    return await promise;
  } catch (err) {
    if (err.error === undefined) throw err;
    assert.fail(`${what}: ${err.status ?? ''} ${err.error}: ${err.error_description ?? ''}`);
  }
}

/** Rejects with an OAuth error `error` (openid-client/oauth4webapi's ResponseBodyError). */
async function rejectsWith(promise, error) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.error, error, `expected ${error}, got ${err.name}: ${err.message} ${JSON.stringify(err.cause ?? '')}`);
    return true;
  });
}

/** A confidential M2M client (client_credentials) with scopes of its own. */
const m2mClient = (label, body = {}) =>
  relyingParty(label, { redirectUris: [], grantTypes: ['client_credentials'], scopes: ['read:things', 'write:things'], ...body });

// ---------------------------------------------------------------------------------------------
// Shared fixtures, made on first use: a first-party client and a user signed in through it.

const mainRp = once(() => relyingParty('main'));
const mainLogin = once(async () => {
  const rp = await mainRp();
  const user = await newUser('main');
  const flow = await codeFlow(rp, user, { login: true });
  return { rp, user, ...flow };
});

// ---------------------------------------------------------------------------------------------
// Discovery.

test('discovery: the OpenID, OAuth and RFC 8414 path-inserted metadata documents agree with the contract', async () => {
  const want = {
    issuer: iss,
    authorization_endpoint: `${iss}/oauth2/authorize`,
    token_endpoint: `${iss}/oauth2/token`,
    userinfo_endpoint: `${iss}/oauth2/userinfo`,
    jwks_uri: `${iss}/.well-known/jwks.json`,
    revocation_endpoint: `${iss}/oauth2/revoke`,
    introspection_endpoint: `${iss}/oauth2/introspect`,
    end_session_endpoint: `${iss}/oauth2/logout`,
    device_authorization_endpoint: `${iss}/oauth2/device_authorization`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    authorization_response_iss_parameter_supported: true,
  };
  const sets = {
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_GRANT],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    scopes_supported: ['openid', 'profile', 'email', 'phone', 'offline_access'],
  };
  const urls = [
    `${iss}/.well-known/openid-configuration`,
    `${iss}/.well-known/oauth-authorization-server`,
    `${server.baseUrl}/.well-known/oauth-authorization-server/p/${server.loginId}`,
  ];
  const docs = [];
  for (const url of urls) {
    const res = await fetch(url);
    assert.equal(res.status, 200, `${url}: ${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, url);
    const doc = await res.json();
    for (const [k, v] of Object.entries(want)) assert.deepEqual(doc[k], v, `${url}: ${k}`);
    for (const [k, v] of Object.entries(sets)) assert.deepEqual([...doc[k]].sort(), [...v].sort(), `${url}: ${k}`);
    assert.ok(Array.isArray(doc.claims_supported) && doc.claims_supported.includes('sub'), `${url}: claims_supported`);
    for (const p of ['none', 'login', 'consent']) assert.ok(doc.prompt_values_supported?.includes(p), `${url}: prompt ${p}`);
    docs.push(doc);
  }
  assert.deepEqual(docs[1], docs[0], 'the OAuth document is the OpenID one');
  assert.deepEqual(docs[2], docs[0], 'the RFC 8414 path-inserted document is the OpenID one');
  // And the certified RP takes it.
  const { config } = await mainRp();
  assert.equal(config.serverMetadata().issuer, iss);
});

test('JWKS: public keys only, each with a kid and its alg', async () => {
  const res = await fetch(meta.jwks_uri);
  assert.equal(res.status, 200);
  const { keys } = await res.json();
  assert.ok(keys.length >= 1, 'at least one key');
  for (const key of keys) {
    assert.ok(key.kid, `a kid: ${JSON.stringify(key)}`);
    assert.equal(key.d, undefined, 'no private part');
    assert.equal(key.k, undefined, 'no symmetric key');
  }
  assert.ok(keys.some((k) => k.alg === 'ES256' || (k.kty === 'EC' && k.crv === 'P-256')), 'an ES256 key');
});

// ---------------------------------------------------------------------------------------------
// openid-client: the code flow and what comes with it.

test('openid-client: code + PKCE through the hosted login in Chromium; the callback carries code, state and iss', async () => {
  const { landed, state, tokens } = await mainLogin();
  assert.equal(`${landed.origin}${landed.pathname}`, CALLBACK);
  assert.deepEqual([...landed.searchParams.keys()].sort(), ['code', 'iss', 'state']);
  assert.equal(landed.searchParams.get('iss'), iss);
  assert.equal(landed.searchParams.get('state'), state);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token && tokens.id_token && tokens.refresh_token, 'access, ID and refresh tokens');
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 900, `expires_in ${tokens.expires_in}`);
  assert.deepEqual(scopes(tokens.scope), scopes(SCOPE));
});

test('openid-client + jose: the ID token (nonce checked by openid-client) verifies against the JWKS with aud = client id and the contract claims', async () => {
  const { rp, user, tokens, nonce } = await mainLogin();
  const claims = tokens.claims();
  assert.equal(claims.nonce, nonce);
  const payload = await verifyIdToken(tokens.id_token, rp.clientId);
  assert.equal(payload.sub, user.id);
  assert.equal(payload.aud, rp.clientId);
  assert.equal(payload.azp, rp.clientId);
  assert.equal(payload.nonce, nonce);
  assert.equal(payload.acr, 'aal1');
  assert.ok(payload.amr?.includes('pwd'), `amr ${JSON.stringify(payload.amr)}`);
  assert.equal(typeof payload.auth_time, 'number');
  assert.ok(Math.abs(payload.auth_time - Date.now() / 1000) < 300, 'auth_time is now');
  assert.ok(payload.sid, 'a sid');
  assert.equal(payload.at_hash, atHash(tokens.access_token));
  assert.equal(payload.email, user.address); // scope email
  assert.equal(typeof payload.email_verified, 'boolean');
  assert.equal(typeof payload.updated_at, 'number'); // scope profile
  assert.equal(payload.phone_number, undefined, 'no phone claims without scope phone');
});

test('jose: the access token of the code flow is an at+jwt of the project (aud loginId) for the user and the client', async () => {
  const { rp, user, tokens } = await mainLogin();
  const payload = await verifyAccessToken(tokens.access_token);
  assert.equal(payload.sub, user.id);
  assert.equal(payload.client_id, rp.clientId);
  assert.deepEqual(scopes(payload.scope), scopes(SCOPE));
  assert.equal(payload.sid, tokens.claims().sid, 'the same session as the ID token');
  assert.equal(payload.email, user.address);
  assert.ok(payload.amr?.includes('pwd') && payload.aal === 'aal1', JSON.stringify(payload));
  // And Protekt's own API takes it for that user.
  const verified = await verifyApi(tokens.access_token);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.user.id, user.id);
});

test('openid-client: userinfo (GET) answers sub and the claims of the scopes; POST answers the same', async () => {
  const { rp, user, tokens } = await mainLogin();
  const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, user.id);
  assert.equal(info.sub, user.id);
  assert.equal(info.email, user.address);
  assert.equal(typeof info.email_verified, 'boolean');
  assert.equal(typeof info.updated_at, 'number');
  assert.equal(info.phone_number, undefined, 'no phone_number without scope phone');
  const res = await fetch(meta.userinfo_endpoint, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(info)));
});

test('userinfo: an invalid token is 401 with WWW-Authenticate: Bearer error="invalid_token"', async () => {
  const res = await fetch(meta.userinfo_endpoint, { headers: { authorization: 'Bearer not.a.token' } });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b.*error="invalid_token"/);
});

test('T3: an ID token is refused as a bearer (userinfo 401, POST /v1/auth/verify 401)', async () => {
  const { tokens } = await mainLogin();
  const res = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.id_token}` } });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  assert.equal((await verifyApi(tokens.id_token)).status, 401);
});

test('openid-client: refresh rotates the refresh token and returns a new access token and ID token that verify', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const { tokens } = await codeFlow(rp, user); // the browser's session: no form
  const next = await granted('refresh_token', oidc.refreshTokenGrant(rp.config, tokens.refresh_token));
  assert.ok(next.refresh_token, 'a new refresh token');
  assert.notEqual(next.refresh_token, tokens.refresh_token, 'rotated');
  assert.notEqual(next.access_token, tokens.access_token);
  const payload = await verifyAccessToken(next.access_token);
  assert.equal(payload.sub, user.id);
  assert.equal(payload.client_id, rp.clientId);
  assert.ok(next.id_token, 'an ID token (scope openid)');
  assert.equal((await verifyIdToken(next.id_token, rp.clientId)).sub, user.id);
  // The rotated one goes on working.
  assert.ok((await oidc.refreshTokenGrant(rp.config, next.refresh_token)).access_token);
});

test('openid-client: refresh with a narrower scope gets an access token with only that scope', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const { tokens } = await codeFlow(rp, user);
  const next = await granted(
    'refresh_token with scope "openid email" (granted: "openid email profile")',
    oidc.refreshTokenGrant(rp.config, tokens.refresh_token, { scope: 'openid email' }),
  );
  assert.deepEqual(scopes((await verifyAccessToken(next.access_token)).scope), scopes('openid email'));
});

test('a refresh token of another client is invalid_grant', async () => {
  const rp = await mainRp();
  const other = await relyingParty('other-refresh');
  const { user } = await mainLogin();
  const { tokens } = await codeFlow(rp, user);
  assertOAuthError(await post(other, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }), 'invalid_grant');
});

test('openid-client: revoking an access token stops it at once (POST /v1/auth/verify 401, introspection active:false)', async () => {
  const rp = await mainRp();
  const { tokens } = await codeFlow(rp, await newUser('revoke-at'), { login: true });
  assert.equal((await verifyApi(tokens.access_token)).status, 200, 'verifies before');
  await oidc.tokenRevocation(rp.config, tokens.access_token, { token_type_hint: 'access_token' });
  assert.equal((await verifyApi(tokens.access_token)).status, 401);
  assert.deepEqual(await introspect(rp, tokens.access_token), { active: false });
});

test('openid-client: revoking a refresh token ends refresh (invalid_grant); the access token already issued lives on', async () => {
  const rp = await mainRp();
  const { tokens } = await codeFlow(rp, await newUser('revoke-rt'), { login: true });
  await oidc.tokenRevocation(rp.config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
  await rejectsWith(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), 'invalid_grant');
  assert.equal((await verifyApi(tokens.access_token)).status, 200);
});

test("revocation: a token of another client is left alone (200, and it still verifies)", async () => {
  const a = await m2mClient('revoke-owner');
  const b = await m2mClient('revoke-stranger');
  const { access_token } = await oidc.clientCredentialsGrant(a.config, { scope: 'read:things' });
  const res = await post(b, { token: access_token, token_type_hint: 'access_token' }, { endpoint: meta.revocation_endpoint });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal((await verifyApi(access_token)).status, 200);
  assert.equal((await introspect(a, access_token)).active, true);
});

test('revocation: an unknown token is 200 (RFC 7009)', async () => {
  const rp = await mainRp();
  const res = await post(rp, { token: 'no-such-token' }, { endpoint: meta.revocation_endpoint });
  assert.equal(res.status, 200, JSON.stringify(res.body));
});

test('openid-client: introspection of an active access token: active, scope, client_id, sub, exp, iat, iss, aud, token_type Bearer, sid', async () => {
  const { rp, user, tokens } = await mainLogin();
  const info = await introspect(rp, tokens.access_token);
  const claims = await verifyAccessToken(tokens.access_token);
  assert.equal(info.active, true);
  assert.deepEqual(scopes(info.scope), scopes(SCOPE));
  assert.equal(info.client_id, rp.clientId);
  assert.equal(info.sub, user.id);
  assert.equal(info.exp, claims.exp);
  assert.equal(info.iat, claims.iat);
  assert.equal(info.iss, iss);
  assert.deepEqual([info.aud].flat(), [server.loginId]);
  assert.equal(info.token_type, 'Bearer');
  assert.equal(info.sid, claims.sid);
});

test('openid-client: introspection of a refresh token is active for its client, without token_type Bearer', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const { tokens } = await codeFlow(rp, user);
  const info = await introspect(rp, tokens.refresh_token);
  assert.equal(info.active, true, JSON.stringify(info));
  assert.equal(info.client_id, rp.clientId);
  assert.equal(info.sub, user.id);
  assert.notEqual(info.token_type, 'Bearer');
});

test('introspection: a garbage token is active:false; without client authentication it is invalid_client', async () => {
  const rp = await mainRp();
  assert.deepEqual(await introspect(rp, 'garbage'), { active: false });
  const res = await post(null, { token: 'garbage' }, { auth: null, endpoint: meta.introspection_endpoint });
  assert.equal(res.body?.error, 'invalid_client', `${res.status} ${JSON.stringify(res.body)}`);
  assert.ok([400, 401].includes(res.status), `status ${res.status}`);
});

test('token endpoint: a wrong secret over Basic is 401 invalid_client with WWW-Authenticate', async () => {
  const rp = await mainRp();
  const res = await post(rp, { grant_type: 'refresh_token', refresh_token: 'x' }, { secret: 'cs_wrong' });
  assertOAuthError(res, 'invalid_client', 401);
  assert.ok(res.headers.get('www-authenticate'), 'a WWW-Authenticate header');
});

// ---------------------------------------------------------------------------------------------
// oauth4webapi: a second, independent client library.

test('oauth4webapi: its own RFC 8414 discovery, PKCE, processAuthorizationCodeResponse and ID token validation (client_secret_post)', async () => {
  const registered = await register('oauth4webapi', { tokenEndpointAuthMethod: 'client_secret_post' });
  const issuer = new URL(iss);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
  );
  const client = { client_id: registered.clientId };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: client.client_id,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'openid email',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })) {
    url.searchParams.set(k, v);
  }
  const { user } = await mainLogin();
  const landed = await visit(user, url);
  const params = oauth.validateAuthResponse(as, client, landed, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretPost(registered.secret), params, CALLBACK, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(result);
  assert.equal(claims.sub, user.id);
  assert.equal(claims.aud, registered.clientId);
  assert.equal(claims.nonce, nonce);
  assert.equal((await verifyIdToken(result.id_token, registered.clientId)).sub, user.id);
  const at = await verifyAccessToken(result.access_token);
  assert.equal(at.client_id, registered.clientId);
  assert.deepEqual(scopes(result.scope), scopes('openid email'));
});

// ---------------------------------------------------------------------------------------------
// Public clients.

test('a public client (auth none): code + PKCE with openid-client, client_id in the body', async () => {
  const rp = await relyingParty('public', { type: 'public' });
  assert.equal(rp.secret, undefined, 'no secret for a public client');
  assert.equal(rp.tokenEndpointAuthMethod, 'none');
  const { user } = await mainLogin();
  const { tokens } = await codeFlow(rp, user);
  assert.equal((await verifyAccessToken(tokens.access_token)).client_id, rp.clientId);
  assert.equal((await verifyIdToken(tokens.id_token, rp.clientId)).sub, user.id);
});

test('AS3: a public client without PKCE is sent back with invalid_request', async () => {
  const rp = await register('public-nopkce', { type: 'public' });
  const state = 'public-no-pkce';
  const res = await authorizeRaw(rp.clientId, { state });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'invalid_request', state);
});

// ---------------------------------------------------------------------------------------------
// The authorization endpoint: what it refuses (AS1, AS3, AS4, AS5).

test('AS5: an unknown redirect_uri is a 400 HTML page with no Location', async () => {
  const rp = await mainRp();
  const { params } = codeParams();
  assertRefusedPage(await authorizeRaw(rp.clientId, { ...params, redirect_uri: app.url('/elsewhere') }), 'unregistered');
  assertRefusedPage(await authorizeRaw(rp.clientId, { ...params, redirect_uri: '' }), 'no redirect_uri');
});

test('AS5: an unknown client_id is a 400 HTML page with no Location', async () => {
  const { params } = codeParams();
  assertRefusedPage(await authorizeRaw('cli_doesnotexist', params), 'unknown client');
});

test('AS1: redirect URI variants of a registered https URI are refused with the 400 page', async (t) => {
  const good = 'https://app.example.com/cb';
  const rp = await register('variants', { redirectUris: [good] });
  const { params } = codeParams();
  assertToLogin(await authorizeRaw(rp.clientId, { ...params, redirect_uri: good }), 'the registered URI itself');
  const variants = [
    'https://app.example.com@evil.example/cb',
    'https://evil.example@app.example.com/cb',
    'https://app.example.com%2f@evil.example/cb',
    'https://app.example.com\\@evil.example/cb',
    'https://app.example.com.evil.example/cb',
    'https://app.example.com./cb',
    'https://app.example.com/cb/',
    'https://APP.example.com/cb',
    'https://app.example.com/CB',
    'HTTPS://app.example.com/cb',
    'https://app.example.com/cb/../cb',
    'https://app.example.com/x/../cb',
    'https://app.example.com/cb/..%2fx',
    'https://app.example.com/%63b',
    'http://app.example.com/cb',
    'https://app.example.com/cb?x=1',
    'https://app.example.com/cb#x',
    'https://app.example.com:8443/cb',
    'https://app.example.com:443/cb',
    '//app.example.com/cb',
  ];
  for (const variant of variants) {
    await t.test(variant, async () => assertRefusedPage(await authorizeRaw(rp.clientId, { ...params, redirect_uri: variant }), variant));
  }
});

test('AS1: a registered loopback IP URI without a port matches any port (RFC 8252 §7.3); localhost and a registered port do not', async (t) => {
  const rp = await register('loopback', {
    redirectUris: ['http://127.0.0.1/native', 'http://[::1]/native6', 'http://localhost/native', CALLBACK],
  });
  const { params } = codeParams();
  const port = new URL(CALLBACK).port;
  const otherPort = String(Number(port) === 65000 ? 65001 : 65000);
  const accepted = ['http://127.0.0.1:53123/native', 'http://[::1]:53123/native6', 'http://127.0.0.1/native'];
  const refused = [
    'http://localhost:53123/native',
    'http://127.0.0.1:53123/native/',
    'http://127.0.0.2:53123/native',
    'http://127.0.0.1:53123/native?x=1',
    'https://127.0.0.1:53123/native',
    `http://127.0.0.1:${otherPort}/callback`,
  ];
  for (const uri of accepted) {
    await t.test(`accepted: ${uri}`, async () => assertToLogin(await authorizeRaw(rp.clientId, { ...params, redirect_uri: uri }), uri));
  }
  for (const uri of refused) {
    await t.test(`refused: ${uri}`, async () => assertRefusedPage(await authorizeRaw(rp.clientId, { ...params, redirect_uri: uri }), uri));
  }
});

test('AS3: an authorization request without code_challenge is sent back with invalid_request', async () => {
  const rp = await mainRp();
  const res = await authorizeRaw(rp.clientId, { state: 'no-pkce' });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'invalid_request', 'no-pkce');
});

test('AS3: code_challenge_method=plain is sent back with invalid_request', async () => {
  const rp = await mainRp();
  const verifier = b64url(randomBytes(32));
  const res = await authorizeRaw(rp.clientId, { state: 'plain', code_challenge: verifier, code_challenge_method: 'plain' });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'invalid_request', 'plain');
});

test('AS3: a code_challenge without code_challenge_method (plain by default, RFC 7636) is sent back with invalid_request', async () => {
  const rp = await mainRp();
  const res = await authorizeRaw(rp.clientId, { state: 'no-method', code_challenge: pkce().challenge });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'invalid_request', 'no-method');
});

test('AS3: challenge sent, verifier missing at the token endpoint → invalid_grant', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const { code } = await codeFor(rp, user);
  assertOAuthError(await redeem(rp, { code }), 'invalid_grant');
});

test('AS3: challenge sent, wrong verifier → invalid_grant', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const { code } = await codeFor(rp, user);
  assertOAuthError(await redeem(rp, { code, verifier: pkce().verifier }), 'invalid_grant');
});

test('AS3: challenge sent, matching verifier → tokens', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const body = assertTokens(await redeem(rp, await codeFor(rp, user)));
  assert.equal(body.token_type, 'Bearer');
  assert.equal((await verifyAccessToken(body.access_token)).sub, user.id);
});

test('AS4: response_type=token is sent back with unsupported_response_type', async () => {
  const rp = await mainRp();
  const { params } = codeParams();
  const res = await authorizeRaw(rp.clientId, { ...params, response_type: 'token' });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'unsupported_response_type', params.state);
});

test('authorize: a scope not assigned to the client is sent back with invalid_scope', async () => {
  const rp = await register('narrow', { scopes: ['openid', 'email'] });
  const { params } = codeParams();
  const res = await authorizeRaw(rp.clientId, { ...params, scope: 'openid phone' });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'invalid_scope', params.state);
});

test('AS4: a client without the authorization_code grant is sent back with unauthorized_client', async () => {
  const rp = await register('m2m-authorize', { grantTypes: ['client_credentials'] });
  const { params } = codeParams();
  const res = await authorizeRaw(rp.clientId, params);
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'unauthorized_client', params.state);
});

test('prompt=none without a browser session is sent back with login_required', async () => {
  const rp = await mainRp();
  const { params } = codeParams();
  const res = await authorizeRaw(rp.clientId, { ...params, prompt: 'none' });
  assert.equal(res.status, 303, res.body.slice(0, 200));
  assertErrorRedirect(res.location, 'login_required', params.state);
});

test('authorize: every error sent back to the client carries an error_description', async () => {
  const rp = await mainRp();
  const third = await register('third-party-descriptions', { firstParty: false });
  const { user } = await mainLogin();
  const { params } = codeParams();
  const answers = {
    invalid_request: (await authorizeRaw(rp.clientId, { state: 'x' })).location,
    unsupported_response_type: (await authorizeRaw(rp.clientId, { ...params, response_type: 'token' })).location,
    login_required: (await authorizeRaw(rp.clientId, { ...params, prompt: 'none' })).location,
    consent_required: String(await visit(user, authorizeUrl(third.clientId, { ...params, prompt: 'none' }))),
    access_denied: String(await visit(user, authorizeUrl(third.clientId, params), { consent: 'deny' })),
  };
  const missing = Object.entries(answers)
    .filter(([, location]) => !new URL(location).searchParams.get('error_description'))
    .map(([error, location]) => `${error}: ${location}`);
  assert.deepEqual(missing, [], 'errors sent back without an error_description');
});

// ---------------------------------------------------------------------------------------------
// The token endpoint: codes (AS2), grants (AS4).

test('AS2: a code redeemed twice: invalid_grant, and the first redemption is revoked (verify 401, introspection inactive, refresh refused)', async () => {
  const rp = await mainRp();
  const got = await codeFor(rp, await newUser('replay'), { login: true });
  const first = assertTokens(await redeem(rp, got));
  assert.equal((await verifyApi(first.access_token)).status, 200, 'the first access token verifies before the replay');
  assertOAuthError(await redeem(rp, got), 'invalid_grant');
  assert.equal((await verifyApi(first.access_token)).status, 401, 'the first access token after the replay');
  assert.deepEqual(await introspect(rp, first.access_token), { active: false });
  assertOAuthError(await post(rp, { grant_type: 'refresh_token', refresh_token: first.refresh_token }), 'invalid_grant');
});

test('AS2: 10 concurrent redemptions of one code: exactly one gets tokens', async () => {
  const rp = await mainRp();
  const got = await codeFor(rp, await newUser('race'), { login: true });
  const answers = await Promise.all(Array.from({ length: 10 }, () => redeem(rp, got)));
  const ok = answers.filter((a) => a.status === 200);
  assert.equal(ok.length, 1, `successes: ${answers.map((a) => a.status).join(',')}`);
  for (const a of answers.filter((x) => x.status !== 200)) assertOAuthError(a, 'invalid_grant');
});

test("AS2: a code issued to client A, redeemed by client B (same redirect URI, B's own credentials) → invalid_grant", async () => {
  const a = await mainRp();
  const b = await relyingParty('thief');
  const got = await codeFor(a, await newUser('cross-client'), { login: true });
  assertOAuthError(await redeem(b, got), 'invalid_grant');
});

test('AS2: a code redeemed with another of the client\'s registered redirect URIs → invalid_grant', async () => {
  const other = app.url('/other-callback');
  const rp = await register('two-uris', { redirectUris: [CALLBACK, other] });
  const { user } = await mainLogin();
  const got = await codeFor(rp, user);
  const res = await post(rp, { grant_type: 'authorization_code', code: got.code, redirect_uri: other, code_verifier: got.verifier });
  assertOAuthError(res, 'invalid_grant');
});

test('AS2: a code is good for 60 s: one redeemed at once works, its twin redeemed after 62 s is invalid_grant', async () => {
  const rp = await mainRp();
  const { user } = await mainLogin();
  const now = await codeFor(rp, user);
  const later = await codeFor(rp, user);
  assertTokens(await redeem(rp, now));
  await sleep(62_000);
  assertOAuthError(await redeem(rp, later), 'invalid_grant');
});

test('AS4: grant_type=password is unauthorized_client', async () => {
  const { rp, user } = await mainLogin();
  const res = await post(rp, { grant_type: 'password', username: user.address, password: PASSWORD, scope: 'openid' });
  assertOAuthError(res, 'unauthorized_client');
});

test('AS4: a grant the client lacks (client_credentials for a code client) is unauthorized_client', async () => {
  const rp = await mainRp();
  assertOAuthError(await post(rp, { grant_type: 'client_credentials' }), 'unauthorized_client');
});

test('token endpoint: an unknown grant_type is unsupported_grant_type', async () => {
  const rp = await mainRp();
  assertOAuthError(await post(rp, { grant_type: 'urn:example:made-up' }), 'unsupported_grant_type');
});

// ---------------------------------------------------------------------------------------------
// Consent (AS8) and the user's grants.

test('AS8: a third-party client under prompt=none before consent gets consent_required/interaction_required; after "Allow" on the consent page prompt=none gets a code', async () => {
  const rp = await register('third-party', { firstParty: false });
  const user = await newUser('consent');
  await codeFlow(await mainRp(), user, { login: true }); // a browser session, through a first-party client
  const { params } = codeParams();
  const refused = await visit(user, authorizeUrl(rp.clientId, { ...params, prompt: 'none' }));
  assert.ok(['consent_required', 'interaction_required'].includes(refused.searchParams.get('error')), String(refused));
  assertErrorRedirect(String(refused), refused.searchParams.get('error'), params.state);

  assertTokens(await redeem(rp, await codeFor(rp, user, { consent: 'allow' })));
  const silent = await codeFor(rp, user, { params: { prompt: 'none' } });
  const tokens = assertTokens(await redeem(rp, silent));
  assert.equal((await verifyIdToken(tokens.id_token, rp.clientId)).sub, user.id);
});

test('AS8: "Deny" on the consent page sends access_denied back with state and iss', async () => {
  const rp = await register('third-party-deny', { firstParty: false });
  const { user } = await mainLogin();
  const { params } = codeParams();
  const landed = await visit(user, authorizeUrl(rp.clientId, params), { consent: 'deny' });
  assertErrorRedirect(String(landed), 'access_denied', params.state);
});

test('AS8: the consent page lists the scopes asked for; a first-party client never shows it', async () => {
  const rp = await register('third-party-scopes', { firstParty: false });
  const { user } = await mainLogin();
  const { params } = codeParams();
  await user.page.goto(authorizeUrl(rp.clientId, { ...params, scope: 'openid email phone' }));
  await atConsent(user.page);
  const items = (await user.page.locator('main li, li').allTextContents()).join(' | ');
  assert.match(items, /email address/i, items);
  assert.match(items, /phone number/i, items);
  assert.ok(await user.page.locator('button[name=decision][value=allow]').isVisible());
  assert.ok(await user.page.locator('button[name=decision][value=deny]').isVisible());
  // The first-party client goes straight back (codeFor would stop at a consent page).
  await codeFor(await mainRp(), user);
});

test('U2: a consent form posted without its csrf field is refused (403) and no code reaches the client', async () => {
  const rp = await register('third-party-csrf', { firstParty: false });
  const { user } = await mainLogin();
  const { params } = codeParams();
  await user.page.goto(authorizeUrl(rp.clientId, params));
  await atConsent(user.page);
  await user.page.locator('input[name=csrf]').evaluate((input) => input.remove());
  const [response] = await Promise.all([
    user.page.waitForResponse((r) => r.request().method() === 'POST'),
    user.page.click('button[name=decision][value=allow]'),
  ]);
  assert.equal(response.status(), 403);
  assert.equal(new URL(user.page.url()).origin, server.baseUrl, `the browser left for ${user.page.url()}`);
  assert.ok(!app.hits.some((h) => h.url.includes(`state=${params.state}`)), 'no answer reached the client');
});

test('U4: the consent and device pages carry the hosted-page security headers', async () => {
  const rp = await register('third-party-headers', { firstParty: false });
  const { user } = await mainLogin();
  const { params } = codeParams();
  const [consent] = await Promise.all([
    user.page.waitForResponse((r) => hosted('consent')(new URL(r.url())) && r.request().method() === 'GET'),
    user.page.goto(authorizeUrl(rp.clientId, params)),
  ]);
  assert.equal(consent.status(), 200);
  assertPageHeaders(new Headers(await consent.allHeaders()), await consent.text());
  const device = await fetch(`${iss}/device`);
  assert.equal(device.status, 200);
  assertPageHeaders(device.headers, await device.text());
});

test('user grants: GET /v1/grants lists the consented client; DELETE ends its refresh tokens and the next authorize asks again', async () => {
  const rp = await relyingParty('third-party-grants', { firstParty: false });
  const user = await newUser('grants');
  const { tokens } = await codeFlow(rp, user, { login: true, consent: 'allow' });
  const login = await server.api('/v1/auth/login', { email: user.address, password: PASSWORD });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const bearer = login.body.accessToken;

  const listed = await userApi('GET', '/v1/grants', bearer);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const grant = listed.body.grants.find((g) => g.clientId === rp.clientId);
  assert.ok(grant, `the grant in ${JSON.stringify(listed.body)}`);
  assert.equal(grant.name, rp.name);
  assert.deepEqual(new Set(grant.scopes), scopes(SCOPE));
  assert.ok(!Number.isNaN(Date.parse(grant.createdAt)), `createdAt ${grant.createdAt}`);

  const revoked = await userApi('DELETE', `/v1/grants/${rp.clientId}`, bearer);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.deepEqual(revoked.body, { ok: true });
  assert.ok(!(await userApi('GET', '/v1/grants', bearer)).body.grants.some((g) => g.clientId === rp.clientId), 'gone from the list');
  await rejectsWith(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), 'invalid_grant');
  await codeFlow(rp, user, { consent: 'allow' }); // the consent page shows again
});

// ---------------------------------------------------------------------------------------------
// Sessions: provider logins are Protekt sessions.

test('session: the provider login is a session in GET /v1/sessions (current = the token sid); DELETE /v1/sessions/{id} makes introspection inactive', async () => {
  const rp = await mainRp();
  const { tokens } = await codeFlow(rp, await newUser('sessions'), { login: true });
  const { sid } = await verifyAccessToken(tokens.access_token);
  const listed = await userApi('GET', '/v1/sessions', tokens.access_token);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const current = listed.body.sessions.find((s) => s.current);
  assert.equal(current?.id, sid, JSON.stringify(listed.body));
  const ended = await userApi('DELETE', `/v1/sessions/${sid}`, tokens.access_token);
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
  assert.deepEqual(await introspect(rp, tokens.access_token), { active: false });
  assert.equal((await verifyApi(tokens.access_token)).status, 401);
});

test('session: POST /v1/auth/logout with the provider access token ends it: introspection inactive, refresh refused', async () => {
  const rp = await mainRp();
  const { tokens } = await codeFlow(rp, await newUser('logout-api'), { login: true });
  const out = await userApi('POST', '/v1/auth/logout', tokens.access_token);
  assert.equal(out.status, 200, JSON.stringify(out.body));
  assert.deepEqual(await introspect(rp, tokens.access_token), { active: false });
  await rejectsWith(oidc.refreshTokenGrant(rp.config, tokens.refresh_token), 'invalid_grant');
});

test('end session: GET {iss}/oauth2/logout with id_token_hint and a registered post_logout_redirect_uri → 303 there with state; the next authorize shows the form', async () => {
  const rp = await relyingParty('rp-logout', { postLogoutRedirectUris: [app.url('/signed-out')] });
  const user = await newUser('end-session');
  const { tokens } = await codeFlow(rp, user, { login: true });
  const url = oidc.buildEndSessionUrl(rp.config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: app.url('/signed-out'),
    state: 'bye',
  });
  const res = await user.page.goto(String(url));
  const hop = res.request().redirectedFrom();
  assert.ok(hop?.url().startsWith(meta.end_session_endpoint), `a redirect from the end-session endpoint, not ${hop?.url()}`);
  assert.equal((await hop.response()).status(), 303);
  await waitFor(user.page, (u) => u.origin === app.origin && u.pathname === '/signed-out', '/signed-out');
  assert.equal(new URL(user.page.url()).searchParams.get('state'), 'bye');
  await codeFlow(rp, user, { login: true }); // no session left: the form again
});

test('end session: an unregistered post_logout_redirect_uri is not followed; the session still ends (signed-out page)', async () => {
  const rp = await relyingParty('rp-logout-unregistered', { postLogoutRedirectUris: [app.url('/signed-out')] });
  const user = await newUser('end-session-bad');
  const { tokens } = await codeFlow(rp, user, { login: true });
  const url = oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: app.url('/not-registered') });
  const res = await user.page.goto(String(url));
  assert.equal(new URL(user.page.url()).origin, server.baseUrl, `the browser left for ${user.page.url()}`);
  assert.ok(!app.hits.some((h) => h.url.startsWith('/not-registered')), 'the app never got the unregistered URI');
  const shown = { status: res.status(), heading: (await user.page.locator('h1').textContent()).trim() };
  // Whether the session ended: the next authorization request shows the login form, or hands a code over.
  const { params } = codeParams();
  await user.page.goto(authorizeUrl(rp.clientId, params));
  await waitFor(user.page, (u) => hosted('login')(u) || u.origin === app.origin, 'the login form or the app');
  const sessionEnded = hosted('login')(new URL(user.page.url()));
  assert.deepEqual({ ...shown, sessionEnded }, { status: 200, heading: 'Signed out', sessionEnded: true });
});

// ---------------------------------------------------------------------------------------------
// Machine to machine (AS6).

test('openid-client: client_credentials gives an at+jwt with sub = client_id, no refresh or ID token', async () => {
  const rp = await m2mClient('m2m');
  const tokens = await oidc.clientCredentialsGrant(rp.config, { scope: 'read:things' });
  assert.equal(tokens.refresh_token, undefined);
  assert.equal(tokens.id_token, undefined);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.scope, 'read:things');
  const payload = await verifyAccessToken(tokens.access_token);
  assert.equal(payload.sub, rp.clientId);
  assert.equal(payload.client_id, rp.clientId);
  assert.equal(payload.scope, 'read:things');
  assert.equal(payload.sid, undefined, 'no session');
});

test('M2M: POST /v1/auth/verify of a client_credentials token → user null, client { clientId, name }', async () => {
  const rp = await m2mClient('m2m-verify');
  const { access_token } = await oidc.clientCredentialsGrant(rp.config, { scope: 'read:things write:things' });
  const res = await verifyApi(access_token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.user, null);
  assert.deepEqual(res.body.client, { clientId: rp.clientId, name: rp.name });
  assert.equal(res.body.claims.sub, rp.clientId);
  assert.deepEqual(scopes(res.body.claims.scope), scopes('read:things write:things'));
});

test('AS6: client_credentials with a scope not assigned to the client → invalid_scope', async () => {
  const rp = await m2mClient('m2m-scope');
  assertOAuthError(await post(rp, { grant_type: 'client_credentials', scope: 'read:things admin' }), 'invalid_scope');
});

test('AS6: a private_key_jwt client (public JWK registered) gets a token with openid-client', async () => {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const client = await register('pkjwt', {
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scopes: ['read:things'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
  });
  assert.equal(client.secret, undefined, 'no secret for private_key_jwt');
  const config = await configure(client, oidc.PrivateKeyJwt({ key: privateKey, kid }));
  const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read:things' });
  assert.equal((await verifyAccessToken(tokens.access_token)).sub, client.clientId);
});

test('AS6: a replayed client_assertion (same jti) is invalid_client', async () => {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const client = await register('pkjwt-replay', {
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scopes: ['read:things'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [{ ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256' }] },
  });
  const assertion = await new jose.SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(meta.token_endpoint)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(privateKey);
  const form = { grant_type: 'client_credentials', scope: 'read:things', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
  assertTokens(await post(client, form, { auth: 'none' }));
  const replay = await post(client, form, { auth: 'none' });
  assert.equal(replay.body?.error, 'invalid_client', `${replay.status} ${JSON.stringify(replay.body)}`);
  assert.ok([400, 401].includes(replay.status), `status ${replay.status}`);
});

test('AS6: rotate-secret: during the overlap the old secret and the new one both work', async () => {
  const rp = await m2mClient('rotate');
  const before = Date.now();
  const res = await server.manage('POST', `/v1/projects/${server.projectId}/clients/${rp.clientId}/rotate-secret`, { overlapSeconds: 300 });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { clientSecret, previousSecretExpiresAt } = res.body;
  assert.match(clientSecret, /^cs_/);
  assert.notEqual(clientSecret, rp.secret);
  const until = Date.parse(previousSecretExpiresAt);
  assert.ok(until >= before + 295_000 && until <= Date.now() + 305_000, `previousSecretExpiresAt ${previousSecretExpiresAt}`);
  assertTokens(await post(rp, { grant_type: 'client_credentials', scope: 'read:things' }));
  assertTokens(await post(rp, { grant_type: 'client_credentials', scope: 'read:things' }, { secret: clientSecret }));
});

test('AS6: rotate-secret with overlapSeconds 0: the old secret is refused at once, the new one works', async () => {
  const rp = await m2mClient('rotate-now');
  const res = await server.manage('POST', `/v1/projects/${server.projectId}/clients/${rp.clientId}/rotate-secret`, { overlapSeconds: 0 });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertOAuthError(await post(rp, { grant_type: 'client_credentials', scope: 'read:things' }), 'invalid_client', 401);
  assertTokens(await post(rp, { grant_type: 'client_credentials', scope: 'read:things' }, { secret: res.body.clientSecret }));
});

test('management: a deleted client\'s tokens stop verifying and its secret stops working', async () => {
  const rp = await m2mClient('deleted');
  const { access_token } = await oidc.clientCredentialsGrant(rp.config, { scope: 'read:things' });
  assert.equal((await verifyApi(access_token)).status, 200);
  const res = await server.manage('DELETE', `/v1/projects/${server.projectId}/clients/${rp.clientId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { ok: true });
  assert.equal((await verifyApi(access_token)).status, 401);
  assertOAuthError(await post(rp, { grant_type: 'client_credentials', scope: 'read:things' }), 'invalid_client', 401);
  assert.equal((await server.manage('GET', `/v1/projects/${server.projectId}/clients/${rp.clientId}`)).status, 404);
});

test('management: GET clients lists a registered client with the contract fields and defaults, and never its secret', async () => {
  const rp = await register('listed', { firstParty: false });
  const res = await server.manage('GET', `/v1/projects/${server.projectId}/clients`);
  assert.equal(res.status, 200);
  const found = res.body.clients.find((c) => c.clientId === rp.clientId);
  assert.ok(found, 'listed');
  assert.deepEqual([...found.grantTypes].sort(), ['authorization_code', 'refresh_token']);
  assert.deepEqual([...found.scopes].sort(), ['email', 'offline_access', 'openid', 'phone', 'profile']);
  assert.equal(found.tokenEndpointAuthMethod, 'client_secret_basic');
  assert.equal(found.type, 'confidential');
  assert.equal(found.firstParty, false);
  assert.deepEqual(found.redirectUris, [CALLBACK]);
  assert.ok(!JSON.stringify(res.body).includes(rp.secret), 'the secret is shown only once');
});

// ---------------------------------------------------------------------------------------------
// The device flow (RFC 8628).

/** A device client (first-party, confidential) and openid-client's device authorization for it. */
async function deviceStart(label) {
  const rp = await relyingParty(label, { redirectUris: [], grantTypes: [DEVICE_GRANT, 'refresh_token'] });
  const started = await oidc.initiateDeviceAuthorization(rp.config, { scope: 'openid email' });
  return { rp, started };
}

/** The user enters the code on {iss}/device, signs in, answers `decision`, and sees the answer's page. */
async function deviceAnswer(user, userCode, decision) {
  const { page } = user;
  await page.goto(`${iss}/device`);
  await page.fill('input[name=user_code]', userCode);
  await page.getByRole('button', { name: 'Continue' }).click();
  await signIn(user);
  await page.locator(`button[name=decision][value=${decision}]`).click();
  const heading = decision === 'allow' ? 'Device connected' : 'Access denied';
  await page.getByRole('heading', { name: heading }).waitFor();
}

test('device authorization: user_code, verification URIs, expires_in 600, interval 5; polling at once is authorization_pending', async () => {
  const { rp, started } = await deviceStart('device-shape');
  assert.match(started.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(started.verification_uri, `${iss}/device`);
  const complete = new URL(started.verification_uri_complete);
  assert.equal(`${complete.origin}${complete.pathname}`, `${iss}/device`);
  assert.equal(complete.searchParams.get('user_code'), started.user_code);
  assert.equal(started.expires_in, 600);
  assert.equal(started.interval, 5);
  assertOAuthError(await post(rp, { grant_type: DEVICE_GRANT, device_code: started.device_code }), 'authorization_pending');
});

test('openid-client device flow: Chromium enters the code on {iss}/device, signs in, allows; polling gets tokens that verify', async () => {
  const { rp, started } = await deviceStart('device');
  const polling = oidc.pollDeviceAuthorizationGrant(rp.config, started);
  polling.catch(() => {}); // awaited below
  const user = await newUser('device');
  await deviceAnswer(user, started.user_code, 'allow');
  assert.match(await user.page.textContent('main'), /You can return to your device/);
  const tokens = await polling;
  const at = await verifyAccessToken(tokens.access_token);
  assert.equal(at.sub, user.id);
  assert.equal(at.client_id, rp.clientId);
  assert.equal((await verifyIdToken(tokens.id_token, rp.clientId)).sub, user.id);
  assert.ok(tokens.refresh_token, 'a refresh token (the client has the grant)');
});

test('device flow: "Deny" on the confirm page → polling gets access_denied', async () => {
  const { rp, started } = await deviceStart('device-deny');
  const polling = oidc.pollDeviceAuthorizationGrant(rp.config, started);
  polling.catch(() => {});
  await deviceAnswer(await newUser('device-deny'), started.user_code, 'deny');
  await rejectsWith(polling, 'access_denied');
});

test('device flow: a wrong user code is refused on the device page (400, the form again)', async () => {
  const res = await fetch(`${iss}/device?user_code=BBBB-CCCC`);
  assert.equal(res.status, 400);
  const html = await res.text();
  assert.match(html, /name="user_code"/);
  assert.doesNotMatch(html, /name="decision"/);
});
