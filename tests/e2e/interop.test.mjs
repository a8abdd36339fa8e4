// Interop with a JWT library nobody here wrote: `jose` (npm) verifies what the
// worker mints (with the published JWKS or the shared secret), the worker accepts
// what `jose` mints with the right key, and refuses what it mints wrong. Also
// replays the committed vectors (tests/vectors/jwt.json) with `jose`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  SignJWT, jwtVerify, importJWK, createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader,
  base64url, generateKeyPair,
} from 'jose';
import { startStack, ROOT } from './harness.mjs';
import { Client } from './client.mjs';

const enc = new TextEncoder();

/** The ring's subkeys, derived here with Node's HKDF from SESSION_KEYS (README). */
function ring(spec) {
  return spec.split(/[,\s]+/).filter(Boolean).map((entry) => {
    const kid = entry.slice(0, entry.indexOf(':'));
    const raw = Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64url');
    const hkdf = (info) => new Uint8Array(crypto.hkdfSync('sha256', raw, enc.encode('edge-session v1'), enc.encode(info), 32));
    const seed = hkdf('jwt-ed25519');
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const priv = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const x = crypto.createPublicKey(priv).export({ format: 'jwk' }).x;
    return { kid, bearer: hkdf('bearer-jwt'), jwk: { kty: 'OKP', crv: 'Ed25519', d: base64url.encode(seed), x } };
  });
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (over = {}) => ({
  iss: 'edge-session', aud: 'api', sub: 'jose-user', sid: 'AAECAwQFBgcICQoLDA0ODw',
  iat: now(), nbf: now(), exp: now() + 300, auth_time: now(), gen: 0, data: { via: 'jose' }, ...over,
});
const sign = async (alg, key, body, header = {}) =>
  new SignJWT(body).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
const raw3 = (header, body, sig = '') =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(body))}.${sig}`;

let ed; // TOKEN_ALG=EdDSA, ASSERTION_ALG=EdDSA, both algorithms allowed for bearers
let hs; // the defaults: HS256 everywhere
before(async () => {
  [ed, hs] = await Promise.all([
    startStack({ vars: { TOKEN_ALG: 'EdDSA', ASSERTION_ALG: 'EdDSA', JWT_ALGORITHMS: 'EdDSA,HS256' } }),
    startStack(),
  ]);
});
after(async () => {
  await Promise.all([ed?.stop(), hs?.stop()]);
});

/** Whether the worker let this bearer token through (the origin saw an assertion). */
async function accepted(stack, token) {
  const r = await new Client(stack.url).fetch('/api/echo-headers', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return r.json['edge-session'] !== undefined;
}

test('worker-minted EdDSA tokens and assertions verify with jose and the published JWKS', async () => {
  const res = await fetch(`${ed.url}/_session/jwks.json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
  const jwks = await res.json();
  const kids = ring(ed.secrets.SESSION_KEYS).map((k) => k.kid);
  assert.deepEqual(jwks.keys.map((k) => k.kid), kids);
  for (const k of jwks.keys) {
    assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(k.alg, 'EdDSA');
  }
  // The published keys are the ones Node derives from SESSION_KEYS.
  assert.deepEqual(jwks.keys.map((k) => k.x), ring(ed.secrets.SESSION_KEYS).map((k) => k.jwk.x));

  const c = new Client(ed.url);
  await c.login('ed-user');
  const tok = await c.fetch('/_session/token', { method: 'POST' });
  assert.equal(tok.status, 200);
  const remote = createRemoteJWKSet(new URL(`${ed.url}/_session/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(tok.json.access_token, remote, {
    issuer: 'edge-session', audience: 'api', algorithms: ['EdDSA'],
  });
  assert.equal(payload.sub, 'ed-user');
  assert.equal(protectedHeader.kid, kids[0]);

  const echo = await c.fetch('/api/echo-headers');
  const assertion = echo.json['edge-session'];
  const verified = await jwtVerify(assertion, createLocalJWKSet(jwks), {
    issuer: 'edge-session', audience: 'origin', algorithms: ['EdDSA'],
  });
  assert.equal(verified.payload.sub, 'ed-user');
  assert.equal(decodeProtectedHeader(assertion).kid, kids[0]);
  // The origin's shared secret does not verify it (it is not an HS256 token).
  await assert.rejects(jwtVerify(assertion, enc.encode(ed.secrets.ORIGIN_SECRET), { algorithms: ['HS256'] }));
  // An assertion is not a bearer token, a bearer token is not an assertion.
  assert.equal(await accepted(ed, assertion), false);
  await assert.rejects(jwtVerify(tok.json.access_token, createLocalJWKSet(jwks), { audience: 'origin' }));
});

test('worker-minted HS256 tokens and assertions verify with jose and the right secret', async () => {
  const c = new Client(hs.url);
  await c.login('hs-user');
  const echo = await c.fetch('/api/echo-headers');
  const { payload } = await jwtVerify(echo.json['edge-session'], enc.encode(hs.secrets.ORIGIN_SECRET), {
    issuer: 'edge-session', audience: 'origin', algorithms: ['HS256'],
  });
  assert.equal(payload.sub, 'hs-user');
  const tok = await c.fetch('/_session/token', { method: 'POST' });
  const [primary] = ring(hs.secrets.SESSION_KEYS);
  const verified = await jwtVerify(tok.json.access_token, primary.bearer, {
    issuer: 'edge-session', audience: 'api', algorithms: ['HS256'],
  });
  assert.equal(verified.protectedHeader.kid, primary.kid);
  // No JWKS to speak of in HS256 mode: the bearer secret is not published.
  assert.deepEqual(await (await fetch(`${hs.url}/_session/jwks.json`)).json(), { keys: [] });
});

test('jose-minted tokens with the right key are accepted, everything else is refused', async () => {
  const [primary] = ring(ed.secrets.SESSION_KEYS);
  const edKey = await importJWK(primary.jwk, 'EdDSA');
  const kid = { kid: primary.kid };
  assert.equal(await accepted(ed, await sign('EdDSA', edKey, claims(), kid)), true, 'EdDSA, ring key');
  assert.equal(await accepted(ed, await sign('HS256', primary.bearer, claims(), kid)), true, 'HS256, ring bearer key');
  assert.equal(await accepted(hs, await sign('HS256', ring(hs.secrets.SESSION_KEYS)[0].bearer, claims(), { kid: ring(hs.secrets.SESSION_KEYS)[0].kid })), true);

  const x = base64url.decode(primary.jwk.x);
  const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const hmacRaw = (secret) => (header, body) => {
    const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(body))}`;
    return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const refused = {
    'alg none': raw3({ alg: 'none', typ: 'JWT', ...kid }, claims()),
    'alg none, no kid': raw3({ alg: 'none' }, claims()),
    'HS256 keyed with the public key': hmacRaw(x)({ alg: 'HS256', typ: 'JWT', ...kid }, claims()),
    'HS256 keyed with the public JWK': hmacRaw(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: primary.jwk.x }))({ alg: 'HS256', ...kid }, claims()),
    'RS256 header': hmacRaw(x)({ alg: 'RS256', ...kid }, claims()),
    'wrong aud': await sign('EdDSA', edKey, claims({ aud: 'origin' }), kid),
    'wrong iss': await sign('EdDSA', edKey, claims({ iss: 'someone-else' }), kid),
    expired: await sign('EdDSA', edKey, claims({ exp: now() - 600 }), kid),
    'nbf in the future': await sign('EdDSA', edKey, claims({ nbf: now() + 600 }), kid),
    'unknown kid': await sign('EdDSA', edKey, claims(), { kid: 'k-unknown' }),
    'no kid': await sign('EdDSA', edKey, claims()),
    'key outside the ring, ring kid': await sign('EdDSA', stranger.privateKey, claims(), kid),
    'HS256 with ORIGIN_SECRET': await sign('HS256', enc.encode(ed.secrets.ORIGIN_SECRET), claims(), kid),
    'HS256 with another stack\'s key': await sign('HS256', ring(hs.secrets.SESSION_KEYS)[0].bearer, claims(), kid),
  };
  for (const [what, token] of Object.entries(refused)) {
    assert.equal(await accepted(ed, token), false, what);
  }
  // Whatever the worker logs, it never logs a token.
  assert.doesNotMatch(ed.output(), new RegExp(refused.expired.split('.')[2].slice(0, 20)));
});

