// Removes the duplicate module keys wasm-bindgen writes into its imports object,
// before anything bundles its output (scripts/build-worker.sh runs this on the JS
// glue of every wasm-bindgen run; see there).
//
// Why: wasm-bindgen (0.2.130 and its main branch at the time of writing,
// `generate_esm_cjs_imports` in crates/cli-support/src/js/mod.rs) emits one
// `import * as importN from "<module>"` and one `"<module>": importN` entry of the
// object `__wbg_get_imports()` returns per *direct import* of the wasm, not per
// module. A snippet with two functions that wasm imports directly (every argument
// and result passes as is, no `catch`: `drive` and `settleAll` in
// src/shell/drive.rs) therefore appears twice:
//
//     "./snippets/edge-session-<hash>/inline1.js": import2,
//     "./snippets/edge-session-<hash>/inline1.js": import3,
//
// Both name the same module namespace, so the object is right, but it is a
// duplicate key in an object literal: esbuild warns about it when worker-build
// bundles the glue and again when wrangler bundles build/index.js
// ("Duplicate key … in object literal"), and a real warning would drown in it.
// This keeps the first entry of each module and drops the later ones with their
// now-unused `import * as` lines.
//
//   node scripts/dedupe-snippet-imports.mjs <wasm-bindgen output .js>
//
// The glue must have exactly one `function __wbg_get_imports(`, returning one
// `{ __proto__: null, "./index_bg.js": import0, … }` whose entries are one a line and
// whose `};` starts a line: otherwise this fails and says so (a new wasm-bindgen
// needs a look here, never a silently unpatched build).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** `{ js, dropped }`: `js` without repeated module keys; `dropped` lists them. */
export function dedupeSnippetImports(js) {
  const starts = [...js.matchAll(/function __wbg_get_imports\(/g)];
  if (starts.length !== 1) {
    throw new Error(`expected one \`function __wbg_get_imports(\`, found ${starts.length}`);
  }
  // The object it returns: `return { __proto__: null, "./index_bg.js": import0, …`
  // (import0 holds the glue's own functions; the other importN are modules).
  const rets = [
    ...js.slice(starts[0].index).matchAll(/return\s*\{\s*__proto__:\s*null,\s*"[^"]*":\s*import0,/g),
  ];
  const ret = rets.length === 1 ? starts[0].index + rets[0].index : -1;
  const end = ret < 0 ? -1 : findEnd(js, ret);
  if (end < 0) {
    throw new Error(
      `could not find the one object \`__wbg_get_imports()\` returns (found ${rets.length} candidates)`,
    );
  }
  const seen = new Map(); // module -> the import binding kept
  const unused = []; // import bindings whose entries were dropped
  const dropped = [];
  const body = js.slice(ret, end).replace(
    /^([ \t]*)"((?:[^"\\]|\\.)*)":\s*([A-Za-z_$][\w$]*),[ \t]*\r?\n/gm,
    (line, _indent, module, binding) => {
      if (!seen.has(module)) {
        seen.set(module, binding);
        return line;
      }
      if (seen.get(module) === binding) {
        dropped.push(module);
        return "";
      }
      unused.push({ module, binding });
      dropped.push(module);
      return "";
    },
  );
  let out = js.slice(0, ret) + body + js.slice(end);
  for (const { module, binding } of unused) {
    // `import * as importN from "<module>"` (ESM) or `const importN = require("<module>");`
    const decl = new RegExp(
      `^[ \\t]*(?:import \\* as ${escape(binding)} from|const ${escape(binding)} = require\\() ?["']${escape(module)}["']\\)?;?[ \\t]*\\r?\\n`,
      "m",
    );
    const uses = out.match(new RegExp(`(?<![\\w$])${escape(binding)}(?![\\w$])`, "g")) ?? [];
    // Only the declaration is left once its entry is gone: drop it too. Anything
    // else still using the binding keeps it (harmless: it is the same module).
    if (uses.length === 1 && decl.test(out)) out = out.replace(decl, "");
  }
  return { js: out, dropped };
}

/** Index of the line holding the `};` that closes the object literal at `ret`, or -1. */
function findEnd(js, ret) {
  // The generator ends the returned object with `};` at the start of a line
  // (indented); the entries are one per line and hold no braces.
  const open = js.indexOf("{", ret);
  const m = /^[ \t]*\};/m.exec(js.slice(open));
  if (!m) return -1;
  const inner = js.slice(open + 1, open + m.index);
  if (/[{}]/.test(inner)) return -1;
  return open + m.index;
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node scripts/dedupe-snippet-imports.mjs <wasm-bindgen output .js>");
    process.exit(2);
  }
  let result;
  try {
    result = dedupeSnippetImports(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`dedupe-snippet-imports: ${file}: ${e.message}`);
    process.exit(1);
  }
  if (result.dropped.length > 0) {
    writeFileSync(file, result.js);
    console.error(
      `dedupe-snippet-imports: ${file}: dropped ${result.dropped.length} repeated import ` +
        `object key(s): ${[...new Set(result.dropped)].join(", ")}`,
    );
  }
}
