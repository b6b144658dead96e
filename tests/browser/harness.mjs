// The real `protekt` binary, one server per test file, and Debian's Chromium driven by
// playwright-core (never a downloaded browser). The binary is $PROTEKT_BIN, else
// ../../target/debug/protekt. Emails land in the server's dev outbox, which the tests read.

import { execFile, spawn } from 'node:child_process';
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

function binary() {
  const bin = process.env.PROTEKT_BIN ?? path.resolve(here, '..', '..', 'target', 'debug', 'protekt');
  if (!existsSync(bin)) throw new Error(`no protekt binary at ${bin}: run cargo build, or set PROTEKT_BIN`);
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

/**
 * `protekt serve` on a fresh data dir with one project whose settings are `settings`.
 * Returns `{ baseUrl, loginId, apiKey, api(path, body), outbox(to, kind), stop() }`.
 */
export async function startServer(settings = {}) {
  const bin = binary();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'protekt-browser-'));
  const cli = async (...args) => (await run(bin, [...args, '--data-dir', dataDir], { env: serverEnv() })).stdout;
  const project = JSON.parse((await cli('project', 'create', '--name', 'Browser Test', '--json')).trim().split('\n').pop());
  const token = (await cli('token', 'create', '--name', 'browser-tests')).trim();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv(),
  });
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`protekt serve did not start:\n${output}`);
    await sleep(50);
  }
  const patched = await fetch(`${baseUrl}/v1/projects/${project.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ settings }),
  });
  if (!patched.ok) throw new Error(`settings refused: ${await patched.text()}`);

  return {
    baseUrl,
    loginId: project.loginId,
    /** A JSON call to /v1 with the project's API key: `{ status, body }`. */
    async api(route, body) {
      const res = await fetch(`${baseUrl}${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'x-api-key': project.apiKey, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    /** Waits for the newest email of `kind` to `to` in the dev outbox. */
    async email(to, kind) {
      const dir = path.join(dataDir, 'outbox');
      for (let i = 0; i < 200; i++) {
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
      throw new Error(`no ${kind} email to ${to}`);
    },
    logs: () => output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A stand-in for the customer's app on loopback, where hosted pages send the browser back to:
 * it records the paths it is asked for and answers a small page.
 */
export async function startApp() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>App</title><h1>Welcome back to the app</h1>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (p) => `http://127.0.0.1:${server.address().port}${p}`,
    hits,
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
 * A new page that records every Content-Security-Policy violation (the console reports them;
 * the `securitypolicyviolation` event is logged there too, so both kinds show).
 */
export async function watchedPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { page, violations, close: () => context.close() };
}
