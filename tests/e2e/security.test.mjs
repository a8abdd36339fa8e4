// Security hardening end to end (issue #6), through real `wrangler dev`:
// CSRF, header/cookie injection, abusive inputs, cache deception, bad cookie
// settings and the key rotation drill. Most tests use a scriptable origin (below)
// so that the origin's instructions can be hostile; the rotation drill uses the
// demo origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jwtVerify, decodeJwt, decodeProtectedHeader, createLocalJWKSet } from 'jose';
import { startStack, paths } from './harness.mjs';
import { Client } from './client.mjs';

const execFileP = promisify(execFile);

// ---- a scriptable origin: answers every request with the headers the test asks
// for (base64url JSON in `x-instruct`, or, for big ones, a request body of type
// application/x-instruct) and echoes the request it saw ----
async function startScriptableOrigin() {
  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = req.headers['x-instruct'];
      const body = Buffer.concat(chunks).toString('utf8');
      const instr = req.headers['content-type'] === 'application/x-instruct'
        ? JSON.parse(body)
        : raw ? JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) : {};
      res.statusCode = instr.status ?? 200;
      try {
        for (const [name, value] of instr.headers ?? []) {
          // Send the UTF-8 bytes as they are (Node writes latin1 strings byte for byte).
          res.setHeader(name, Buffer.from(value, 'utf8').toString('latin1'));
        }
      } catch (err) {
        // Node refuses control bytes in header values: say so instead of hanging.
        res.statusCode = 599;
        res.end(JSON.stringify({ origin_error: err.message }));
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** The `x-instruct` header asking the origin for these response headers. */
const instruct = (headers, status) => ({
  'x-instruct': Buffer.from(JSON.stringify({ headers, status })).toString('base64url'),
});
/** JSON with non-ASCII escaped as \uXXXX, as an origin must send it in a header. */
const asciiJson = (value) => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const setSession = (value) => instruct([['Edge-Session-Set', typeof value === 'string' ? value : asciiJson(value)]]);
/** Request options carrying a (big) Edge-Session-Set instruction in the body. */
const setSessionInBody = (value) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-instruct' },
  body: JSON.stringify({ headers: [['Edge-Session-Set', value]] }),
});

let origin;
let stack;
const ALLOWED = 'https://partner.example';
before(async () => {
  origin = await startScriptableOrigin();
  stack = await startStack({
    origin: false,
    vars: { ORIGIN_URL: origin.url, CSRF_ALLOWED_ORIGINS: ALLOWED },
  });
});
after(async () => {
  await stack?.stop();
  await origin?.close();
});

const secret = () => new TextEncoder().encode(stack.secrets.ORIGIN_SECRET);

/** The claims the origin was given for this request (verified), or null. */
async function seenClaims(res) {
  const token = res.json?.headers?.['edge-session'];
  if (!token) return null;
  const { payload } = await jwtVerify(token, secret(), {
    issuer: 'edge-session', audience: 'origin', algorithms: ['HS256'],
  });
  return payload;
}

