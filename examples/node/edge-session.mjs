/**
 * Origin middleware for edge-session on Node: `node:http`, Express and Hono.
 *
 * The worker in front of this origin verifies the session cookie and forwards a
 * short-lived signed assertion in the `Edge-Session` request header; the origin
 * holds no session state. This module verifies that assertion with `jose` and
 * writes the two response headers the worker reads back: `Edge-Session-Set`
 * (create or replace the session) and `Edge-Session-Action` (destroy, revoke,
 * revoke-all, rotate). The worker strips both before the client sees the response.
 *
 *   import { edgeSession, setSession } from './edge-session.mjs';
 *   const session = edgeSession({ secret: process.env.ORIGIN_SECRET });
 *   app.use(session.middleware);                  // Express: req.session
 *   app.use(session.hono);                        // Hono: c.get('session')
 *   setSession(res, { sub: 'ada', data: { role: 'admin' } });
 *
 * Rules (the contract is the README's "The edge ↔ origin contract"):
 * - No `Edge-Session` header: anonymous (`null`). A header that does not verify
 *   (forged, expired, wrong issuer or audience, another algorithm): `401` JSON and
 *   the handler is not called. The worker drops any `Edge-Session` header a client
 *   sends, so a bad one means the origin was reached around the worker, or the two
 *   disagree on the secret or the clock: loud beats silently anonymous.
 * - The worker applies `Edge-Session-Set` first, then `Edge-Session-Action`,
 *   whatever order the headers were set in. So `setSession` together with
 *   `destroySession`, `revokeSession` or `revokeAll` on one response would log the
 *   user in and out at once: both orders throw. `setSession` with `rotateSession` is
 *   allowed (new data and a new session id). One action per response.
 * - Errors and responses never contain a token or the secret.
 *
 * @module edge-session
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** Request header carrying the worker's signed assertion (lower case, as Node gives it). */
export const ASSERTION_HEADER = 'edge-session';
/** Response header that creates or replaces the session. */
export const SET_HEADER = 'Edge-Session-Set';
/** Response header that destroys, revokes or rotates the session. */
export const ACTION_HEADER = 'Edge-Session-Action';

/** Shortest `ORIGIN_SECRET` the worker accepts, in bytes. */
const MIN_SECRET_BYTES = 32;
/** Longest `sub` the worker accepts, in UTF-8 bytes. */
const MAX_SUB_BYTES = 256;
/** Longest `Edge-Session-Set` value the worker reads, in bytes. */
const MAX_SET_BYTES = 64 * 1024;

/**
 * The verified claims of an assertion, as the worker signs them.
 *
 * @typedef {object} SessionClaims
 * @property {string} sub the user
 * @property {string} sid the session id (changes on `rotateSession`)
 * @property {Record<string, unknown>} [data] what `setSession` stored
 * @property {number} iat issued at (seconds)
 * @property {number} exp the **assertion's** expiry (seconds), not the session's end
 * @property {number} [auth_time] when the user logged in
 * @property {number} [session_exp] the session's absolute end (cookie sessions)
 * @property {number} [idle_exp] the session's idle end (cookie sessions)
 * @property {string} [jti] the bearer token's id (bearer requests)
 */

/**
 * An `Edge-Session` header that did not verify. `reason` says why, in one word:
 * `expired`, `signature`, `unknown_key`, `algorithm`, `claims` or `malformed`;
 * `cause` is the `jose` error. The message never contains the token.
 */
export class InvalidAssertion extends Error {
  /**
   * @param {string} reason one of the words above
   * @param {unknown} cause the `jose` error
   */
  constructor(reason, cause) {
    super(`the Edge-Session assertion did not verify (${reason}): ${REASONS[reason]}`, { cause });
    this.name = 'InvalidAssertion';
    this.reason = reason;
  }
}

