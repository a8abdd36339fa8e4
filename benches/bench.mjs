// `make bench` → scripts/bench.sh → `node benches/bench.mjs`.
//
// Every comparison is measured in the same run, alternating A B A B … over
// BENCH_ROUNDS rounds; each row shows the median and [min–max] over rounds, and
// the ratio column is the median [min–max] of the per-round ratios A/B.
// Servers run on raw workerd through Miniflare's direct sockets (no wrangler dev
// proxy), pinned to CPU 0; wrk, the demo origin and this script run on CPU 1.
// Loads are bounded in time and go to 127.0.0.1 only.
//
// Environment (all optional): BENCH_ROUNDS (5), BENCH_E2E_ROUNDS (max(BENCH_ROUNDS,
// 11): the end-to-end peer comparison), BENCH_SECONDS (2, per wrk run),
// BENCH_CONNECTIONS (10), BENCH_SECTIONS ("1,2,3,4,5"), BENCH_WRITE (1: write
// BENCHMARKS.md), BENCH_PORT_BASE (18700), BENCH_TOOLS_DIR (directory whose
// node_modules has wrangler/miniflare/esbuild; the repository root),
// BENCH_WORKER_DIR (the worker build; <root>/build), CARGO_TARGET_DIR;
// BENCH_HOLD=1 only starts the servers and keeps them up (for poking with curl);
// with it, BENCH_INSPECTOR=<port> opens workerd's V8 inspector there (for profiles).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, totalmem, release, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { base64url, EncryptJWT } from "jose";

import { alternate, median } from "./lib/stats.mjs";
import { affinity, cpuSeconds, findDescendants, pin, pinned, run, cpuCount } from "./lib/proc.mjs";
import { wrk } from "./lib/wrk.mjs";
import { Report, num } from "./lib/report.mjs";
import * as setup from "./lib/setup.mjs";

const BENCHES = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCHES, "..");
const env = process.env;
const TARGET = resolve(ROOT, env.CARGO_TARGET_DIR ?? "target");
const OUT = join(TARGET, "bench");
const TOOLS = resolve(env.BENCH_TOOLS_DIR ?? ROOT);
const WORKER_DIR = resolve(env.BENCH_WORKER_DIR ?? join(ROOT, "build"));
const ROUNDS = Number(env.BENCH_ROUNDS ?? 5);
// The end-to-end comparison with the peers carries the budgets and the widest
// per-round spread (wrk runs on a shared machine): it gets more rounds.
const E2E_ROUNDS = Number(env.BENCH_E2E_ROUNDS ?? Math.max(ROUNDS, 11));
const SECONDS = Number(env.BENCH_SECONDS ?? 2);
const CONNS = Number(env.BENCH_CONNECTIONS ?? 10);
const SECTIONS = new Set((env.BENCH_SECTIONS ?? "1,2,3,4,5").split(",").map((s) => s.trim()));
const WRITE = env.BENCH_WRITE !== "0";
const PORT = Number(env.BENCH_PORT_BASE ?? 18700);
// Workers (isolates) of the failover row: each gives EJECT_AFTER (3) failovers
// before its dead origin is ejected.
const FAILOVER_COPIES = 10;
const SERVER_CPU = 0;
const LOAD_CPU = cpuCount() >= 2 ? 1 : 0;
const BIN = join(TARGET, "release");
const CLI = join(BIN, "edge-session");
const ORIGIN = join(BIN, "demo-origin");
const NATIVE_OPS = join(BIN, "native-ops");
const OPS_WEB = join(OUT, "ops-web");
// The same ES-module glue serves node (wasm-node.mjs) and workerd.
const OPS_GLUE = join(OPS_WEB, "edge_session_bench_ops.js");
const KIB = 1024;
// The issue's "250 KB", read in decimal (the stricter reading): 250 000 bytes.
const WASM_BUDGET = 250_000;

const report = new Report();
const started = Date.now();
const log = (...a) => console.error("[bench]", ...a);
const children = [];
let mf;

function need(path, hint) {
  if (!existsSync(path)) throw new Error(`missing ${path}: ${hint}`);
}

// ---------------------------------------------------------------- micro benches

// Each returns { wall, cpu }: nanoseconds per operation, median over reps, by
// wall clock and by on-CPU time. Rows use the CPU time: the machine is shared,
// and other load inflates wall-clock time but not CPU time.
const medians = (out) => ({ wall: median(out.ns_per_op), cpu: median(out.cpu_ns_per_op) });

async function nativeOp(op, bytes, ring, minIters = 2000, reps = 3) {
  const [cmd, args] = pinned(SERVER_CPU, NATIVE_OPS, [op, bytes, ring, minIters, reps].map(String));
  return medians(JSON.parse(await run(cmd, args)));
}

async function nodeWasmOp(op, bytes, ring, minIters = 2000, reps = 3) {
  const script = join(BENCHES, "wasm-node.mjs");
  const argv = [script, OPS_GLUE, op, bytes, ring, minIters, reps].map(String);
  const [cmd, args] = pinned(SERVER_CPU, process.execPath, argv);
  return medians(JSON.parse(await run(cmd, args)));
}

const calibrated = new Map();

async function opsRequest(impl, op, bytes, ring, iters) {
  const q = `impl=${impl}&op=${op}&bytes=${bytes}&ring=${ring}&iters=${iters}`;
  const url = `http://127.0.0.1:${fx.workers.ops}/run?${q}`;
  // One retry on a connection error: a kept-alive connection that workerd closed
  // just as it was reused fails before the request is sent (seen once in
  // `make bench`); a dead workerd fails the retry too.
  const res = await fetch(url).catch((e) => {
    log(`ops worker: ${e.message} (${e.cause?.code ?? e.cause ?? "no cause"}); retrying once`);
    return fetch(url);
  });
  const body = await res.json();
  if (!res.ok || body.ok !== iters) {
    throw new Error(`ops worker ${impl} ${op}: ${JSON.stringify(body).slice(0, 400)}`);
  }
  return body.ns_per_op;
}

/**
 * One op in workerd: about 200 ms of work, charged by workerd's CPU time. The
 * first call per case warms up until V8 has tiered the code up (wasm starts in
 * the baseline compiler): requests of about 100 ms, for at least 1 s and until the
 * last three are within 10% of the best (at most 25).
 */
async function workerdOp(impl, op, bytes, ring) {
  const id = `${impl}/${op}/${bytes}/${ring}`;
  if (!calibrated.has(id)) {
    let iters = impl === "rust" ? 200 : 20;
    const results = [];
    const t0 = performance.now();
    for (let i = 0; i < 25; i++) {
      const ns = await opsRequest(impl, op, bytes, ring, iters);
      results.push(ns);
      iters = Math.round(Math.min(1e6, Math.max(20, 100e6 / ns)));
      const best = Math.min(...results);
      const last3 = results.slice(-3);
      // Stable: at least 1 s of work, and the last three within 10% of the best.
      if (performance.now() - t0 > 1000 && last3.length === 3 && last3.every((x) => x <= best * 1.1)) break;
    }
    calibrated.set(id, Math.round(Math.min(1e6, Math.max(50, 200e6 / Math.min(...results)))));
  }
  const iters = calibrated.get(id);
  const before = cpuSeconds(fx.workerd);
  const wall = await opsRequest(impl, op, bytes, ring, iters);
  const cpu = ((cpuSeconds(fx.workerd) - before) * 1e9) / iters;
  return { wall, cpu };
}

