// End to end through real `wrangler dev` (workerd + local KV) and the real demo
// origin: sealed sessions, the edge↔origin contract, bearer tokens, revocation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { startStack, paths } from './harness.mjs';
import { Client } from './client.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const client = () => new Client(stack.url);
const execFileP = promisify(execFile);

test('login seals a session the origin never stores; cookies are never forwarded', async () => {
  const c = client();
  assert.equal((await c.fetch('/api/me')).status, 401);
  const login = await c.login('alice');
  assert.equal(login.setCookies.length, 1);
  const sc = login.setCookies[0];
  assert.match(sc, /^__Host-session=v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; /);
  for (const attr of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) assert.ok(sc.includes(attr), `${attr} in ${sc}`);
  assert.ok(!/Domain=/i.test(sc));
  assert.equal(login.headers.get('edge-session-set'), null, 'instruction header stripped');

  const me = await c.fetch('/api/me');
  assert.equal(me.status, 200);
  assert.equal(me.json.sub, 'alice');
  assert.equal(me.json.data.name, 'alice');
  assert.match(me.json.sid, /^[A-Za-z0-9_-]{22}$/);
  assert.match(me.headers.get('cache-control'), /private|no-store/);
  assert.match(me.headers.get('vary') ?? '', /Cookie/i);

  const echo = await c.fetch('/api/echo-headers', {
    cookie: `${c.cookieHeader()}; theme=dark`,
    headers: { 'edge-session': 'forged', 'edge-session-set': '{"sub":"mallory"}' },
  });
  assert.equal(echo.json.cookie, 'theme=dark', 'session cookie stripped, others kept');
  assert.notEqual(echo.json['edge-session'], 'forged');
  assert.match(echo.json['edge-session'], /^ey[^.]+\.[^.]+\.[^.]+$/, 'signed assertion instead');
  assert.equal(echo.json['edge-session-set'], undefined);
});

test('anonymous public responses are left cacheable', async () => {
  const r = await client().fetch('/api/public');
  assert.equal(r.status, 200);
  assert.equal(r.json.anonymous, true);
  assert.equal(r.headers.get('cache-control'), null);
  assert.equal(r.setCookies.length, 0);
});

test('session data updates, chunking past 4 KB, and the size cap', async () => {
  const c = client();
  await c.login('bob');
  const upd = await c.fetch('/api/data', { method: 'POST', json: { theme: 'dark' } });
  assert.equal(upd.status, 200);
  assert.equal((await c.fetch('/api/me')).json.data.theme, 'dark');

  const big = await c.fetch('/api/big?bytes=6000', { method: 'POST' });
  assert.equal(big.status, 200);
  const live = big.setCookies.filter((s) => !/Max-Age=0/.test(s));
  assert.ok(live.length >= 2, `chunked into separate Set-Cookie headers: ${live.length}`);
  for (const s of big.setCookies) assert.ok(s.length <= 4096, `each chunk ≤ 4096 bytes (${s.length})`);
  assert.ok(big.setCookies.some((s) => /^__Host-session=;.*Max-Age=0/.test(s)), 'unchunked cookie cleared');
  const me = await c.fetch('/api/me');
  assert.equal(me.status, 200);
  assert.equal(me.json.data.blob.length, 6000);

  const before = c.cookieHeader();
  const tooBig = await c.fetch('/api/big?bytes=40000', { method: 'POST' });
  assert.equal(tooBig.status, 502);
  assert.match(tooBig.json.message, /\d+ bytes/);
  assert.match(tooBig.json.message, /COOKIE_MAX_CHUNKS|at most/);
  assert.equal(tooBig.setCookies.length, 0, 'no cookie touched');
  assert.equal(c.cookieHeader(), before);
  assert.equal((await c.fetch('/api/me')).json.data.blob.length, 6000, 'previous session intact');

  const small = await c.fetch('/api/big?bytes=10', { method: 'POST' });
  assert.equal(small.status, 200);
  assert.ok(small.setCookies.some((s) => /^__Host-session\.1=;.*Max-Age=0/.test(s)), 'stale chunks cleared');
  assert.equal((await c.fetch('/api/me')).json.data.blob.length, 10);
});

test('logout at the edge: a copy of the cookie and its bearer token stop working', async () => {
  const c = client();
  await c.login('carol');
  const copy = c.cookieHeader();
  const tok = await c.fetch('/_session/token', { method: 'POST' });
  assert.equal(tok.status, 200);
  assert.equal(tok.json.token_type, 'Bearer');
  assert.ok(tok.json.expires_in > 0 && tok.json.expires_in <= 900);
  const bearer = { authorization: `Bearer ${tok.json.access_token}` };
  const api = new Client(stack.url);
  const viaToken = await api.fetch('/api/me', { headers: bearer });
  assert.equal(viaToken.status, 200);
  assert.equal(viaToken.json.sub, 'carol');

  const out = await c.fetch('/_session/logout', { method: 'POST' });
  assert.equal(out.status, 200);
  assert.ok(out.setCookies.some((s) => /Max-Age=0/.test(s)));
  assert.equal((await c.fetch('/api/me')).status, 401);
  const replay = await new Client(stack.url).fetch('/api/me', { cookie: copy });
  assert.equal(replay.status, 401, 'replayed copy is anonymous');
  assert.ok(replay.setCookies.some((s) => /Max-Age=0/.test(s)), 'and cleared');
  assert.equal((await api.fetch('/api/me', { headers: bearer })).status, 401, 'token from that session revoked');
});

