// The Node origin middleware (examples/node/edge-session.mjs, issue #18) in real
// apps behind real `wrangler dev`: examples/node/express-app.mjs and hono-app.mjs
// run as their own processes, each behind its own worker (HS256 with ORIGIN_SECRET;
// and once EdDSA with the worker's JWKS, the app holding no secret). Through the
// worker: setSession logs in (non-ASCII data intact, ttl honoured), the next
// request's claims show it, rotateSession changes the sid and kills the old one,
// revokeSession and destroySession clear the cookie (only revoke kills copies),
// revokeAll signs the user out everywhere. Straight to the app (around the worker):
// a forged, expired, wrong-audience or wrong-algorithm assertion answers 401, a
// good one passes. Without a worker: the verbs' input checks and header values.
//
// Needs `npm ci` in examples/node (scripts/install.sh does it).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, base64url, generateKeyPair, importJWK } from 'jose';
import { startStack, freePort, generateSecrets, CookieJar, ROOT } from './harness.mjs';
import {
  edgeSession, setSession, destroySession, revokeSession, revokeAll, rotateSession,
} from '../../examples/node/edge-session.mjs';

const EXAMPLES = path.join(ROOT, 'examples', 'node');
const COOKIE = '__Host-session';
const NAME = 'Zoë 🚀'; // non-ASCII, and outside the BMP
const enc = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);