const us = (ns) => ns / 1000;

async function section1() {
  const section = "#2";
  need(join(WORKER_DIR, "index_bg.wasm"), "build the worker first (scripts/build-worker.sh)");
  const wasm = { length: statSync(join(WORKER_DIR, "index_bg.wasm")).size };
  const gz = gzipLen(join(WORKER_DIR, "index_bg.wasm"));
  const pass = gz <= WASM_BUDGET;
  report.single(
    section,
    "worker wasm size (build/index_bg.wasm, gzip -9)",
    `${num(gz / 1000)} KB gz`,
    `${num(wasm.length / 1000)} KB raw`,
    `${((gz / WASM_BUDGET) * 100).toFixed(0)}% of budget`,
    report.budget("wasm ≤ 250 KB (250 000 bytes) gzipped", pass, `${gz} bytes gzipped (${num(gz / KIB)} KiB)`),
  );

  need(NATIVE_OPS, "scripts/bench.sh builds benches/ops");
  need(OPS_GLUE, "scripts/bench.sh runs wasm-bindgen on benches/ops");
  const cases = [
    ["seal_open", "seal+open, 200 B session"],
    ["open", "open+verify, 200 B session"],
    ["seal", "seal, 200 B session"],
  ];
  for (const [op, label] of cases) {
    log(`#2 ${op}: native vs wasm under node, ${ROUNDS} rounds`);
    const r = await alternate(ROUNDS, {
      wasm: () => nodeWasmOp(op, 200, 1),
      native: () => nativeOp(op, 200, 1),
    });
    const perCpuSecond = (xs) => xs.map((x) => 1e9 / x.cpu);
    const ratio = report.pair(
      section,
      `${label}: ops per CPU-second, wasm in node ${process.version} vs native`,
      "wasm",
      perCpuSecond(r.wasm),
      "native",
      perCpuSecond(r.native),
      { digits: 0 },
    );
    if (op === "seal_open") {
      const slow = 1 / ratio;
      report.rows.at(-1).budget = report.budget(
        "seal+open in wasm (node) within 3× of native",
        slow <= 3,
        `wasm takes ${slow.toFixed(2)}× the native CPU time`,
      );
    }
    const wallOps = (xs) => xs.map((x) => 1e9 / x.wall);
    report.note(
      `#2 ${label}, by wall clock (machine load included): wasm ${num(median(wallOps(r.wasm)), 0)} ops/s, native ${num(median(wallOps(r.native)), 0)} ops/s`,
    );
  }
}

// ---------------------------------------------------------------- servers