test('origin logout (destroy) and revoke-all across two logins, another user unaffected', async () => {
  const d = client();
  await d.login('dave');
  assert.equal((await d.fetch('/logout', { method: 'POST' })).status, 200);
  assert.equal((await d.fetch('/api/me')).status, 401);

  const laptop = client();
  const phone = client();
  const other = client();
  await laptop.login('erin');
  await phone.login('erin');
  await other.login('frank');
  const r = await laptop.fetch('/api/revoke-all', { method: 'POST' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await laptop.fetch('/api/me')).status, 401);
  assert.equal((await phone.fetch('/api/me')).status, 401, 'the other device is signed out too');
  assert.equal((await other.fetch('/api/me')).status, 200, 'other users stay logged in');
  await new Promise((res) => setTimeout(res, 1100)); // revocation has whole-second resolution
  const again = client();
  await again.login('erin');
  assert.equal((await again.fetch('/api/me')).status, 200, 'new sessions work');
});

test('rotate issues a new sid and revokes the old one', async () => {
  const c = client();
  await c.login('grace');
  const old = c.cookieHeader();
  const sidBefore = (await c.fetch('/api/me')).json.sid;
  const rot = await c.fetch('/api/rotate', { method: 'POST' });
  assert.equal(rot.status, 200);
  const after = await c.fetch('/api/me');
  assert.equal(after.status, 200);
  assert.notEqual(after.json.sid, sidBefore);
  assert.equal((await new Client(stack.url).fetch('/api/me', { cookie: old })).status, 401);
});

test('bearer tokens: forged, none-alg and garbage are anonymous, never 500', async () => {
  const api = new Client(stack.url);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'edge-session', aud: 'api', sub: 'mallory', sid: 'A'.repeat(22), iat: now, nbf: now, exp: now + 600, auth_time: now };
  for (const token of [
    `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}.${'A'.repeat(43)}`,
    'garbage',
    'a.b.c',
    'x'.repeat(20000),
  ]) {
    const r = await api.fetch('/api/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401, token.slice(0, 40));
  }
  assert.equal((await api.fetch('/_session/token', { method: 'POST' })).status, 401);
  assert.equal((await api.fetch('/_session/token')).status, 405);
});

test('a real cookie mutated hundreds of ways: anonymous and cleared, never a 5xx', async () => {
  const c = client();
  await c.login('heidi');
  const name = '__Host-session';
  const value = c.jar.get(name);
  const rng = (() => { let s = 12345; return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648; })();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!%';
  const mutants = new Set();
  for (let i = 0; i < value.length && mutants.size < 150; i += Math.max(1, Math.floor(value.length / 150))) {
    const ch = value[i] === 'A' ? 'B' : 'A';
    mutants.add(value.slice(0, i) + ch + value.slice(i + 1)); // flip
  }
  for (let i = 1; i < value.length; i += Math.max(1, Math.floor(value.length / 60))) mutants.add(value.slice(0, i)); // truncate
  while (mutants.size < 320) {
    const pos = Math.floor(rng() * value.length);
    const ins = alphabet[Math.floor(rng() * alphabet.length)].repeat(1 + Math.floor(rng() * 3));
    mutants.add(value.slice(0, pos) + ins + value.slice(pos)); // insert
  }
  const extra = [
    '', 'v1', 'v1..', 'v2.k1.AAAA', `v1.nokey.${value.split('.')[2]}`, value + value, value.replace(/\./g, ''),
    '%00%01', 'ÿÿÿ', '"quoted"',
  ];
  let anon = 0;
  const all = [...mutants, ...extra].filter((m) => m !== value);
  for (const m of all) {
    const r = await fetch(stack.url + '/api/me', { headers: { cookie: `${name}=${m}` } });
    assert.ok(r.status < 500, `status ${r.status} for mutant ${m.slice(0, 30)}…`);
    assert.equal(r.status, 401, 'mutant accepted');
    const sc = r.headers.getSetCookie();
    if (m !== '') assert.ok(sc.some((s) => s.startsWith(`${name}=;`) && /Max-Age=0/.test(s)), `cleared: ${m.slice(0, 30)}`);
    await r.text();
    anon++;
  }
  assert.ok(anon >= 300, `tried ${anon} mutants`);

  // Garbage headers: huge cookie, many chunk-looking cookies, binary-ish bytes.
  const garbage = [
    `${name}=${'A'.repeat(20000)}`,
    Array.from({ length: 300 }, (_, i) => `${name}.${i}=x`).join('; '),
    `${name}.0=3~abc; ${name}.2=def`,
    `${name}=${value}; ${name}.0=1~${value}`,
    ';;;==;=;',
  ];
  for (const g of garbage) {
    const r = await fetch(stack.url + '/api/me', { headers: { cookie: g } });
    assert.ok([400, 401, 431].includes(r.status), `status ${r.status} for ${g.slice(0, 40)}`);
    await r.text();
  }
  assert.equal((await c.fetch('/api/me')).status, 200, 'the real cookie still works');
});

