// Starts a real Protekt server for the tests: a free port, a fresh data dir, one project made
// with the CLI. The binary is $PROTEKT_BIN, else the newer of ../../target/release/protekt and
// ../../target/debug/protekt (relative to sdk/node); the tests never build it. Emails, SMS and
// WhatsApp messages go to the data dir's dev outbox, which the tests read (waitForEmail,
// waitForSms). TOTP codes are computed here too (totpCode), with node:crypto.

import { spawn, execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The server binary to test against, or a thrown error saying how to provide one. */
export function findBinary() {
  const fromEnv = process.env.PROTEKT_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`PROTEKT_BIN is set to ${fromEnv}, but no file is there`);
    }
    return fromEnv;
  }
  const candidates = ['release', 'debug'].map((profile) =>
    path.resolve(sdkDir, '..', '..', 'target', profile, 'protekt'),
  );
  // The most recently built one: a stale release build must not hide a fresh debug build.
  const built = candidates
    .filter((candidate) => existsSync(candidate))
    .map((candidate) => ({ candidate, mtime: statSync(candidate).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  if (built.length > 0) return built[0].candidate;
  throw new Error(
    'No Protekt server binary found for the SDK tests. Looked for:\n' +
      candidates.map((c) => `  ${c}`).join('\n') +
      '\nBuild it first (cargo build, from the repository root) or set PROTEKT_BIN to the path ' +
      'of a protekt binary.',
  );
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The environment of the server processes: this one's, without the variables that would point
 * the server elsewhere (another database, a real SMTP server instead of the dev outbox…).
 */
function serverEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    if (
      name === 'DATABASE_URL' ||
      (name.startsWith('PROTEKT_') && name !== 'PROTEKT_LOG' && name !== 'PROTEKT_BIN')
    ) {
      delete env[name];
    }
  }
  return env;
}

/**
 * The binary, waiting up to 10 s while none is there: the binary may be being rebuilt while the
 * tests run. Throws findBinary()'s explanation if it never appears.
 */
async function waitForBinary() {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const found = findBinary();
      // A profile whose binary is missing although its deps/ holds a build of it is most likely
      // being relinked right now: wait for it rather than fall back on the other (older) one.
      if (!process.env.PROTEKT_BIN && Date.now() < deadline && binaryBeingRebuilt()) {
        await sleep(500);
        continue;
      }
      return found;
    } catch (err) {
      if (process.env.PROTEKT_BIN || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

function binaryBeingRebuilt() {
  return ['release', 'debug'].some((profile) => {
    const dir = path.resolve(sdkDir, '..', '..', 'target', profile);
    if (existsSync(path.join(dir, 'protekt'))) return false;
    try {
      return readdirSync(path.join(dir, 'deps')).some((n) => /^protekt-[0-9a-f]+$/.test(n));
    } catch {
      return false;
    }
  });
}

/** Creates a project with the CLI; returns `{ id, loginId, name, apiKey }`. */
async function createProject(bin, dataDir, name = 'sdk-test') {
  const { stdout } = await execFileAsync(
    bin,
    ['project', 'create', '--name', name, '--json', '--data-dir', dataDir],
    { timeout: 60_000, env: serverEnv() },
  );
  const line = stdout.trim().split('\n').pop() ?? '';
  let project;
  try {
    project = JSON.parse(line);
  } catch {
    throw new Error(`protekt project create --json printed no JSON: ${JSON.stringify(stdout)}`);
  }
  if (!project.loginId || !project.apiKey) {
    throw new Error(`protekt project create --json printed no loginId/apiKey: ${line}`);
  }
  return project;
}

/** A management token (`mt_…`) for the projects API, made with the CLI. */
async function createManagementToken(bin, dataDir) {
  const { stdout } = await execFileAsync(
    bin,
    ['token', 'create', '--name', 'sdk-test', '--data-dir', dataDir],
    { timeout: 60_000, env: serverEnv() },
  );
  const token = stdout.match(/mt_[A-Za-z0-9_-]+/)?.[0];
  if (!token) throw new Error(`protekt token create printed no token: ${JSON.stringify(stdout)}`);
  return token;
}

/**
 * Runs `protekt serve` on `port` until GET /healthz answers. Resolves to `{ stop, logs }`, or to
 * `{ exited }` when the server stopped before answering (e.g. the port was taken meanwhile).
 */
async function serve(bin, dataDir, port) {
  let output = '';
  let exited = null;
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv({ PROTEKT_LOG: 'warn' }),
  });
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.on('error', (err) => {
      exited ??= { error: err.message };
      resolve();
    });
  });
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));

  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + 30_000;
  while (exited === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
        signal: AbortSignal.timeout(1_000),
      });
      if (res.ok) return { stop, logs: () => output };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`protekt serve did not answer /healthz within 30 s:\n${output}`);
    }
    await sleep(50);
  }
  return { exited, logs: () => output };
}

