// WebSockets and streams through the worker (issue #15), with a real origin process
// (tests/e2e/ws-origin.mjs: node:http + the `ws` package, verifying the assertion
// with `jose`) behind real `wrangler dev`:
// - a same-origin upgrade with a session: echo works, the origin sees the verified
//   user and no cookie;
// - cross-site and sibling-subdomain upgrades that carry the cookie: 403 with a JSON
//   body naming CSRF_ALLOWED_ORIGINS, and the origin sees nothing (cross-site
//   WebSocket hijacking: an upgrade is a GET, so the unsafe-method rule missed it);
// - an anonymous upgrade from anywhere passes, as before;
// - a server-sent-events stream's first event arrives before the origin finishes,
//   and a stream that outlasts ORIGIN_TIMEOUT is not cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import { startStack, freePort, generateSecrets, ROOT } from './harness.mjs';

const EVENT_GAP_MS = 3000; // as in ws-origin.mjs
let stack;
let origin;
let originUrl;
let session; // the Cookie header of a logged-in user

before(async () => {
  const secrets = await generateSecrets();
  const port = await freePort();
  originUrl = `http://127.0.0.1:${port}`;
  origin = spawn(process.execPath, [path.join(ROOT, 'tests/e2e/ws-origin.mjs')], {
    env: { ...process.env, ORIGIN_PORT: String(port), ORIGIN_SECRET: secrets.ORIGIN_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    origin.stdout.once('data', resolve);
    origin.once('exit', (code) => reject(new Error(`ws-origin exited (${code}) before listening`)));
  });
  // ORIGIN_TIMEOUT bounds the wait for a response head only: the event stream below
  // outlasts it and must still arrive whole.
  stack = await startStack({ origin: false, secrets, vars: { ORIGIN_URL: originUrl, ORIGIN_TIMEOUT: '2' } });
  const login = await fetch(`${stack.url}/login?user=wsuser`, { method: 'POST' });
  assert.equal(login.status, 200, await login.text());
  session = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  assert.match(session, /__Host-session=/);
});
after(async () => {
  await stack?.stop();
  origin?.kill();
});

const wsUrl = () => `${stack.url.replace('http', 'ws')}/ws`;
const seen = async () => (await (await fetch(`${originUrl}/__seen`)).json()).upgrades.length;

/** Opens a WebSocket; resolves with {ws, hello} or {status, body} when refused. */
function open(headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(), { headers, handshakeTimeout: 15_000 });
    ws.once('message', (data) => resolve({ ws, hello: JSON.parse(String(data)) }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', reject);
  });
}

test('a same-origin upgrade with a session: echo works, the origin sees the user and no cookie', async () => {
  const { ws, hello, status, body } = await open({
    cookie: session,
    origin: stack.url,
    'sec-fetch-site': 'same-origin',
  });
  assert.ok(ws, `refused: ${status} ${body}`);
  assert.deepEqual(hello, { sub: 'wsuser', cookie: null });
  const echo = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))));
  ws.send('ping');
  assert.equal(await echo, 'echo: ping');
  ws.close();
});

for (const [name, headers] of [
  ['cross-site', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
  ['a sibling subdomain (same-site)', { origin: 'https://chat.127.0.0.1.example', 'sec-fetch-site': 'same-site' }],
  ['an Origin of another site, no Sec-Fetch-Site', { origin: 'https://evil.example' }],
]) {
  test(`an upgrade from ${name} that carries the cookie is refused; the origin sees nothing`, async () => {
    const before = await seen();
    const got = await open({ cookie: session, ...headers });
    if (got.ws) got.ws.close();
    assert.equal(got.status, 403, `upgrade from ${name} was let through`);
    const error = JSON.parse(got.body);
    assert.equal(error.error, 'cross_site_websocket');
    assert.match(error.message, /CSRF_ALLOWED_ORIGINS/);
    assert.equal(await seen(), before, 'no upgrade reached the origin');
  });
}

test('an anonymous upgrade from anywhere passes, without an assertion', async () => {
  const { ws, hello, status, body } = await open({
    origin: 'https://evil.example',
    'sec-fetch-site': 'cross-site',
  });
  assert.ok(ws, `refused: ${status} ${body}`);
  assert.deepEqual(hello, { sub: null, cookie: null });
  ws.close();
});

test("a server-sent-events stream's first event arrives before the origin finishes", async () => {
  const started = Date.now();
  const res = await fetch(`${stack.url}/events`, { headers: { cookie: session } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body.getReader();
  const first = await reader.read();
  const firstAt = Date.now() - started;
  assert.match(new TextDecoder().decode(first.value), /data: first/);
  let rest = '';
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
  const doneAt = Date.now() - started;
  assert.match(rest, /data: second/);
  assert.ok(doneAt - firstAt >= EVENT_GAP_MS / 2, `first event at ${firstAt} ms, end at ${doneAt} ms: buffered`);
});
