//! Benchmark fixtures and loops over edge-session's core: the same Rust functions the
//! worker runs, timed natively (`native-ops`) and as wasm (this cdylib through
//! wasm-bindgen, under node and inside workerd).
//!
//! Invariants:
//! - Every loop calls the crate's public functions exactly as the worker does
//!   ([`session::open_session`], [`session::seal_claims`], [`jwt::verify`],
//!   [`jwt::mint`]; for `request`, the core's whole part of one cookie request as the
//!   shell runs it: [`Headers::from_lines`], [`Gateway::handle`], [`Gateway::finish`]
//!   and [`Headers::changes_from`], with the denylist in memory) and counts
//!   successes, so a broken fixture shows up as a count below `iters` instead of a
//!   fast, meaningless number.
//! - Time is the fixed [`NOW`]; nonces are derived from the loop counter, so runs
//!   are deterministic. Nothing here is secret: the keys are fixed test bytes.
//! - "Session size" is the length of the claims JSON sealed into the cookie.
//!   With a ring of `n` keys the cookie is sealed with the *last* (oldest) key, so
//!   opening searches the whole ring: the worst case for ring size.

use edge_session::config::Config;
use edge_session::cookie::{self, CookieOptions, SessionCookies};
use edge_session::data::SessionData;
use edge_session::gateway::{Entropy, EntropyError, Finish, Gateway, Log, Step};
use edge_session::http::{Headers, RequestHead};
use edge_session::jwt::{self, JwtKey, TokenClaims, Validation};
use edge_session::keyring::{format_entry, KeyRing, Kid};
use edge_session::session::{self, Claims, SessionPolicy, Sid};
use edge_session::store::{block_on_ready, MemoryStore};
use serde_json::{Map, Value};
use std::cell::Cell;

/// The fixed "current time" of every operation (Unix seconds).
pub const NOW: u64 = 1_700_000_000;
/// The cookie name the seal is bound to (the worker's default).
pub const COOKIE: &str = "__Host-session";
/// Issuer of the bearer tokens.
pub const ISSUER: &str = "edge-session";
/// Audience of the bearer tokens.
pub const AUDIENCE: &str = "api";

/// The operations [`Fixture::run`] knows, by name.
pub const OPS: [&str; 6] = ["open", "seal", "seal_open", "jwt_verify", "jwt_mint", "request"];

/// Session cookies allowed (`COOKIE_MAX_CHUNKS`) in the `request` op.
const MAX_CHUNKS: usize = 8;

/// The origin's answer to the `request` op, as the shell's JavaScript hands it over
/// (`name\nvalue\n…`): the demo origin's headers for `GET /api/public`.
const ORIGIN_HEADERS: &str = "content-length\n19\ndate\nSun, 22 Nov 2026 08:47:07 GMT\n\
    content-type\napplication/json\nserver\ntiny-http (Rust)\nx-content-type-options\nnosniff\n";

/// Counter bytes for the `request` op's entropy: deterministic, and only read when a
/// session is refreshed or issued (not in this fixture).
struct Counter(Cell<u8>);

impl Entropy for &Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf.iter_mut() {
            self.0.set(self.0.get().wrapping_add(1));
            *b = self.0.get();
        }
        Ok(())
    }
}

/// A session of a given size, sealed and as a bearer token, with everything needed to
/// open, seal, verify and mint it in a loop.
pub struct Fixture {
    now: u64,
    session_keys: String,
    ring: KeyRing,
    seal_ring: KeyRing,
    policy: SessionPolicy,
    claims: Claims,
    claims_json: String,
    sealed: String,
    jwt_key: JwtKey,
    token_claims: TokenClaims,
    token: String,
    validation: Validation,
    gateway: Gateway,
    store: MemoryStore,
    entropy: Counter,
    /// The request's headers as the shell's JavaScript hands them over.
    request_headers: String,
}