/**
 * Starts `protekt serve` on a free port with a new temporary data dir, after creating a project
 * in it with `protekt project create --json`. Call `stop()` when done: it ends the server with
 * SIGTERM and removes the data dir. Every server has a data dir of its own; `dataDir` is
 * returned so that tests can read the emails in its dev outbox (`<dataDir>/outbox/*.json`, see
 * waitForEmail).
 *
 * @returns {Promise<{ baseUrl: string, loginId: string, apiKey: string, projectId: string,
 *   dataDir: string, createProject: (name?: string) => Promise<{ id: string, loginId: string,
 *   name: string, apiKey: string }>, updateSettings: (projectId: string, settings: object) =>
 *   Promise<object>, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startServer() {
  const bin = await waitForBinary(); // fails early and clearly when there is no binary
  const dataDir = mkdtempSync(path.join(tmpdir(), 'protekt-sdk-test-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  try {
    // The project first: `serve` then finds it and creates no dev project of its own.
    const project = await createProject(bin, dataDir);
    let failure = '';
    let managementToken;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const port = await freePort();
      const running = await serve(bin, dataDir, port);
      if (running.exited) {
        failure = `protekt serve exited (${JSON.stringify(running.exited)}) before answering:\n${running.logs()}`;
        continue; // most likely the port was taken between freePort() and serve: try another
      }
      return {
        baseUrl: `http://127.0.0.1:${port}`,
        loginId: project.loginId,
        apiKey: project.apiKey,
        projectId: project.id,
        dataDir,
        /** Another project on the same server: `{ id, loginId, name, apiKey }`. */
        createProject: (name = 'sdk-test-2') => createProject(bin, dataDir, name),
        /**
         * Changes a project's settings (merged at top level) through the projects API, with a
         * management token made by the CLI. Resolves to the project's new settings.
         */
        updateSettings: async (projectId, settings) => {
          managementToken ??= await createManagementToken(bin, dataDir);
          const res = await fetch(`http://127.0.0.1:${port}/v1/projects/${encodeURIComponent(projectId)}`, {
            method: 'PATCH',
            headers: {
              authorization: `Bearer ${managementToken}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ settings }),
          });
          const body = await res.json();
          if (res.status !== 200) {
            throw new Error(`PATCH /v1/projects/${projectId} answered ${res.status}: ${JSON.stringify(body)}`);
          }
          return body.settings;
        },
        logs: running.logs,
        stop: async () => {
          await running.stop();
          removeDataDir();
        },
      };
    }
    throw new Error(failure);
  } catch (err) {
    removeDataDir();
    throw err;
  }
}

/** A unique email address for one test. */
let counter = 0;
export function uniqueEmail(label = 'user') {
  counter += 1;
  return `${label}-${process.pid}-${Date.now()}-${counter}@example.com`;
}

/** A password the server's policy accepts. */
export const GOOD_PASSWORD = 'correct horse battery staple 42';

/** The emails in a data dir's dev outbox, oldest first (one JSON file per message). */
export function readOutbox(dataDir) {
  const dir = path.join(dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  const messages = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    try {
      messages.push({ file: name, ...JSON.parse(readFileSync(path.join(dir, name), 'utf8')) });
    } catch {
      // being written right now: it is read on the next look
    }
  }
  return messages;
}

/**
 * Waits (polling, up to `timeout` ms) for an outbox email matching `{ to, kind }` (the address is
 * compared case-insensitively) that is not in `seen` (ids); returns it. The server sends emails
 * in the background, so they appear a little after the API call that asked for them.
 */
export async function waitForEmail(dataDir, { to, kind }, { timeout = 5_000, seen = [] } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = readOutbox(dataDir).find(
      (m) =>
        (to === undefined || String(m.to).toLowerCase() === to.toLowerCase()) &&
        (kind === undefined || m.kind === kind) &&
        !seen.includes(m.id),
    );
    if (found) return found;
    if (Date.now() > deadline) {
      const all = readOutbox(dataDir).map((m) => `${m.kind} to ${m.to}`);
      throw new Error(
        `no ${kind ?? ''} email to ${to ?? 'anyone'} in ${dataDir}/outbox within ${timeout} ms ` +
          `(it holds: ${all.length ? all.join(', ') : 'nothing'})`,
      );
    }
    await sleep(50);
  }
}

/** Asserts that no outbox email matching `{ to, kind }` appears within `wait` ms. */
export async function expectNoEmail(dataDir, { to, kind }, wait = 1_000) {
  const deadline = Date.now() + wait;
  while (Date.now() < deadline) {
    const found = readOutbox(dataDir).find(
      (m) => String(m.to).toLowerCase() === to.toLowerCase() && (kind === undefined || m.kind === kind),
    );
    if (found) throw new Error(`unexpected ${found.kind} email to ${found.to}`);
    await sleep(50);
  }
}

/**
 * Waits for an SMS to `to` (an E.164 number) in the dev outbox that is not in `seen`; returns
 * it: `{ id, kind: 'sms', purpose, to, text, code, createdAt }`. `kind: 'whatsapp'` waits for a
 * WhatsApp message instead (same fields, `kind: 'whatsapp'`).
 */
export function waitForSms(dataDir, { to, kind = 'sms' }, options = {}) {
  return waitForEmail(dataDir, { to, kind }, options);
}

/** A unique E.164 phone number for one test (the SMS quota counts per number). */
let phoneCounter = 0;
export function uniquePhone() {
  phoneCounter += 1;
  return `+1555${String(process.pid % 10_000).padStart(4, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/** RFC 4648 base32 (upper or lower case, padding optional) to bytes. */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP time step (RFC 6238: 30 seconds) of `time` (milliseconds since the epoch). */
export const totpStep = (time = Date.now()) => Math.floor(time / 30_000);

/**
 * The TOTP code (RFC 6238 with HMAC-SHA1, 30-second steps, `digits` digits) of `secret` for time
 * step `step`. `secret` is base32, or an `otpauth://` URI carrying it.
 */
export function totpCode(secret, step = totpStep(), digits = 6) {
  const key = secret.startsWith('otpauth://') ? base32Decode(totpSecret(secret)) : base32Decode(secret);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hmac = createHmac('sha1', key).update(counter).digest();
  const offset = hmac[hmac.length - 1] & 0x0f;
  const binary = hmac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The base32 secret of an `otpauth://totp/…?secret=…` URI. */
export function totpSecret(uri) {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error(`no secret in ${uri}`);
  return secret;
}