async function answers(port) {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

async function waitForPort(port, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}`);
}

function startOrigin(secret, port = PORT) {
  const [cmd, args] = pinned(LOAD_CPU, ORIGIN, []);
  const child = spawn(cmd, args, {
    env: { ...env, ORIGIN_PORT: String(port), ORIGIN_SECRET: secret, WWW_DIR: join(OUT, "site") },
    stdio: ["ignore", "ignore", "ignore"],
  });
  children.push(child);
  return child;
}

function edgeWorker(name, port, bindings, extra = {}, dir = WORKER_DIR) {
  return {
    name,
    modules: true,
    scriptPath: join(dir, "index.js"),
    modulesRoot: dir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPAT,
    bindings,
    kvNamespaces: { DENYLIST: setup.DENYLIST_ID, ASSETS: setup.ASSETS_ID },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    ...extra,
  };
}

function jsWorker(name, port, scriptPath, bindings = {}, extra = {}) {
  return {
    name,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPAT,
    bindings,
    unsafeDirectSockets: port ? [{ host: "127.0.0.1", port }] : [],
    ...extra,
  };
}

let COMPAT;
const fx = {};

async function prepare() {
  COMPAT = setup.compatibilityDate(ROOT);
  need(CLI, "scripts/bench.sh builds it");
  need(ORIGIN, "scripts/bench.sh builds it");
  need(join(WORKER_DIR, "index.js"), "build the worker first (scripts/build-worker.sh)");
  const req = setup.toolRequire(TOOLS);
  const { Miniflare } = req("miniflare");
  const esbuild = join(TOOLS, "node_modules", ".bin", "esbuild");
  const wrangler = join(TOOLS, "node_modules", ".bin", "wrangler");
  need(esbuild, "run scripts/install.sh");
  need(wrangler, "run scripts/install.sh");
  mkdirSync(OUT, { recursive: true });

  // worker-build's own entry (a WorkerEntrypoint class behind Proxies, built per
  // request) beside the thin entry scripts/build-worker.sh installs: the same wasm.
  const wbEntry = join(TARGET, "worker-build-entry", "index.js");
  if (existsSync(wbEntry)) {
    fx.wbDir = join(OUT, "worker-build-entry");
    mkdirSync(fx.wbDir, { recursive: true });
    writeFileSync(join(fx.wbDir, "index.js"), readFileSync(wbEntry));
    writeFileSync(join(fx.wbDir, "index_bg.wasm"), readFileSync(join(WORKER_DIR, "index_bg.wasm")));
  } else {
    report.note(`no ${wbEntry} (scripts/build-worker.sh writes it): the entry comparison is skipped`);
  }
  // The same worker built with the `bench-wbg-executor` feature (scripts/bench.sh):
  // requests run on wasm-bindgen-futures' executor, as under `#[event(fetch)]`.
  const wbgDir = join(OUT, "wbg-executor");
  if (existsSync(join(wbgDir, "index.js")) && existsSync(join(wbgDir, "index_bg.wasm"))) {
    fx.wbgDir = wbgDir;
  } else {
    report.note(`no ${wbgDir} (scripts/bench.sh builds it): the executor comparison is skipped`);
  }

  log("keys, cookies, site, local KV (edge-session keygen/seal/assets publish)");
  fx.keys = await setup.keygen(CLI);
  fx.cookie = await setup.cliCookie(CLI, fx.keys.SESSION_KEYS);
  fx.site = setup.makeSite(join(OUT, "site"));
  const toml = join(OUT, "wrangler.toml");
  setup.writeWranglerToml(toml, COMPAT);
  const state = join(OUT, "state");
  rmSync(state, { recursive: true, force: true });
  await setup.publish({ cli: CLI, site: join(OUT, "site"), persist: state, config: toml, wrangler, cwd: OUT });

  // The peer's cookie: the same claims, as a JWE (dir, A256GCM) under its own key.
  const peerKey = crypto.getRandomValues(new Uint8Array(32));
  fx.peerCookie = await new EncryptJWT(fx.cookie.claims)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .encrypt(peerKey);

  // Scaling cookies (session sizes, ring sizes) from the benches/ops fixture.
  const now = Math.floor(Date.now() / 1000);
  fx.scale = {};
  for (const [bytes, ring] of [
    [100, 1],
    [1024, 1],
    [4096, 1],
    [12288, 1],
  ]) {
    fx.scale[`${bytes}/${ring}`] = JSON.parse(
      await run(NATIVE_OPS, ["cookie", String(bytes), String(ring), String(now)]),
    );
  }

  log("bundling the JavaScript workers (esbuild)");
  const bundles = join(OUT, "bundles");
  mkdirSync(bundles, { recursive: true });
  const nodePaths = [join(BENCHES, "node_modules")];
  fx.peerBundle = await setup.bundle({
    esbuild,
    entry: join(BENCHES, "workers/peer.js"),
    outfile: join(bundles, "peer/peer.js"),
    nodePaths,
  });
  fx.passBundle = await setup.bundle({
    esbuild,
    entry: join(BENCHES, "workers/passthrough.js"),
    outfile: join(bundles, "passthrough/passthrough.js"),
    nodePaths,
  });
  fx.opsBundle = await setup.bundleOps({
    esbuild,
    benches: BENCHES,
    opsWeb: OPS_WEB,
    outDir: join(bundles, "ops"),
    nodePaths,
  });

  // The fleet rows (#17): two more origins, a pool worker, FAILOVER_COPIES failover
  // workers, and a port where nothing listens (the dead origin).
  fx.poolPorts = [PORT, PORT + 11, PORT + 12];
  fx.deadPort = PORT + 13;
  const failPorts = Array.from({ length: FAILOVER_COPIES }, (_, i) => PORT + 20 + i);
  const ports = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 101, 104, 105].map((k) => PORT + k);
  ports.push(...failPorts);
  for (const port of ports) {
    if (await answers(port)) {
      throw new Error(`port ${port} on 127.0.0.1 is busy (a bench still running?); pick others with BENCH_PORT_BASE`);
    }
  }
  log("starting the demo origin and workerd");
  for (const port of fx.poolPorts) startOrigin(fx.keys.ORIGIN_SECRET, port);
  for (const port of fx.poolPorts) await waitForPort(port);
  const originUrl = `http://127.0.0.1:${PORT}`;
  // The request log (one console.log line per request, on by default) is off in
  // every edge worker but `edgelog`: the peers log nothing, so the comparisons
  // with them measure the same work; its own cost is a row of #17.
  const edgeVars = {
    SESSION_KEYS: fx.keys.SESSION_KEYS,
    ORIGIN_SECRET: fx.keys.ORIGIN_SECRET,
    ORIGIN_URL: originUrl,
    REQUEST_LOG_SAMPLE: "0",
  };
  const memkv = join(BENCHES, "workers/mem-kv.js");
  fx.workers = {
    edge: PORT + 1,
    edgemem: PORT + 2,
    static: PORT + 3,
    passthrough: PORT + 4,
    peer: PORT + 5,
    ops: PORT + 6,
    edgescale: PORT + 7,
    peermem: PORT + 8,
    ...(fx.wbDir ? { edgewb: PORT + 9 } : {}),
    ...(fx.wbgDir ? { edgewbg: PORT + 10 } : {}),
    edgepool: PORT + 14,
    edgelog: PORT + 15,
    ...Object.fromEntries(failPorts.map((port, i) => [`edgefail${i}`, port])),
  };
  // An edge-session worker (the build in `dir`) whose denylist is the in-memory binding.
  const memEdge = (name, dir = WORKER_DIR, vars = {}) =>
    edgeWorker(
      name,
      fx.workers[name],
      { ...edgeVars, DENYLIST_BINDING: "DENYLIST_MEM", ...vars },
      { wrappedBindings: { DENYLIST_MEM: "memkv" } },
      dir,
    );
  const pool = fx.poolPorts.map((port) => `http://127.0.0.1:${port}`).join(", ");
  // The dead origin first for nearly every request (weight 100 against 1).
  const failing = `http://127.0.0.1:${fx.deadPort} weight=100, ${originUrl}`;
  fx.mfOptions = (only) => {
    const all = [
      edgeWorker("edge", fx.workers.edge, edgeVars),
      memEdge("edgemem"),
      memEdge("edgepool", WORKER_DIR, { ORIGINS: pool }),
      memEdge("edgelog", WORKER_DIR, { REQUEST_LOG_SAMPLE: "1" }),
      ...failPorts.map((_, i) => memEdge(`edgefail${i}`, WORKER_DIR, { ORIGINS: failing })),
      ...(fx.wbDir ? [memEdge("edgewb", fx.wbDir)] : []),
      ...(fx.wbgDir ? [memEdge("edgewbg", fx.wbgDir)] : []),
      { name: "memkv", modules: true, scriptPath: memkv, modulesRoot: dirname(memkv) },
      {
        name: "static",
        modules: true,
        script: "export default { fetch() { return new Response('not found', { status: 404 }) } }",
        compatibilityDate: COMPAT,
        assets: { directory: join(OUT, "site"), routerConfig: { has_user_worker: false } },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: fx.workers.static }],
      },
      jsWorker("passthrough", fx.workers.passthrough, fx.passBundle, { ORIGIN_URL: originUrl }),
      jsWorker(
        "peer",
        fx.workers.peer,
        fx.peerBundle,
        {
          ORIGIN_URL: originUrl,
          ORIGIN_SECRET: fx.keys.ORIGIN_SECRET,
          SESSION_KEY_B64: base64url.encode(peerKey),
        },
        { kvNamespaces: { DENYLIST: setup.DENYLIST_ID } },
      ),
      jsWorker(
        "peermem",
        fx.workers.peermem,
        fx.peerBundle,
        {
          ORIGIN_URL: originUrl,
          ORIGIN_SECRET: fx.keys.ORIGIN_SECRET,
          SESSION_KEY_B64: base64url.encode(peerKey),
          DENYLIST_BINDING: "DENYLIST_MEM",
        },
        { wrappedBindings: { DENYLIST_MEM: "memkv" } },
      ),
      jsWorker("ops", fx.workers.ops, fx.opsBundle),
      edgeWorker("edgescale", fx.workers.edgescale, {
        ...edgeVars,
        SESSION_KEYS: fx.scale["100/1"].session_keys,
        COOKIE_MAX_CHUNKS: "8",
      }),
    ];
    const workers = only ? all.filter((w) => only.includes(w.name)) : all;
    for (const w of workers) if (!w.unsafeDirectSockets) delete w.unsafeDirectSockets;
    return {
      cf: false,
      defaultPersistRoot: join(state, "v3"),
      log: env.BENCH_HOLD ? new (setup.toolRequire(TOOLS)("miniflare").Log)() : undefined,
      inspectorPort: env.BENCH_HOLD && env.BENCH_INSPECTOR ? Number(env.BENCH_INSPECTOR) : undefined,
      workers,
    };
  };
  fx.Miniflare = Miniflare;
  mf = new Miniflare(fx.mfOptions());
  await mf.ready;
  const pids = findDescendants(process.pid, "workerd");
  if (pids.length !== 1) throw new Error(`expected one workerd process, found ${pids.length}`);
  fx.workerd = pids[0];
  fx.pinned = pin(fx.workerd, SERVER_CPU);
  log(`workerd pid ${fx.workerd}, CPUs ${affinity(fx.workerd)}; this script on CPUs ${affinity(process.pid)}`);
  for (const port of Object.values(fx.workers)) await waitForPort(port);
  await sanity();
}

