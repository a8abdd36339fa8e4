// Failure policies end to end: a denylist binding that errors (fail closed and
// fail open) and bad configuration, each through real `wrangler dev`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack } from './harness.mjs';
import { Client } from './client.mjs';

/** Waits (bounded) for the worker's log to show `re`: wrangler prints it asynchronously. */
async function logged(stack, re) {
  const deadline = Date.now() + 10_000;
  while (!re.test(stack.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return stack.output();
}

async function withStack(vars, fn, secrets) {
  const stack = await startStack({ vars, secrets });
  try { await fn(stack); } finally { await stack.stop(); }
}

test('KV failure fails closed: protected paths 503, others anonymous, cookie kept', async () => {
  // A cookie minted by a healthy stack with the same keys…
  await withStack({}, async (healthy) => {
    const c = new Client(healthy.url);
    await c.login('ivan');
    const cookie = c.cookieHeader();
    // …presented to a stack whose denylist binding does not exist.
    await withStack({ DENYLIST_BINDING: 'NO_SUCH_BINDING', PROTECTED_PATHS: '/api/me' }, async (broken) => {
      const b = new Client(broken.url);
      const me = await b.fetch('/api/me', { cookie });
      assert.equal(me.status, 503);
      assert.equal(me.json.error, 'session_store_unavailable');
      assert.match(me.json.message, /revocation list could not be read/);
      assert.equal(me.setCookies.length, 0, 'the session is not destroyed by an outage');
      const page = await b.fetch('/api/public', { cookie });
      assert.equal(page.status, 200);
      assert.equal(page.json.anonymous, true, 'unverified means anonymous');
      assert.equal(page.setCookies.length, 0);
      const out = await b.fetch('/_session/logout', { method: 'POST', cookie });
      assert.equal(out.status, 503, 'a logout that cannot be recorded says so');
      assert.ok(out.setCookies.some((s) => /Max-Age=0/.test(s)), 'but still clears this browser');
      assert.match(await logged(broken, /failing closed/), /failing closed/, 'the reason is logged');
    }, healthy.secrets);
    await withStack(
      { DENYLIST_BINDING: 'NO_SUCH_BINDING', REVOCATION_FAIL_MODE: 'open' },
      async (open) => {
        const me = await new Client(open.url).fetch('/api/me', { cookie });
        assert.equal(me.status, 200, 'fail-open honours the seal');
        assert.equal(me.json.sub, 'ivan');
        assert.match(await logged(open, /failing open/), /failing open/);
      },
      healthy.secrets,
    );
  });
});

test('bad configuration answers 500 naming the setting, never a silent fallback', async () => {
  for (const [name, value] of [
    ['SESSION_IDLE_TTL', 'ten minutes'],
    ['COOKIE_SECURE', 'false'],
    ['ORIGIN_URL', 'ftp://nope'],
    ['JWT_ALGORITHMS', 'none'],
  ]) {
    await withStack({ [name]: value }, async (s) => {
      const r = await fetch(s.url + '/api/public');
      assert.equal(r.status, 500, `${name}=${value}`);
      const body = await r.json();
      assert.equal(body.error, 'misconfigured');
      assert.ok(body.message.includes(name), `${body.message} names ${name}`);
    });
  }
});

test('a frozen origin: 504 naming ORIGIN_TIMEOUT within the timeout, and service again once it thaws', async () => {
  await withStack({ ORIGIN_TIMEOUT: '2' }, async (s) => {
    const c = new Client(s.url);
    assert.equal((await c.fetch('/api/public')).status, 200);
    process.kill(s.originPid, 'SIGSTOP');
    try {
      const started = Date.now();
      const r = await c.fetch('/api/public');
      const took = Date.now() - started;
      assert.equal(r.status, 504, r.text);
      assert.equal(r.json.error, 'origin_timeout');
      assert.match(r.json.message, /ORIGIN_TIMEOUT \(2 s\)/);
      assert.ok(took >= 1900 && took < 6000, `answered after ${took} ms (ORIGIN_TIMEOUT 2 s)`);
      assert.match(await logged(s, /origin timed out after 2 s/), /origin timed out/);
    } finally {
      process.kill(s.originPid, 'SIGCONT');
    }
    assert.equal((await c.fetch('/api/public')).status, 200, 'served again once the origin thaws');
  });
});

test('a timed-out origin request is closed once the answer is sent, not left open', async () => {
  // An origin that takes every request and never answers, and notes when its side of
  // the connection closes: the worker sends no abort signal with its fetch, so this
  // checks that the runtime cancels the abandoned fetch when the request ends.
  const closed = [];
  const server = http.createServer((req) => {
    if (req.url === '/api/slow') req.socket.once('close', () => closed.push(Date.now()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const vars = { ORIGIN_URL: `http://127.0.0.1:${server.address().port}`, ORIGIN_TIMEOUT: '2' };
  const stack = await startStack({ origin: false, vars });
  try {
    const r = await new Client(stack.url).fetch('/api/slow');
    const answered = Date.now();
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error, 'origin_timeout');
    const deadline = answered + 10_000;
    while (closed.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(closed.length, 1, 'the origin saw its connection closed');
    assert.ok(closed[0] - answered < 5000, `closed ${closed[0] - answered} ms after the answer`);
  } finally {
    await stack.stop();
    server.closeAllConnections();
    server.close();
  }
});
