// Starts a real Protekt server for the tests: a free port, a fresh data dir, one project made
// with the CLI. The binary is $PROTEKT_BIN, else ../../target/release/protekt, else
// ../../target/debug/protekt (relative to sdk/node); the tests never build it.

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
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
 * The binary, waiting up to 10 s while none is there: the binary may be being rebuilt while the
 * tests run. Throws findBinary()'s explanation if it never appears.
 */
async function waitForBinary() {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return findBinary();
    } catch (err) {
      if (process.env.PROTEKT_BIN || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

/** Creates a project with the CLI; returns `{ id, loginId, name, apiKey }`. */
async function createProject(bin, dataDir) {
  const { stdout } = await execFileAsync(
    bin,
    ['project', 'create', '--name', 'sdk-test', '--json', '--data-dir', dataDir],
    { timeout: 60_000 },
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

/**
 * Runs `protekt serve` on `port` until GET /healthz answers. Resolves to `{ stop, logs }`, or to
 * `{ exited }` when the server stopped before answering (e.g. the port was taken meanwhile).
 */
async function serve(bin, dataDir, port) {
  let output = '';
  let exited = null;
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PROTEKT_LOG: 'warn' },
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
 * SIGTERM and removes the data dir.
 *
 * @returns {Promise<{ baseUrl: string, loginId: string, apiKey: string, projectId: string,
 *   dataDir: string, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startServer() {
  const bin = await waitForBinary(); // fails early and clearly when there is no binary
  const dataDir = mkdtempSync(path.join(tmpdir(), 'protekt-sdk-test-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  try {
    // The project first: `serve` then finds it and creates no dev project of its own.
    const project = await createProject(bin, dataDir);
    let failure = '';
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