async function login(sub, data = { name: sub }) {
  const c = new Client(stack.url);
  const r = await c.fetch('/login', { method: 'POST', headers: setSession({ sub, data }) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.setCookies.length, 1, 'one session cookie');
  return c;
}

/** Every Set-Cookie is a session cookie, one printable-ASCII line, one Path. */
function assertCleanSetCookies(res) {
  for (const line of res.setCookies) {
    assert.match(line, /^__Host-session(\.\d+)?=[A-Za-z0-9._~-]*; Max-Age=\d+; Path=\/; Secure; HttpOnly; SameSite=Lax$/, line);
  }
  for (const [name, value] of res.headers) {
    assert.ok(/^[\x20-\x7e]*$/.test(value), `header ${name} has a control or non-ASCII byte`);
  }
}

test('CSRF: cross-site unsafe requests with the cookie get 403 whatever the Content-Type', async () => {
  const c = await login('csrf-victim', { balance: 100 });
  const evil = { origin: 'https://evil.example' };
  const bodies = [
    ['text/plain', 'x'],
    ['application/x-www-form-urlencoded', 'balance=0'],
    ['multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'],
    ['application/json', '{"balance":0}'],
  ];
  for (const [type, body] of bodies) {
    for (const headers of [evil, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', ...evil }, { origin: 'null' }]) {
      const r = await c.fetch('/api/data', {
        method: 'POST',
        headers: { ...headers, 'content-type': type, ...setSession({ sub: 'csrf-victim', data: { balance: 0 } }) },
        body,
      });
      assert.equal(r.status, 403, `${type} ${JSON.stringify(headers)}`);
      assert.equal(r.json.error, 'cross_site_request');
      assert.match(r.json.message, /CSRF_ALLOWED_ORIGINS/);
      assert.equal(r.setCookies.length, 0);
    }
  }
  for (const method of ['PUT', 'PATCH', 'DELETE']) {
    assert.equal((await c.fetch('/api/data', { method, headers: evil })).status, 403, method);
  }
  // Nothing reached the origin: the balance is untouched.
  assert.equal((await seenClaims(await c.fetch('/api/me'))).data.balance, 100);
  // Same origin, the allow-list and non-browser clients pass.
  for (const headers of [{ origin: stack.url }, { 'sec-fetch-site': 'same-origin' }, { origin: ALLOWED, 'sec-fetch-site': 'cross-site' }, {}]) {
    const r = await c.fetch('/api/data', { method: 'POST', headers });
    assert.equal(r.status, 200, JSON.stringify(headers));
  }
  // Safe methods and cookie-less requests are never refused.
  assert.equal((await c.fetch('/api/me', { headers: evil })).status, 200);
  assert.equal((await new Client(stack.url).fetch('/api/x', { method: 'POST', headers: evil })).status, 200);
});

test('injection: session data and origin instructions cannot add headers or cookies', async () => {
  const c = await login('inj');
  const hostile = [
    'x\r\nSet-Cookie: evil=1',
    'x; Domain=evil.example; Path=/',
    'x\nLocation: https://evil.example',
    'é\u2028\u0000ö',
    '"; __Host-session=forged',
  ];
  for (const note of hostile) {
    const r = await c.fetch('/api/data', { method: 'POST', headers: setSession({ sub: 'inj', data: { note } }) });
    assert.equal(r.status, 200, r.text);
    assertCleanSetCookies(r);
    assert.equal(r.headers.get('location'), null);
    const me = await c.fetch('/api/me');
    assert.deepEqual((await seenClaims(me)).data, { note }, 'data round-trips inside the seal only');
    assert.match(me.json.headers['edge-session'], /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  }
  // Control characters in `sub` are refused; `;` and non-ASCII are plain data.
  for (const sub of ['eve\r\nSet-Cookie: a=b', 'eve\u0000', 'eve\u0085']) {
    const r = await new Client(stack.url).fetch('/login', { method: 'POST', headers: setSession({ sub }) });
    assert.equal(r.status, 502, JSON.stringify(sub));
    assert.equal(r.json.error, 'invalid_session_update');
    assert.equal(r.setCookies.length, 0);
  }
  for (const sub of ['eve; Path=/evil', 'ève']) {
    const n = new Client(stack.url);
    const r = await n.fetch('/login', { method: 'POST', headers: setSession({ sub }) });
    assert.equal(r.status, 200, r.text);
    assertCleanSetCookies(r);
    assert.equal((await seenClaims(await n.fetch('/api/me'))).sub, sub);
  }
  // Raw (unescaped) non-ASCII bytes in the instruction header are refused, not garbled.
  const raw = await c.fetch('/api/data', { method: 'POST', headers: setSession('{"sub":"inj","data":{"raw":"ü€"}}') });
  assert.equal(raw.status, 502, raw.text);
  assert.match(raw.json.message, /non-ASCII byte at offset \d+; send JSON with non-ASCII characters escaped as \\uXXXX/);
  assert.equal(raw.setCookies.length, 0);
  // Bad JSON is a clear 502 that echoes nothing of the value, and the session survives.
  for (const value of ['{"sub":"inj","data":{"a":"secret-ish', '{"sub":"inj","data":[1]}', '{"sub":"inj","extra":1}']) {
    const bad = await c.fetch('/api/data', { method: 'POST', headers: setSession(value) });
    assert.equal(bad.status, 502, value);
    assert.equal(bad.json.error, 'invalid_session_update');
    assert.doesNotMatch(bad.text, /secret-ish/);
    assert.equal(bad.setCookies.length, 0);
  }
  assert.equal((await seenClaims(await c.fetch('/api/me'))).sub, 'inj');
  // Client-sent Edge-Session* headers never reach the origin.
  const echo = await c.fetch('/api/me', { headers: { 'edge-session': 'forged', 'edge-session-set': '{"sub":"root"}' } });
  assert.notEqual(echo.json.headers['edge-session'], 'forged');
  assert.equal(echo.json.headers['edge-session-set'], undefined);
});

test('abuse: huge and numerous cookies get bounded, clear answers and the session survives', async () => {
  const c = await login('abuse', { name: 'abuse' });
  const cookie = c.cookieHeader();
  const timed = async (fn) => {
    const t = Date.now();
    const r = await fn();
    assert.ok(Date.now() - t < 5000, `answered in ${Date.now() - t} ms`);
    return r;
  };
  const junk = Array.from({ length: 2400 }, (_, i) => `c${i}=${'x'.repeat(22)}`).join('; ');
  assert.ok(junk.length > 64 * 1024);
  const big = await timed(() => c.fetch('/api/me', { cookie: `${junk}; ${cookie}` }));
  assert.equal(big.status, 431, `64 KB Cookie: ${big.text}`);
  assert.equal(big.json.error, 'cookie_header_too_large');
  assert.match(big.json.message, /Cookie header is \d+ bytes; at most 16384 are read/);
  assert.equal(big.setCookies.length, 0, 'nothing cleared');

  const chunks = Array.from({ length: 3000 }, (_, i) => `__Host-session.${i}=v1.k.AAAA`).join('; ');
  const many = await timed(() => c.fetch('/api/me', { cookie: `${chunks}; ${cookie}` }));
  assert.equal(many.status, 431, `3000 chunk-looking cookies: ${many.text}`);
  assert.equal(many.json.error, 'cookie_header_too_large');
  assert.equal(many.setCookies.length, 0);

  const hundreds = Array.from({ length: 400 }, (_, i) => `c${i}=1`).join('; ');
  const ok = await timed(() => c.fetch('/api/me', { cookie: `${hundreds}; ${cookie}` }));
  assert.equal(ok.status, 200);
  assert.equal((await seenClaims(ok)).sub, 'abuse');
  assert.equal(ok.json.headers.cookie.split('; ').length, 400, 'other cookies passed through');

  const me = await c.fetch('/api/me');
  assert.equal((await seenClaims(me)).sub, 'abuse', 'session intact after the abuse');
});

test('abuse: deep, huge or oversized session updates from the origin are refused with 502', async () => {
  const c = await login('big', { name: 'big' });
  const before = c.cookieHeader();
  const deep = `{"sub":"big","data":{"x":${'['.repeat(20000)}${']'.repeat(20000)}}}`;
  const cases = [
    ['deeply nested', deep, 'invalid_session_update', /recursion limit/],
    ['over the cookie cap', JSON.stringify({ sub: 'big', data: { blob: 'y'.repeat(30000) } }), 'session_too_large', /COOKIE_MAX_CHUNKS/],
    ['over 64 KB', JSON.stringify({ sub: 'big', data: { blob: 'z'.repeat(70000) } }), 'invalid_session_update', /at most 65536 are accepted/],
    ['5000 keys', JSON.stringify({ sub: 'big', data: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])) }), 'session_too_large', /bytes sealed; at most 65536/],
  ];
  for (const [what, value, error, message] of cases) {
    const t = Date.now();
    const r = await c.fetch('/api/data', setSessionInBody(value));
    assert.ok(Date.now() - t < 5000, `${what}: ${Date.now() - t} ms`);
    assert.equal(r.status, 502, `${what}: ${r.text.slice(0, 200)}`);
    assert.equal(r.json.error, error, what);
    assert.match(r.json.message, message, what);
    assert.ok(r.json.message.length < 400, `${what}: short message`);
    assert.equal(r.setCookies.length, 0, `${what}: no cookie touched`);
    assert.equal(c.cookieHeader(), before);
  }
  assert.equal((await seenClaims(await c.fetch('/api/me'))).data.name, 'big', 'previous session intact');
  assert.doesNotMatch(stack.output(), /panicked|RuntimeError: unreachable/);
});