test('edge endpoints: unknown path is a clear 404', async () => {
  const r = await client().fetch('/_session/nope');
  assert.equal(r.status, 404);
  assert.equal(r.json.error, 'not_found');
});

/**
 * A request through `c`'s cookie jar with node:http and a 64 KiB header limit: a
 * session at the cap comes back in four Set-Cookie headers of up to 4096 bytes,
 * more than Node's default 16 KiB (fetch fails with UND_ERR_HEADERS_OVERFLOW there;
 * browsers accept far more).
 */
function bigFetch(c, target, { method = 'GET', headers = {} } = {}) {
  const h = { ...headers };
  if (c.cookieHeader()) h.cookie = c.cookieHeader();
  return new Promise((resolve, reject) => {
    const opts = { method, headers: h, maxHeaderSize: 65536, agent: false, timeout: 20_000 };
    const r = http.request(c.base + target, opts, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const all = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) all.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        c.absorb({ headers: all });
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json });
      });
    });
    r.on('timeout', () => r.destroy(new Error(`timeout on ${method} ${target}`)));
    r.on('error', reject);
    r.end();
  });
}

test('a session at the cookie cap gets a bearer token the worker accepts (TOKEN_DATA=fit)', async () => {
  const c = client();
  await c.login('capped');
  let bytes = 14_000;
  for (; bytes > 0; bytes -= 250) {
    const r = await bigFetch(c, `/api/big?bytes=${bytes}`, { method: 'POST' });
    if (r.status === 200) break;
    assert.equal(r.status, 502, r.text);
  }
  assert.ok(bytes > 8192, `the largest session holds ${bytes} bytes of data`);
  const me = await bigFetch(c, '/api/me');
  assert.equal(me.status, 200, 'the origin reads the assertion of a session at the cap');
  assert.equal(me.json.data.blob.length, bytes);
  const tok = await bigFetch(c, '/_session/token', { method: 'POST' });
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.json.data_included, false, 'the data does not fit in a bearer token');
  assert.ok(tok.json.access_token.length <= 8192, `${tok.json.access_token.length} bytes`);
  const api = await new Client(stack.url).fetch('/api/me', {
    headers: { authorization: `Bearer ${tok.json.access_token}` },
  });
  assert.equal(api.status, 200, api.text);
  assert.equal(api.json.sub, 'capped');
  // A small session's token carries its data.
  const small = await bigFetch(c, '/api/big?bytes=100', { method: 'POST' });
  assert.equal(small.status, 200);
  const tok2 = await c.fetch('/_session/token', { method: 'POST' });
  assert.equal(tok2.json.data_included, true);
  const api2 = await new Client(stack.url).fetch('/api/me', {
    headers: { authorization: `Bearer ${tok2.json.access_token}` },
  });
  assert.equal(api2.json.data.blob.length, 100);
});

test('the release worker opens a cookie the CLI sealed, and the CLI opens one the worker sealed', async () => {
  const keys = ['--keys', stack.secrets.SESSION_KEYS];
  const { stdout: sealed } = await execFileP(paths.cli, ['seal', ...keys, '--sub', 'cli-user', '--data', '{"via":"cli","n":[1,2]}']);
  const viaCli = await new Client(stack.url).fetch('/api/me', { cookie: `__Host-session=${sealed.trim()}` });
  assert.equal(viaCli.status, 200, viaCli.text);
  assert.equal(viaCli.json.sub, 'cli-user');
  assert.deepEqual(viaCli.json.data, { via: 'cli', n: [1, 2] });

  // The worker seals, chunked (6000 bytes of data): the CLI reads the whole Cookie header.
  const c = client();
  await c.login('worker-user');
  assert.equal((await c.fetch('/api/big?bytes=6000', { method: 'POST' })).status, 200);
  const header = c.cookieHeader();
  assert.match(header, /__Host-session\.1=/, 'chunked');
  const { stdout, stderr } = await execFileP(paths.cli, ['open', ...keys, `theme=dark; ${header}`]);
  const claims = JSON.parse(stdout);
  assert.equal(claims.sub, 'worker-user');
  assert.equal(claims.d.blob.length, 6000);
  assert.match(stderr, /^valid: sealed with key `/);
});
