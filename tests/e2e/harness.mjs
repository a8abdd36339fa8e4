// End-to-end test harness: a real demo origin process and a real worker under
// `wrangler dev` (workerd + miniflare, local KV), on free ports, per stack.
//
//   import { startStack, CookieJar, launchBrowser } from './harness.mjs';
//   const stack = await startStack({ vars: { SESSION_IDLE_TTL: '60' } });
//   try { const res = await fetch(stack.url + '/'); ... } finally { await stack.stop(); }
//
// Prerequisites (make test does them): `scripts/build-worker.sh` (build/),
// `cargo build --release --bin demo-origin --bin edge-session`, npm ci.
// The stack never rebuilds the worker and never touches the repository's
// .dev.vars or .wrangler/: secrets go through a temporary --env-file and KV
// lives in a fresh temporary --persist-to directory, so every stack starts empty.
//
// Environment:
//   E2E_VERBOSE=1            stream the servers' output to stderr
//   E2E_START_TIMEOUT_MS=N   how long to wait for the servers (default 120000)
//   CARGO_TARGET_DIR         where the native binaries are (default target/)
//   CHROMIUM_PATH            the browser for launchBrowser (default /usr/bin/chromium)

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET_DIR = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');

/** Paths of the binaries and tools the stack uses. */
export const paths = {
  demoOrigin: path.join(TARGET_DIR, 'release', 'demo-origin'),
  cli: path.join(TARGET_DIR, 'release', 'edge-session'),
  wrangler: path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'),
  wranglerToml: path.join(ROOT, 'wrangler.toml'),
  workerEntry: path.join(ROOT, 'build', 'index.js'),
};

const VERBOSE = process.env.E2E_VERBOSE === '1';
const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS || 120_000);
const LOG_LIMIT = 64 * 1024;

// Environment for wrangler: no build (the worker is prebuilt), no network
// lookups that cannot work here, no telemetry.
const WRANGLER_ENV = {
  EDGE_SESSION_SKIP_BUILD: '1',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every process group started here, so a crashing test run still kills them.
const liveGroups = new Set();
process.on('exit', () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Starts `cmd` in its own process group, keeping the tail of its output. */
function startProcess(name, cmd, args, { env, cwd = ROOT } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true, // own process group: stop() kills workerd children too
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = { name, child, output: '', exited: null };
  const keep = (chunk) => {
    const text = chunk.toString();
    proc.output = (proc.output + text).slice(-LOG_LIMIT);
    if (VERBOSE) process.stderr.write(text.replace(/^/gm, `[${name}] `));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  proc.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = { code, signal };
      liveGroups.delete(child.pid);
      resolve(proc.exited);
    });
    child.on('error', (err) => {
      proc.output += `\n[spawn error] ${err.message}`;
      proc.exited = { code: null, signal: null, error: err };
      resolve(proc.exited);
    });
  });
  if (child.pid) liveGroups.add(child.pid);
  return proc;
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. */
async function stopProcess(proc, graceMs = 5000) {
  if (!proc || proc.exited || !proc.child.pid) return;
  const pid = proc.child.pid;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = await Promise.race([proc.exitPromise, sleep(graceMs).then(() => null)]);
  // Kill the whole group in any case: workerd may outlive wrangler.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already gone
  }
  if (!done) await Promise.race([proc.exitPromise, sleep(1000)]);
  liveGroups.delete(pid);
}

function describe(procs) {
  return procs
    .map((p) => {
      const status = p.exited ? ` (exited: ${JSON.stringify(p.exited)})` : ' (still running)';
      return `----- ${p.name}${status}, last output -----\n${p.output.trim() || '(none)'}`;
    })
    .join('\n');
}

/** Polls `url` until it gives any HTTP answer; fails early if a process exits. */
async function waitForHttp(url, procs, deadline) {
  let lastError = null;
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (p.exited) throw new Error(`${p.name} exited before ${url} answered\n${describe(procs)}`);
    }
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  throw new Error(
    `${url} did not answer within ${START_TIMEOUT_MS} ms (last error: ${lastError?.cause?.code ?? lastError?.message})\n${describe(procs)}`,
  );
}