/** Starts an example app on `port`; resolves once it printed its listening line. */
async function startApp(file, port, env) {
  if (!existsSync(path.join(EXAMPLES, 'node_modules', 'express'))) {
    throw new Error(`${EXAMPLES}/node_modules is missing: run scripts/install.sh (npm ci in examples/node)`);
  }
  const childEnv = { ...process.env, ORIGIN_PORT: String(port), ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const child = spawn(process.execPath, [path.join(EXAMPLES, file)], {
    cwd: EXAMPLES,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app = { url: `http://127.0.0.1:${port}`, child, output: '' };
  const keep = (d) => { app.output = (app.output + d).slice(-16_384); };
  child.stderr.on('data', keep);
  app.exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      keep(d);
      if (/listening/.test(app.output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before listening:\n${app.output}`)));
    setTimeout(() => reject(new Error(`${file} did not listen within 20 s:\n${app.output}`)), 20_000).unref();
  });
  return app;
}

async function stopApp(app) {
  if (!app || app.child.exitCode !== null || app.child.signalCode !== null) return;
  app.child.kill('SIGTERM');
  await Promise.race([app.exited, new Promise((r) => setTimeout(r, 5000))]);
  if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
}

/** Whether the jar holds a session cookie (the base cookie or a chunk). */
const hasSession = (jar) => [...jar.cookies.keys()].some((k) => k === COOKIE || k.startsWith(`${COOKIE}.`));
/** A second jar holding copies of `jar`'s cookies (a stolen or copied cookie). */
function copyOf(jar) {
  const copy = new CookieJar();
  for (const [k, { value }] of jar.cookies) copy.set(k, value);
  return copy;
}

/** The ring's primary Ed25519 key, derived from SESSION_KEYS as the README says (as interop.test.mjs does). */
function primaryEd25519(sessionKeys) {
  const entry = sessionKeys.split(/[,\s]+/).filter(Boolean)[0];
  const kid = entry.slice(0, entry.indexOf(':'));
  const raw = Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64url');
  const seed = new Uint8Array(crypto.hkdfSync('sha256', raw, enc.encode('edge-session v1'), enc.encode('jwt-ed25519'), 32));
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const x = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x;
  return { kid, jwk: { kty: 'OKP', crv: 'Ed25519', d: base64url.encode(seed), x } };
}

/** Claims like the worker's, for assertions made here. */
const claims = (over = {}) => ({
  iss: 'edge-session', aud: 'origin', sub: 'direct', sid: 'AAECAwQFBgcICQoLDA0ODw',
  iat: now(), nbf: now(), exp: now() + 60, auth_time: now(), gen: 0, data: { via: 'test' }, ...over,
});
const sign = (alg, key, body, header = {}) => new SignJWT(body).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);

const VARIANTS = [
  { name: 'Express, HS256', file: 'express-app.mjs', alg: 'HS256' },
  { name: 'Hono, HS256', file: 'hono-app.mjs', alg: 'HS256' },
  { name: 'Hono, EdDSA through the JWKS', file: 'hono-app.mjs', alg: 'EdDSA' },
];

for (const variant of VARIANTS) {
  describe(`${variant.name}: a real app behind wrangler dev`, () => {
    let stack;
    let app;
    const me = async (jar) => {
      const res = await jar.fetch(`${stack.url}/me`);
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()).session;
    };
    const post = async (jar, route) => {
      const res = await jar.fetch(`${stack.url}${route}`, { method: 'POST' });
      const body = await res.text();
      assert.equal(res.status, 200, `${route}: ${body}`);
      assert.equal(res.headers.get('edge-session-set'), null, 'the worker strips Edge-Session-Set');
      assert.equal(res.headers.get('edge-session-action'), null, 'the worker strips Edge-Session-Action');
      return res;
    };
    const login = (jar, user, extra = {}) => post(jar, `/login?${new URLSearchParams({ user, ...extra })}`);

    before(async () => {
      const secrets = await generateSecrets();
      const appPort = await freePort();
      // The worker first (the EdDSA app needs its JWKS URL); the app right after.
      stack = await startStack({
        origin: false,
        secrets,
        vars: { ORIGIN_URL: `http://127.0.0.1:${appPort}`, ...(variant.alg === 'EdDSA' && { ASSERTION_ALG: 'EdDSA' }) },
      });
      const env = variant.alg === 'EdDSA'
        ? { JWKS_URL: `${stack.url}/_session/jwks.json`, ORIGIN_SECRET: undefined }
        : { ORIGIN_SECRET: secrets.ORIGIN_SECRET, JWKS_URL: undefined };
      app = await startApp(variant.file, appPort, env);
      app.secrets = secrets;
    });
    after(async () => {
      await stopApp(app);
      await stack?.stop();
    });

    test('anonymous: no assertion reaches the app, the session is null', async () => {
      assert.equal(await me(new CookieJar()), null);
      // A client's own Edge-Session header never reaches the app either.
      const forged = await sign('HS256', enc.encode('x'.repeat(32)), claims());
      const res = await fetch(`${stack.url}/me`, { headers: { 'edge-session': forged } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { session: null });
    });

    test('setSession logs in; the next request sees sub and data, non-ASCII intact, ttl honoured', async () => {
      const jar = new CookieJar();
      await login(jar, 'ada', { name: NAME, ttl: '600' });
      assert.ok(hasSession(jar), `no session cookie: ${jar.lastSetCookie}`);
      const maxAge = Number(jar.attributes(COOKIE)?.['max-age']);
      assert.ok(maxAge > 590 && maxAge <= 600, `cookie Max-Age ${maxAge}, want the ttl of 600`);
      const s = await me(jar);
      assert.equal(s.sub, 'ada');
      assert.deepEqual(s.data, { name: NAME });
      assert.equal(s.iss, 'edge-session');
      assert.equal(s.aud, 'origin');
      assert.match(s.sid, /^[A-Za-z0-9_-]{16,}$/);
      assert.equal(s.session_exp - s.auth_time, 600, 'ttl shortens the session');
      assert.ok(s.exp - s.iat <= 60, 'exp is the assertion\'s, ASSERTION_TTL');
    });

    test('setSession with bad input answers 400 from the app, and no cookie is set', async () => {
      const jar = new CookieJar();
      const res = await jar.fetch(`${stack.url}/login?user=ada&ttl=0`, { method: 'POST' });
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /ttl/);
      assert.equal(hasSession(jar), false);
    });

    test('rotateSession: a new sid, same user and data; the old cookie is refused', async () => {
      const jar = new CookieJar();
      await login(jar, 'ada', { name: NAME });
      const before = await me(jar);
      const old = copyOf(jar);
      await post(jar, '/rotate');
      const after = await me(jar);
      assert.notEqual(after.sid, before.sid, 'rotate gives a new sid');
      assert.equal(after.sub, 'ada');
      assert.deepEqual(after.data, { name: NAME });
      assert.equal(await me(old), null, 'the rotated-out cookie is denylisted');
    });

    test('revokeSession (logout): cookie cleared, next request anonymous, a copy of the cookie too', async () => {
      const jar = new CookieJar();
      await login(jar, 'ada');
      const copy = copyOf(jar);
      assert.equal((await me(copy)).sub, 'ada');
      await post(jar, '/logout');
      assert.equal(hasSession(jar), false, `cookie not cleared: ${jar.lastSetCookie}`);
      assert.equal(await me(jar), null);
      assert.equal(await me(copy), null, 'a copy of the revoked cookie is refused');
    });

    test('destroySession (forget): cookie cleared and anonymous here; a copy still works (not denylisted)', async () => {
      const jar = new CookieJar();
      await login(jar, 'grace');
      const copy = copyOf(jar);
      await post(jar, '/forget');
      assert.equal(hasSession(jar), false, `cookie not cleared: ${jar.lastSetCookie}`);
      assert.equal(await me(jar), null);
      assert.equal((await me(copy)).sub, 'grace', 'destroy only clears cookies; revoke is the one that denylists');
    });

    test('revokeAll: every session of the user ends, another user\'s stays', async () => {
      const [laptop, phone, other] = [new CookieJar(), new CookieJar(), new CookieJar()];
      await login(laptop, 'bob');
      await login(phone, 'bob');
      await login(other, 'carol');
      assert.equal((await me(phone)).sub, 'bob');
      await post(laptop, '/revoke-all');
      assert.equal(hasSession(laptop), false);
      assert.equal(await me(laptop), null);
      assert.equal(await me(phone), null, 'the other device is signed out too');
      assert.equal((await me(other)).sub, 'carol');
    });

    test('straight to the app: forged, expired, wrong-audience or wrong-algorithm assertions get 401, a good one passes', async () => {
      const direct = async (token) => {
        const res = await fetch(`${app.url}/me`, { headers: token === undefined ? {} : { 'edge-session': token } });
        const body = await res.text();
        assert.ok(!body.includes(token ?? '\0'), 'the answer does not echo the token');
        return { status: res.status, body: JSON.parse(body) };
      };
      let good;
      let wrongKey;
      let other; // the other algorithm, keyed with what an attacker might have
      let expired;
      let wrongAud;
      if (variant.alg === 'HS256') {
        const secret = enc.encode(app.secrets.ORIGIN_SECRET);
        good = await sign('HS256', secret, claims());
        wrongKey = await sign('HS256', enc.encode((await generateSecrets()).ORIGIN_SECRET), claims());
        expired = await sign('HS256', secret, claims({ iat: now() - 180, nbf: now() - 180, exp: now() - 120 }));
        wrongAud = await sign('HS256', secret, claims({ aud: 'api' }));
        const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
        other = await sign('EdDSA', stranger.privateKey, claims(), { kid: 'k1' });
      } else {
        const primary = primaryEd25519(app.secrets.SESSION_KEYS);
        const key = await importJWK(primary.jwk, 'EdDSA');
        const kid = { kid: primary.kid };
        good = await sign('EdDSA', key, claims(), kid);
        wrongKey = await sign('EdDSA', (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey, claims(), kid);
        expired = await sign('EdDSA', key, claims({ iat: now() - 180, nbf: now() - 180, exp: now() - 120 }), kid);
        wrongAud = await sign('EdDSA', key, claims({ aud: 'api' }), kid);
        // Algorithm confusion: HS256 keyed with the shared secret, or with the public key.
        other = await sign('HS256', enc.encode(app.secrets.ORIGIN_SECRET), claims(), kid);
      }
      const ok = await direct(good);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.session.sub, 'direct', 'the right key passes (so the 401s below are the checks)');
      assert.deepEqual(await direct(undefined), { status: 200, body: { session: null } });
      for (const [what, token, reason] of [
        ['forged (another key)', wrongKey, 'signature'],
        ['expired (right key)', expired, 'expired'],
        ['for another audience (right key)', wrongAud, 'claims'],
        [`signed ${variant.alg === 'HS256' ? 'EdDSA' : 'HS256'}`, other, 'algorithm'],
        ['alg none', `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims()))}.`, 'algorithm'],
        ['garbage', 'not-a-jwt', 'malformed'],
      ]) {
        const got = await direct(token);
        assert.equal(got.status, 401, `${what}: ${JSON.stringify(got.body)}`);
        assert.equal(got.body.error, 'invalid_session_assertion', what);
        assert.equal(got.body.reason, reason, what);
      }
    });
  });
}

