// Skew-free static assets end to end (issue #4): the demo page built with
// content-hashed names (`edge-session assets build`), published into the real
// local KV of `wrangler dev` (`edge-session assets publish --local --persist-to`),
// and served by the worker: old deploys' hashed files and lazy chunks survive a
// new deploy, pins (?dpl=, X-Deploy-Id, cookie) choose the HTML, rollback,
// canary share, gc of exactly the unreferenced blobs, SPA fallback for
// navigations only, hostile paths, and no session work on hashed assets.
//
// The steps of the first stack build on each other and run in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startStack } from './harness.mjs';
import { Client } from './client.mjs';
import { IMMUTABLE, NAV, assetKeys, buildVariant, cli, kvArgs, publish, sha256 } from './assets-site.mjs';

let tmp;
/** Built sites by tag (see buildVariant). */
const sites = {};

/** The stack's port, for `req`. */
let port;

/**
 * One request with exactly the given headers (fetch would force
 * `Sec-Fetch-Mode: cors` and normalise the path), body as a Buffer, headers as
 * a `Headers` (so `getSetCookie()` works). Each on its own connection: node's
 * default agent keeps sockets alive, and a request written to a kept-alive socket
 * just as the dev server closes it for idleness fails with "socket hang up" (seen
 * once, on the first request after a slow `assets promote`, in a fresh-clone run).
 */
function req(target, { method = 'GET', headers = {}, to = port } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port: to, path: target, method, headers, agent: false };
    const r = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: h, body, text: body.toString() });
      });
    });
    r.on('error', reject);
    r.setTimeout(20_000, () => r.destroy(new Error(`timeout on ${method} ${target.slice(0, 80)}`)));
    r.end();
  });
}

/** Asset URLs (src/href) of an HTML page, local ones only. */
const assetUrls = (html) =>
  [...html.matchAll(/(?:src|href)="(\/[^"?#]+)"/g)].map((m) => m[1]).filter((u) => u !== '/');

let stack;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-session-assets-'));
  for (const tag of ['v1', 'v2', 'v3', 'v4']) sites[tag] = await buildVariant(tmp, tag);
  stack = await startStack({ vars: { ASSET_CACHE_TTL: '0' } });
  port = stack.port;
});
after(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the build hashes every script, style and image, HTML keeps its name', () => {
  const names = [...sites.v1.files.keys()].sort();
  for (const n of names.filter((n) => n !== 'index.html')) {
    assert.match(n, /\.[0-9a-f]{8}\.(js|css|svg)$/, `${n} is content-hashed`);
  }
  assert.ok(names.includes('index.html'));
  for (const u of assetUrls(sites.v1.html)) assert.ok(sites.v1.files.has(u.slice(1)), `${u} is built`);
  const v1 = new Set(sites.v1.files.keys());
  for (const n of sites.v2.files.keys()) {
    if (n !== 'index.html') assert.ok(!v1.has(n), `${n}: every hash changes between v1 and v2`);
  }
});

const pages = {};

test('publish v1: the page and its hashed assets come from KV', async () => {
  const out = await publish(stack, sites.v1.dir, 'v1');
  assert.match(out, /deploy v1 is current/);
  const page = await req('/', { headers: NAV });
  assert.equal(page.status, 200, page.text);
  assert.equal(page.headers.get('x-deploy-id'), 'v1');
  assert.equal(page.text, sites.v1.html);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.match(page.headers.getSetCookie().join('\n'), /^__Host-dpl=v1; Path=\/; Secure; HttpOnly; SameSite=Lax$/m);
  const urls = assetUrls(page.text);
  assert.ok(urls.length >= 3, `asset URLs in the page: ${urls}`);
  const app = urls.find((u) => /^\/app\.[0-9a-f]{8}\.js$/.test(u));
  const js = await req(app);
  assert.equal(js.status, 200);
  const lazy = /import\('\.\/(lazy\.[0-9a-f]{8}\.js)'\)/.exec(js.text)?.[1];
  assert.equal(`/${lazy}`, sites.v1.lazy, 'the served app.js imports the hashed chunk');
  pages.v1 = { urls: [...urls, sites.v1.lazy] };
});