/** `jose` error codes that mean the token itself is bad, by reason. */
const JOSE_CODES = {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm',
  ERR_JWT_CLAIM_VALIDATION_FAILED: 'claims',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
  ERR_JOSE_NOT_SUPPORTED: 'malformed',
};
const REASONS = {
  expired: 'its exp has passed',
  signature: 'the signature does not match the key',
  unknown_key: 'no key of the JWKS has its kid',
  algorithm: 'it is signed with an algorithm this origin does not accept',
  claims: 'iss, aud, nbf or a required claim is wrong or missing',
  malformed: 'it is not a well-formed JWS',
};

/**
 * @typedef {object} EdgeSessionOptions
 * @property {string | Uint8Array} [secret] `ORIGIN_SECRET` (at least 32 bytes): verify
 *   HS256 assertions (the worker's default, `ASSERTION_ALG=HS256`).
 * @property {string | URL} [jwksUrl] the site's `/_session/jwks.json`: verify EdDSA
 *   assertions (`ASSERTION_ALG=EdDSA`); the origin then holds no secret. Exactly one
 *   of `secret` and `jwksUrl`.
 * @property {string} [issuer] `iss` to require. Defaults to `'edge-session'` (`ISSUER`).
 * @property {string} [audience] `aud` to require. Defaults to `'origin'` (`ORIGIN_AUDIENCE`).
 * @property {number} [clockTolerance] seconds of clock difference allowed on
 *   `exp`/`nbf`/`iat`. Defaults to 5.
 */

/**
 * Sets up verification of the worker's `Edge-Session` assertion.
 *
 * @param {EdgeSessionOptions} options
 * @returns {{
 *   verifyAssertion: (value: string) => Promise<SessionClaims>,
 *   middleware: (req: import('node:http').IncomingMessage & { session?: SessionClaims | null },
 *                res: import('node:http').ServerResponse, next: (err?: unknown) => void) => Promise<void>,
 *   hono: (c: any, next: () => Promise<void>) => Promise<Response | void>,
 * }}
 *   `verifyAssertion(value)` resolves to the claims or rejects with
 *   {@link InvalidAssertion} (or, with `jwksUrl`, the error of fetching the keys);
 *   `middleware` is `(req, res, next)` for `node:http`, Express or Connect and sets
 *   `req.session`; `hono` is Hono middleware and sets `c.get('session')`. Both set
 *   `null` when there is no header, answer `401` when it does not verify, and `503`
 *   when the JWKS cannot be fetched.
 * @throws {TypeError} on a missing, short or ambiguous key setting.
 * @example
 *   const session = edgeSession({ jwksUrl: 'https://your.site/_session/jwks.json' });
 *   const claims = await session.verifyAssertion(req.headers['edge-session']);
 */