fn key_bytes(index: usize) -> Vec<u8> {
    (0..32u8).map(|b| b.wrapping_mul(31).wrapping_add(index as u8).wrapping_add(7)).collect()
}

fn ring_of(kids: &[usize]) -> Result<(KeyRing, String), String> {
    let mut entries = Vec::with_capacity(kids.len());
    let mut spec = Vec::with_capacity(kids.len());
    for &i in kids {
        let kid = Kid::new(&format!("k{i}")).map_err(|e| e.to_string())?;
        spec.push(format_entry(&kid, &key_bytes(i)));
        entries.push((kid, key_bytes(i)));
    }
    let ring = KeyRing::from_raw(entries).map_err(|e| e.to_string())?;
    Ok((ring, spec.join(",")))
}

/// Claims whose JSON is `json_bytes` long (or the smallest possible, about 100 bytes,
/// when that is less), padded with a `data.p` string.
fn claims_of_size(json_bytes: usize, policy: &SessionPolicy, now: u64) -> Result<Claims, String> {
    let sid = Sid::from_random([0x5a; 16]);
    let bare = session::new_claims("bench".into(), SessionData::empty(), sid.clone(), policy, now)
        .map_err(|e| e.to_string())?;
    let bare_len = serde_json::to_vec(&bare).map_err(|e| e.to_string())?.len();
    // `,"d":{"p":""}` adds 13 bytes around the padding.
    let pad = json_bytes.saturating_sub(bare_len + 13);
    if json_bytes <= bare_len + 13 {
        return Ok(bare);
    }
    let mut data = Map::new();
    data.insert("p".into(), Value::from("x".repeat(pad)));
    session::new_claims("bench".into(), data.into(), sid, policy, now).map_err(|e| e.to_string())
}

impl Fixture {
    /// A session whose claims JSON is about `json_bytes` long, in a ring of
    /// `ring_size` keys (1 to 16), issued and checked at [`NOW`].
    ///
    /// # Errors
    /// A message when the ring size is out of range or sealing fails.
    pub fn new(json_bytes: usize, ring_size: usize) -> Result<Fixture, String> {
        Fixture::at(json_bytes, ring_size, NOW)
    }