test('publish v2: new clients get v2, every v1 file and lazy chunk still loads', async () => {
  assert.match(await publish(stack, sites.v2.dir, 'v2'), /deploy v2 is current/);
  const page = await req('/', { headers: NAV });
  assert.equal(page.headers.get('x-deploy-id'), 'v2');
  assert.equal(page.text, sites.v2.html);
  for (const u of pages.v1.urls) {
    const r = await req(u);
    assert.equal(r.status, 200, `${u} of v1 after v2: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.headers.get('cache-control'), IMMUTABLE, u);
    assert.ok(r.body.equals(sites.v1.files.get(u.slice(1))), `${u}: v1's bytes`);
    assert.equal(r.headers.get('set-cookie'), null, `${u}: no cookie on a hashed asset`);
    const type = { '.js': /^text\/javascript/, '.css': /^text\/css/, '.svg': /^image\/svg\+xml/ }[path.extname(u)];
    assert.match(r.headers.get('content-type'), type, u);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', u);
  }
});

test('hashed assets: strong ETag, 304, HEAD, Range 206 and 416', async () => {
  const u = sites.v1.lazy;
  const bytes = sites.v1.files.get(u.slice(1));
  const first = await req(u);
  const etag = first.headers.get('etag');
  assert.match(etag, /^"[^"]+"$/, 'strong ETag (no W/)');
  const cached = await req(u, { headers: { 'if-none-match': etag } });
  assert.equal(cached.status, 304);
  assert.equal(cached.body.length, 0);
  assert.equal(cached.headers.get('etag'), etag);
  // The 304 is built with no body at all: workerd warns about an empty one.
  await new Promise((r) => setTimeout(r, 500));
  assert.doesNotMatch(stack.output(), /null body status/);
  const other = await req(u, { headers: { 'if-none-match': '"nope"' } });
  assert.equal(other.status, 200);
  const head = await req(u, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get('etag'), etag);
  assert.equal(head.headers.get('cache-control'), IMMUTABLE);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  const part = await req(u, { headers: { range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 0-9/${bytes.length}`);
  assert.ok(part.body.equals(bytes.subarray(0, 10)));
  const tail = await req(u, { headers: { range: 'bytes=-5' } });
  assert.equal(tail.status, 206);
  assert.ok(tail.body.equals(bytes.subarray(bytes.length - 5)));
  const bad = await req(u, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), `bytes */${bytes.length}`);
  assert.equal(bad.headers.get('cache-control'), 'no-store');
});

test('pinned clients get v1 HTML: ?dpl=, X-Deploy-Id, pin cookie; unknown pins are ignored', async () => {
  const cases = [
    ['/?dpl=v1', NAV],
    ['/?dpl=v1', {}],
    ['/', { 'x-deploy-id': 'v1' }],
    ['/', { cookie: '__Host-dpl=v1' }],
    ['/index.html', { cookie: 'a=b; __Host-dpl=v1' }],
  ];
  for (const [p, headers] of cases) {
    const r = await req(p, { headers });
    assert.equal(r.status, 200, `${p} ${JSON.stringify(headers)}`);
    assert.equal(r.headers.get('x-deploy-id'), 'v1', `${p} ${JSON.stringify(headers)}`);
    assert.equal(r.text, sites.v1.html);
  }
  // A reload (navigation) is not held back by the cookie: it reaches the current deploy.
  const reload = await req('/', { headers: { ...NAV, cookie: '__Host-dpl=v1' } });
  assert.equal(reload.headers.get('x-deploy-id'), 'v2');
  assert.match(reload.headers.getSetCookie().join('\n'), /^__Host-dpl=v2;/m);
  for (const [p, headers] of [
    ['/?dpl=nope', NAV],
    ['/?dpl=..%2f..%2fx', {}],
    ['/', { 'x-deploy-id': 'v9' }],
    ['/', { cookie: '__Host-dpl=%00' }],
  ]) {
    const r = await req(p, { headers });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('x-deploy-id'), 'v2', `${p} ${JSON.stringify(headers)}: current`);
    assert.equal(r.text, sites.v2.html);
  }
});

test('unknown hashes are 404 no-store, never HTML', async () => {
  for (const p of ['/assets/app.deadbeef.js', '/app.deadbeef.js', '/lazy.0123abcd.js', '/style.ffffffff.css']) {
    for (const headers of [{}, NAV]) {
      const r = await req(p, { headers });
      assert.equal(r.status, 404, `${p}: ${r.status}`);
      assert.equal(r.headers.get('cache-control'), 'no-store', p);
      assert.doesNotMatch(r.headers.get('content-type') ?? '', /html/, p);
      assert.doesNotMatch(r.text, /<html|<!doctype/i, p);
      assert.equal(r.headers.get('set-cookie'), null, p);
    }
  }
});

test('hostile paths answer 400 or 404, never 5xx', async () => {
  const long = 'a'.repeat(2000);
  const targets = [
    '/../../etc/passwd',
    '/..%2f..%2fetc%2fpasswd',
    '/assets/..%2f..%2fwrangler.toml',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/assets/%2e%2e%2findex.html',
    // URL parsing resolves %2e%2e before the worker: it stays inside the root.
    '/assets/%2e%2e/%2e%2e/%2e%2e/wrangler.toml',
    '/app%2f..%2fx.js',
    '/a%5cb.js',
    '/%00.js',
    '/assets/a%00.js',
    '/index.html%00.js',
    `/assets/${long}.js`,
    `/${long}.css`,
    `/${long}`,
    '/%ff%fe.js',
    '/assets/%',
  ];
  for (const t of targets) {
    const r = await req(t, { headers: NAV });
    assert.ok([400, 404].includes(r.status), `${t.slice(0, 80)}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.doesNotMatch(r.text, /\[kv_namespaces\]|root:|<!doctype/i, `${t.slice(0, 80)}: leaks`);
  }
  const post = await req(sites.v1.lazy, { method: 'POST' });
  assert.equal(post.status, 405);
});

test('rollback: promote v1, new clients get v1; promote v2 again', async () => {
  assert.match(await cli(['assets', 'promote', 'v1', ...kvArgs(stack)]), /deploy v1 is current/);
  let r = await req('/', { headers: NAV });
  assert.equal(r.headers.get('x-deploy-id'), 'v1');
  assert.equal(r.text, sites.v1.html);
  r = await req(sites.v2.lazy);
  assert.equal(r.status, 200, 'v2 stays retained after the rollback');
  await cli(['assets', 'promote', 'v2', ...kvArgs(stack)]);
  r = await req('/', { headers: NAV });
  assert.equal(r.headers.get('x-deploy-id'), 'v2');
});

/** Runs `fn(i)` for i in 0..n with `width` in flight. */
async function pool(n, width, fn) {
  const out = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

test('canary: v3 at 20 % reaches 20 % ± 5 % of 1000 new clients, stably', async () => {
  assert.match(await publish(stack, sites.v3.dir, 'v3', '--canary', '20'), /deploy v3 is canary at 20%/);
  const deployOf = async (i) => {
    const r = await req('/', { headers: { ...NAV, 'user-agent': `e2e-client-${i}` } });
    assert.equal(r.status, 200);
    return r.headers.get('x-deploy-id');
  };
  const seen = await pool(1000, 16, deployOf);
  const v3 = seen.filter((d) => d === 'v3').length;
  const v2 = seen.filter((d) => d === 'v2').length;
  assert.equal(v2 + v3, 1000, `only v2 and v3 are served: ${[...new Set(seen)]}`);
  assert.ok(v3 >= 150 && v3 <= 250, `v3 got ${v3} of 1000 clients`);
  // Assignment is stable per client.
  for (const i of [0, 1, 2, 3, 4, 5, 6, 7]) assert.equal(await deployOf(i), seen[i], `client ${i}`);
});

test('gc: dry run lists exactly the unreferenced keys; gc deletes exactly them, never current or canary', async () => {
  // v4 current, then v1 current again and v2 the canary: with keep-last 1 only
  // v3 falls out of retention (v4 is the newest, v1 current, v2 canary).
  await publish(stack, sites.v4.dir, 'v4');
  await cli(['assets', 'promote', 'v1', ...kvArgs(stack)]);
  await cli(['assets', 'promote', 'v2', '--canary', '50', ...kvArgs(stack)]);
  const expected = new Set(['manifest:v3', ...[...sites.v3.files.values()].map((b) => `blob:${sha256(b)}`)]);
  for (const tag of ['v1', 'v2', 'v4']) {
    for (const b of sites[tag].files.values()) assert.ok(!expected.has(`blob:${sha256(b)}`), 'v3 shares no file');
  }
  const before = await assetKeys(stack);
  for (const k of expected) assert.ok(before.has(k), `${k} was published`);
  const retention = ['--retain', '1', '--retain-days', '0'];
  const dry = await cli(['assets', 'gc', '--dry-run', ...retention, ...kvArgs(stack)]);
  const listed = new Set(dry.split('\n').filter((l) => /^ {2}(blob|manifest):/.test(l)).map((l) => l.trim()));
  assert.deepEqual([...listed].sort(), [...expected].sort(), dry);
  assert.match(dry, /drop 1 deploys: v3/);
  assert.deepEqual(await assetKeys(stack), before, 'a dry run deletes nothing');
  const run = await cli(['assets', 'gc', ...retention, ...kvArgs(stack)]);
  assert.match(run, new RegExp(`collected 1 manifests and ${expected.size - 1} blobs`));
  const afterKeys = await assetKeys(stack);
  const gone = [...before].filter((k) => !afterKeys.has(k)).sort();
  assert.deepEqual(gone, [...expected].sort());
  assert.equal([...afterKeys].filter((k) => !before.has(k)).length, 0);
  // Current (v1), canary (v2) and newest (v4) still serve; v3 is gone for good.
  for (const tag of ['v1', 'v2', 'v4']) {
    const r = await req(sites[tag].lazy);
    assert.equal(r.status, 200, `${tag} lazy chunk after gc`);
  }
  const v3 = await req(sites.v3.lazy);
  assert.equal(v3.status, 404);
  const pinned = await req('/?dpl=v3', { headers: { 'user-agent': 'not-in-canary?' } });
  assert.equal(pinned.status, 200);
  assert.notEqual(pinned.headers.get('x-deploy-id'), 'v3', 'a pin to a collected deploy is ignored');
  const list = JSON.parse(await cli(['assets', 'list', '--json', ...kvArgs(stack)]));
  assert.deepEqual(list.deploys.map((d) => d.id).sort(), ['v1', 'v2', 'v4']);
  assert.equal(list.current, 'v1');
  assert.equal(list.canary.id, 'v2');
});

test('SPA fallback (navigations only) and no session work on hashed assets', async () => {
  // A second stack, same keys, a denylist binding that does not exist and
  // revocation failing closed: any denylist read would show in its log.
  const user = new Client(stack.url);
  await user.login('assets-user');
  const session = user.cookieHeader();
  assert.match(session, /__Host-session/);
  const broken = await startStack({
    vars: { SPA_FALLBACK: 'index.html', DENYLIST_BINDING: 'NOPE', REVOCATION_FAIL_MODE: 'closed', ASSET_CACHE_TTL: '0' },
    secrets: stack.secrets,
  });
  try {
    await publish(broken, sites.v1.dir, 'v1');
    const closed = () => (broken.output().match(/failing closed/g) ?? []).length;
    const before = closed();
    const hashed = [...sites.v1.files.keys()].filter((k) => k !== 'index.html').map((k) => `/${k}`);
    for (const u of hashed) {
      for (const method of ['GET', 'HEAD']) {
        const r = await req(u, { to: broken.port, method, headers: { cookie: `${session}; __Host-dpl=v1` } });
        assert.equal(r.status, 200, `${method} ${u} with a session cookie and a broken denylist`);
        assert.deepEqual(r.headers.getSetCookie(), [], `${method} ${u}: no Set-Cookie`);
        assert.equal(r.headers.get('cache-control'), IMMUTABLE);
      }
    }
    // The probe works: an API call with the same cookie does read the denylist.
    const me = await req('/api/me', { to: broken.port, headers: { cookie: session } });
    assert.equal(me.status, 503, me.text);
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = closed();
    }
    assert.equal(after, before + 1, `only /api/me read the denylist\n${broken.output()}`);

    // SPA fallback: navigations to unknown app routes get index.html…
    for (const p of ['/some/app/route', '/settings', '/users/42?tab=x']) {
      const r = await req(p, { to: broken.port, headers: NAV });
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('x-deploy-id'), 'v1', p);
      assert.equal(r.text, sites.v1.html, p);
    }
    // …but not fetches, not asset-looking paths, not origin paths.
    const xhr = await req('/some/app/route', { to: broken.port, headers: { accept: 'application/json' } });
    assert.notEqual(xhr.text, sites.v1.html, 'a fetch is not a navigation');
    for (const p of ['/missing.js', '/app.deadbeef.js', '/assets/logo.png', '/style.00000000.css']) {
      const r = await req(p, { to: broken.port, headers: NAV });
      assert.equal(r.status, 404, p);
      assert.equal(r.headers.get('cache-control'), 'no-store', p);
      assert.doesNotMatch(r.text, /<!doctype/i, p);
    }
    const api = await req('/api/nothing-here', { to: broken.port, headers: NAV });
    assert.notEqual(api.text, sites.v1.html, 'origin paths never fall back');
  } finally {
    await broken.stop();
  }
});

test('a deploy is served by an isolate with a fresh cache the moment publish returns', async () => {
  // The cache keeps the deploy list for 300 s: without the re-read after a miss,
  // the new deploy's scripts would be 404 here for five minutes.
  const fresh = await startStack({ vars: { ASSET_CACHE_TTL: '300' }, secrets: stack.secrets });
  try {
    await publish(fresh, sites.v1.dir, 'v1');
    const warm = await req(sites.v1.app, { to: fresh.port });
    assert.equal(warm.status, 200, 'the isolate has read the deploy list');
    const probes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => req(`/assets/missing-${i}.deadbeef.js`, { to: fresh.port })),
    );
    assert.ok(probes.every((r) => r.status === 404), 'probes of missing files are 404');
    await new Promise((r) => setTimeout(r, 1100)); // the re-read is at most once a second
    await publish(fresh, sites.v2.dir, 'v2');
    for (const u of [sites.v2.app, sites.v2.lazy]) {
      const r = await req(u, { to: fresh.port });
      assert.equal(r.status, 200, `${u} of v2 right after publish: ${r.text}`);
      assert.equal(r.headers.get('x-deploy-id'), 'v2', u);
    }
    // The log line reaches wrangler's output a moment after the response.
    for (let i = 0; i < 100 && !/read the deploy list again/.test(fresh.output()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(fresh.output(), /read the deploy list again/);
  } finally {
    await fresh.stop();
  }
});