async function get(port, path, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, redirect: "manual" });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

function expect(cond, what) {
  if (cond) return;
  if (!env.BENCH_HOLD) throw new Error(`sanity check failed: ${what}`);
  log(`sanity check failed: ${what}`);
}

const cookieOf = (value) => `${setup.COOKIE}=${value}`;

async function sanity() {
  const c = { cookie: cookieOf(fx.cookie.sealed) };
  for (const [name, headers] of [
    ["edge", c],
    ["edgemem", c],
    ["edgepool", c],
    ["peer", { cookie: cookieOf(fx.peerCookie) }],
    ["peermem", { cookie: cookieOf(fx.peerCookie) }],
    ...(fx.wbgDir ? [["edgewbg", c]] : []),
  ]) {
    const r = await get(fx.workers[name], "/api/public", headers);
    expect(r.status === 200 && r.body.includes('"anonymous":false'), `${name} cookie request: ${r.status} ${r.body.slice(0, 200)}`);
  }
  for (const name of ["edge", "passthrough"]) {
    const r = await get(fx.workers[name], "/api/public");
    expect(r.status === 200 && r.body.includes('"anonymous":true'), `${name} anonymous: ${r.status} ${r.body.slice(0, 200)}`);
  }
  for (const [key, v] of Object.entries(fx.scale)) {
    const header = setup.cookieHeader(setup.chunkCookie(setup.COOKIE, v.sealed));
    v.header = header;
    const r = await get(fx.workers.edgescale, "/api/public", { cookie: header });
    expect(r.status === 200 && r.body.includes('"anonymous":false'), `edgescale ${key}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  fx.etag = {};
  for (const name of ["edge", "static"]) {
    const r = await get(fx.workers[name], fx.site.script);
    expect(r.status === 200 && r.body.length === fx.site.scriptBytes, `${name} script: ${r.status} ${r.body.length}`);
    fx.etag[name] = r.headers.get("etag");
    const h = await get(fx.workers[name], "/", { "sec-fetch-mode": "navigate", cookie: `${setup.PIN_COOKIE}=${setup.DEPLOY_ID}` });
    expect(h.status === 200 && h.body.length === fx.site.htmlBytes, `${name} html: ${h.status} ${h.body.length}`);
    expect(!h.headers.get("set-cookie"), `${name} html sets no cookie for a pinned client`);
    const n = await get(fx.workers[name], fx.site.script, { "if-none-match": fx.etag[name] });
    expect(n.status === 304, `${name} 304: ${n.status}`);
  }
  const edgeScript = await get(fx.workers.edge, fx.site.script);
  fx.edgeAssetHeaders = Object.fromEntries(edgeScript.headers);
}

function load(name, path, headers = {}, seconds = SECONDS) {
  return wrk({
    url: `http://127.0.0.1:${fx.workers[name]}${path}`,
    headers: Object.entries(headers),
    seconds,
    connections: CONNS,
    cpu: LOAD_CPU,
    serverPid: fx.workerd,
  });
}

/** Alternates wrk runs; returns name → [wrk result per round]. */
async function loads(variants, seconds = SECONDS, rounds = ROUNDS) {
  for (const [name, [worker, path, headers]] of Object.entries(variants)) {
    log(`  warm-up ${name}`);
    await load(worker, path, headers, 2);
  }
  const runs = {};
  for (const [name, [worker, path, headers]] of Object.entries(variants)) {
    runs[name] = () => load(worker, path, headers, seconds);
  }
  const out = await alternate(rounds, runs);
  for (const [name, rs] of Object.entries(out)) {
    const bad = rs.filter((r) => r.non2xx > 0 || r.errors);
    if (bad.length) report.note(`${name}: ${bad[0].non2xx} non-2xx/3xx answers, ${bad[0].errors}`);
  }
  return out;
}

const pick = (rs, key) => rs.map((r) => r[key]);

function e2eRows(section, label, aName, a, bName, b, budgets = {}) {
  const rps = report.pair(section, `${label}: req/s`, aName, pick(a, "rps"), bName, pick(b, "rps"), { digits: 0 });
  report.pair(section, `${label}: p50 latency`, aName, pick(a, "p50"), bName, pick(b, "p50"), { digits: 2, unit: " ms" });
  report.pair(section, `${label}: p99 latency`, aName, pick(a, "p99"), bName, pick(b, "p99"), { digits: 2, unit: " ms" });
  const cpu = report.pair(section, `${label}: workerd CPU µs/request`, aName, pick(a, "cpuUsPerReq"), bName, pick(b, "cpuUsPerReq"), { digits: 0 });
  if (budgets.rps) {
    report.rows.at(-4).budget = report.budget(budgets.rps, rps >= 1, `req/s ratio ${rps.toFixed(2)}`);
  }
  if (budgets.cpu) {
    report.rows.at(-1).budget = report.budget(budgets.cpu, cpu <= 1, `CPU/request ratio ${cpu.toFixed(2)}`);
  }
  return { rps, cpu };
}

// ---------------------------------------------------------------- sections 2–4

async function section2() {
  const section = "#3";
  log(`#3 denylist: ${ROUNDS} rounds × 3 variants × ${SECONDS}s`);
  const c = { cookie: cookieOf(fx.cookie.sealed) };
  const r = await loads({
    kv: ["edge", "/api/public", c],
    memory: ["edgemem", "/api/public", c],
    anonymous: ["edge", "/api/public", {}],
  });
  e2eRows(section, "cookie request, denylist in local KV vs in memory", "KV", r.kv, "memory", r.memory);
  report.pair(section, "cookie request (KV denylist) vs anonymous request: req/s", "cookie", pick(r.kv, "rps"), "anonymous", pick(r.anonymous, "rps"), { digits: 0 });
  report.pair(section, "cookie request (KV denylist) vs anonymous request: CPU µs/req", "cookie", pick(r.kv, "cpuUsPerReq"), "anonymous", pick(r.anonymous, "cpuUsPerReq"), { digits: 0 });
}

