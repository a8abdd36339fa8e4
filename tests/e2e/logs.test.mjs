// The request log (issue #18): one JSON line per request through console.log, read
// here from real `wrangler dev`'s output, as Workers Logs would index it:
// - a replayed revoked cookie says "session":"revoked", a tampered one "invalid", a
//   valid one "valid" with the kid that opened it;
// - an asset of an older deploy names that deploy, the current one names its own;
// - no line holds a cookie value or a query string.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack } from './harness.mjs';
import { buildVariant, publish } from './assets-site.mjs';

let stack;
let tmp;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-session-logs-'));
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The request lines printed so far, parsed. */
function lines() {
  return stack
    .output()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{"edge_session":"request"'))
    .map((l) => JSON.parse(l));
}

/** The line of the next request to `path` that `send` makes (waits for it to show). */
async function lineOf(pathname, send) {
  const before = lines().length;
  await send();
  for (let i = 0; i < 50; i++) {
    const found = lines().slice(before).find((l) => l.path === pathname);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no request line for ${pathname} in:\n${stack.output().slice(-3000)}`);
}

async function login(user) {
  const r = await fetch(`${stack.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user }),
  });
  assert.equal(r.status, 200, await r.text());
  return r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

const me = (cookie, query = '') => fetch(`${stack.url}/api/me${query}`, { headers: { cookie } }).then((r) => r.text());

test('sessions: valid with its kid, revoked when replayed after logout, invalid when tampered', async () => {
  const cookie = await login('logs-user');
  const valid = await lineOf('/api/me', () => me(cookie, '?secret-query=1'));
  assert.equal(valid.session, 'valid');
  assert.equal(valid.kid, stack.secrets.SESSION_KEYS.split(',')[0].split(':')[0], 'the primary key opened it');
  assert.equal(valid.route, 'forward');
  assert.equal(valid.status, 200);
  assert.equal(valid.retries, 0);
  assert.match(valid.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
  const out = await fetch(`${stack.url}/_session/logout`, { method: 'POST', headers: { cookie } });
  assert.equal(out.status, 200);
  const revoked = await lineOf('/api/me', () => me(cookie));
  assert.equal(revoked.session, 'revoked');
  const tampered = cookie.replace(/=(.)/, (_, c) => `=${c === 'A' ? 'B' : 'A'}`);
  const invalid = await lineOf('/api/me', () => me(tampered));
  assert.equal(invalid.session, 'invalid');
  const anonymous = await lineOf('/api/public', () => fetch(`${stack.url}/api/public`).then((r) => r.text()));
  assert.equal(anonymous.session, 'none');
  const endpoint = await lineOf('/_session/jwks.json', () => fetch(`${stack.url}/_session/jwks.json`).then((r) => r.text()));
  assert.equal(endpoint.route, 'endpoint');
  const refused = await lineOf('/api/data', () =>
    fetch(`${stack.url}/api/data`, { method: 'POST', headers: { cookie: tampered, origin: 'https://evil.example' } }),
  );
  assert.deepEqual([refused.status, refused.error], [403, 'cross_site_request']);
  const text = stack.output();
  const value = cookie.split(';')[0].split('=').slice(1).join('=');
  assert.ok(!text.includes(value), 'no cookie value in the log');
  assert.ok(!text.includes('secret-query'), 'no query string in the log');
});

test('assets: a file of an older deploy names that deploy', async () => {
  const v1 = await buildVariant(tmp, 'logs-v1');
  const v2 = await buildVariant(tmp, 'logs-v2');
  await publish(stack, v1.dir, 'logs-1');
  await publish(stack, v2.dir, 'logs-2');
  const old = await lineOf(v1.app, () => fetch(stack.url + v1.app).then((r) => r.text()));
  assert.deepEqual([old.route, old.deploy, old.status], ['asset', 'logs-1', 200]);
  const current = await lineOf(v2.app, () => fetch(stack.url + v2.app).then((r) => r.text()));
  assert.deepEqual([current.route, current.deploy], ['asset', 'logs-2']);
});
