// The real `protekt` binary, one server per test file, and Debian's Chromium driven by
// playwright-core (never a downloaded browser). The binary is $PROTEKT_BIN, else
// ../../target/debug/protekt; the tests never build it. Emails land in the server's dev outbox,
// which the tests read.
//
// The database is SQLite in the server's data dir, or with PROTEKT_TEST_DATABASE=postgres a fresh
// PostgreSQL database per server (created and dropped with `psql`) on the server at
// TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres (as the Rust tests).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const PASSWORD = 'correct horse battery staple 42';

/** The binary, waiting up to 60 s while it is missing: cargo may be relinking it right now. */
async function binary() {
  const bin = process.env.PROTEKT_BIN ?? path.resolve(here, '..', '..', 'target', 'debug', 'protekt');
  for (let waited = 0; !existsSync(bin); waited += 500) {
    if (waited >= 60_000) throw new Error(`no protekt binary at ${bin}: run cargo build, or set PROTEKT_BIN`);
    await sleep(500);
  }
  return bin;
}

/** The environment of the server: ours, minus what would point it at another database or mailer. */
function serverEnv() {
  const env = { ...process.env, PROTEKT_LOG: 'warn' };
  for (const name of Object.keys(env)) {
    if (name === 'DATABASE_URL' || (name.startsWith('PROTEKT_') && name !== 'PROTEKT_LOG')) delete env[name];
  }
  return env;
}

/** Which database the servers use: `sqlite` (default) or `postgres` (PROTEKT_TEST_DATABASE). */
export const DATABASE = (process.env.PROTEKT_TEST_DATABASE ?? 'sqlite').toLowerCase();
if (!['sqlite', 'postgres'].includes(DATABASE)) {
  throw new Error(`PROTEKT_TEST_DATABASE must be sqlite or postgres, not ${DATABASE}`);
}

/** The PostgreSQL URL `admin` with its database swapped for `name`. */
function withDatabase(admin, name) {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A fresh PostgreSQL database for one server: `{ url, drop() }`. `psql` (PostgreSQL's client),
 * not an npm driver: the suite has no database dependency of its own.
 */
async function postgresDatabase() {
  const admin = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `protekt_browser_${process.pid}_${randomBytes(6).toString('hex')}`;
  const psql = (sql) => run('psql', [admin, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  try {
    await psql(`create database "${name}"`);
  } catch (err) {
    throw new Error(`PROTEKT_TEST_DATABASE=postgres needs PostgreSQL at ${admin} and psql: ${err.stderr ?? err.message}`);
  }
  return {
    url: withDatabase(admin, name),
    // WITH (FORCE): the server's pool may not have let go of every connection yet.
    drop: () => psql(`drop database if exists "${name}" with (force)`),
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `protekt serve` on `port` until /healthz answers; `{ child, output, exited }`, or a throw. */
async function serve(bin, dbArgs, port) {
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, ...dbArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv(),
  });
  const state = { child, output: '', exited: null };
  child.stdout.on('data', (c) => (state.output += c));
  child.stderr.on('data', (c) => (state.output += c));
  state.exit = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve((state.exited ??= { code, signal })));
    child.on('error', (err) => resolve((state.exited ??= { error: err.message })));
  });
  for (let i = 0; state.exited === null; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return state;
    } catch {
      // not listening yet
    }
    if (i > 600) {
      child.kill('SIGKILL');
      throw new Error(`protekt serve did not answer /healthz within 30 s:\n${state.output}`);
    }
    await sleep(50);
  }
  return state; // exited before answering: most likely the port was taken meanwhile
}

/**
 * `protekt serve` on a fresh data dir (and a fresh database, see DATABASE) with one project whose
 * settings are `settings`.
 * Returns `{ baseUrl, loginId, projectId, apiKey, managementToken, database, api(route, body, bearer),
 * manage(method, route, body), email(to, kind), link(...), logs(), stop() }`.
 */