    /// Like [`Fixture::new`], issued and checked at `now` (for cookies sent to a
    /// running worker, whose clock is the real one).
    ///
    /// # Errors
    /// As [`Fixture::new`].
    pub fn at(json_bytes: usize, ring_size: usize, now: u64) -> Result<Fixture, String> {
        if !(1..=16).contains(&ring_size) {
            return Err(format!("ring size must be 1 to 16, got {ring_size}"));
        }
        let kids: Vec<usize> = (0..ring_size).collect();
        let (ring, session_keys) = ring_of(&kids)?;
        let last = ring_size - 1;
        let (seal_ring, _) = ring_of(&[last])?;
        let policy = SessionPolicy::default();
        let claims = claims_of_size(json_bytes, &policy, now)?;
        let claims_json = serde_json::to_string(&claims).map_err(|e| e.to_string())?;
        let sealed = session::seal_claims(&seal_ring, COOKIE, &claims, &[1; 24])
            .map_err(|e| e.to_string())?;
        let jwt_key = JwtKey::from_bytes(&key_bytes(100)).map_err(|e| e.to_string())?;
        let token_claims = TokenClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: claims.sub.clone(),
            sid: claims.sid.to_string(),
            iat: now,
            nbf: now,
            exp: now + 900,
            auth_time: now,
            gen: 0,
            data: claims.data.clone(),
            jti: None,
            data_omitted: false,
            session_exp: None,
            idle_exp: None,
        };
        let token = jwt::mint(&token_claims, &jwt_key, None).map_err(|e| e.to_string())?;
        // Large sessions make long tokens: allow them (the default cap is for requests).
        let validation =
            Validation { max_token_len: 64 * 1024, ..Validation::new(ISSUER, AUDIENCE) };
        let vars = |name: &str| match name {
            "SESSION_KEYS" => Some(session_keys.clone()),
            "ORIGIN_URL" => Some("http://127.0.0.1:8788".to_owned()),
            "ORIGIN_SECRET" => Some("bench-origin-secret-of-at-least-32-bytes".to_owned()),
            // 12 KiB of claims take 5 cookies (the default allows 4), as in `make bench`.
            "COOKIE_MAX_CHUNKS" => Some(MAX_CHUNKS.to_string()),
            _ => None,
        };
        let gateway = Gateway::new(Config::from_lookup(&vars).map_err(|e| e.to_string())?);
        // The Cookie header a browser sends back: one cookie, or chunks past 4 KB.
        let options = CookieOptions { max_chunks: MAX_CHUNKS, ..CookieOptions::default() };
        let set_cookies = cookie::encode(&options, &sealed, 3600, &SessionCookies::default())
            .map_err(|e| e.to_string())?;
        let cookies: Vec<&str> =
            set_cookies.iter().filter_map(|c| c.as_str().split(';').next()).collect();
        let request_headers = format!(
            "host\n127.0.0.1:8787\ncookie\n{}\nuser-agent\nwrk\naccept\n*/*\n",
            cookies.join("; ")
        );
        let fixture = Fixture {
            now,
            session_keys,
            ring,
            seal_ring,
            policy,
            claims,
            claims_json,
            sealed,
            jwt_key,
            token_claims,
            token,
            validation,
            gateway,
            store: MemoryStore::new(now),
            entropy: Counter(Cell::new(0)),
            request_headers,
        };
        for op in OPS {
            let ok = fixture.run(op, 2)?;
            if ok != 2 {
                return Err(format!("fixture check: `{op}` succeeded {ok} of 2 times"));
            }
        }
        Ok(fixture)
    }

    /// The sealed cookie value.
    pub fn sealed(&self) -> &str {
        &self.sealed
    }

    /// The ring as a `SESSION_KEYS` value (fixed test keys, not secrets).
    pub fn session_keys(&self) -> &str {
        &self.session_keys
    }

    /// The claims JSON inside the seal.
    pub fn claims_json(&self) -> &str {
        &self.claims_json
    }

    /// The bearer token (HS256 JWS) carrying the same session.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn open_once(&self, sealed: &str) -> bool {
        session::open_session(&self.ring, COOKIE, sealed, &self.policy, self.now).is_ok()
    }

    fn seal_once(&self, i: u32) -> Option<String> {
        let mut nonce = [7u8; 24];
        if let Some(head) = nonce.get_mut(..4) {
            head.copy_from_slice(&i.to_le_bytes());
        }
        session::seal_claims(&self.seal_ring, COOKIE, &self.claims, &nonce).ok()
    }

    /// The core's part of one cookie request, as the shell runs it: the request's
    /// headers in, authenticate (open + denylist) and forward (assertion minted), the
    /// upstream header changes, the origin's headers in, finish, the downstream
    /// changes. True when the session was accepted and both lists changed.
    fn request_once(&self) -> bool {
        let mut log = Log::new();
        let mut entropy = &self.entropy;
        let headers = Headers::from_lines(self.request_headers.clone());
        let head = RequestHead::new("GET", "http://127.0.0.1:8787/api/public", headers);
        let step = self.gateway.handle(&head, &self.store, &mut entropy, self.now, &mut log);
        let Some(Step::Forward(forward)) = block_on_ready(step) else { return false };
        let upstream = forward.headers.changes_from(&head.headers);
        let asserted = upstream.values.iter().any(|(name, _)| *name == "edge-session");
        let original = Headers::from_lines(ORIGIN_HEADERS.to_owned());
        let mut headers = original.clone();
        let finish = self.gateway.finish(
            forward.pending,
            &mut headers,
            &self.store,
            &mut entropy,
            self.now,
            &mut log,
        );
        let passed = matches!(block_on_ready(finish), Some(Finish::Pass { .. }));
        asserted && passed && !headers.changes_from(&original).is_empty()
    }

    /// Runs operation `op` (one of [`OPS`]) `iters` times; returns how many succeeded.
    ///
    /// # Errors
    /// A message for an unknown `op`.
    pub fn run(&self, op: &str, iters: u32) -> Result<u32, String> {
        let mut ok = 0u32;
        match op {
            "open" => {
                for _ in 0..iters {
                    ok += u32::from(self.open_once(&self.sealed));
                }
            }
            "seal" => {
                for i in 0..iters {
                    ok += u32::from(self.seal_once(i).is_some_and(|s| s.len() > 40));
                }
            }
            "seal_open" => {
                for i in 0..iters {
                    ok += u32::from(self.seal_once(i).is_some_and(|s| self.open_once(&s)));
                }
            }
            "jwt_verify" => {
                for _ in 0..iters {
                    let claims: Result<TokenClaims, _> = jwt::verify(
                        &self.token,
                        |_| Some(&self.jwt_key),
                        &self.validation,
                        self.now,
                    );
                    ok += u32::from(claims.is_ok());
                }
            }
            "jwt_mint" => {
                for _ in 0..iters {
                    ok += u32::from(jwt::mint(&self.token_claims, &self.jwt_key, None).is_ok());
                }
            }
            "request" => {
                for _ in 0..iters {
                    ok += u32::from(self.request_once());
                }
            }
            other => return Err(format!("unknown op `{other}`; expected one of {OPS:?}")),
        }
        Ok(ok)
    }
}