/** Parses KEY=VALUE lines (the .dev.vars format) into an object. */
export function parseDevVars(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (/^".*"$/.test(value) || /^'.*'$/.test(value)) value = value.slice(1, -1);
    out[m[1]] = value;
  }
  return out;
}

/** Fresh secrets from `edge-session keygen --dev-vars` (the release binary). */
export async function generateSecrets() {
  if (!existsSync(paths.cli)) {
    throw new Error(`${paths.cli} is missing: run \`cargo build --release --bin edge-session\``);
  }
  const { stdout } = await execFileP(paths.cli, ['keygen', '--dev-vars'], { cwd: ROOT });
  const secrets = parseDevVars(stdout);
  for (const name of ['SESSION_KEYS', 'ORIGIN_SECRET']) {
    if (!secrets[name]) throw new Error(`\`edge-session keygen --dev-vars\` printed no ${name}=... line`);
  }
  return secrets;
}

function toEnvFile(obj) {
  return Object.entries(obj)
    .map(([k, v]) => {
      if (/[\n\r]/.test(String(v))) throw new Error(`secret ${k} contains a line break`);
      return `${k}=${JSON.stringify(String(v))}\n`;
    })
    .join('');
}

/**
 * Starts a demo origin and a worker (`wrangler dev`) wired to it.
 *
 * @param {object} [options]
 * @param {Record<string,string>} [options.vars] extra/overriding worker vars (`--var`)
 * @param {Record<string,string>} [options.secrets] secrets; default: fresh from keygen
 * @param {Record<string,string>} [options.originEnv] extra environment for the demo origin
 *   (ORIGIN_PORT, ORIGIN_SECRET, WWW_DIR are set; ORIGIN_AUDIENCE and EDGE_ISSUER
 *   follow vars.ORIGIN_AUDIENCE and vars.ISSUER when those are given)
 * @param {boolean} [options.origin=true] start the demo origin at all
 * @returns {Promise<{url: string, port: number, originUrl: string, originPort: number,
 *   secrets: Record<string,string>, persistTo: string, tmpDir: string,
 *   wrangler: (args: string[]) => Promise<{stdout: string, stderr: string}>,
 *   output: () => string, stop: () => Promise<void>}>}
 */