test('cache deception: session-bearing answers are private whatever the path looks like', async () => {
  const c = await login('cache');
  const publicCache = instruct([['Cache-Control', 'public, max-age=3600, s-maxage=86400']]);
  for (const path of ['/api/me/avatar.css', '/profile.css', '/static/app.js', '/api/me;x.png', '/index.html']) {
    const r = await c.fetch(path, { headers: publicCache });
    const cc = r.headers.get('cache-control') ?? '';
    assert.match(cc, /private|no-store/, `${path}: ${cc}`);
    assert.doesNotMatch(cc, /public|s-maxage/, `${path}: ${cc}`);
    assert.match(r.headers.get('vary') ?? '', /Cookie/i, path);
  }
  // Anonymous answers keep the origin's caching.
  const anon = await new Client(stack.url).fetch('/profile.css', { headers: publicCache });
  assert.match(anon.headers.get('cache-control'), /public/);
});

test('cookie attributes cannot be injected through the settings', async () => {
  const cases = [
    ['COOKIE_PATH', '/; Domain=evil.example'],
    ['COOKIE_NAME', 'session=x; Domain=evil.example'],
    ['COOKIE_SAMESITE', 'Lax; Domain=evil.example'],
  ];
  for (const [name, value] of cases) {
    const s = await startStack({ origin: false, vars: { ORIGIN_URL: origin.url, [name]: value } });
    try {
      const r = await new Client(s.url).fetch('/login', { method: 'POST', headers: setSession({ sub: 'x' }) });
      assert.equal(r.status, 500, `${name}=${value}`);
      assert.equal(r.json.error, 'misconfigured');
      assert.match(r.json.message, new RegExp(name));
      assert.equal(r.setCookies.length, 0);
    } finally {
      await s.stop();
    }
  }
});