async function section3() {
  const section = "#4";
  log(`#4 assets: ${ROUNDS} rounds × 6 variants × ${SECONDS}s`);
  const html = { "sec-fetch-mode": "navigate", cookie: `${setup.PIN_COOKIE}=${setup.DEPLOY_ID}` };
  const r = await loads({
    edgeAsset: ["edge", fx.site.script, {}],
    staticAsset: ["static", fx.site.script, {}],
    edgeHtml: ["edge", "/", html],
    staticHtml: ["static", "/", html],
    edge304: ["edge", fx.site.script, { "if-none-match": fx.etag.edge }],
    static304: ["static", fx.site.script, { "if-none-match": fx.etag.static }],
  });
  const kinds = [
    ["Asset", `hashed asset (${num(fx.site.scriptBytes / KIB)} KiB JS)`],
    ["Html", `HTML entry point (${num(fx.site.htmlBytes / KIB)} KiB)`],
    ["304", "304 for If-None-Match"],
  ];
  for (const [k, label] of kinds) {
    const a = r[`edge${k}`];
    const b = r[`static${k}`];
    report.pair(section, `${label}: req/s`, "edge-session KV", pick(a, "rps"), "wrangler [assets]", pick(b, "rps"), { digits: 0 });
    report.pair(section, `${label}: p99 latency`, "edge-session KV", pick(a, "p99"), "wrangler [assets]", pick(b, "p99"), { digits: 2, unit: " ms" });
    report.pair(section, `${label}: workerd CPU µs/request`, "edge-session KV", pick(a, "cpuUsPerReq"), "wrangler [assets]", pick(b, "cpuUsPerReq"), { digits: 0 });
  }
}

async function section4ops() {
  const section = "#5";
  const cpuUs = (xs) => xs.map((x) => x.cpu / 1000);
  const cases = [
    ["open", "open+verify sealed cookie, 200 B", ["rust", "jose", "iron"]],
    ["seal", "seal cookie, 200 B", ["rust", "jose", "iron"]],
    ["jwt_verify", "verify bearer JWT (HS256)", ["rust", "jose"]],
    ["jwt_mint", "mint JWT (HS256)", ["rust", "jose"]],
  ];
  for (const [op, label, impls] of cases) {
    log(`#5 ops in workerd: ${op}`);
    const variants = {};
    for (const impl of impls) variants[impl] = () => workerdOp(impl, op, 200, 1);
    if (op === "open") variants.native = () => nativeOp(op, 200, 1);
    const r = await alternate(ROUNDS, variants);
    const rust = cpuUs(r.rust);
    const jose = report.pair(section, `${label} in workerd: CPU µs/op`, "jose", cpuUs(r.jose), "edge-session", rust, { digits: 2 });
    if (r.iron) report.pair(section, `${label} in workerd: CPU µs/op`, "iron-session", cpuUs(r.iron), "edge-session", rust, { digits: 2 });
    if (op === "open") {
      const m = median(rust);
      report.rows.at(-2).budget = [
        report.budget("open+verify 200 B ≤ 5 µs in workerd", m <= 5, `${m.toFixed(2)} µs CPU`),
        report.budget("open+verify ≥ 2× faster than jose in workerd", jose >= 2, `${jose.toFixed(2)}×`),
      ].join(", ");
      const vsNative = report.pair(section, `${label}: CPU µs/op, workerd vs native`, "workerd", rust, "native", cpuUs(r.native), { digits: 2 });
      report.rows.at(-1).budget = report.budget("open+verify in workerd within 3× of native", vsNative <= 3, `${vsNative.toFixed(2)}×`);
      report.note(
        `#5 ${label} in workerd by wall clock (performance.now(), machine load included): edge-session ${(median(r.rust.map((x) => x.wall)) / 1000).toFixed(2)} µs, jose ${(median(r.jose.map((x) => x.wall)) / 1000).toFixed(2)} µs`,
      );
    }
  }
  // The core's whole part of one cookie request (what the shell hands to wasm:
  // headers in, authenticate, mint the assertion, header changes, finish), with the
  // denylist in memory: the wasm share of an end-to-end request, against native.
  log("#5 ops in workerd: the core's part of one cookie request");
  const rq = await alternate(ROUNDS, {
    rust: () => workerdOp("rust", "request", 200, 1),
    native: () => nativeOp("request", 200, 1),
  });
  report.pair(section, "core's part of one cookie request, 200 B (headers in, open, denylist in memory, assertion minted, header changes, finish): CPU µs/op, workerd vs native", "workerd", cpuUs(rq.rust), "native", cpuUs(rq.native), { digits: 2 });
  log("#5 scaling with session size and key-ring size");
  for (const bytes of [100, 1024, 4096, 12288]) {
    const r = await alternate(ROUNDS, {
      rust: () => workerdOp("rust", "open", bytes, 1),
      jose: () => workerdOp("jose", "open", bytes, 1),
    });
    const size = bytes >= 1024 ? `${bytes / KIB} KiB` : `${bytes} B`;
    report.pair(section, `open+verify, ${size} claims, in workerd: CPU µs/op`, "jose", cpuUs(r.jose), "edge-session", cpuUs(r.rust), { digits: 2 });
  }
  const rings = {};
  for (const ring of [1, 4, 16]) rings[`r${ring}`] = () => workerdOp("rust", "open", 200, ring);
  const rr = await alternate(ROUNDS, rings);
  for (const ring of [4, 16]) {
    report.pair(section, `open+verify 200 B in workerd, ring of ${ring} keys (sealed with the oldest) vs 1 key: CPU µs/op`, `${ring} keys`, cpuUs(rr[`r${ring}`]), "1 key", cpuUs(rr.r1), { digits: 2 });
  }
}

