// The Python origin middleware (examples/python/edge_session.py, issue #18) behind real
// `wrangler dev`: the example FastAPI and Flask apps, each its own process from the
// venv scripts/install.sh makes, verify the worker's assertion with PyJWT and answer
// with the middleware's verbs.
// - log in with set_session through the worker (cookie set, instruction stripped); the
//   next request's claims show sub and data, non-ASCII data included;
// - rotate gives a new sid and the old cookie dies; logout (revoke) clears the cookie
//   and the old one dies; destroy clears it but a copy still works; revoke-all signs
//   out every browser of the user;
// - straight to the app (not through the worker): a forged and an expired assertion
//   are refused with 401, a well-signed one is accepted;
// - the same with ASSERTION_ALG=EdDSA, the app holding no secret, only the JWKS URL;
// - the module's own unit tests (examples/python/test_edge_session.py) pass.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, base64url, generateKeyPair, importJWK } from 'jose';
import { startStack, freePort, generateSecrets, CookieJar, ROOT } from './harness.mjs';

const EXAMPLE = path.join(ROOT, 'examples', 'python');
const PYTHON = path.join(EXAMPLE, '.venv', 'bin', 'python');
const COOKIE = '__Host-session';
const NON_ASCII = 'Zoë 🚀';
const START_TIMEOUT_MS = 30_000;

function requireVenv() {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: run scripts/install.sh (it makes examples/python/.venv from requirements.txt)`);
  }
}

/** Starts an example app; resolves once it printed its listening line. */
async function startApp(script, env) {
  requireVenv();
  const appEnv = { ...process.env, PYTHONUNBUFFERED: '1', ...env };
  if (!env.ORIGIN_SECRET) delete appEnv.ORIGIN_SECRET; // an EdDSA app holds no secret
  if (!env.JWKS_URL) delete appEnv.JWKS_URL;
  const child = spawn(PYTHON, [script], { cwd: EXAMPLE, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const app = { child, output: '', exited: null };
  const keep = (d) => { app.output = (app.output + d).slice(-16 * 1024); };
  child.stderr.on('data', keep);
  app.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve((app.exited = { code, signal }))));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not listen within ${START_TIMEOUT_MS} ms:\n${app.output}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      keep(d);
      if (/listening on/.test(app.output)) { clearTimeout(timer); resolve(); }
    });
    app.exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before listening:\n${app.output}`));
    });
  });
  return app;
}

async function stopApp(app) {
  if (!app || app.exited) return;
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 5000);
  await app.exit;
  clearTimeout(timer);
}

/** The primary ring key's Ed25519 pair, derived as the worker does (see interop.test.mjs). */
function primaryEd25519(sessionKeys) {
  const entry = sessionKeys.split(/[,\s]+/).filter(Boolean)[0];
  const kid = entry.slice(0, entry.indexOf(':'));
  const raw = Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64url');
  const info = new TextEncoder().encode('jwt-ed25519');
  const seed = new Uint8Array(crypto.hkdfSync('sha256', raw, new TextEncoder().encode('edge-session v1'), info, 32));
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const x = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x;
  return { kid, jwk: { kty: 'OKP', crv: 'Ed25519', d: base64url.encode(seed), x } };
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (over = {}) => ({
  iss: 'edge-session', aud: 'origin', sub: 'direct-user', sid: 'AAECAwQFBgcICQoLDA0ODw',
  iat: now(), nbf: now(), exp: now() + 60, auth_time: now(), gen: 0, data: { via: 'test' }, ...over,
});
const expired = () => claims({ iat: now() - 660, nbf: now() - 660, exp: now() - 600 });
const sign = (alg, key, body, header = {}) => new SignJWT(body).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);