// ---- the rotation drill (README "Rotating keys"), demo origin, EdDSA so the JWKS is live ----

async function keygen(args) {
  const { stdout } = await execFileP(paths.cli, ['keygen', '--dev-vars', ...args]);
  return Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('rotation drill: add a key, old cookies re-seal; retire it, they are anonymous; the JWKS follows', async () => {
  const old = await keygen(['--kid', 'kold']);
  const both = await keygen(['--kid', 'knew', '--rotate', old.SESSION_KEYS]);
  const onlyNew = both.SESSION_KEYS.split(',')[0];
  assert.match(onlyNew, /^knew:/);
  const vars = { TOKEN_ALG: 'EdDSA', JWT_ALGORITHMS: 'EdDSA' };
  const withKeys = async (keys, fn) => {
    const s = await startStack({ vars, secrets: { SESSION_KEYS: keys, ORIGIN_SECRET: old.ORIGIN_SECRET } });
    try { return await fn(s); } finally { await s.stop(); }
  };
  const jwksOf = async (s) => {
    const r = await fetch(`${s.url}/_session/jwks.json`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
    return r.json();
  };
  const kids = (jwks) => jwks.keys.map((k) => k.kid);
  const verifies = async (token, jwks) => {
    try {
      await jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'edge-session', audience: 'api', algorithms: ['EdDSA'] });
      return true;
    } catch {
      return false;
    }
  };

  // Day 0: one key.
  const { cookie: oldCookie, token: oldToken } = await withKeys(old.SESSION_KEYS, async (s) => {
    assert.deepEqual(kids(await jwksOf(s)), ['kold']);
    const c = new Client(s.url);
    await c.login('rita');
    assert.match(c.cookieHeader(), /^__Host-session=v1\.kold\./);
    const t = await c.fetch('/_session/token', { method: 'POST' });
    assert.equal(decodeProtectedHeader(t.json.access_token).kid, 'kold');
    return { cookie: c.cookieHeader(), token: t.json.access_token };
  });

  // Day 1: the new key is prepended.
  const newCookie = await withKeys(both.SESSION_KEYS, async (s) => {
    const jwks = await jwksOf(s);
    assert.deepEqual(kids(jwks), ['knew', 'kold']);
    assert.ok(await verifies(oldToken, jwks), 'old tokens still verify with the published JWKS');
    const c = new Client(s.url);
    const me = await c.fetch('/api/me', { cookie: oldCookie });
    assert.equal(me.status, 200, 'an old cookie still opens');
    assert.equal(me.json.sub, 'rita');
    assert.match(c.cookieHeader(), /^__Host-session=v1\.knew\./, 're-sealed under the new kid');
    const viaToken = await new Client(s.url).fetch('/api/me', { headers: { authorization: `Bearer ${oldToken}` } });
    assert.equal(viaToken.status, 200);
    return c.cookieHeader();
  });

  // Day 2: the old key is retired.
  await withKeys(onlyNew, async (s) => {
    const jwks = await jwksOf(s);
    assert.deepEqual(kids(jwks), ['knew']);
    assert.equal(await verifies(oldToken, jwks), false, 'the JWKS no longer verifies old tokens');
    const gone = await new Client(s.url).fetch('/api/me', { cookie: oldCookie });
    assert.equal(gone.status, 401, 'a cookie sealed only under the retired key is anonymous');
    assert.ok(gone.setCookies.some((l) => /Max-Age=0/.test(l)), 'and cleared');
    const kept = await new Client(s.url).fetch('/api/me', { cookie: newCookie });
    assert.equal(kept.status, 200, 'the re-sealed cookie survives the retirement');
    const viaToken = await new Client(s.url).fetch('/api/me', { headers: { authorization: `Bearer ${oldToken}` } });
    assert.equal(viaToken.status, 401);
  });
  assert.equal(decodeJwt(oldToken).sub, 'rita');
});