/// The wasm face: `new Bench(jsonBytes, ringSize)`, `bench.run(op, iters)`.
#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen::prelude::*;

    /// A [`super::Fixture`] for JavaScript.
    #[wasm_bindgen]
    pub struct Bench(super::Fixture);

    #[wasm_bindgen]
    impl Bench {
        /// See [`super::Fixture::new`].
        #[wasm_bindgen(constructor)]
        pub fn new(json_bytes: u32, ring_size: u32) -> Result<Bench, JsError> {
            super::Fixture::new(json_bytes as usize, ring_size as usize)
                .map(Bench)
                .map_err(|e| JsError::new(&e))
        }

        /// See [`super::Fixture::run`].
        pub fn run(&self, op: &str, iters: u32) -> Result<u32, JsError> {
            self.0.run(op, iters).map_err(|e| JsError::new(&e))
        }

        /// The sealed cookie value.
        pub fn sealed(&self) -> String {
            self.0.sealed().to_owned()
        }

        /// The claims JSON inside the seal.
        pub fn claims_json(&self) -> String {
            self.0.claims_json().to_owned()
        }

        /// The bearer token.
        pub fn token(&self) -> String {
            self.0.token().to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_have_the_requested_size_and_every_op_succeeds() {
        for (bytes, ring) in [(100, 1), (200, 1), (1024, 4), (4096, 16), (12288, 1)] {
            let f = Fixture::new(bytes, ring).unwrap();
            let len = f.claims_json().len();
            assert!(len == bytes || (bytes < 120 && len <= 120), "{bytes} -> {len}");
            for op in OPS {
                assert_eq!(f.run(op, 3).unwrap(), 3, "{op} {bytes} {ring}");
            }
        }
    }

    #[test]
    fn a_broken_seal_is_counted_as_a_failure() {
        let mut f = Fixture::new(200, 4).unwrap();
        f.sealed.push('A');
        assert_eq!(f.run("open", 2).unwrap(), 0);
        // A request whose cookie does not open is anonymous: no assertion, a failure.
        f.request_headers = f.request_headers.replace("\nuser-agent", "A\nuser-agent");
        assert_eq!(f.run("request", 2).unwrap(), 0);
        assert!(f.run("nope", 1).is_err());
        assert!(Fixture::new(200, 0).is_err() && Fixture::new(200, 17).is_err());
    }
}
