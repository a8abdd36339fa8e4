// Helpers shared by the asset end-to-end tests (assets*.test.mjs): build the
// demo site (www/) into content-hashed variants with `edge-session assets
// build`, and drive `edge-session assets …` against a stack's local KV.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { paths, ROOT } from './harness.mjs';

const execFileP = promisify(execFile);

/** `Cache-Control` of content-hashed files. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Request headers of a browser navigation. */
export const NAV = { 'sec-fetch-mode': 'navigate', accept: 'text/html,*/*;q=0.8' };

/** Runs the release CLI from the repository root; throws with its output on failure. */
export async function cli(args) {
  try {
    const { stdout, stderr } = await execFileP(paths.cli, args, { cwd: ROOT, maxBuffer: 16 << 20 });
    // The CLI's own retries of a wrangler one-shot ("trying again") show in the
    // end-to-end summary (tests/e2e/reporter.mjs), even when the call succeeded.
    if (stderr.trim()) console.error(stderr.trim());
    return stdout;
  } catch (e) {
    throw new Error(`edge-session ${args.join(' ')} failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
  }
}

/** The CLI flags that point `assets …` at a stack's local KV. */
export const kvArgs = (stack) => ['--local', '--persist-to', stack.persistTo, '--config', paths.wranglerToml];

/** `assets publish <dir> --deploy-id <id> [extra…]` into the stack's local KV. */
export const publish = (stack, dir, id, ...extra) =>
  cli(['assets', 'publish', dir, ...kvArgs(stack), '--deploy-id', id, ...extra]);

/** Every key of the stack's ASSETS namespace. */
export async function assetKeys(stack) {
  const { stdout } = await stack.wrangler(['kv', 'key', 'list', '--binding', 'ASSETS']);
  return new Set(JSON.parse(stdout).map((k) => k.name));
}

/** Files of a directory tree, dotfiles skipped as `assets publish` does: rel → bytes. */
export async function files(dir, rel = '') {
  const out = new Map();
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of await files(dir, r)) out.set(k, v);
    else out.set(r, await readFile(path.join(dir, r)));
  }
  return out;
}

/** SHA-256 hex, as in `blob:<hash>` keys. */
export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Copies www/ into `tmp/<tag>-src`, makes every file different (a comment with
 * the tag), and builds it into `tmp/<tag>` with the CLI.
 * @returns {Promise<{dir: string, files: Map<string, Buffer>, html: string, app: string, lazy: string}>}
 *   `app` and `lazy` are URL paths of the hashed main script and lazy chunk.
 */
export async function buildVariant(tmp, tag) {
  const src = path.join(tmp, `${tag}-src`);
  await cp(path.join(ROOT, 'www'), src, { recursive: true });
  for (const [rel, bytes] of await files(src)) {
    const ext = path.extname(rel);
    const note = ['.html', '.svg'].includes(ext) ? `\n<!-- ${tag} -->\n` : `\n/* ${tag} */\n`;
    await writeFile(path.join(src, rel), Buffer.concat([bytes, Buffer.from(note)]));
  }
  const dir = path.join(tmp, tag);
  await cli(['assets', 'build', src, dir]);
  const built = await files(dir);
  const html = built.get('index.html')?.toString();
  assert.ok(html, `${tag}: no index.html in the build`);
  const app = [...built.keys()].find((k) => /^app\.[0-9a-f]{8}\.js$/.test(k));
  assert.ok(app, `${tag}: no hashed app.js in ${[...built.keys()]}`);
  const m = /import\('\.\/(lazy\.[0-9a-f]{8}\.js)'\)/.exec(built.get(app).toString());
  assert.ok(m, `${tag}: the dynamic import in ${app} names no hashed chunk`);
  assert.ok(built.has(m[1]), `${tag}: ${m[1]} is imported but not built`);
  return { dir, files: built, html, app: `/${app}`, lazy: `/${m[1]}` };
}
