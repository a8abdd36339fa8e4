// The built worker as wrangler deploys it (issue #14): `wrangler deploy --dry-run`
// bundles build/index.js with wrangler's own esbuild and must print no warning
// (it printed `Duplicate key "./snippets/…/inline1.js" in object literal`, from
// wasm-bindgen's imports object; scripts/dedupe-snippet-imports.mjs removes those
// keys and scripts/build-worker.sh fails on any esbuild warning).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, paths } from './harness.mjs';
import { dedupeSnippetImports } from '../../scripts/dedupe-snippet-imports.mjs';

const execFileP = promisify(execFile);

/** Lines of bundler output that are warnings or errors (esbuild's and wrangler's). */
const problems = (text) =>
  text
    .replace(/\x1b\[[0-9;]*m/g, '') // colours, should any get through
    .split('\n')
    .filter((l) => /\[WARNING\]|\[ERROR\]|▲|✘|Duplicate key/.test(l));

test('wrangler deploy --dry-run bundles build/index.js without a warning', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(paths.workerEntry), `${paths.workerEntry} is missing: run scripts/build-worker.sh`);
  const outdir = mkdtempSync(join(tmpdir(), 'edge-session-dry-run-'));
  try {
    let run;
    try {
      run = await execFileP(
        process.execPath,
        [paths.wrangler, 'deploy', '--dry-run', '--outdir', outdir, '--config', paths.wranglerToml],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            EDGE_SESSION_SKIP_BUILD: '1', // the [build] step: the worker is prebuilt
            WRANGLER_SEND_METRICS: 'false',
            CLOUDFLARE_CF_FETCH_ENABLED: 'false',
            NO_COLOR: '1',
            FORCE_COLOR: '0',
          },
          maxBuffer: 16 << 20,
        },
      );
    } catch (e) {
      assert.fail(`wrangler deploy --dry-run failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
    }
    const output = `${run.stdout}\n${run.stderr}`;
    assert.match(output, /--dry-run: exiting now/, `a dry run ran to its end:\n${output}`);
    assert.deepEqual(problems(output), [], `bundler warnings or errors:\n${output}`);
    assert.ok(existsSync(join(outdir, 'index.js')), 'the bundle wrangler would upload was written');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('build/index.js names each wasm-bindgen snippet module once in the imports object', () => {
  const built = readFileSync(paths.workerEntry, 'utf8');
  const keys = [...built.matchAll(/"(\.\/snippets\/[^"]+)":/g)].map((m) => m[1]);
  assert.ok(keys.length > 0, 'the bundle imports wasm-bindgen snippets (src/shell/*.rs inline_js)');
  const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
  assert.deepEqual(repeated, [], 'no snippet module key appears twice');
});

// The shape of wasm-bindgen 0.2.130's `--target module` glue (its reference test
// import-target-module-experimental-reset-state-function.js), reduced to the
// imports, with the repeated entry it writes for a second direct import of one
// snippet.
const SNIPPET = './snippets/edge-session-0123456789abcdef/inline1.js';
const glue = (extra) => [
  '/* @ts-self-types="./index.d.ts" */',
  'import * as import1 from "./snippets/edge-session-0123456789abcdef/inline0.js"',
  `import * as import2 from "${SNIPPET}"`,
  ...(extra ? [`import * as import3 from "${SNIPPET}"`] : []),
  'import source wasmModule from "./index_bg.wasm";',
  '',
  'function __wbg_get_imports() {',
  '    const import0 = {',
  '        __proto__: null,',
  '        __wbg_x_1: function(arg0) { return { a: arg0 }; },',
  '    };',
  '    return {',
  '        __proto__: null,',
  '        "./index_bg.js": import0,',
  '        "./snippets/edge-session-0123456789abcdef/inline0.js": import1,',
  `        "${SNIPPET}": import2,`,
  ...(extra ? [`        "${SNIPPET}": import3,`] : []),
  '    };',
  '}',
  'export { __wbg_get_imports };',
  '',
].join('\n');

test('dedupe-snippet-imports drops repeated module keys and their imports, nothing else', () => {
  const { js, dropped } = dedupeSnippetImports(glue(true));
  assert.deepEqual(dropped, [SNIPPET]);
  assert.equal(js, glue(false));
  const clean = dedupeSnippetImports(glue(false));
  assert.deepEqual(clean.dropped, []);
  assert.equal(clean.js, glue(false), 'glue without repeats is left as it is');
});

test('dedupe-snippet-imports refuses glue it does not recognize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedupe-'));
  try {
    const file = join(dir, 'index.js');
    writeFileSync(file, 'export function f() { return { "./a.js": 1, "./a.js": 2 }; }\n');
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'dedupe-snippet-imports.mjs'), file], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /expected one `function __wbg_get_imports\(`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
