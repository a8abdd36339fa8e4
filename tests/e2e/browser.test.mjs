// The demo page in real headless Chromium, through real `wrangler dev` and the
// demo origin: log in, see the name, reload (still logged in), change data, get
// an API token, log out (and stay out after reload).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, launchBrowser } from './harness.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('log in, reload, change data, token, log out', async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));

  await page.goto(stack.url + '/');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#username', 'alice');
  await page.click('#login-button');
  await page.waitForFunction(() => document.querySelector('#user-name')?.textContent === 'alice');

  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === '__Host-session');
  assert.ok(session, `session cookie set: ${cookies.map((c) => c.name)}`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, 'Lax');
  assert.equal(await page.evaluate(() => document.cookie.includes('__Host-session')), false, 'not readable by JS');

  await page.reload();
  await page.waitForFunction(() => document.querySelector('#user-name')?.textContent === 'alice');
  // The page shows the session's own ends (7 days absolute, 1 day idle by default),
  // and the assertion's minute as the assertion's, not the session's.
  assert.match(await page.textContent('#session-exp'), /in 6 d 23 h|in 7 d/);
  assert.match(await page.textContent('#session-idle-exp'), /in 23 h 59 min|in 1 d/);
  assert.match(await page.textContent('#claim-exp-note'), /^this assertion expires in (\d+ s|1 min)/);

  await page.fill('#data-key', 'color');
  await page.fill('#data-value', 'teal');
  await page.click('#data-save');
  await page.waitForFunction(() => document.querySelector('#claims')?.textContent.includes('teal'));
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#claims')?.textContent.includes('teal'));

  await page.click('#token-button');
  await page.waitForFunction(() => /^ey/.test(document.querySelector('#token')?.textContent ?? ''));

  await page.click('#logout-button');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.reload();
  await page.waitForSelector('#login-form', { state: 'visible' });
  const after = await page.context().cookies();
  assert.equal(after.find((c) => c.name.startsWith('__Host-session')), undefined, 'every chunk cleared');
  // The page asks /api/me while logged out: that 401 is expected, nothing else may fail.
  const unexpected = problems.filter((p) => !/401|Unauthorized/.test(p));
  assert.deepEqual(unexpected, []);
  await page.close();
});