async function section4e2e() {
  const section = "#5";
  log(`#5 end to end: ${E2E_ROUNDS} rounds × ${fx.wbDir ? 6 : 5} workers × ${SECONDS}s`);
  const ec = { cookie: cookieOf(fx.cookie.sealed) };
  const pc = { cookie: cookieOf(fx.peerCookie) };
  const r = await loads({
    edge: ["edge", "/api/public", ec],
    peer: ["peer", "/api/public", pc],
    edgemem: ["edgemem", "/api/public", ec],
    peermem: ["peermem", "/api/public", pc],
    passthrough: ["passthrough", "/api/public", ec],
    ...(fx.wbDir ? { edgewb: ["edgewb", "/api/public", ec] } : {}),
    ...(fx.wbgDir ? { edgewbg: ["edgewbg", "/api/public", ec] } : {}),
  }, SECONDS, E2E_ROUNDS);
  e2eRows(section, "cookie request end to end, denylist in local KV: edge-session vs Hono+jose peer", "edge-session", r.edge, "Hono+jose", r.peer, {
    rps: "e2e req/s ≥ the Hono+jose peer's (local KV)",
    cpu: "e2e CPU/request ≤ the Hono+jose peer's (local KV)",
  });
  e2eRows(section, "cookie request end to end, denylist in memory: edge-session vs Hono+jose peer", "edge-session", r.edgemem, "Hono+jose", r.peermem, {
    rps: "e2e req/s ≥ the Hono+jose peer's (denylist in memory)",
    cpu: "e2e CPU/request ≤ the Hono+jose peer's (denylist in memory)",
  });
  report.pair(section, "cookie request, edge-session (denylist in memory) vs passthrough floor: req/s", "edge-session", pick(r.edgemem, "rps"), "passthrough", pick(r.passthrough, "rps"), { digits: 0 });
  report.pair(section, "cookie request, edge-session (denylist in memory) vs passthrough floor: CPU µs/req", "edge-session", pick(r.edgemem, "cpuUsPerReq"), "passthrough", pick(r.passthrough, "cpuUsPerReq"), { digits: 0 });
  if (r.edgewb) {
    const label = "cookie request (denylist in memory), same wasm: thin JS entry vs worker-build's entry (class + Proxies per request)";
    report.pair(section, `${label}: req/s`, "thin", pick(r.edgemem, "rps"), "worker-build", pick(r.edgewb, "rps"), { digits: 0 });
    report.pair(section, `${label}: CPU µs/req`, "thin", pick(r.edgemem, "cpuUsPerReq"), "worker-build", pick(r.edgewb, "cpuUsPerReq"), { digits: 0 });
  }
  if (r.edgewbg) {
    const label = "cookie request (denylist in memory), same sources: JS-driven task (src/shell/drive.rs) vs wasm-bindgen-futures' executor (#[event(fetch)])";
    report.pair(section, `${label}: req/s`, "driven", pick(r.edgemem, "rps"), "wasm-bindgen-futures", pick(r.edgewbg, "rps"), { digits: 0 });
    report.pair(section, `${label}: CPU µs/req`, "driven", pick(r.edgemem, "cpuUsPerReq"), "wasm-bindgen-futures", pick(r.edgewbg, "cpuUsPerReq"), { digits: 0 });
  }

  log(`#5 end to end by session size: ${ROUNDS} rounds × 4 sizes`);
  const sizes = {};
  for (const [key, v] of Object.entries(fx.scale)) sizes[key] = ["edgescale", "/api/public", { cookie: v.header }];
  const s = await loads(sizes);
  for (const key of Object.keys(fx.scale).slice(1)) {
    const v = fx.scale[key];
    const chunks = (v.header.match(/=/g) ?? []).length;
    report.pair(section, `e2e cookie request, ${v.claims_json_len} B claims (${v.sealed.length} B sealed, ${chunks} cookie${chunks > 1 ? "s" : ""}) vs ${fx.scale["100/1"].claims_json_len} B: req/s`, key.split("/")[0] + " B", pick(s[key], "rps"), "100 B", pick(s["100/1"], "rps"), { digits: 0 });
  }
}