export async function startServer(settings = {}) {
  const bin = await binary();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'protekt-browser-'));
  let database = null;
  let server;
  const cleanUp = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  };
  try {
    if (DATABASE === 'postgres') database = await postgresDatabase();
    const dbArgs = ['--data-dir', dataDir, ...(database ? ['--database-url', database.url] : [])];
    const cli = async (...args) => (await run(bin, [...args, ...dbArgs], { env: serverEnv() })).stdout;
    const project = JSON.parse((await cli('project', 'create', '--name', 'Browser Test', '--json')).trim().split('\n').pop());
    const token = (await cli('token', 'create', '--name', 'browser-tests')).match(/mt_\S+/)?.[0];
    assert.ok(token, 'protekt token create printed a management token');
    let port;
    for (let attempt = 0; attempt < 3; attempt++) {
      port = await freePort();
      server = await serve(await binary(), dbArgs, port);
      if (server.exited === null) break; // else the port was taken meanwhile: another one
    }
    if (server.exited !== null) throw new Error(`protekt serve exited ${JSON.stringify(server.exited)}:\n${server.output}`);
    const baseUrl = `http://127.0.0.1:${port}`;
    const patched = await fetch(`${baseUrl}/v1/projects/${project.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ settings }),
    });
    if (!patched.ok) throw new Error(`settings refused: ${await patched.text()}`);

    const api = async (route, body, bearer) => {
      const headers = { 'x-api-key': project.apiKey, 'content-type': 'application/json' };
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      const res = await fetch(`${baseUrl}${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const manage = async (method, route, body) => {
      const headers = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${baseUrl}${route}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed };
    };
    const email = async (to, kind) => {
      const dir = path.join(dataDir, 'outbox');
      for (let i = 0; i < 200; i++) {
        // The server writes each file under a temporary name and renames it: a .json is whole.
        const found = existsSync(dir)
          ? readdirSync(dir)
              .filter((n) => n.endsWith('.json'))
              .sort()
              .map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')))
              .filter((m) => m.to === to && m.kind === kind)
          : [];
        if (found.length) return found.at(-1);
        await sleep(50);
      }
      throw new Error(`no ${kind} email to ${to} in ${dir}`);
    };
    return {
      baseUrl,
      loginId: project.loginId,
      /** The project's id (what the management API's routes name). */
      projectId: project.id,
      /** The project's API key (what the app's backend holds). */
      apiKey: project.apiKey,
      /** The operator's management token (`mt_…`), the Bearer of the management API. */
      managementToken: token,
      /** `sqlite` or `postgres`. */
      database: DATABASE,
      /**
       * A JSON call to /v1 with the project's API key (POST when there is a body), and the user's
       * access token as a Bearer when given: `{ status, body }`.
       */
      api,
      /**
       * A call to the management API with the management token: `method` and `route` (from
       * `/v1/…`), a JSON `body` if given: `{ status, body }` (the body parsed as JSON when it is).
       */
      manage,
      /** Waits for the newest email of `kind` to `to` in the dev outbox. */
      email,
      /** Signs `address` up and asks for an emailed link of `kind`, with `redirectUrl` if given. */
      async link(address, kind, redirectUrl) {
        assert.equal((await api('/v1/auth/signup', { email: address, password: PASSWORD })).status, 201);
        const route = kind === 'verify_email' ? '/v1/auth/verify-email/send' : '/v1/auth/password-reset';
        const res = await api(route, redirectUrl ? { email: address, redirectUrl } : { email: address });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return (await email(address, kind)).link;
      },
      /** The user with this email, as GET /v1/users shows it. */
      async user(address) {
        const { body } = await api(`/v1/users?search=${encodeURIComponent(address)}`);
        return body.users[0];
      },
      logs: () => server.output,
      async stop() {
        server.child.kill('SIGTERM');
        await server.exit;
        await cleanUp();
      },
    };
  } catch (err) {
    if (server?.exited === null) {
      server.child.kill('SIGTERM');
      await server.exit;
    }
    await cleanUp();
    throw err;
  }
}

/**
 * A stand-in for the customer's app on loopback, where hosted pages send the browser back to:
 * it records the requests it gets (`{ method, url, referer }`) and answers a small page, or a
 * 302 to where `redirect(path, location)` said (how the app sends the browser to sign in).
 */
export async function startApp() {
  const hits = [];
  const redirects = new Map();
  const server = http.createServer((req, res) => {
    hits.push({ method: req.method, url: req.url, referer: req.headers.referer });
    const location = redirects.get(req.url);
    if (location) {
      res.writeHead(302, { location });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>App</title><h1>Welcome back to the app</h1>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: (p) => `${origin}${p}`,
    hits,
    /** From now on GET `path` answers a 302 to `location`. */
    redirect: (path, location) => redirects.set(path, location),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Debian's Chromium, headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page in a new browser context (`contextOptions` are Playwright's) that records every
 * Content-Security-Policy violation: Chromium reports them on the console, and a
 * `securitypolicyviolation` listener logs them there too.
 */
export async function watchedPage(browser, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const violations = [];
  const watch = (page) =>
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
  context.on('page', watch);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const page = await context.newPage();
  return { context, page, violations, close: () => context.close() };
}

/**
 * Waits (10 s) for `page` to be at `url`, and checks that the app really got that request.
 * On failure, says where the browser is and which CSP violations it saw.
 */
export async function assertArrived(page, app, url, violations) {
  try {
    await page.waitForURL(url, { timeout: 10_000 });
  } catch {
    assert.fail(
      `the browser never reached ${url}; it is at ${page.url()}. CSP violations: ` +
        (violations.length ? violations.join(' | ') : 'none'),
    );
  }
  assert.equal(page.url(), url);
  const path = new URL(url).pathname;
  assert.ok(app.hits.some((h) => h.method === 'GET' && h.url === path), `the app got GET ${path}`);
}

/**
 * The one-time token (or flow id) of a link has left the address bar: the page's script replaces
 * the URL, keeping only the language (`?lang=`).
 */
export function assertTokenGone(page) {
  const left = [...new URL(page.url()).searchParams.keys()].filter((k) => k !== 'lang');
  assert.deepEqual(left, [], `the token is still in ${page.url()}`);
}

/**
 * The headers every hosted page carries (SECURITY U4, F5): a strict CSP whose script nonce is
 * the one of the page's script, no referrer, no caching, no framing. Returns the nonce.
 */
export function assertPageHeaders(headers, html) {
  const csp = headers.get('content-security-policy') ?? '';
  for (const directive of ["frame-ancestors 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(directive), `${directive} in ${csp}`);
  }
  assert.ok(csp.includes("object-src 'none'") || csp.includes("default-src 'none'"), `no plugins in ${csp}`);
  const nonce = csp.match(/script-src 'nonce-([A-Za-z0-9+/=_-]+)'/)?.[1];
  assert.ok(nonce, `a nonce-based script-src in ${csp}`);
  assert.ok(html.includes(`<script nonce="${nonce}">`), 'the page script carries the CSP nonce');
  assert.equal(headers.get('referrer-policy'), 'no-referrer');
  assert.equal(headers.get('cache-control'), 'no-store');
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
  assert.equal(headers.get('x-frame-options'), 'DENY');
  return nonce;
}

/** The origins the page's CSP lets its forms submit to (and be redirected to). */
export function formAction(headers) {
  const csp = headers.get('content-security-policy') ?? '';
  return (csp.match(/form-action ([^;]*)/)?.[1] ?? '').trim().split(/\s+/);
}