export async function startStack({ vars = {}, secrets, originEnv = {}, origin = true } = {}) {
  for (const [what, p] of [
    ['the worker build (scripts/build-worker.sh)', paths.workerEntry],
    ['wrangler (npm ci)', paths.wrangler],
    ...(origin ? [['the demo origin (cargo build --release --bin demo-origin)', paths.demoOrigin]] : []),
  ]) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run ${what} first (make test does)`);
  }
  const stackSecrets = secrets ?? (await generateSecrets());
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'edge-session-e2e-'));
  const persistTo = path.join(tmpDir, 'state');
  const envFile = path.join(tmpDir, 'secrets.env');
  await writeFile(envFile, toEnvFile(stackSecrets), { mode: 0o600 });

  const [port, originPort, inspectorPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const url = `http://127.0.0.1:${port}`;
  const originUrl = `http://127.0.0.1:${originPort}`;
  const procs = [];

  const stop = async () => {
    await Promise.all(procs.map((p) => stopProcess(p)));
    await rm(tmpDir, { recursive: true, force: true });
  };

  try {
    if (origin) {
      procs.push(
        startProcess('demo-origin', paths.demoOrigin, [], {
          env: {
            ORIGIN_PORT: String(originPort),
            ORIGIN_SECRET: stackSecrets.ORIGIN_SECRET ?? '',
            WWW_DIR: path.join(ROOT, 'www'),
            // The origin checks the worker's assertion: keep its audience and
            // issuer in step with the worker's vars when a test changes them.
            ...(vars.ORIGIN_AUDIENCE !== undefined ? { ORIGIN_AUDIENCE: vars.ORIGIN_AUDIENCE } : {}),
            ...(vars.ISSUER !== undefined ? { EDGE_ISSUER: vars.ISSUER } : {}),
            ...originEnv,
          },
        }),
      );
    }
    const allVars = { ORIGIN_URL: originUrl, ...vars };
    const args = [
      paths.wrangler,
      'dev',
      '--config', paths.wranglerToml,
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--inspector-port', String(inspectorPort),
      '--persist-to', persistTo,
      '--env-file', envFile,
      '--show-interactive-dev-session=false',
      '--log-level', process.env.E2E_WRANGLER_LOG_LEVEL || 'log',
      ...Object.entries(allVars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ];
    procs.push(startProcess('wrangler', process.execPath, args, { env: WRANGLER_ENV }));

    const deadline = Date.now() + START_TIMEOUT_MS;
    if (origin) await waitForHttp(`${originUrl}/`, procs, deadline);
    await waitForHttp(`${url}/`, procs, deadline);
  } catch (err) {
    await stop();
    throw err;
  }

  /**
   * Runs the pinned wrangler against this stack's local KV (e.g. `kv key get`).
   * A failed run is run once more, as the CLI does (src/bin/edge-session/wrangler_kv.rs):
   * a local one-shot sometimes fails on its own next to `wrangler dev` (CI saw
   * `false == true` from `kv key list`). Every use here is idempotent.
   */
  const wrangler = async (args) => {
    const once = () =>
      execFileP(
        process.execPath,
        [paths.wrangler, ...args, '--config', paths.wranglerToml, '--local', '--persist-to', persistTo],
        { cwd: ROOT, env: { ...process.env, ...WRANGLER_ENV }, maxBuffer: 16 * 1024 * 1024 },
      );
    try {
      return await once();
    } catch (e) {
      console.error(`# wrangler ${args.slice(0, 3).join(' ')} failed, running it once more: ${e.stderr ?? e}`);
      return once();
    }
  };

  return {
    url,
    port,
    originUrl,
    originPort,
    secrets: stackSecrets,
    persistTo,
    tmpDir,
    wrangler,
    output: () => describe(procs),
    stop,
  };
}

/**
 * A tiny cookie jar for `fetch` against one site: sends the stored cookies,
 * stores `Set-Cookie` answers (each header separately, via getSetCookie()),
 * and deletes cookies set with `Max-Age<=0` or an `Expires` in the past.
 * Domain and Path are recorded (see `attributes`) but not used for matching,
 * and Secure cookies are sent over http: this is a test tool, not a browser.
 */
export class CookieJar {
  constructor() {
    /** @type {Map<string, {value: string, attributes: Record<string,string|true>}>} */
    this.cookies = new Map();
    /** The raw Set-Cookie headers of the last response seen. */
    this.lastSetCookie = [];
  }

  /** Value of cookie `name`, or undefined. */
  get(name) {
    return this.cookies.get(name)?.value;
  }

  /** Attributes (lower-cased names) of cookie `name` as last set, or undefined. */
  attributes(name) {
    return this.cookies.get(name)?.attributes;
  }

  /** Sets a cookie by hand. */
  set(name, value) {
    this.cookies.set(name, { value, attributes: {} });
  }

  /** Removes a cookie by hand. */
  delete(name) {
    this.cookies.delete(name);
  }

  /** The `Cookie` request header for the stored cookies ('' when empty). */
  header() {
    return [...this.cookies].map(([k, { value }]) => `${k}=${value}`).join('; ');
  }

  /** Stores the Set-Cookie headers of `response`. */
  store(response) {
    const lines = response.headers.getSetCookie();
    this.lastSetCookie = lines;
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const attributes = {};
      for (const a of attrs) {
        const i = a.indexOf('=');
        const key = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
        if (key) attributes[key] = i < 0 ? true : a.slice(i + 1).trim();
      }
      const maxAge = attributes['max-age'];
      const expires = attributes.expires;
      const expired =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (maxAge === undefined && typeof expires === 'string' && Date.parse(expires) <= Date.now());
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, attributes });
    }
  }

  /** `fetch` with this jar: manual redirects, Cookie sent, Set-Cookie stored. */
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    const cookie = this.header();
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    const res = await fetch(url, { redirect: 'manual', ...init, headers });
    this.store(res);
    return res;
  }
}

/** Chromium flags for headless runs on this machine (no sandbox: we are root). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launches headless Chromium (Debian's /usr/bin/chromium) through
 * playwright-core. Each launch gets a fresh temporary profile. Close it with
 * `await browser.close()`.
 */
export async function launchBrowser(options = {}) {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: run \`scripts/install.sh --browser\``);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, ...options });
}
