// Skew-free deploys in real headless Chromium (issue #4): a page loaded from
// deploy v1 stays whole after v2 is published (every hash changes): its lazy
// chunk, imported after the deploy, is v1's and loads, with no failed request and
// no console error; a reload then gets v2. Before anything is published, the
// worker passes everything to the demo origin, which serves www/ raw.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack, launchBrowser } from './harness.mjs';
import { buildVariant, publish } from './assets-site.mjs';

let stack;
let browser;
let tmp;
const sites = {};

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-session-assets-browser-'));
  sites.v1 = await buildVariant(tmp, 'v1');
  sites.v2 = await buildVariant(tmp, 'v2');
  stack = await startStack({ vars: { ASSET_CACHE_TTL: '0' } });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/**
 * A page that records every response (URL path, status, X-Deploy-Id) and every
 * problem: failed requests, responses >= 400, console errors, page errors. The
 * anonymous page asks /api/me, whose 401 is expected and left out.
 */
async function watchedPage() {
  const page = await browser.newPage();
  const responses = [];
  const problems = [];
  const expected = (url, status) => status === 401 && new URL(url).pathname === '/api/me';
  page.on('response', (r) => {
    const url = new URL(r.url());
    const rec = { path: url.pathname + url.search, status: r.status(), deploy: r.headers()['x-deploy-id'] };
    responses.push(rec);
    r.allHeaders().then((all) => { rec.setCookie = all['set-cookie'] ?? null; }, () => {});
    if (r.status() >= 400 && !expected(r.url(), r.status())) problems.push(`HTTP ${r.status()} ${url.pathname}`);
  });
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { page, responses, problems };
}

/**
 * Clicks "Build info" (the lazy import) and returns what `#deploy`, `#build-info`
 * and `#status` (where a failed import is reported) then say.
 */
async function buildInfo(page) {
  await page.click('#load-lazy');
  await page.waitForFunction(
    () =>
      document.querySelector('#deploy')?.dataset.deploy !== undefined ||
      document.querySelector('#status')?.textContent !== '',
  );
  return {
    deploy: await page.textContent('#deploy'),
    info: await page.textContent('#build-info'),
    status: await page.textContent('#status'),
  };
}

test('nothing published: the worker passes www/ through raw from the origin', async () => {
  const { page, responses, problems } = await watchedPage();
  await page.goto(`${stack.url}/`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  const { deploy, info, status } = await buildInfo(page);
  assert.deepEqual(problems, [], status);
  assert.match(deploy, /^dev /);
  assert.equal(info, 'lazy chunk: lazy.js');
  assert.ok(responses.some((r) => r.path === '/lazy.js' && r.status === 200), JSON.stringify(responses));
  assert.deepEqual(problems, []);
  await page.close();
});

test('a page of v1 keeps working after v2 is published; a reload gets v2', async () => {
  await publish(stack, sites.v1.dir, 'v1');
  const { page, responses, problems } = await watchedPage();
  await page.goto(`${stack.url}/`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  const first = responses.filter((r) => r.path !== '/api/me');
  assert.ok(first.length >= 4, JSON.stringify(first));
  for (const r of first) assert.equal(r.deploy, 'v1', `${r.path} came from v1`);
  assert.ok(!responses.some((r) => r.path === sites.v1.lazy), 'the chunk is not loaded before the click');

  await publish(stack, sites.v2.dir, 'v2');
  const now = await fetch(`${stack.url}/`, { headers: { 'sec-fetch-mode': 'navigate' } });
  await now.arrayBuffer();
  assert.equal(now.headers.get('x-deploy-id'), 'v2', 'v2 is what new clients get');

  const old = await buildInfo(page);
  assert.deepEqual(problems, [], `no failed request, no error after the deploy (${old.status})`);
  assert.equal(old.status, '');
  assert.equal(old.deploy, 'v1', 'the page still knows it is v1');
  assert.equal(old.info, `lazy chunk: ${sites.v1.lazy.slice(1)}`);
  const chunk = responses.find((r) => r.path === sites.v1.lazy);
  assert.ok(chunk, `v1's chunk was requested: ${JSON.stringify(responses)}`);
  assert.equal(chunk.status, 200);

  responses.length = 0;
  await page.reload();
  await page.waitForSelector('#login-form', { state: 'visible' });
  const fresh = await buildInfo(page);
  assert.deepEqual(problems, [], fresh.status);
  assert.equal(fresh.deploy, 'v2');
  assert.equal(fresh.info, `lazy chunk: ${sites.v2.lazy.slice(1)}`);
  const html = responses.find((r) => r.path === '/');
  assert.equal(html?.deploy, 'v2', JSON.stringify(responses));
  assert.ok(responses.some((r) => r.path === sites.v2.app && r.status === 200), JSON.stringify(responses));
  assert.ok(!responses.some((r) => r.path.includes(sites.v1.app)), 'nothing of v1 after the reload');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page served from KV logs in and out like the raw one', async () => {
  const { page, responses, problems } = await watchedPage();
  await page.goto(`${stack.url}/`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  assert.equal(responses.find((r) => r.path === '/')?.deploy, 'v2');
  await page.fill('#username', 'kv-alice');
  await page.click('#login-button');
  await page.waitForFunction(() => document.querySelector('#user-name')?.textContent === 'kv-alice');
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#user-name')?.textContent === 'kv-alice');
  // Hashed files never carry cookies, even for a logged-in browser.
  const hashed = responses.filter((r) => /\.[0-9a-f]{8}\.(js|css|svg)$/.test(r.path));
  assert.ok(hashed.length >= 3, JSON.stringify(responses));
  for (const r of hashed) assert.equal(r.setCookie, null, `${r.path} sets no cookie`);
  const login = responses.find((r) => r.path === '/login');
  assert.match(login?.setCookie ?? '', /__Host-session/, 'the probe sees cookies where there are some');
  await page.click('#logout-button');
  await page.waitForSelector('#login-form', { state: 'visible' });
  assert.deepEqual(problems, []);
  await page.close();
});
