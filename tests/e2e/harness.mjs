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
//   E2E_WRANGLER_TIMEOUT_MS=N  deadline of one `stack.wrangler` one-shot (default 60000)
//   CARGO_TARGET_DIR         where the native binaries are (default target/)
//   CHROMIUM_PATH            the browser for launchBrowser (default /usr/bin/chromium)

import { spawn, execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
// What a process's output keeps (its end): enough for a test's request log lines
// (tests/e2e/logs.test.mjs) and the free-form lines it greps.
const LOG_LIMIT = 512 * 1024;

// Environment for wrangler: no build (the worker is prebuilt), no network
// lookups that cannot work here, no telemetry.
const WRANGLER_ENV = {
  EDGE_SESSION_SKIP_BUILD: '1',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

// Kept-alive connections: workerd, serving the worker's port, closes a
// connection after 5 s idle, and node's fetch keeps an idle one for 4 s, checked
// on coarse timers. A request sent on a connection just as the server closes it
// fails with "fetch failed" (other side closed); the gaps that make that likely
// are the 2-5 s one-shots (wrangler kv, edge-session revoke/assets) between two
// requests of a test, and a busy machine late on timers. So this process's fetch
// keeps idle connections for 1 s at most: node's own dispatcher class, set where
// fetch looks it up (undici's global dispatcher symbol). Where that is not what
// it looks like, nothing changes.
async function shortenFetchKeepAlive() {
  const key = Symbol.for('undici.globalDispatcher.1');
  try {
    if (!globalThis[key]) await (await fetch('data:,')).arrayBuffer(); // loads fetch's dispatcher
    const current = globalThis[key];
    if (current?.constructor?.name !== 'Agent' || current.edgeSessionHarness) return;
    const agent = new current.constructor({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000 });
    agent.edgeSessionHarness = true;
    globalThis[key] = agent;
  } catch {
    // keep the default
  }
}
await shortenFetchKeepAlive();

// Ports for the servers. The ports are chosen here and bound seconds later by
// wrangler dev (workerd), so they must not be ports the OS hands out by itself
// meanwhile: a `listen(0)` (miniflare and workerd bind several internal servers
// that way while wrangler starts, a second stack may be starting next to this
// one) or a client connection's local port comes from the ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), and the port a `listen(0)` probe
// just freed is as likely a pick as any. So ports come from below that range,
// from a random start (another run on this machine starts elsewhere), each
// checked free with a bind and never handed out twice by this process.

/** The kernel's ephemeral port range, [low, high]. */
function ephemeralRange() {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: IANA's dynamic range, which the BSDs and macOS use
  }
  return [49152, 65535];
}

const PORT_POOL = (() => {
  const [lo, hi] = ephemeralRange();
  // The larger of the ranges below and above the ephemeral one, away from the
  // well-known ports and from 8787/8788 (`make run`).
  const below = [10000, lo - 1];
  const above = [hi + 1, 65535];
  const size = ([a, b]) => b - a + 1;
  const best = size(below) >= size(above) ? below : above;
  return size(best) >= 1000 ? best : null;
})();
const handedOut = new Set();
let nextPort = PORT_POOL ? PORT_POOL[0] + Math.floor(Math.random() * (PORT_POOL[1] - PORT_POOL[0] + 1)) : 0;

/** Whether 127.0.0.1:`port` can be bound now (bound and closed again at once). */
function canBind(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 for a server about to start: free now, outside the
 * ephemeral range (see above), and not handed out before by this process.
 */
export async function freePort() {
  if (!PORT_POOL) return ephemeralPort();
  const [lo, hi] = PORT_POOL;
  for (let tries = 0; tries < 200; tries++) {
    const port = nextPort;
    nextPort = port >= hi ? lo : port + 1;
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check: concurrent callers never share one
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 in ${lo}-${hi} after 200 tries`);
}

/** A port the OS picks (listen(0)); only where no range outside the ephemeral one is usable. */
function ephemeralPort() {
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

/**
 * The live (not zombie) processes of process group `pgid`, from /proc; null
 * where /proc cannot tell (not Linux).
 */
function groupMembers(pgid) {
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const live = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') live.push(Number(entry));
  }
  return live;
}

/** Waits (bounded) until no process of group `pgid` is alive. */
async function waitGroupGone(pgid, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = groupMembers(pgid);
    if (live === null) {
      try {
        process.kill(-pgid, 0);
      } catch {
        return true;
      }
    } else if (live.length === 0) {
      return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL after `graceMs`, then waits
 * until every process of the group is gone, so that its ports are free when
 * this resolves (workerd, not wrangler, holds the worker's port, and may
 * outlive wrangler).
 */
async function stopProcess(proc, graceMs = 5000) {
  if (!proc || !proc.child.pid) return;
  const pid = proc.child.pid;
  if (!proc.exited) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // group already gone
    }
    await Promise.race([proc.exitPromise, sleep(graceMs)]);
  }
  // Kill the whole group in any case: workerd may outlive wrangler.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already gone
  }
  if (!(await waitGroupGone(pid, 5000))) {
    console.error(`# ${proc.name}: process group ${pid} still alive 5 s after SIGKILL: ${groupMembers(pid)}`);
  }
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

const ONE_SHOT_TIMEOUT_MS = Number(process.env.E2E_WRANGLER_TIMEOUT_MS || 60_000);
const ONE_SHOT_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Runs `node <argv>` (a wrangler one-shot) in its own process group with a
 * deadline; resolves to { stdout, stderr } as execFile does, rejects with the
 * exit status and the end of stderr (also on `e.stderr`). At the deadline the
 * whole group is killed: wrangler's workerd too, which would otherwise keep the
 * pipes open.
 */
function oneShot(argv) {
  return new Promise((resolve, reject) => {
    const what = `wrangler ${argv.slice(1, 4).join(' ')}`;
    const child = spawn(process.execPath, argv, {
      cwd: ROOT,
      env: { ...process.env, ...WRANGLER_ENV },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid) liveGroups.add(child.pid);
    const out = [];
    const err = [];
    let size = 0;
    const keep = (into) => (chunk) => {
      size += chunk.length;
      if (size <= ONE_SHOT_MAX_OUTPUT) into.push(chunk);
    };
    child.stdout.on('data', keep(out));
    child.stderr.on('data', keep(err));
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      liveGroups.delete(child.pid);
    };
    const timer = setTimeout(() => {
      killGroup();
      const e = new Error(`${what} did not finish within ${ONE_SHOT_TIMEOUT_MS} ms; killed`);
      e.stderr = Buffer.concat(err).toString();
      reject(e);
    }, ONE_SHOT_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killGroup(); // a workerd left behind by a wrangler that exited
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) return resolve({ stdout, stderr });
      // wrangler colours its error box even with NO_COLOR.
      const tail = stderr.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').slice(-12).join('\n');
      const e = new Error(`${what} exited with ${code ?? signal}${size > ONE_SHOT_MAX_OUTPUT ? ' (output cut)' : ''}:\n${tail}`);
      Object.assign(e, { code, signal, stdout, stderr });
      reject(e);
    });
  });
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
 * @param {boolean} [options.testScheduled=false] `wrangler dev --test-scheduled`: GET
 *   `/__scheduled` runs the worker's cron handler
 * @returns {Promise<{url: string, port: number, originUrl: string, originPort: number, originPid?: number,
 *   secrets: Record<string,string>, persistTo: string, tmpDir: string,
 *   wrangler: (args: string[]) => Promise<{stdout: string, stderr: string}>,
 *   output: () => string, stop: () => Promise<void>}>}
 */
export async function startStack({ vars = {}, secrets, originEnv = {}, origin = true, testScheduled = false } = {}) {
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
      ...(testScheduled ? ['--test-scheduled'] : []),
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
   * `false == true` from `kv key list`). Every use here is idempotent. A run
   * also has a deadline (E2E_WRANGLER_TIMEOUT_MS, default 60 s, as the CLI's
   * --wrangler-timeout): a one-shot can hang for good next to `wrangler dev` on a
   * busy machine; then its process group is killed and it is run once more.
   */
  const wrangler = async (args) => {
    const argv = [paths.wrangler, ...args, '--config', paths.wranglerToml, '--local', '--persist-to', persistTo];
    try {
      return await oneShot(argv);
    } catch (e) {
      const why = e.message.replace(/\s*\n\s*/g, ' | ').slice(0, 600);
      console.error(`# wrangler ${args.slice(0, 3).join(' ')} failed, running it once more: ${why}`);
      return oneShot(argv);
    }
  };

  return {
    url,
    port,
    originUrl,
    originPort,
    /** The demo origin's process id (to stop or freeze it), when it was started. */
    originPid: procs.find((p) => p.name === 'demo-origin')?.child.pid,
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