test("the module's unit tests pass (examples/python/test_edge_session.py)", async () => {
  requireVenv();
  const child = spawn(PYTHON, ['-m', 'unittest', '-v', 'test_edge_session'], { cwd: EXAMPLE, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, output.slice(-8000));
  assert.match(output, /^Ran \d+ tests/m);
});

for (const { framework, script, alg } of [
  { framework: 'FastAPI', script: 'fastapi_app.py', alg: 'HS256' },
  { framework: 'Flask', script: 'flask_app.py', alg: 'HS256' },
  { framework: 'FastAPI', script: 'fastapi_app.py', alg: 'EdDSA' },
  { framework: 'Flask', script: 'flask_app.py', alg: 'EdDSA' },
]) {
  describe(`${framework} behind the worker, ${alg} assertions`, () => {
    let stack;
    let app;
    let appUrl;
    let secrets;
    const site = (p) => `${stack.url}${p}`;
    let n = 0;
    const user = () => `${framework.toLowerCase()}-${alg.toLowerCase()}-${++n}`;

    before(async () => {
      requireVenv();
      secrets = await generateSecrets();
      appUrl = `http://127.0.0.1:${await freePort()}`;
      stack = await startStack({
        origin: false,
        secrets,
        vars: { ORIGIN_URL: appUrl, ...(alg === 'EdDSA' ? { ASSERTION_ALG: 'EdDSA' } : {}) },
      });
      // The JWKS is fetched on the first assertion, so the app may start after the worker.
      const env = alg === 'EdDSA' ? { JWKS_URL: site('/_session/jwks.json') } : { ORIGIN_SECRET: secrets.ORIGIN_SECRET };
      app = await startApp(script, { ...env, ORIGIN_PORT: appUrl.split(':').pop() });
    });
    after(async () => {
      await stopApp(app);
      await stack?.stop();
    });

    /** A browser-like client logged in as `sub` through the worker. */
    async function login(sub, name) {
      const jar = new CookieJar();
      const q = new URLSearchParams({ user: sub, ...(name ? { name } : {}) });
      const res = await jar.fetch(site(`/login?${q}`), { method: 'POST' });
      const body = await res.text();
      assert.equal(res.status, 200, `${body}\n${app.output}`);
      assert.ok(jar.get(COOKIE), `no session cookie in ${JSON.stringify(jar.lastSetCookie)}`);
      assert.equal(res.headers.get('edge-session-set'), null, 'the instruction is stripped');
      return jar;
    }
    const me = async (jar) => {
      const res = await jar.fetch(site('/me'));
      const text = await res.text();
      assert.equal(res.status, 200, `${text}\n${app.output}`);
      return JSON.parse(text).session;
    };
    const replay = async (cookie) => {
      const res = await fetch(site('/me'), { headers: { cookie } });
      assert.equal(res.status, 200);
      return (await res.json()).session;
    };
    const post = async (jar, p) => {
      const res = await jar.fetch(site(p), { method: 'POST' });
      const text = await res.text();
      assert.equal(res.status, 200, `${p}: ${text}\n${app.output}`);
      return res;
    };
    const cleared = (jar) => jar.lastSetCookie.some((c) => c.startsWith(`${COOKIE}=;`) && /Max-Age=0/i.test(c));

    test('log in with set_session; the next request sees sub and data (non-ASCII too)', async () => {
      assert.equal(await me(new CookieJar()), null, 'anonymous without a cookie');
      const sub = user();
      const jar = await login(sub, NON_ASCII);
      const session = await me(jar);
      assert.ok(session, `no claims on the next request\n${app.output}`);
      assert.equal(session.sub, sub);
      assert.deepEqual(session.data, { name: NON_ASCII });
      assert.match(session.sid, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(session.iss, 'edge-session');
      assert.equal(session.aud, 'origin');
      assert.ok(session.exp > now() && session.exp - session.iat <= 60, `assertion lifetime: iat ${session.iat}, exp ${session.exp}`);
    });

    test('rotate gives a new sid, keeps user and data, and the old cookie dies', async () => {
      const sub = user();
      const jar = await login(sub);
      const before = await me(jar);
      const oldCookie = jar.header();
      await post(jar, '/rotate');
      assert.notEqual(jar.header(), oldCookie, 'a new cookie was set');
      const after = await me(jar);
      assert.equal(after.sub, sub);
      assert.deepEqual(after.data, before.data);
      assert.notEqual(after.sid, before.sid);
      assert.equal(await replay(oldCookie), null, 'the rotated-out session is denylisted');
    });

    test('logout (revoke_session) clears the cookie; the next request and a copy are anonymous', async () => {
      const jar = await login(user());
      const copy = jar.header();
      await post(jar, '/logout');
      assert.ok(cleared(jar), `cookie not cleared: ${JSON.stringify(jar.lastSetCookie)}`);
      assert.equal(jar.get(COOKIE), undefined);
      assert.equal(await me(jar), null);
      assert.equal(await replay(copy), null, 'a copy of the cookie is revoked too');
    });

    test('destroy_session clears the cookie in this browser only', async () => {
      const sub = user();
      const jar = await login(sub);
      const copy = jar.header();
      await post(jar, '/destroy');
      assert.ok(cleared(jar), `cookie not cleared: ${JSON.stringify(jar.lastSetCookie)}`);
      assert.equal(await me(jar), null);
      assert.equal((await replay(copy))?.sub, sub, 'destroy is not revoke: a copy still works');
    });

    test('revoke_all signs the user out in every browser', async () => {
      const sub = user();
      const [a, b] = [await login(sub), await login(sub)];
      assert.equal((await me(b)).sub, sub);
      await post(a, '/revoke-all');
      assert.ok(cleared(a));
      assert.equal(await me(b), null, "the other browser's session is revoked");
    });

    test('straight to the app: a forged or expired assertion is refused with 401', async () => {
      const direct = async (token) => {
        const res = await fetch(`${appUrl}/me`, { headers: token ? { 'edge-session': token } : {} });
        return { status: res.status, body: await res.json() };
      };
      let good;
      let forged;
      let expiredToken;
      const others = {};
      if (alg === 'HS256') {
        const key = new TextEncoder().encode(secrets.ORIGIN_SECRET);
        good = await sign('HS256', key, claims());
        forged = await sign('HS256', crypto.randomBytes(32), claims());
        expiredToken = await sign('HS256', key, expired());
        others['alg none'] = `${base64url.encode('{"alg":"none","typ":"JWT"}')}.${base64url.encode(JSON.stringify(claims()))}.`;
      } else {
        const { kid, jwk } = primaryEd25519(secrets.SESSION_KEYS);
        const published = await (await fetch(site('/_session/jwks.json'))).json();
        assert.equal(published.keys[0]?.x, jwk.x, 'the test derives the key the worker publishes');
        const key = await importJWK(jwk, 'EdDSA');
        const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
        good = await sign('EdDSA', key, claims(), { kid });
        forged = await sign('EdDSA', stranger.privateKey, claims(), { kid });
        expiredToken = await sign('EdDSA', key, expired(), { kid });
        others['HS256 with ORIGIN_SECRET'] = await sign('HS256', new TextEncoder().encode(secrets.ORIGIN_SECRET), claims(), { kid });
        others['unknown kid'] = await sign('EdDSA', key, claims(), { kid: 'k-unknown' });
      }
      assert.deepEqual(await direct(null), { status: 200, body: { session: null } }, 'no header: anonymous');
      const ok = await direct(good);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.session.sub, 'direct-user', 'a well-signed assertion is accepted');
      for (const [what, token, reason] of [
        ['forged', forged, 'bad_signature'],
        ['expired', expiredToken, 'expired'],
        ...Object.entries(others).map(([w, t]) => [w, t, undefined]),
      ]) {
        const got = await direct(token);
        assert.equal(got.status, 401, `${what}: ${JSON.stringify(got.body)}`);
        assert.equal(got.body.error, 'invalid_session', what);
        if (reason) assert.equal(got.body.reason, reason, what);
        assert.ok(!JSON.stringify(got.body).includes(token.split('.')[2] || token), `${what}: the token is not echoed`);
      }
    });
  });
}