async function section5fleet() {
  const section = "#17";
  log(`#17 fleet: ${E2E_ROUNDS} rounds × 3 workers × ${SECONDS}s`);
  const ec = { cookie: cookieOf(fx.cookie.sealed) };
  const r = await loads({
    pool: ["edgepool", "/api/public", ec],
    single: ["edgemem", "/api/public", ec],
    logged: ["edgelog", "/api/public", ec],
  }, SECONDS, E2E_ROUNDS);
  const logLabel = "cookie request (denylist in memory): the request log on (REQUEST_LOG_SAMPLE=1, the default) vs off";
  report.pair(section, `${logLabel}: req/s`, "log on", pick(r.logged, "rps"), "log off", pick(r.single, "rps"), { digits: 0 });
  report.pair(section, `${logLabel}: workerd CPU µs/request`, "log on", pick(r.logged, "cpuUsPerReq"), "log off", pick(r.single, "cpuUsPerReq"), { digits: 0 });
  const label = "cookie request (denylist in memory) through a pool of three origins vs ORIGIN_URL alone";
  report.pair(section, `${label}: req/s`, "pool of 3", pick(r.pool, "rps"), "one origin", pick(r.single, "rps"), { digits: 0 });
  const cpu = report.pair(section, `${label}: workerd CPU µs/request`, "pool of 3", pick(r.pool, "cpuUsPerReq"), "one origin", pick(r.single, "cpuUsPerReq"), { digits: 0 });
  report.rows.at(-1).budget = report.budget("CPU/request through a pool of three ≤ 1.05× one origin", cpu <= 1.05, `${cpu.toFixed(3)}×`);

  // One failover: each fresh isolate sends its first EJECT_AFTER anonymous requests
  // to the dead origin first (connection refused) and retries them on the live one;
  // after that the dead one is ejected and requests go straight to the live one.
  log(`#17 failover: ${FAILOVER_COPIES} isolates × (3 failovers, then 3 direct)`);
  const timed = async (port) => {
    const t = process.hrtime.bigint();
    const res = await fetch(`http://127.0.0.1:${port}/api/public`);
    await res.arrayBuffer();
    expect(res.status === 200, `failover worker answered ${res.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const failover = [];
  const direct = [];
  for (let i = 0; i < FAILOVER_COPIES; i++) {
    const port = fx.workers[`edgefail${i}`];
    await get(port, "/_session/jwks.json"); // builds the isolate's worker, no origin
    const f = [];
    const d = [];
    for (let k = 0; k < 3; k++) f.push(await timed(port));
    for (let k = 0; k < 3; k++) d.push(await timed(port));
    failover.push(median(f));
    direct.push(median(d));
  }
  report.pair(section, "anonymous request: one failover (first origin refuses the connection, retried on the next) vs straight to a live origin: latency", "failover", failover, "direct", direct, { digits: 2, unit: " ms" });
  const extra = median(failover.map((f, i) => f - direct[i]));
  report.note(`one failover added ${extra.toFixed(2)} ms (median over ${FAILOVER_COPIES} isolates of the median of 3 requests each; a refused connection on 127.0.0.1)`);
}

/** Bytes of `gzip -9` output, as scripts/build-worker.sh counts them (zlib if no gzip). */
function gzipLen(path) {
  try {
    return execFileSync("gzip", ["-9c", path], { maxBuffer: 64 << 20 }).length;
  } catch {
    return gzipSync(readFileSync(path), { level: 9 }).length;
  }
}

function sizeOf(path) {
  return { raw: statSync(path).size, gz: gzipLen(path) };
}

function section4sizes() {
  const section = "#5";
  const js = sizeOf(join(WORKER_DIR, "index.js"));
  const wasm = sizeOf(join(WORKER_DIR, "index_bg.wasm"));
  const peer = sizeOf(fx.peerBundle);
  const pass = sizeOf(fx.passBundle);
  const edgeGz = js.gz + wasm.gz;
  report.single(
    section,
    "upload size (gzip -9): edge-session (index.js + wasm) vs Hono+jose peer bundle",
    `edge-session: ${num(edgeGz / KIB)} KiB gz (${num((js.raw + wasm.raw) / KIB)} KiB raw)`,
    `Hono+jose: ${num(peer.gz / KIB)} KiB gz (${num(peer.raw / KIB)} KiB raw); passthrough ${num(pass.gz / KIB, 2)} KiB gz`,
    (edgeGz / peer.gz).toFixed(2),
  );
}

async function coldStart() {
  const section = "#5";
  log(`#5 cold start: ${Math.min(ROUNDS, 3)} rounds × 3 workers (fresh workerd each)`);
  const c = cookieOf(fx.cookie.sealed);
  const one = async (name, headers) => {
    const opts = fx.mfOptions([name, "memkv"]);
    const port = fx.workers[name];
    // Another port, so the running instance keeps its own.
    opts.workers = opts.workers.filter((w) => w.name === name);
    opts.workers[0].unsafeDirectSockets = [{ host: "127.0.0.1", port: port + 100 }];
    const t0 = performance.now();
    const cold = new fx.Miniflare(opts);
    await cold.ready;
    const ready = performance.now() - t0;
    const t1 = performance.now();
    const first = await get(port + 100, "/api/public", headers);
    const firstMs = performance.now() - t1;
    const t2 = performance.now();
    await get(port + 100, "/api/public", headers);
    const warmMs = performance.now() - t2;
    await cold.dispose();
    if (first.status !== 200) throw new Error(`cold ${name}: ${first.status}`);
    return { ready, firstMs, warmMs };
  };
  const rounds = Math.min(ROUNDS, 3);
  const out = { edge: [], peer: [], passthrough: [] };
  for (let i = 0; i < rounds; i++) {
    out.edge.push(await one("edge", { cookie: c }));
    out.peer.push(await one("peer", { cookie: cookieOf(fx.peerCookie) }));
    out.passthrough.push(await one("passthrough", {}));
  }
  report.pair(section, "cold start: workerd start to ready (compile + instantiate), ms", "edge-session", pick(out.edge, "ready"), "Hono+jose", pick(out.peer, "ready"), { digits: 0 });
  report.pair(section, "cold start: first cookie request after start, ms", "edge-session", pick(out.edge, "firstMs"), "Hono+jose", pick(out.peer, "firstMs"), { digits: 1 });
  report.pair(section, "cold start: first request after start, ms (edge-session vs passthrough)", "edge-session", pick(out.edge, "firstMs"), "passthrough", pick(out.passthrough, "firstMs"), { digits: 1 });
}

// ---------------------------------------------------------------- report

function wrkVersion() {
  try {
    execFileSync("wrk", ["-v"], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    // wrk -v prints its version and exits 1.
    const m = /wrk (\S+)/.exec(String(e.stdout ?? "") + String(e.stderr ?? ""));
    if (m) return `wrk ${m[1]}`;
  }
  return "wrk";
}

/** `/proc/stat`'s first line: [steal, total] jiffies of all CPUs (null off Linux). */
function cpuJiffies() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return [f[7] ?? 0, f.reduce((a, b) => a + b, 0)];
  } catch {
    return null;
  }
}
const jiffiesAtStart = cpuJiffies();

/** How much CPU time the hypervisor took from this VM over the run ("steal"). */
function stealLine() {
  const end = cpuJiffies();
  if (!jiffiesAtStart || !end || end[1] === jiffiesAtStart[1]) return "CPU steal over the run: unknown";
  const pct = (100 * (end[0] - jiffiesAtStart[0])) / (end[1] - jiffiesAtStart[1]);
  return `CPU steal over the run (/proc/stat): ${pct.toFixed(1)} % of all CPU time went to other guests of the hypervisor`;
}

function machine() {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const v = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim().split("\n")[0];
    } catch {
      return "unknown";
    }
  };
  let workerd = "unknown";
  try {
    workerd = setup.toolRequire(TOOLS)("@cloudflare/workerd-linux-64/package.json").version;
  } catch {
    // not installed
  }
  let wranglerV = "unknown";
  try {
    wranglerV = setup.toolRequire(TOOLS)("wrangler/package.json").version;
  } catch {
    // not installed
  }
  const benchEnv = Object.entries(env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "CARGO_TARGET_DIR")
    .map(([k, val]) => `${k}=${val}`)
    .join(" ");
  let rev = v("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
  try {
    // BENCHMARKS.md itself (a previous run's output) is not a change to what is measured.
    const status = ["-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md"];
    const dirty = execFileSync("git", status, {
      stdio: ["ignore", "pipe", "ignore"],
    });
    if (dirty.toString().trim()) rev += " + uncommitted changes";
  } catch {
    // not a git checkout
  }
  return [
    `command: \`${benchEnv ? `${benchEnv} ` : ""}make bench\` at git ${rev}`,
    `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`,
    `node ${process.version}, ${v("rustc", ["--version"])}, workerd ${workerd} (wrangler ${wranglerV}), ${wrkVersion()}`,
    `load average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (the machine is shared; see the spreads)`,
  ];
}

