// Fixtures for the end-to-end benchmarks: keys and cookies (from the real CLI),
// a small site published into a local KV (through the real CLI and wrangler),
// the bundled JavaScript peers, and the Miniflare/workerd configuration.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "./proc.mjs";

export const DENYLIST_ID = "00000000000000000000000000000b01";
export const ASSETS_ID = "00000000000000000000000000000b02";
export const DEPLOY_ID = "bench1";
export const COOKIE = "__Host-session";
export const PIN_COOKIE = "__Host-dpl";

/** Loads a package from the repository's node_modules (wrangler's miniflare, esbuild). */
export function toolRequire(toolsDir) {
  return createRequire(join(toolsDir, "package.json"));
}

export function compatibilityDate(root) {
  const toml = join(root, "wrangler.toml");
  const m = existsSync(toml) && /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(toml, "utf8"));
  return m ? m[1] : "2026-04-20";
}

/** `edge-session keygen --dev-vars` → { SESSION_KEYS, ORIGIN_SECRET }. */
export async function keygen(cli) {
  const out = await run(cli, ["keygen", "--dev-vars", "--kid", "bench"]);
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** A cookie minted by the CLI, and its claims (through `edge-session open`). */
export async function cliCookie(cli, keys, sub = "bench") {
  const sealed = (await run(cli, ["seal", "--keys", keys, "--sub", sub])).trim();
  const claims = JSON.parse(await run(cli, ["open", "--keys", keys, sealed]));
  return { sealed, claims };
}

/**
 * A deterministic site: `index.html` (about 4 KiB) and one content-hashed
 * script (48 KiB) under `assets/`. Returns the paths to request.
 */
export function makeSite(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "assets"), { recursive: true });
  const lines = [];
  for (let i = 0; lines.join("\n").length < 48 * 1024; i++) {
    lines.push(`export function f${i}(x) { return (x * ${i + 7}) ^ ${(i * 2654435761) >>> 0}; }`);
  }
  const js = lines.join("\n").slice(0, 48 * 1024);
  const hash = createHash("sha256").update(js).digest("hex").slice(0, 8);
  const script = `assets/app.${hash}.js`;
  writeFileSync(join(dir, script), js);
  let body = "";
  for (let i = 0; body.length < 3800; i++) body += `<p>Paragraph ${i} of the benchmark page.</p>\n`;
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>bench</title>\n<script type="module" src="/${script}"></script></head>\n<body>\n${body}</body></html>\n`;
  writeFileSync(join(dir, "index.html"), html);
  return { script: `/${script}`, html: "/", scriptBytes: js.length, htmlBytes: html.length };
}

/** A wrangler.toml that names the two local KV namespaces (for `wrangler kv --local`). */
export function writeWranglerToml(path, compat) {
  writeFileSync(
    path,
    [
      'name = "edge-session-bench"',
      `compatibility_date = "${compat}"`,
      "[[kv_namespaces]]",
      'binding = "DENYLIST"',
      `id = "${DENYLIST_ID}"`,
      "[[kv_namespaces]]",
      'binding = "ASSETS"',
      `id = "${ASSETS_ID}"`,
      "",
    ].join("\n"),
  );
}

/** Publishes `site` into the local ASSETS namespace under `persist` with the real CLI. */
export async function publish({ cli, site, persist, config, wrangler, cwd }) {
  return run(
    cli,
    [
      "assets",
      "publish",
      site,
      "--deploy-id",
      DEPLOY_ID,
      "--local",
      "--persist-to",
      persist,
      "--config",
      config,
      "--wrangler",
      wrangler,
    ],
    { cwd, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" } },
  );
}

/** Bundles a worker with esbuild (minified ESM, as wrangler would). */
export async function bundle({ esbuild, entry, outfile, nodePaths, alias = {}, external = [] }) {
  const args = [
    entry,
    "--bundle",
    "--minify",
    "--format=esm",
    "--platform=neutral",
    "--main-fields=module,main",
    "--conditions=workerd,worker,browser",
    "--target=es2022",
    `--outfile=${outfile}`,
    "--log-level=warning",
  ];
  for (const [k, v] of Object.entries(alias)) args.push(`--alias:${k}=${v}`);
  for (const e of external) args.push(`--external:${e}`);
  await run(esbuild, args, { env: { ...process.env, NODE_PATH: nodePaths.join(":") } });
  return outfile;
}

/** The ops worker's directory: bundle + the wasm it imports, side by side. */
export async function bundleOps({ esbuild, benches, opsWeb, outDir, nodePaths }) {
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(opsWeb, "edge_session_bench_ops_bg.wasm"), join(outDir, "ops_bg.wasm"));
  return bundle({
    esbuild,
    entry: join(benches, "workers/ops.js"),
    outfile: join(outDir, "ops.js"),
    nodePaths,
    alias: { "ops-glue": join(opsWeb, "edge_session_bench_ops.js") },
    external: ["./ops_bg.wasm"],
  });
}

/** Turns `Set-Cookie`-style name=value pairs into one `Cookie` request header. */
export function cookieHeader(pairs) {
  return pairs.map(([k, v]) => `${k}=${v}`).join("; ");
}

/** Splits a sealed value into the worker's chunk cookies (`<n>~<fnv1a32>~` head). */
export function chunkCookie(name, value, chunkLen = 3900) {
  if (value.length + name.length + 1 <= chunkLen) return [[name, value]];
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const n = Math.ceil((value.length + 16) / chunkLen);
  const body = `${n}~${h.toString(16).padStart(8, "0")}~${value}`;
  const size = Math.ceil(body.length / n);
  const out = [];
  for (let i = 0; i < n; i++) out.push([`${name}.${i}`, body.slice(i * size, (i + 1) * size)]);
  return out;
}

export function ensureDir(path) {
  mkdirSync(dirname(path), { recursive: true });
}