// --- the verbs and the setup, without a worker --------------------------------------

test('setSession writes ASCII JSON that decodes to the same value', () => {
  const h = new Headers();
  setSession(h, { sub: 'zoë', data: { name: NAME, n: 1, nested: { ok: true } }, ttl: 60 });
  const value = h.get('edge-session-set');
  assert.match(value, /^[\x20-\x7e]+$/, value);
  assert.deepEqual(JSON.parse(value), { sub: 'zoë', data: { name: NAME, n: 1, nested: { ok: true } }, ttl: 60 });
  const bare = new Headers();
  setSession(bare, { sub: 'ada' });
  assert.equal(bare.get('edge-session-set'), '{"sub":"ada"}');
});

test('setSession refuses bad input with a clear error', () => {
  for (const [input, pattern] of [
    [{}, /sub` must be a non-empty string/],
    [{ sub: '' }, /sub` must be a non-empty string/],
    [{ sub: 42 }, /sub` must be a non-empty string/],
    [{ sub: 'a\nb' }, /control characters/],
    [{ sub: 'é'.repeat(129) }, /258 bytes; at most 256/],
    [{ sub: 'ada', ttl: 0 }, /ttl/],
    [{ sub: 'ada', ttl: -5 }, /ttl/],
    [{ sub: 'ada', ttl: 1.5 }, /ttl/],
    [{ sub: 'ada', ttl: '60' }, /ttl/],
    [{ sub: 'ada', data: [1] }, /plain object/],
    [{ sub: 'ada', data: null }, /plain object/],
    [{ sub: 'ada', data: new Date() }, /plain object/],
    [{ sub: 'ada', data: { big: 'x'.repeat(70_000) } }, /at most 65536/],
  ]) {
    assert.throws(() => setSession(new Headers(), input), pattern, JSON.stringify(input)?.slice(0, 80));
  }
  assert.throws(() => setSession({}, { sub: 'ada' }), /expected a node:http or Express response/);
});

test('contradictory verbs on one response throw; set + rotate is allowed', () => {
  for (const clear of [destroySession, revokeSession, revokeAll]) {
    const a = new Headers();
    setSession(a, { sub: 'ada' });
    assert.throws(() => clear(a), /applies Edge-Session-Set first/, clear.name);
    const b = new Headers();
    clear(b);
    assert.throws(() => setSession(b, { sub: 'ada' }), /would clear the new session/, clear.name);
  }
  const c = new Headers();
  setSession(c, { sub: 'ada' });
  rotateSession(c);
  assert.equal(c.get('edge-session-action'), 'rotate');
  assert.throws(() => revokeSession(c), /already has Edge-Session-Action rotate/);
  const d = new Headers();
  revokeAll(d);
  revokeAll(d);
  assert.equal(d.get('edge-session-action'), 'revoke-all');
});

test('edgeSession refuses a missing, ambiguous or short key, without printing it', () => {
  const short = 'short-secret-value';
  assert.throws(() => edgeSession({}), /exactly one of `secret`/);
  assert.throws(() => edgeSession({ secret: 'x'.repeat(32), jwksUrl: 'https://a.example/_session/jwks.json' }), /exactly one/);
  assert.throws(() => edgeSession({ secret: short }), (e) => /18 bytes; ORIGIN_SECRET has at least 32/.test(e.message) && !e.message.includes(short));
  assert.throws(() => edgeSession({ jwksUrl: 'file:///etc/jwks.json' }), /must be https/);
  assert.throws(() => edgeSession({ jwksUrl: 'http://keys.example/_session/jwks.json' }), /must be https \(http only to localhost\)/);
  edgeSession({ jwksUrl: 'http://127.0.0.1:8787/_session/jwks.json' });
});
