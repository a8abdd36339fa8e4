// The thin JS entry (scripts/thin-entry.mjs): the built worker uses it, it keeps
// worker-build's panic recovery, and it refuses a bundle it does not recognize.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'thin-entry.mjs');
const MARK = '/* edge-session: thin entry */';

// The shape of worker-build 0.8.7's minified bundle, reduced to the parts the
// patch touches, with a fake wasm export that can trap.
const BUNDLE = [
  'var h={criticalError:!1,resets:0,calls:[]};',
  'function $(){h.criticalError&&(console.log("Reinitializing Wasm application"),h.resets++,h.criticalError=!1)}',
  'function H(r){r instanceof WebAssembly.RuntimeError&&(h.criticalError=!0)}',
  // Like the wasm export: an answer at once, or a promise of one; a trap can come
  // either way (in the first poll or after an await).
  'function ft(t,e,n){h.calls.push([t,e,n]);if(t==="trap now")throw new WebAssembly.RuntimeError("unreachable");if(t.startsWith("now"))return"ok:"+t;return t==="trap"?Promise.reject(new WebAssembly.RuntimeError("unreachable")):t==="throw"?Promise.reject(new Error("plain")):Promise.resolve("ok:"+t)}',
  // The cron trigger's export (src/shell/mod.rs `scheduled`).
  'function st(t,e,n){h.calls.push(["scheduled",t,e,n]);if(t==="trap")throw new WebAssembly.RuntimeError("unreachable");return Promise.resolve("ran:"+t)}',
  'var L=class{};L.prototype.fetch=function(t){return ft.call(this,t,this.env,this.ctx)};',
  'L.prototype.scheduled=function(t){return st.call(this,t,this.env,this.ctx)};',
  'var Lt=new Proxy(L,{}),qt=class{};export{qt as Revocations,h as state,Lt as default};',
].join('');

function patch(source) {
  const dir = mkdtempSync(join(tmpdir(), 'thin-entry-'));
  const file = join(dir, 'index.mjs');
  writeFileSync(file, source);
  const run = spawnSync(process.execPath, [SCRIPT, file, join(dir, 'orig', 'index.mjs')], { encoding: 'utf8' });
  return { dir, file, run };
}

test('the built worker answers through the thin entry, and the original is kept', () => {
  const built = readFileSync(join(ROOT, 'build', 'index.js'), 'utf8');
  assert.ok(built.includes(MARK), 'build/index.js is patched');
  assert.match(built, /export\{[^}]*__edgeSessionEntry as default[^}]*\}/);
  assert.match(built, /Revocations/, 'the Durable Object class is still exported');
  const target = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
  const original = join(target, 'worker-build-entry', 'index.js');
  assert.ok(existsSync(original), `${original} (worker-build's entry, for make bench) exists`);
  assert.ok(!readFileSync(original, 'utf8').includes(MARK));
});

test('requests reach the wasm export; a trap is flagged and the next request reinitializes', async () => {
  const { file, run } = patch(BUNDLE);
  assert.equal(run.status, 0, run.stderr);
  const mod = await import(pathToFileURL(file).href);
  const { default: entry, state } = mod;
  assert.equal(typeof entry.fetch, 'function');
  assert.equal(typeof mod.Revocations, 'function');
  assert.equal(await entry.fetch('a', 'env', 'ctx'), 'ok:a');
  assert.deepEqual(state.calls.at(-1), ['a', 'env', 'ctx']);
  assert.equal(entry.fetch('now', 'env', 'ctx'), 'ok:now', 'an answer at once is passed on as is');

  await assert.rejects(entry.fetch('throw', 'env', 'ctx'), /plain/);
  assert.equal(state.criticalError, false, 'an ordinary error is not a trap');

  await assert.rejects(entry.fetch('trap', 'env', 'ctx'), WebAssembly.RuntimeError);
  assert.equal(state.criticalError, true, 'a trap is flagged');
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await entry.fetch('b', 'env', 'ctx'), 'ok:b');
  } finally {
    console.log = log;
  }
  assert.equal(state.resets, 1, 'the next request reinitialized first');
  assert.equal(state.criticalError, false);

  assert.throws(() => entry.fetch('trap now', 'env', 'ctx'), WebAssembly.RuntimeError);
  assert.equal(state.criticalError, true, 'a trap before the first await is flagged too');
  console.log = () => {};
  try {
    assert.equal(entry.fetch('now b', 'env', 'ctx'), 'ok:now b');
  } finally {
    console.log = log;
  }
  assert.equal(state.resets, 2);

  // The cron trigger goes through the same recovery.
  assert.equal(typeof entry.scheduled, 'function');
  assert.equal(await entry.scheduled('cron', 'env', 'ctx'), 'ran:cron');
  assert.deepEqual(state.calls.at(-1), ['scheduled', 'cron', 'env', 'ctx']);
  assert.throws(() => entry.scheduled('trap', 'env', 'ctx'), WebAssembly.RuntimeError);
  assert.equal(state.criticalError, true, 'a trap in the cron handler is flagged');
  console.log = () => {};
  try {
    assert.equal(await entry.scheduled('again', 'env', 'ctx'), 'ran:again');
  } finally {
    console.log = log;
  }
  assert.equal(state.resets, 3, 'and the next call reinitializes');
});

test('patching twice changes nothing', () => {
  const { file, run } = patch(BUNDLE);
  assert.equal(run.status, 0, run.stderr);
  const once = readFileSync(file, 'utf8');
  execFileSync(process.execPath, [SCRIPT, file], { stdio: 'pipe' });
  assert.equal(readFileSync(file, 'utf8'), once);
});

test('an unrecognized bundle fails the build and names what is missing', () => {
  for (const [broken, what] of [
    [BUNDLE.replace('L.prototype.fetch=', 'L.prototype.other='), 'fetch handler'],
    [BUNDLE.replace('L.prototype.scheduled=', 'L.prototype.other='), 'scheduled handler'],
    [BUNDLE.replace('Reinitializing Wasm application', 'Restarting'), 'reinitialize check'],
    [BUNDLE.replace('instanceof WebAssembly.RuntimeError', 'instanceof Error'), 'trap handler'],
    [BUNDLE.replace('Lt as default', 'Lt as main'), 'default export'],
  ]) {
    const { file, run } = patch(broken);
    assert.equal(run.status, 1, `${what}: exit status`);
    assert.match(run.stderr, new RegExp(what));
    assert.equal(readFileSync(file, 'utf8'), broken, `${what}: file untouched`);
  }
});