export function edgeSession({ secret, jwksUrl, issuer = 'edge-session', audience = 'origin', clockTolerance = 5 } = {}) {
  if ((secret === undefined) === (jwksUrl === undefined)) {
    throw new TypeError('edgeSession: give exactly one of `secret` (ORIGIN_SECRET, HS256) and `jwksUrl` (EdDSA)');
  }
  let key;
  let algorithms;
  if (secret !== undefined) {
    key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
    if (!(key instanceof Uint8Array)) throw new TypeError('edgeSession: `secret` must be a string or a Uint8Array');
    if (key.length < MIN_SECRET_BYTES) {
      throw new TypeError(`edgeSession: \`secret\` is ${key.length} bytes; ORIGIN_SECRET has at least ${MIN_SECRET_BYTES}`);
    }
    algorithms = ['HS256'];
  } else {
    const url = new URL(jwksUrl);
    // Whoever can change the key set can forge every session: plain http only to
    // this machine (local development, the tests).
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw new TypeError(`edgeSession: \`jwksUrl\` must be https (http only to localhost); got ${url.protocol}//${url.host}`);
    }
    key = createRemoteJWKSet(url);
    algorithms = ['EdDSA'];
  }
  const verifyOptions = {
    issuer,
    audience,
    algorithms,
    clockTolerance,
    requiredClaims: ['exp', 'iat', 'nbf', 'sub', 'sid'],
  };

  /**
   * Verifies one `Edge-Session` header value.
   *
   * @param {string} value the header value
   * @returns {Promise<SessionClaims>}
   * @throws {InvalidAssertion} when it does not verify.
   */
  async function verifyAssertion(value) {
    if (typeof value !== 'string' || value === '') throw new InvalidAssertion('malformed');
    try {
      const { payload } = await jwtVerify(value, key, verifyOptions);
      return /** @type {SessionClaims} */ (payload);
    } catch (err) {
      const reason = JOSE_CODES[err?.code];
      throw reason ? new InvalidAssertion(reason, err) : err;
    }
  }

  /** The claims of a request, `null` without a header; `{status, body}` to refuse it. */
  async function read(value) {
    if (value === undefined || value === null) return { claims: null };
    try {
      return { claims: await verifyAssertion(value) };
    } catch (err) {
      if (err instanceof InvalidAssertion) {
        return { status: 401, body: { error: 'invalid_session_assertion', reason: err.reason, message: err.message } };
      }
      return {
        status: 503,
        body: { error: 'session_keys_unavailable', message: 'the keys that verify the Edge-Session assertion could not be fetched' },
      };
    }
  }

  return {
    verifyAssertion,
    async middleware(req, res, next) {
      const { claims, status, body } = await read(req.headers[ASSERTION_HEADER]);
      if (status) {
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
        return;
      }
      req.session = claims;
      next();
    },
    async hono(c, next) {
      const { claims, status, body } = await read(c.req.header(ASSERTION_HEADER));
      if (status) return c.json(body, status);
      c.set('session', claims);
      await next();
    },
  };
}

// --- writing instructions to the worker ------------------------------------------

/** What the verbs wrote on each response, to refuse contradictions. */
const written = new WeakMap();

/**
 * A header setter for a `node:http`/Express response (`setHeader`), a Hono
 * `Context` (`header`) or a `Headers` object.
 */
function headerSetter(target, verb) {
  if (typeof target?.setHeader === 'function') return (name, value) => target.setHeader(name, value);
  if (typeof target?.header === 'function') return (name, value) => target.header(name, value);
  if (target instanceof Headers) return (name, value) => target.set(name, value);
  throw new TypeError(`${verb}: expected a node:http or Express response, a Hono Context or a Headers object`);
}

/** Actions after which an `Edge-Session-Set` on the same response is thrown away. */
const CLEARING = new Set(['destroy', 'revoke', 'revoke-all']);

function action(target, name, verb) {
  const set = headerSetter(target, verb);
  const state = written.get(target) ?? {};
  if (state.action && state.action !== name) {
    throw new Error(`${verb}: this response already has Edge-Session-Action ${state.action}; the worker reads one action per response`);
  }
  if (state.set && CLEARING.has(name)) {
    throw new Error(
      `${verb}: this response already has setSession; the worker applies Edge-Session-Set first and ${name} then clears it. To switch users, call setSession alone: a different sub revokes the old session`,
    );
  }
  set(ACTION_HEADER, name);
  written.set(target, { ...state, action: name });
}

