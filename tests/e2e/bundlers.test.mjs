// Skew-free deploys with real bundlers (issue #14): apps built by Vite (8.4.0,
// Rolldown) and by esbuild, 30 lazy chunks each (every other one with its own
// CSS), deployed 10 times in a row with every content hash changing each time.
// A Chromium tab is opened on each deploy as it goes live and loads nothing lazy;
// after the 10th deploy every tab imports all of its chunks at once. The tabs
// share one browser context, as tabs of one browser do, so the pin cookie each
// page sets (`__Host-dpl`) names the newest deploy by then, and an older tab's
// chunks are found only as immutable files of a retained deploy. Every tab
// must get exactly its own deploy's files: no failed request, no HTTP >= 400, no
// console or page error, every chunk's module ran (the DOM says so) and its CSS
// (from that deploy) applied; and publish counted every JS and CSS file as
// immutable. One stack, default ASSET_CACHE_TTL.
//
// Why: a page of an older Vite deploy got a 404 for one of its lazy chunks.
// Rollup/Rolldown hashes are 8 base64url characters and may begin with `-` or
// `_` (`assets/lazy08--myuWDRi.js`); publish took such a name for "not
// content-hashed" (mutable), and a mutable file is served only from the deploy
// a request is pinned to, so the chunk was a 404 for that deploy's pages as soon
// as a newer page in the same browser had moved the pin. The app here is chosen
// so that such hashes occur in older deploys (the builds are deterministic for
// the pinned Vite: vite2 lazy08 and lazy30 JS, vite7 lazy27 CSS, and vite10
// lazy23 CSS), and the first test fails if they ever stop occurring, so the case
// cannot vanish silently. esbuild's metafile is handed to publish
// (`--bundler-manifest`); Vite's .vite/manifest.json is found by publish in the
// published directory itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack, launchBrowser } from './harness.mjs';
import { NAV, publish } from './assets-site.mjs';
import { CHUNK_NAMES, LAZY_CHUNKS, buildEsbuild, buildVite, groupOf, hasCss, hashOf } from './bundler-sites.mjs';

/** Deploys per bundler. */
const DEPLOYS = 10;
/** How long a new deploy may take to reach new clients: ASSET_CACHE_TTL (5 s) and then some. */
const LIVE_WITHIN_MS = 15_000;

let tmp;
let stack;
let browser;
/** Built deploys by bundler, deploy 1 first (see buildVite). */
const sites = { vite: [], esbuild: [] };
/** Build times by bundler: [ms of each bundler run]. */
const buildMs = { vite: [], esbuild: [] };

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-session-bundlers-'));
  for (const [bundler, build] of [['vite', buildVite], ['esbuild', buildEsbuild]]) {
    for (let n = 1; n <= DEPLOYS; n++) {
      const site = await build(tmp, `${bundler}${n}`);
      sites[bundler].push(site);
      buildMs[bundler].push(site.ms);
    }
  }
  stack = await startStack();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Files (JS or CSS) of the Vite builds whose hash begins with `-` or `_`, as `tag:file`. */
const dashHashed = (list) =>
  list.flatMap((s) => s.hashed.filter((f) => /^[-_]/.test(hashOf(f))).map((f) => `${s.tag}:${f}`));

test('the builds: 30 lazy chunks, CSS chunks, new hashes every deploy, Vite hashes that begin with - or _', (t) => {
  for (const bundler of ['vite', 'esbuild']) {
    const ms = buildMs[bundler];
    t.diagnostic(
      `${bundler}: ${DEPLOYS} builds in ${Math.round(ms.reduce((a, b) => a + b, 0))} ms ` +
        `(each ${ms.map((m) => Math.round(m)).join(', ')} ms)`,
    );
    let previous = null;
    for (const site of sites[bundler]) {
      assert.equal(site.lazy.length, LAZY_CHUNKS, `${site.tag}: one output per dynamic import`);
      assert.equal(new Set(site.lazy.map((c) => c.js)).size, LAZY_CHUNKS, `${site.tag}: every chunk is its own file`);
      for (const c of site.lazy) {
        const want = hasCss(c.name) ? 1 : 0;
        assert.equal(c.css.length, want, `${site.tag}: ${c.name} has ${want ? 'one' : 'no'} CSS file: ${c.css}`);
        for (const f of [c.js, ...c.css]) assert.ok(site.files.has(f.slice(1)), `${site.tag}: ${f} is built`);
      }
      assert.equal(site.entry.css.length, 1, `${site.tag}: the entry has its CSS file`);
      if (previous) {
        const before = new Set(previous.hashed);
        const kept = site.hashed.filter((f) => before.has(f));
        assert.deepEqual(kept, [], `${site.tag}: every JS and CSS name changes from ${previous.tag}`);
      }
      previous = site;
    }
  }
  const all = dashHashed(sites.vite);
  t.diagnostic(`Vite hashes that begin with - or _: ${all.join(', ') || 'none'}`);
  // The case that broke: such a chunk of an older deploy, loaded after a newer one went live.
  const older = dashHashed(sites.vite.slice(0, -1)).filter((f) => /:assets\/lazy\d+-/.test(f));
  assert.ok(
    older.length > 0,
    `no lazy chunk of vite1..vite${DEPLOYS - 1} has a hash that begins with - or _ any more ` +
      `(all such files: ${all.join(', ') || 'none'}): change the app or the tags so that some do, ` +
      'or this test no longer covers the 404 it was written for',
  );
});

