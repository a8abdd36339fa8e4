// Generates tests/vectors/jwt.json with an implementation nobody here wrote: `jose`
// (npm) for minting, Node's `crypto` for HKDF and Ed25519 key handling. Deterministic
// (HS256 and Ed25519 signatures have no randomness), so re-running it reproduces the
// committed file byte for byte:
//
//   node tests/vectors/generate-jwt.mjs > tests/vectors/jwt.json
//
// Replayed by the Rust tests (src/jwt/tests.rs) and by tests/e2e/interop.test.mjs
// (with jose). The verifier rules each case is checked under are in the file itself.

import crypto from 'node:crypto';
import { SignJWT, importJWK, base64url } from 'jose';

const enc = new TextEncoder();
const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const hex = (bytes) => Buffer.from(bytes).toString('hex');

// ---- the key ring, derived exactly as README "Design notes" says (HKDF-SHA256) ----
const raw = {
  k2: Uint8Array.from({ length: 32 }, (_, i) => 32 + i),
  k1: Uint8Array.from({ length: 32 }, (_, i) => i),
};
const SESSION_KEYS = `k2:${b64u(raw.k2)},k1:${b64u(raw.k1)}`;
const ORIGIN_SECRET = 'vector-origin-secret-0123456789-abcdefgh';
const hkdf = (ikm, info) =>
  new Uint8Array(crypto.hkdfSync('sha256', ikm, enc.encode('edge-session v1'), enc.encode(info), 32));

function ed25519(seed) {
  // PKCS#8 for an Ed25519 seed (RFC 8410): fixed prefix + 32 bytes.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const priv = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const x = crypto.createPublicKey(priv).export({ format: 'jwk' }).x;
  return { d: b64u(seed), x };
}

const ring = {};
for (const kid of ['k2', 'k1']) {
  const seed = hkdf(raw[kid], 'jwt-ed25519');
  ring[kid] = { bearer: hkdf(raw[kid], 'bearer-jwt'), seed, ...ed25519(seed) };
}
const jwks = {
  keys: ['k2', 'k1'].map((kid) => ({
    kty: 'OKP', crv: 'Ed25519', x: ring[kid].x, kid, alg: 'EdDSA', use: 'sig',
  })),
};
// A key pair outside the ring.
const strangerSeed = new Uint8Array(32).fill(0x5a);
const stranger = ed25519(strangerSeed);

const NOW = 1_700_000_030;
const base = {
  iss: 'edge-session', sub: 'ada', sid: 'AAECAwQFBgcICQoLDA0ODw', iat: NOW - 30, nbf: NOW - 30,
  exp: NOW + 570, auth_time: NOW - 30, gen: 0, data: { name: 'ada' },
};

async function edKey({ d, x }) {
  return importJWK({ kty: 'OKP', crv: 'Ed25519', d, x }, 'EdDSA');
}