function writeMarkdown(lines, table) {
  const md = `# Benchmarks

Generated by \`make bench\` (\`bash scripts/bench.sh\` → \`node benches/bench.mjs\`) on
${new Date(started).toISOString().slice(0, 10)}. Every number below was produced by that command
in one run; rerun it to refresh this file. Nothing here is hand-edited.

## Machine

${lines.map((l) => `- ${l}`).join("\n")}
- settings: ${ROUNDS} rounds (${E2E_ROUNDS} for the end-to-end comparison with the peers), ${SECONDS} s per wrk run, ${CONNS} connections, 1 wrk thread;
  workerd pinned to CPU ${SERVER_CPU}${fx.pinned ? "" : " (pinning unavailable)"}, wrk + demo origin + this script on CPU ${LOAD_CPU}
- total run time: ${((Date.now() - started) / 1000).toFixed(0)} s

## How to read the table

Each comparison ran **in the same run, alternating A B A B …** for ${ROUNDS} rounds
(the end-to-end rows against the peers and the passthrough floor: ${E2E_ROUNDS}).
A and B show the median and [min–max] over rounds; **A/B** is the median [min–max] of
the per-round ratios. Latencies are wrk's percentiles. "workerd CPU µs/request" is
the workerd process's on-CPU time (summed over its threads from
\`/proc/<pid>/task/*/schedstat\`) over the wrk run divided by the requests served: it
includes workerd's own HTTP handling and Miniflare's local KV simulator, which runs
in the same process. Per-operation rows are **CPU time** too (this thread's or
workerd's on-CPU nanoseconds), because the machine is shared with other work:
wall-clock numbers (req/s, latencies, and the wall-clock notes below) move with the
machine's load; CPU time mostly does not.

${table}

## Budgets

${report.budgetList()}

## What was compared, and how

- **Runtime**: every worker runs on raw workerd started by Miniflare (the
  \`miniflare\` package that ships with wrangler), each reached through its own
  direct socket (\`unsafeDirectSockets\`): no \`wrangler dev\` proxy and no Miniflare
  entry worker in the request path. All workers live in one workerd process; only
  the one under load is busy.
- **edge-session** is the release build in \`build/\` (\`index.js\` + \`index_bg.wasm\`),
  unmodified (its \`index.js\` is worker-build's bundle with the thin entry of
  \`scripts/thin-entry.mjs\` as the default export), with a local KV (Miniflare's KV simulator, persisted under
  \`target/bench/state\`), keys from \`edge-session keygen\`, a cookie from
  \`edge-session seal --keys … --sub bench\`, and \`target/release/demo-origin\` as the
  origin (\`GET /api/public\`, which verifies the \`Edge-Session\` assertion when present).
- **#3, the denylist**: "KV" is a valid cookie request (open + both denylist reads +
  assertion + proxy) against the local KV, where neither key exists (the common
  case: not revoked). "memory" is the *same* request to the *same* worker build whose
  \`DENYLIST_BINDING\` points at a wrapped binding with the KV API that answers
  \`null\` from memory at once (\`benches/workers/mem-kv.js\`): the worker's own
  revocation code still runs, only the storage round trip is gone. So KV/memory is
  what the KV read costs here. Caveat: Miniflare's local KV is a simulator (a
  Durable Object over SQLite in the same process); production KV reads of hot keys
  are served from the colo's cache, cold ones can take tens of ms: this bench cannot
  show either. "anonymous" (no cookie: no open, no KV read, no assertion) is the
  reference for all session work.
- **#4, assets**: the same files (\`target/bench/site\`) published into the local KV
  with \`edge-session assets publish … --local --persist-to …\` and served by the
  edge-session worker, beside wrangler's own static assets (\`assets.directory\`,
  served by Miniflare's asset and router workers in the same workerd). The HTML
  request is a navigation from a pinned client (\`Sec-Fetch-Mode: navigate\`, pin
  cookie set), so no \`Set-Cookie\` is sent; the 304 is a conditional GET of the hashed
  asset with each server's own ETag.
- **#5, per operation**: \`benches/ops\` (a wasm-bindgen cdylib with a path dependency
  on this crate, built with the root crate's release profile; not part of the
  worker) runs \`session::open_session\`, \`session::seal_claims\`, \`jwt::verify\` and
  \`jwt::mint\` in a loop inside workerd (one request ≈ 200 ms of work, after warm-up
  requests until V8 has tiered the code up: wasm starts in V8's baseline compiler
  and is several times slower for the first few hundred ms), charged by workerd's
  CPU time, beside \`jose\` (JWE dir/A256GCM for the sealed
  cookie, HS256 JWS for tokens, keys imported once as CryptoKeys: jose's best case)
  and \`iron-session\` (\`sealData\`/\`unsealData\`) on the same claims, in the same
  workerd. "Native" is the same Rust loop compiled for x86-64 (\`native-ops\`).
  "200 B session" means 200 bytes of claims JSON (the sealed cookie is longer).
  With a ring of N keys the cookie is sealed with the oldest key (worst case).
  The \`request\` op is the core's whole part of one cookie request as the shell
  runs it (the request's headers in as one string, \`Gateway::handle\` with the
  denylist in memory, the upstream header changes, the origin's headers in,
  \`Gateway::finish\`, the downstream changes): the wasm share of an end-to-end
  request, without the runtime's own work.
- **#5, end to end**: the same cookie request through edge-session, through a
  Hono + jose peer (\`benches/workers/peer.js\`: JWE cookie, the same two denylist
  keys in one bulk KV read as edge-session, the same HS256 assertion, proxy), and
  through a passthrough JS worker (the floor).
  Both are measured twice: with the local KV simulator (whose cost dominates both)
  and with the in-memory denylist binding (the workers' own cost). The budgets
  are checked for both. The entry rows run the same wasm behind worker-build's own
  entry (kept by \`scripts/build-worker.sh\` under \`target/worker-build-entry/\`).
  The executor rows run the same sources built with the \`bench-wbg-executor\`
  feature (\`scripts/build-worker.sh --features=… --out=…\`): each request on
  wasm-bindgen-futures' executor, as under \`#[event(fetch)]\`, instead of the
  JS-driven task of \`src/shell/drive.rs\`; same thin entry.
- **#2**: \`native-ops\` and \`wasm-node.mjs\` run the same \`benches/ops\` loops natively
  and as wasm under node (the wasm-bindgen \`--target web\` glue workerd also loads), one process per sample,
  pinned to CPU ${SERVER_CPU}.

## Not measured yet

- An iron-session end-to-end peer (iron-session is measured per operation only).
- Key-ring size end to end (measured per operation only: the lookup is a scan of
  at most 16 kids, invisible next to the AEAD).
- Production Workers KV latency and CPU, multi-isolate behaviour, and cold start on
  Cloudflare's edge (where the script is compiled at upload): here "cold start" is a
  fresh local workerd process.
${report.notes.length ? `\n## Notes from this run\n\n${report.notes.map((n) => `- ${n}`).join("\n")}\n` : ""}${report.skipped.length ? `\n## Not measured in this run\n\n${report.skipped.map((n) => `- ${n}`).join("\n")}\n` : ""}`;
  writeFileSync(join(ROOT, "BENCHMARKS.md"), md);
}

async function cleanup() {
  if (mf) {
    try {
      await mf.dispose();
    } catch {
      // already gone
    }
  }
  for (const c of children) c.kill("SIGTERM");
}

async function main() {
  pin(process.pid, LOAD_CPU);
  const lines = machine();
  if (SECTIONS.has("1")) await section1();
  else report.skip("issue #2 rows (BENCH_SECTIONS)");
  if (["2", "3", "4", "5"].some((n) => SECTIONS.has(n)) || env.BENCH_HOLD) await prepare();
  if (env.BENCH_HOLD) {
    log(`servers up (ports ${JSON.stringify(fx.workers)}, origin ${PORT}); Ctrl-C stops`);
    log(`cookie: ${cookieOf(fx.cookie.sealed)}`);
    log(`peer cookie: ${cookieOf(fx.peerCookie)}`);
    await new Promise(() => {});
  }
  if (SECTIONS.has("2")) await section2();
  else report.skip("issue #3 rows (BENCH_SECTIONS)");
  if (SECTIONS.has("3")) await section3();
  else report.skip("issue #4 rows (BENCH_SECTIONS)");
  if (SECTIONS.has("4")) {
    await section4ops();
    await section4e2e();
    section4sizes();
    await coldStart();
  } else report.skip("issue #5 rows (BENCH_SECTIONS)");
  if (SECTIONS.has("5")) await section5fleet();
  else report.skip("issue #17 rows (BENCH_SECTIONS)");
  lines.push(stealLine());
  const table = report.table();
  console.log(`\n${lines.join("\n")}\n\n${table}\n\nBudgets:\n${report.budgetList()}\n`);
  if (report.notes.length) console.log(`Notes:\n${report.notes.map((n) => `- ${n}`).join("\n")}\n`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (WRITE) {
    writeMarkdown(lines, table);
    log("wrote BENCHMARKS.md");
  }
}

for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
]) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(code);
  });
}
process.on("exit", () => {
  for (const c of children) c.kill("SIGTERM");
});

try {
  await main();
} catch (e) {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