/**
 * Waits until new clients get deploy `tag`: the worker keeps the deploy list for
 * ASSET_CACHE_TTL (5 s), so a deploy goes live within that after publish.
 */
async function live(tag) {
  const deadline = Date.now() + LIVE_WITHIN_MS;
  let seen;
  for (;;) {
    const res = await fetch(`${stack.url}/`, { headers: NAV });
    await res.arrayBuffer();
    seen = `${res.status} X-Deploy-Id: ${res.headers.get('x-deploy-id')}`;
    if (res.status === 200 && res.headers.get('x-deploy-id') === tag) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${tag} did not go live within ${LIVE_WITHIN_MS} ms of its publish (last answer: ${seen})`);
}

/**
 * A tab of `context` for deploy `site` that records every response (URL path,
 * status, X-Deploy-Id) and every problem: failed requests, responses >= 400,
 * console errors, page errors (each prefixed with the deploy's tag).
 */
async function watchedTab(context, site) {
  const page = await context.newPage();
  const responses = [];
  const problems = [];
  const note = (what) => problems.push(`${site.tag}: ${what}`);
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.protocol === 'data:') return;
    responses.push({ path: url.pathname + url.search, status: r.status(), deploy: r.headers()['x-deploy-id'] });
    if (r.status() >= 400) note(`HTTP ${r.status()} ${url.pathname}`);
  });
  page.on('requestfailed', (r) => note(`failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('console', (m) => {
    if (m.type() === 'error') note(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => note(`pageerror: ${e.message}`));
  return { site, page, responses, problems };
}

/** What the tab's DOM says after loadAll(): its chunks, their CSS, the entry's CSS. */
const readDom = (page) =>
  page.evaluate(() => ({
    deploy: document.querySelector('#deploy')?.textContent,
    mainCss: getComputedStyle(document.body).getPropertyValue('--main-css').trim(),
    chunks: [...document.querySelectorAll('#chunks > [data-chunk]')].map((el) => ({
      name: el.dataset.chunk,
      ran: el.dataset.ran,
      shared: el.dataset.shared,
      css: getComputedStyle(el).getPropertyValue('--chunk-css').trim(),
    })),
    failures: [...document.querySelectorAll('#failures li')].map((li) => li.textContent),
  }));

/** What is wrong with a tab's DOM after loadAll(), as lines. */
function domProblems(site, dom) {
  const tag = site.tag;
  const out = [];
  if (dom.deploy !== tag) out.push(`${tag}: #deploy says ${dom.deploy}`);
  if (dom.mainCss !== `"${tag}"`) out.push(`${tag}: entry CSS not applied (--main-css: ${dom.mainCss || 'unset'})`);
  for (const f of dom.failures) out.push(`${tag}: import failed: ${f}`);
  const byName = new Map(dom.chunks.map((c) => [c.name, c]));
  for (const name of CHUNK_NAMES) {
    const c = byName.get(name);
    if (!c) {
      out.push(`${tag}: ${name} did not run`);
      continue;
    }
    if (c.ran !== tag) out.push(`${tag}: ${name} ran code of ${c.ran}`);
    if (c.shared !== `${groupOf(name)} ${tag}`) out.push(`${tag}: ${name} got shared module ${c.shared}`);
    const css = hasCss(name) ? `"${tag} ${name}"` : '';
    if (c.css !== css) out.push(`${tag}: ${name} CSS is ${c.css || 'not applied'}, want ${css || 'none'}`);
  }
  return out;
}

/**
 * The walk: publish each deploy of `bundler`, wait until it is live, open a tab
 * on it (HTML of that deploy, nothing lazy loaded); after the last publish, load
 * every chunk in every tab and check every tab. All tabs are in one browser
 * context: one cookie jar, so one pin cookie, as in a user's browser.
 */
async function walk(t, bundler) {
  const context = await browser.newContext();
  const tabs = [];
  const t0 = performance.now();
  try {
    // Deploys whose JS or CSS publish left mutable (asserted last: the tabs show what that breaks).
    const mutable = [];
    let publishMs = 0;
    let liveMs = 0;
    for (const site of sites[bundler]) {
      const p0 = performance.now();
      const out = await publish(stack, site.dir, site.tag, ...site.publishArgs);
      const p1 = performance.now();
      // `N files: M immutable (<rule> M, …), K mutable`: only index.html may be mutable.
      const counts = /^(\d+) files: (\d+) immutable.*$/m.exec(out);
      assert.ok(counts, `${site.tag}: publish printed no "N files: M immutable" line:\n${out}`);
      if (site === sites[bundler][0]) t.diagnostic(`${site.tag}: publish: ${counts[0]}`);
      if (Number(counts[2]) !== site.hashed.length) {
        mutable.push(`${site.tag}: ${counts[0]}, but it has ${site.hashed.length} JS and CSS files`);
      }
      await live(site.tag);
      publishMs += p1 - p0;
      liveMs += performance.now() - p1;
      const tab = await watchedTab(context, site);
      tabs.push(tab);
      await tab.page.goto(`${stack.url}/`);
      await tab.page
        .waitForFunction(() => document.body.dataset.deploy !== undefined, null, { timeout: 15_000 })
        .catch((e) => assert.fail(`${site.tag}: the page did not start (${e.message}): ${tab.problems.join('; ')}`));
      const html = tab.responses.find((r) => r.path === '/');
      const got = JSON.stringify(tab.responses);
      assert.equal(html?.deploy, site.tag, `the tab opened after ${site.tag} went live got it: ${got}`);
      assert.equal(await tab.page.textContent('#deploy'), site.tag);
    }
    t.diagnostic(
      `${bundler}: ${DEPLOYS} publishes and tabs in ${Math.round(performance.now() - t0)} ms ` +
        `(publish ${Math.round(publishMs)} ms, waiting until live ${Math.round(liveMs)} ms)`,
    );
    const pin = (await context.cookies()).filter((c) => c.name === '__Host-dpl').map((c) => c.value);
    t.diagnostic(`${bundler}: the tabs' pin cookie: ${pin.join(', ') || 'none'}`);

    const t1 = performance.now();
    const lazyFiles = (site) => new Set(site.lazy.flatMap((c) => [c.js, ...c.css]));
    for (const tab of tabs) {
      const early = tab.responses.filter((r) => lazyFiles(tab.site).has(r.path)).map((r) => r.path);
      assert.deepEqual(early, [], `${tab.site.tag}: no lazy chunk is loaded before loadAll()`);
    }
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => void window.loadAll())));
    const settled = () => document.body.dataset.loaded !== undefined;
    await Promise.all(tabs.map((tab) => tab.page.waitForFunction(settled, null, { timeout: 30_000 })));
    t.diagnostic(`${bundler}: every chunk of ${DEPLOYS} tabs loaded in ${Math.round(performance.now() - t1)} ms`);

    const problems = tabs.flatMap((tab) => tab.problems);
    const dom = [];
    const foreign = [];
    for (const tab of tabs) {
      dom.push(...domProblems(tab.site, await readDom(tab.page)));
      // Every request of a tab is for a file of its own deploy.
      for (const r of tab.responses) {
        const key = r.path === '/' ? 'index.html' : r.path.slice(1);
        if (!tab.site.files.has(key)) {
          foreign.push(`${tab.site.tag}: requested ${r.path}, not in its deploy (${r.status})`);
        }
      }
      const loaded = tab.responses.filter((r) => lazyFiles(tab.site).has(r.path));
      if (loaded.length !== lazyFiles(tab.site).size) {
        dom.push(`${tab.site.tag}: ${loaded.length} of ${lazyFiles(tab.site).size} lazy JS/CSS files requested`);
      }
    }
    const lines = (xs) => `${xs.length}:\n  ${xs.join('\n  ')}`;
    const dash = dashHashed(sites[bundler]).join(', ') || 'none';
    assert.deepEqual(
      problems,
      [],
      `failed requests, HTTP errors, console or page errors after ${sites[bundler].at(-1).tag} ` +
        `(hashes beginning with - or _: ${dash}): ${lines(problems)}`,
    );
    assert.deepEqual(dom, [], `chunks that did not run or whose CSS did not apply: ${lines(dom)}`);
    assert.deepEqual(foreign, [], `requests outside the tab's deploy: ${lines(foreign)}`);
    assert.deepEqual(mutable, [], `publish left content-hashed files mutable: ${lines(mutable)}`);
  } finally {
    await Promise.all(tabs.map((tab) => tab.page.close()));
    await context.close();
  }
}

test('Vite: 10 deploys, a tab on each; after the last one every tab loads all its lazy chunks and CSS', (t) =>
  walk(t, 'vite'));

test('esbuild (metafile via --bundler-manifest): 10 deploys, a tab on each; then every tab loads all', (t) =>
  walk(t, 'esbuild'));