/** `JSON.stringify` with every character outside printable ASCII as `\uXXXX`: a valid header value. */
function asciiJson(value) {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Logs `sub` in, or replaces the data of the current session when `sub` is the
 * same user (a different `sub` replaces the session and revokes the old one).
 * Writes `Edge-Session-Set` as ASCII JSON: non-ASCII characters in `sub` or `data`
 * are sent as `\uXXXX` escapes and arrive intact.
 *
 * @param {import('node:http').ServerResponse | object | Headers} res a `node:http`/Express
 *   response, a Hono `Context`, or a `Headers` object
 * @param {object} session
 * @param {string} session.sub the user: 1 to 256 UTF-8 bytes, no control characters
 * @param {Record<string, unknown>} [session.data] a plain JSON object; replaces the
 *   session's data (omitted: `{}`). Every request's assertion carries it: keep it small.
 * @param {number} [session.ttl] whole seconds from login, shortening the session's
 *   absolute lifetime (at most the worker's `SESSION_ABSOLUTE_TTL`)
 * @throws {TypeError} on an invalid `sub`, `data` or `ttl`; {@link Error} after
 *   `destroySession`, `revokeSession` or `revokeAll` on the same response.
 * @example
 *   app.post('/login', (req, res) => { setSession(res, { sub: user.id, data: { name: user.name } }); res.json({ ok: true }); });
 */
export function setSession(res, { sub, data, ttl } = {}) {
  const set = headerSetter(res, 'setSession');
  if (typeof sub !== 'string' || sub === '') throw new TypeError('setSession: `sub` must be a non-empty string');
  const subBytes = new TextEncoder().encode(sub).length;
  if (subBytes > MAX_SUB_BYTES) throw new TypeError(`setSession: \`sub\` is ${subBytes} bytes; at most ${MAX_SUB_BYTES} are allowed`);
  if (/\p{Cc}/u.test(sub)) throw new TypeError('setSession: `sub` must not contain control characters');
  if (data !== undefined) {
    const proto = data === null || typeof data !== 'object' ? undefined : Object.getPrototypeOf(data);
    if (proto !== Object.prototype && proto !== null) throw new TypeError('setSession: `data` must be a plain object');
  }
  if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0)) {
    throw new TypeError(`setSession: \`ttl\` must be a positive whole number of seconds; got ${String(ttl)}`);
  }
  const state = written.get(res) ?? {};
  if (CLEARING.has(state.action)) {
    throw new Error(
      `setSession: this response already has Edge-Session-Action ${state.action}, which the worker applies after Edge-Session-Set and which would clear the new session. To switch users, call setSession alone: a different sub revokes the old session`,
    );
  }
  const value = asciiJson({ sub, ...(data !== undefined && { data }), ...(ttl !== undefined && { ttl }) });
  if (value.length > MAX_SET_BYTES) {
    throw new TypeError(`setSession: Edge-Session-Set would be ${value.length} bytes; the worker reads at most ${MAX_SET_BYTES}`);
  }
  set(SET_HEADER, value);
  written.set(res, { ...state, set: true });
}

/**
 * Logs out on this browser only: the worker clears the session cookies. A copy of
 * the cookie stays valid until it expires; `revokeSession` also kills copies.
 *
 * @param {import('node:http').ServerResponse | object | Headers} res response, Hono `Context` or `Headers`
 * @throws {Error} when the response already has another action or a `setSession`.
 */
export function destroySession(res) {
  action(res, 'destroy', 'destroySession');
}

/**
 * Logs out for good: the worker denylists this session id (copies of the cookie
 * stop working too) and clears the cookies. The usual sign-out.
 *
 * @param {import('node:http').ServerResponse | object | Headers} res response, Hono `Context` or `Headers`
 * @throws {Error} when the response already has another action or a `setSession`.
 */
export function revokeSession(res) {
  action(res, 'revoke', 'revokeSession');
}

/**
 * Signs the user out everywhere: every session of this `sub` that logged in until
 * now is revoked, and this request's cookies are cleared.
 *
 * @param {import('node:http').ServerResponse | object | Headers} res response, Hono `Context` or `Headers`
 * @throws {Error} when the response already has another action or a `setSession`.
 */
export function revokeAll(res) {
  action(res, 'revoke-all', 'revokeAll');
}

/**
 * Gives the session a new id and denylists the old one (after login or a privilege
 * change), keeping `sub` and `data`. Ignored by the worker on an anonymous request.
 *
 * @param {import('node:http').ServerResponse | object | Headers} res response, Hono `Context` or `Headers`
 * @throws {Error} when the response already has another action.
 */
export function rotateSession(res) {
  action(res, 'rotate', 'rotateSession');
}