test('the committed vectors replay with jose', async () => {
  const file = JSON.parse(await readFile(path.join(ROOT, 'tests', 'vectors', 'jwt.json'), 'utf8'));
  // Node derives the same ring subkeys and JWKS as the file says edge-session does.
  const derived = ring(file.session_keys);
  for (const k of derived) {
    assert.equal(Buffer.from(k.bearer).toString('hex'), file.derived[k.kid].bearer_jwt_hex);
  }
  assert.deepEqual(derived.map((k) => k.jwk.x), file.jwks.keys.map((k) => k.x));
  const jwks = createLocalJWKSet(file.jwks);
  const bearerKey = async (header) => {
    if (header.alg === 'HS256') {
      const k = derived.find((d) => d.kid === header.kid);
      if (!k) throw new Error('unknown kid');
      return k.bearer;
    }
    if (!header.kid) throw new Error('no kid');
    return jwks(header);
  };
  const keyFor = {
    bearer: bearerKey,
    assertion_hs256: async () => enc.encode(file.origin_secret),
    assertion_eddsa: async (header) => {
      if (!header.kid) throw new Error('no kid');
      return jwks(header);
    },
  };
  let n = 0;
  for (const c of file.cases) {
    const rules = file.verifiers[c.verifier];
    const options = {
      issuer: file.issuer,
      audience: rules.audience,
      algorithms: rules.algorithms,
      currentDate: new Date(file.now * 1000),
      clockTolerance: file.leeway,
      requiredClaims: rules.required,
    };
    let verdict;
    try {
      const { payload } = await jwtVerify(c.token, keyFor[c.verifier], options);
      assert.equal(payload.sub, c.sub, c.name);
      verdict = 'valid';
    } catch (err) {
      verdict = `refused (${err.code ?? err.message})`;
    }
    assert.equal(verdict === 'valid', c.expect === 'valid', `${c.name}: expected ${c.expect}, jose says ${verdict}`);
    n += 1;
  }
  assert.ok(n >= 20, `${n} cases`);
});