async function sign(alg, key, claims, header = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

/** A token with any header and payload, signed by `signer(bytes)` (or unsigned). */
function raw3(header, payload, signer) {
  const input = `${b64u(enc.encode(JSON.stringify(header)))}.${b64u(enc.encode(JSON.stringify(payload)))}`;
  return `${input}.${signer ? b64u(signer(enc.encode(input))) : ''}`;
}
const hmac = (secret) => (bytes) => crypto.createHmac('sha256', secret).update(bytes).digest();

const cases = [];
const add = (name, verifier, token, expect, note) =>
  cases.push({ name, verifier, token, expect, ...(expect === 'valid' ? { sub: 'ada' } : {}), note });

const k2 = await edKey(ring.k2);
const k1 = await edKey(ring.k1);
const bearer = { ...base, aud: 'api', jti: 'vector-jti' };
const assertion = { ...base, aud: 'origin' };

add('bearer_eddsa_primary', 'bearer', await sign('EdDSA', k2, bearer, { kid: 'k2' }), 'valid',
  'EdDSA bearer token signed with the primary ring key');
add('bearer_eddsa_older_key', 'bearer', await sign('EdDSA', k1, bearer, { kid: 'k1' }), 'valid',
  'a key still in the ring verifies (rotation overlap)');
add('bearer_hs256', 'bearer', await sign('HS256', ring.k2.bearer, bearer, { kid: 'k2' }), 'valid',
  'HS256 bearer token with the HKDF "bearer-jwt" subkey of k2');
add('assertion_hs256', 'assertion_hs256', await sign('HS256', enc.encode(ORIGIN_SECRET), assertion),
  'valid', 'Edge-Session assertion, HS256 over the UTF-8 bytes of ORIGIN_SECRET, no kid');
const edAssertion = await sign('EdDSA', k2, assertion, { kid: 'k2' });
add('assertion_eddsa', 'assertion_eddsa', edAssertion, 'valid', 'Edge-Session assertion, EdDSA, kid k2');

add('alg_none', 'bearer', raw3({ alg: 'none', typ: 'JWT', kid: 'k2' }, bearer, null), 'alg_not_allowed',
  'unsigned token');
add('alg_none_assertion', 'assertion_hs256', raw3({ alg: 'none' }, assertion, null), 'alg_not_allowed',
  'unsigned assertion');
add('alg_None_mixed_case', 'bearer', raw3({ alg: 'nOnE', kid: 'k2' }, bearer, null), 'alg_not_allowed',
  'case variants of none');
const x = base64url.decode(ring.k2.x);
add('hs256_with_public_key_bytes', 'bearer',
  raw3({ alg: 'HS256', typ: 'JWT', kid: 'k2' }, bearer, hmac(x)), 'bad_signature',
  'HS/RS confusion: HMAC keyed with the raw Ed25519 public key of k2');
add('hs256_with_public_jwk_json', 'assertion_eddsa',
  raw3({ alg: 'HS256', typ: 'JWT', kid: 'k2' }, assertion, hmac(JSON.stringify(jwks.keys[0]))),
  'alg_not_allowed', 'HS/RS confusion against an EdDSA-only verifier');
add('hs256_with_public_x_text', 'bearer',
  raw3({ alg: 'HS256', typ: 'JWT', kid: 'k2' }, bearer, hmac(ring.k2.x)), 'bad_signature',
  'HS/RS confusion: HMAC keyed with the base64url text of x');
add('rs256_header', 'bearer', raw3({ alg: 'RS256', typ: 'JWT', kid: 'k2' }, bearer, hmac('x')),
  'alg_not_allowed', 'an algorithm outside the allow-list');
add('wrong_audience', 'bearer', await sign('EdDSA', k2, { ...bearer, aud: 'someone-else' }, { kid: 'k2' }),
  'wrong_audience', 'aud is not the bearer audience');
add('assertion_replayed_as_bearer', 'bearer', edAssertion, 'wrong_audience',
  'an EdDSA assertion (aud origin) is not a bearer token, though the same key signed it');
add('wrong_issuer', 'bearer', await sign('EdDSA', k2, { ...bearer, iss: 'evil' }, { kid: 'k2' }),
  'wrong_issuer', 'iss is not the edge issuer');
add('expired', 'bearer', await sign('EdDSA', k2, { ...bearer, exp: NOW - 120 }, { kid: 'k2' }),
  'expired', 'exp 120 s ago, beyond the 30 s leeway');
add('not_yet_valid', 'bearer', await sign('EdDSA', k2, { ...bearer, nbf: NOW + 120 }, { kid: 'k2' }),
  'not_yet_valid', 'nbf 120 s ahead, beyond the 30 s leeway');
add('unknown_kid', 'bearer',
  await sign('EdDSA', await edKey(stranger), bearer, { kid: 'k9' }), 'unknown_kid',
  'a kid the ring does not have');
add('key_outside_ring_claims_k2', 'bearer',
  await sign('EdDSA', await edKey(stranger), bearer, { kid: 'k2' }), 'bad_signature',
  'signed by a key outside the ring that names a ring kid');
add('eddsa_without_kid', 'bearer', await sign('EdDSA', k2, bearer), 'unknown_kid',
  'bearer tokens must name their key');
const good = await sign('EdDSA', k2, bearer, { kid: 'k2' });
const [h, , s] = good.split('.');
add('tampered_payload', 'bearer', `${h}.${b64u(enc.encode(JSON.stringify({ ...bearer, sub: 'root' })))}.${s}`,
  'bad_signature', 'claims changed after signing');
// S + L: the same signature, non-canonical (RFC 8032 §5.1.7 requires S < L).
const sig = Buffer.from(s, 'base64url');
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const sLE = sig.subarray(32);
const S = BigInt(`0x${Buffer.from(sLE).reverse().toString('hex')}`) + L;
const sPlusL = Buffer.from(S.toString(16).padStart(64, '0'), 'hex').reverse();
add('non_canonical_s', 'bearer', `${h}.${good.split('.')[1]}.${b64u(Buffer.concat([sig.subarray(0, 32), sPlusL]))}`,
  'bad_signature', 'malleated signature (S + L) must not verify');
add('truncated_signature', 'bearer', `${h}.${good.split('.')[1]}.${b64u(sig.subarray(0, 63))}`,
  'bad_signature', '63-byte signature');
add('crit_header', 'bearer',
  raw3({ alg: 'HS256', kid: 'k2', crit: ['exp'], exp: 1 }, bearer, hmac(Buffer.from(ring.k2.bearer))),
  'malformed', 'critical header extensions are not understood');

const out = {
  description:
    'JWS test vectors for edge-session bearer tokens and Edge-Session assertions. Tokens marked valid must verify; every other one must be refused (the expect field names the reason edge-session reports).',
  generator: `tests/vectors/generate-jwt.mjs with jose (npm); node ${process.version}`,
  session_keys: SESSION_KEYS,
  origin_secret: ORIGIN_SECRET,
  derived: Object.fromEntries(
    ['k2', 'k1'].map((kid) => [kid, { bearer_jwt_hex: hex(ring[kid].bearer), jwt_ed25519_seed_hex: hex(ring[kid].seed) }]),
  ),
  jwks,
  now: NOW,
  leeway: 30,
  issuer: 'edge-session',
  verifiers: {
    bearer: {
      audience: 'api',
      algorithms: ['HS256', 'EdDSA'],
      keys: 'by kid and alg: HS256 -> the bearer_jwt subkey of that ring kid, EdDSA -> the jwks key of that kid; no kid -> none',
      required: ['exp', 'iss', 'aud', 'sub'],
    },
    assertion_hs256: {
      audience: 'origin',
      algorithms: ['HS256'],
      keys: 'the UTF-8 bytes of origin_secret, whatever the kid',
      required: ['exp', 'iss', 'aud', 'sub'],
    },
    assertion_eddsa: {
      audience: 'origin',
      algorithms: ['EdDSA'],
      keys: 'the jwks key of the kid; no kid -> none',
      required: ['exp', 'iss', 'aud', 'sub'],
    },
  },
  cases,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
