// Replaces the default export of worker-build's bundle (build/index.js) with a thin
// module-worker entry: `{ fetch(request, env, ctx), scheduled(event, env, ctx) }` calling the wasm exports
// directly, instead of a WorkerEntrypoint class behind two Proxies that workerd
// constructs on every request (measured in `make bench`: "thin JS entry" row).
// The export answers a Response, or a promise of one (src/shell/drive.rs); the entry
// passes either on.
//
// worker-build's panic recovery is kept: before each request the same
// check-and-reinitialize function runs, and a failed request goes through the same
// "was this a wasm trap?" handler, so an aborted instance is rebuilt as before.
//
//   node scripts/thin-entry.mjs <build/index.js> [<copy of the original>]
//
// The bundle is worker-build 0.8.7's minified output (pinned in scripts/lib.sh).
// Every pattern must match exactly once, else this fails and names the missing
// piece: a new worker-build needs a look here, never a silently unpatched build.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

const [file, keep] = process.argv.slice(2);
if (!file) {
  console.error("usage: node scripts/thin-entry.mjs <build/index.js> [<copy of the original>]");
  process.exit(2);
}
const MARK = "/* edge-session: thin entry */";
let js = readFileSync(file, "utf8");
if (js.includes(MARK)) {
  console.error(`thin-entry: ${file} is already patched`);
  process.exit(0);
}

const id = "[A-Za-z_$][\\w$]*";
function one(what, re) {
  const all = [...js.matchAll(new RegExp(re, "g"))];
  if (all.length !== 1) {
    console.error(`thin-entry: expected one ${what} in ${file}, found ${all.length} (pattern ${re})`);
    process.exit(1);
  }
  return all[0];
}

// Entrypoint.prototype.fetch = function (arg) { return exports.fetch.call(this, arg, this.env, this.ctx) }
const handler = one(
  "fetch handler",
  `(${id})\\.prototype\\.fetch=function\\((${id})\\)\\{return (${id})\\.call\\(this,\\2,this\\.env,this\\.ctx\\)\\}`,
);
const raw = handler[3];
// The same for the cron trigger's handler (src/shell/mod.rs `scheduled`).
const scheduled = one(
  "scheduled handler",
  `(${id})\\.prototype\\.scheduled=function\\((${id})\\)\\{return (${id})\\.call\\(this,\\2,this\\.env,this\\.ctx\\)\\}`,
)[3];
// function checkReinitialize() { if (initState.criticalError) { …reset… } }
const check = one(
  "reinitialize check",
  `function (${id})\\(\\)\\{${id}\\.criticalError&&\\(console\\.log\\("Reinitializing Wasm application"\\)`,
)[1];
// function handleMaybeCritical(e) { if (e instanceof WebAssembly.RuntimeError) … }
const critical = one(
  "trap handler",
  `function (${id})\\((${id})\\)\\{\\2 instanceof WebAssembly\\.RuntimeError&&`,
)[1];
// export { …, X as default }
const exp = one("export list", `export\\{([^}]*)\\};?\\s*$`);
const names = exp[1].split(",");
const dflt = names.filter((n) => /\sas default$/.test(n.trim()));
if (dflt.length !== 1) {
  console.error(`thin-entry: expected one default export in ${file}, found ${dflt.length}`);
  process.exit(1);
}

if (keep) {
  mkdirSync(dirname(keep), { recursive: true });
  writeFileSync(keep, js);
}
const entry =
  `${MARK}var __edgeSessionEntry={fetch(r,e,c){${check}();` +
  `try{const p=${raw}(r,e,c);return p instanceof Promise?p.catch(x=>{${critical}(x);throw x}):p}` +
  `catch(x){${critical}(x);throw x}},` +
  `scheduled(v,e,c){${check}();` +
  `try{const p=${scheduled}(v,e,c);return p instanceof Promise?p.catch(x=>{${critical}(x);throw x}):p}` +
  `catch(x){${critical}(x);throw x}}};`;
const list = names.map((n) => (n === dflt[0] ? "__edgeSessionEntry as default" : n)).join(",");
js = js.slice(0, exp.index) + entry + `export{${list}};\n`;
writeFileSync(file, js);
console.error(`thin-entry: ${file}: default export is the thin entry (wasm export \`${raw}\`)`);
