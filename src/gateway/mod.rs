//! The request pipeline, platform-independent: everything the worker decides about
//! a request lives here, so the wasm shell only copies heads in and out, streams
//! bodies, and talks to KV and the origin.
//!
//! ```text
//! request ─► handle() ─► Step::Respond(response)                 (edge endpoints, refusals)
//!                     └► Step::Forward(upstream head + Pending)  ─► shell fetches origin
//! origin response head ─► finish(Pending) ─► headers rewritten (Set-Cookie, cache)
//!                                         └► or Finish::Replace(error response)
//! ```
//!
//! Order of checks on every request: seal or signature first, then claims (expiry),
//! then the denylist. Any failure of the credential means anonymous, never an error
//! page; only an unreadable denylist on a protected path is refused (503), and only
//! in fail-closed mode.

mod endpoints;
mod origin;
#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::config::{Config, FailMode};
use crate::cookie::{self, SessionCookies};
use crate::denylist;
use crate::http::{Headers, RequestHead, Response};
use crate::jwt::{self, Alg, JwtKey, TokenClaims, Validation};
use crate::keyring::KeyPurpose;
use crate::session::{self, Claims, SessionError, VerifiedSession};
use crate::store::KvStore;
use crate::telemetry::SessionState;

pub use origin::Finish;

/// Header carrying the signed claims assertion to the origin.
pub const ASSERTION_HEADER: &str = "edge-session";
/// Origin → worker: create or replace the session (JSON).
pub const SET_HEADER: &str = "edge-session-set";
/// Origin → worker: `destroy | revoke | revoke-all | rotate`.
pub const ACTION_HEADER: &str = "edge-session-action";
/// Every header with this prefix is dropped from client requests and origin responses.
pub const RESERVED_PREFIX: &str = "edge-session";

/// Randomness, provided by the shell (Web Crypto) or the CLI (the OS).
pub trait Entropy {
    /// Fills `buf` with cryptographically secure random bytes.
    ///
    /// # Errors
    /// When no secure randomness is available; the request then fails with 503.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

/// No secure randomness could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntropyError(pub String);

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secure random number generator failed: {}", self.0)
    }
}

/// Who made the request, after verification.
#[derive(Debug)]
pub enum Identity {
    /// No valid credential.
    Anonymous,
    /// A sealed session cookie that opened, is within its lifetimes and is not revoked.
    Cookie(VerifiedSession),
    /// A bearer JWT that verified and is not revoked.
    Bearer(TokenClaims),
}

impl Identity {
    /// `(sid, sub, auth_time, exp)` of the credential, if any.
    fn subject(&self) -> Option<(&str, &str, u64, u64)> {
        match self {
            Identity::Anonymous => None,
            Identity::Cookie(s) => {
                let c = s.claims();
                Some((c.sid.as_str(), c.sub.as_str(), c.auth_time, c.exp))
            }
            Identity::Bearer(t) => Some((t.sid.as_str(), t.sub.as_str(), t.auth_time, t.exp)),
        }
    }
}

/// What the shell does next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per request, moved once: boxing buys nothing
pub enum Step {
    /// Answer with this response; nothing goes to the origin.
    Respond(Response),
    /// Send the request to the origin with this head and the original body.
    Forward(Forward),
}

/// The upstream request head and what [`Gateway::finish`] needs afterwards.
#[derive(Debug)]
pub struct Forward {
    /// The origin URL of the request.
    pub url: String,
    /// Headers to send upstream (session cookies stripped, assertion added).
    pub headers: Headers,
    /// State for [`Gateway::finish`].
    pub pending: Pending,
}

impl Forward {
    /// Tells the origin which deploy the client runs (`X-Deploy-Id`, replacing any
    /// value the client sent). Which origin gets it is the pool's choice
    /// ([`crate::fleet::Fleet::order`], the deploy's own origins first).
    pub fn pin_deploy(&mut self, deploy: Option<&str>) {
        self.headers.remove(crate::assets::DEPLOY_HEADER);
        if let Some(deploy) = deploy {
            self.headers.append(crate::assets::DEPLOY_HEADER, deploy);
        }
    }

    /// Sends the request to the origin at `base` (one of a pool's) instead.
    pub fn to_origin(&mut self, req: &RequestHead, base: &str) {
        self.url = upstream_url(base, req);
    }

    /// What the request's credential turned out to be, and the ring key that
    /// verified it (for the request log).
    pub fn session(&self) -> (SessionState, Option<&str>) {
        (self.pending.state, self.pending.kid.as_deref())
    }

    /// The session id of the request's credential, if any (the pool's stickiness key).
    pub fn session_id(&self) -> Option<&str> {
        self.pending.identity.subject().map(|(sid, ..)| sid)
    }
}

/// `base` (no trailing slash) + the request's path and query.
fn upstream_url(base: &str, req: &RequestHead) -> String {
    let base = base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + req.path.len() + req.query.len() + 1);
    url.push_str(base);
    url.push_str(&req.path);
    if !req.query.is_empty() {
        url.push('?');
        url.push_str(&req.query);
    }
    url
}

/// Request state carried from [`Gateway::handle`] to [`Gateway::finish`].
#[derive(Debug)]
pub struct Pending {
    identity: Identity,
    /// What the credential turned out to be (for the request log).
    state: SessionState,
    /// The ring key of the credential, when one verified.
    kid: Option<String>,
    cookies: SessionCookies,
    /// The request carried session cookies that must be cleared (bad or revoked).
    clear: bool,
    /// `(len, limit)` when the session cookies sat in a `Cookie` header too long to
    /// read: the request is refused with 431 and no cookie is touched.
    oversize: Option<(usize, usize)>,
}

/// One log line for the shell to print. Never holds a credential.
pub type Log = Vec<String>;

/// The pipeline, built once per isolate from the validated [`Config`].
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    bearer_validation: Validation,
    /// `(kid, key)` HS256 keys for bearer tokens, derived from the key ring; the
    /// primary first.
    bearer_keys: Vec<(String, JwtKey)>,
    /// `(kid, key)` Ed25519 key pairs derived from the key ring, primary first; empty
    /// unless a setting uses EdDSA ([`Config::uses_eddsa`]). Their public halves are
    /// the JWKS.
    ed25519_keys: Vec<(String, JwtKey)>,
}

impl Gateway {
    /// Wraps a validated configuration.
    pub fn new(config: Config) -> Self {
        let bearer_validation = Validation {
            issuer: config.issuer.clone(),
            audience: config.token_audience.clone(),
            algorithms: config.algorithms.clone(),
            leeway: config.policy.leeway,
            max_token_len: jwt::DEFAULT_MAX_TOKEN_LEN,
        };
        let bearer_keys = config
            .keys
            .kids()
            .filter_map(|kid| {
                let sub = config.keys.get(kid.as_str(), KeyPurpose::BearerJwt)?;
                let key = JwtKey::from_bytes(sub.as_bytes()).ok()?;
                Some((kid.as_str().to_owned(), key))
            })
            .collect();
        let ed25519_keys = if config.uses_eddsa() {
            config
                .keys
                .kids()
                .filter_map(|kid| {
                    let seed = config.keys.get(kid.as_str(), KeyPurpose::JwtEd25519)?;
                    Some((kid.as_str().to_owned(), JwtKey::ed25519_from_seed(seed.as_bytes())))
                })
                .collect()
        } else {
            Vec::new()
        };
        Gateway { config, bearer_validation, bearer_keys, ed25519_keys }
    }

    /// The published key set: the public Ed25519 key of every ring key, primary
    /// first (`{"keys": []}` when no setting uses EdDSA). Never holds a secret.
    pub fn jwks(&self) -> serde_json::Value {
        jwt::jwks(self.ed25519_keys.iter().map(|(kid, key)| (kid.as_str(), key)))
    }

    /// The key of ring key `kid` for `alg`: HS256 bearer key or Ed25519 key pair.
    fn ring_key(&self, kid: &str, alg: Alg) -> Option<&JwtKey> {
        let keys = match alg {
            Alg::HS256 => &self.bearer_keys,
            Alg::EdDSA => &self.ed25519_keys,
        };
        keys.iter().find(|(id, _)| id == kid).map(|(_, key)| key)
    }

    /// The primary ring key for `alg` and its kid: what new tokens are signed with.
    fn primary_key(&self, alg: Alg) -> Option<(&str, &JwtKey)> {
        let keys = match alg {
            Alg::HS256 => &self.bearer_keys,
            Alg::EdDSA => &self.ed25519_keys,
        };
        keys.first().map(|(kid, key)| (kid.as_str(), key))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Phase one: authenticates the request and decides whether the worker answers
    /// it (edge endpoints, refusals) or forwards it to the origin.
    pub async fn handle(
        &self,
        req: &RequestHead,
        denylist: &impl KvStore,
        entropy: &mut impl Entropy,
        now: u64,
        log: &mut Log,
    ) -> Step {
        if let Some(refusal) = self.cross_site_refusal(req) {
            log.push(format!("refused cross-site {} {}", req.method, req.path));
            return Step::Respond(refusal);
        }
        if let Some(endpoint) = req.path.strip_prefix("/_session/") {
            return Step::Respond(self.endpoint(endpoint, req, denylist, entropy, now, log).await);
        }
        let (pending, revocation_unknown) = self.authenticate(req, denylist, now, log).await;
        if let Some((len, limit)) = pending.oversize {
            return Step::Respond(oversize_cookie_header(len, limit));
        }
        if revocation_unknown && self.config.is_protected(&req.path) {
            return Step::Respond(Response::error(
                503,
                "session_store_unavailable",
                "The revocation list could not be read, so the session cannot be verified. Retry shortly.",
            ));
        }
        Step::Forward(self.forward(req, pending, now, log))
    }

    /// Phase two: applies the origin's session instructions to its response head.
    pub async fn finish(
        &self,
        pending: Pending,
        headers: &mut Headers,
        denylist: &impl KvStore,
        entropy: &mut impl Entropy,
        now: u64,
        log: &mut Log,
    ) -> Finish {
        origin::finish(self, pending, headers, denylist, entropy, now, log).await
    }

    /// Verifies the request's credential: bearer token first (when sent), else the
    /// session cookie; then the denylist. Returns the state and whether revocation
    /// could not be checked (fail-closed mode only).
    async fn authenticate(
        &self,
        req: &RequestHead,
        denylist: &impl KvStore,
        now: u64,
        log: &mut Log,
    ) -> (Pending, bool) {
        let cookies = SessionCookies::from_header(&self.config.cookie, req.headers.get("cookie"));
        let mut clear = false;
        let mut oversize = None;
        let mut identity = Identity::Anonymous;
        let mut state = SessionState::None;
        let mut kid = None;
        if let Some(token) = bearer(req) {
            match self.verify_bearer(token, now) {
                Ok((claims, used)) => {
                    kid = Some(used);
                    identity = Identity::Bearer(claims);
                }
                Err(e) => {
                    state = match e {
                        jwt::JwtError::Expired => SessionState::Expired,
                        _ => SessionState::Invalid,
                    };
                    log.push(format!("bearer token rejected: {e}"));
                }
            }
        } else {
            match cookies.reassemble() {
                Ok(None) => {}
                // An oversize header without any session cookie: anonymous, as usual.
                Err(cookie::ChunkError::OversizeHeader { .. }) if cookies.is_empty() => {}
                Err(cookie::ChunkError::OversizeHeader { len, limit }) => {
                    // Not the cookie's fault: keep it (no clearing), answer 431 in
                    // `handle`, and never read a value out of the oversize header.
                    log.push(format!(
                        "Cookie header of {len} bytes is over the {limit}-byte limit"
                    ));
                    oversize = Some((len, limit));
                }
                Ok(Some(sealed)) => match session::open_session(
                    &self.config.keys,
                    &self.config.cookie.name,
                    &sealed,
                    &self.config.policy,
                    now,
                ) {
                    Ok(s) => {
                        kid = Some(s.kid().as_str().to_owned());
                        identity = Identity::Cookie(s);
                    }
                    Err(e) => {
                        state = match e {
                            SessionError::Expired | SessionError::IdleExpired => {
                                SessionState::Expired
                            }
                            _ => SessionState::Invalid,
                        };
                        log.push(format!("session cookie rejected: {e}"));
                        clear = true;
                    }
                },
                Err(e) => {
                    state = SessionState::Invalid;
                    log.push(format!("session cookie rejected: {e}"));
                    clear = true;
                }
            }
        }
        if !matches!(identity, Identity::Anonymous) {
            state = SessionState::Valid;
        }
        let mut unknown = false;
        if let Some((sid, sub, auth_time, _)) = identity.subject() {
            match denylist::check(denylist, sid, sub, auth_time).await {
                Ok(None) => {}
                Ok(Some(why)) => {
                    log.push(format!("credential refused: {why}"));
                    clear |= matches!(identity, Identity::Cookie(_));
                    identity = Identity::Anonymous;
                    state = SessionState::Revoked;
                }
                Err(e) => {
                    state = SessionState::Unverified;
                    match self.config.fail_mode {
                        FailMode::Open => {
                            log.push(format!("revocation check failed, failing open: {e}"))
                        }
                        FailMode::Closed => {
                            log.push(format!("revocation check failed, failing closed: {e}"));
                            // Unverified, but not destroyed: the cookie stays for later.
                            identity = Identity::Anonymous;
                            unknown = true;
                        }
                    }
                }
            }
        }
        (Pending { identity, state, kid, cookies, clear, oversize }, unknown)
    }

    /// CSRF defence: an unsafe request, or a WebSocket upgrade (a GET that opens a
    /// channel acting as the user: cross-site WebSocket hijacking), that carries the
    /// session cookie must come from the site itself or an allowed origin, whatever
    /// its `Content-Type`. `Sec-Fetch-Site` decides when the browser sends it; else
    /// `Origin`. Requests with neither (non-browser clients, which do not send
    /// cookies by ambient authority) pass. Bearer-only requests are exempt: browsers
    /// never attach them. A sibling subdomain is `same-site`, not `same-origin`: it
    /// needs `CSRF_ALLOWED_ORIGINS` too.
    fn cross_site_refusal(&self, req: &RequestHead) -> Option<Response> {
        let upgrade = req.is_websocket_upgrade();
        if !req.is_unsafe_method() && !upgrade {
            return None;
        }
        let carries_cookie = req.headers.get("cookie").is_some_and(|c| {
            cookie::parse_cookie_header(c)
                .any(|(n, _)| cookie::is_session_cookie_name(&self.config.cookie, n))
        });
        if !carries_cookie {
            return None;
        }
        let origin = req.headers.get("origin").map(str::trim);
        let allowed_origin = |o: &str| {
            (!req.origin.is_empty() && o.eq_ignore_ascii_case(&req.origin))
                || self.config.csrf_allowed_origins.iter().any(|a| a.eq_ignore_ascii_case(o))
        };
        let ok = match req.headers.get("sec-fetch-site").map(str::trim) {
            Some("same-origin" | "none") => true,
            Some(_) => origin.is_some_and(allowed_origin),
            None => origin.is_none_or(allowed_origin),
        };
        (!ok).then(|| match upgrade {
            true => Response::error(
                403,
                "cross_site_websocket",
                "This WebSocket upgrade carries the session cookie, but it comes from another site. Allow its origin with CSRF_ALLOWED_ORIGINS if it is yours.",
            ),
            false => Response::error(
                403,
                "cross_site_request",
                "This request changes state and carries the session cookie, but it comes from another site. Allow its origin with CSRF_ALLOWED_ORIGINS if it is yours.",
            ),
        })
    }

    /// Verifies a bearer token against the ring: its `kid` must name a ring key, and
    /// the key used is that ring key's key for the header's (allowed) algorithm.
    /// The token's claims and the kid of the ring key that verified it.
    fn verify_bearer(&self, token: &str, now: u64) -> Result<(TokenClaims, String), jwt::JwtError> {
        let used = std::cell::RefCell::new(String::new());
        let lookup = |kid: Option<&str>, alg: Alg| {
            let kid = kid?;
            kid.clone_into(&mut used.borrow_mut());
            self.ring_key(kid, alg)
        };
        let claims = jwt::verify_with(token, lookup, &self.bearer_validation, now)?;
        Ok((claims, used.into_inner()))
    }

    /// Builds the upstream request head.
    fn forward(&self, req: &RequestHead, pending: Pending, now: u64, log: &mut Log) -> Forward {
        // Room for the request's headers and an assertion of a small session: one
        // allocation for the text instead of one per doubling.
        let mut headers =
            Headers::with_capacity(req.headers.text_len() + 512, req.headers.len() + 2);
        for (name, value) in req.headers.iter() {
            let drop = name.starts_with(RESERVED_PREFIX)
                || matches!(name, "cookie" | "host" | "content-length")
                || (name == "authorization" && bearer_value(value).is_some());
            if !drop {
                headers.append(name, value);
            }
        }
        if let Some(cookie) =
            req.headers.get("cookie").and_then(|c| cookie::strip(c, &self.config.cookie))
        {
            headers.append("cookie", cookie);
        }
        if let Some(assertion) = self.assertion(&pending.identity, now, log) {
            headers.append(ASSERTION_HEADER, assertion);
        }
        Forward { url: upstream_url(&self.config.origin_url, req), headers, pending }
    }

    /// Mints the short-lived `Edge-Session` assertion of a verified identity.
    fn assertion(&self, identity: &Identity, now: u64, log: &mut Log) -> Option<String> {
        let claims = match identity {
            Identity::Anonymous => return None,
            Identity::Cookie(s) => {
                let c = s.claims();
                let policy = &self.config.policy;
                let idle_exp = match s.needs_reissue(policy, now) {
                    Some(_) => session::refresh(c, policy, now).idle_exp,
                    None => c.idle_exp,
                };
                TokenClaims {
                    session_exp: Some(c.exp),
                    idle_exp: Some(idle_exp),
                    ..self.token_claims(
                        c,
                        &self.config.origin_audience,
                        now,
                        self.config.assertion_ttl,
                        None,
                    )
                }
            }
            Identity::Bearer(t) => TokenClaims {
                aud: self.config.origin_audience.clone(),
                iat: now,
                nbf: now,
                exp: now.saturating_add(self.config.assertion_ttl).min(t.exp.max(now)),
                jti: None,
                ..t.clone()
            },
        };
        let minted = match self.config.assertion_alg {
            Alg::HS256 => jwt::mint(&claims, &self.config.origin_key, None),
            Alg::EdDSA => match self.primary_key(Alg::EdDSA) {
                Some((kid, key)) => jwt::mint(&claims, key, Some(kid)),
                None => Err(jwt::JwtError::InvalidKey("no Ed25519 key was derived")),
            },
        };
        match minted {
            Ok(token) => Some(token),
            Err(e) => {
                log.push(format!("could not sign the Edge-Session assertion: {e}"));
                None
            }
        }
    }

    /// Token claims for a session: an assertion or a bearer token.
    fn token_claims(
        &self,
        c: &Claims,
        aud: &str,
        now: u64,
        ttl: u64,
        jti: Option<String>,
    ) -> TokenClaims {
        TokenClaims {
            iss: self.config.issuer.clone(),
            aud: aud.to_owned(),
            sub: c.sub.clone(),
            sid: c.sid.as_str().to_owned(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl).min(c.exp),
            auth_time: c.auth_time,
            gen: c.gen,
            data: c.data.clone(),
            jti,
            data_omitted: false,
            session_exp: None,
            idle_exp: None,
        }
    }
}

/// 431 for a `Cookie` header too long to read session cookies from. Nothing is
/// cleared: the session cookie may be fine, the rest of the header is not.
fn oversize_cookie_header(len: usize, limit: usize) -> Response {
    Response::error(
        431,
        "cookie_header_too_large",
        &format!(
            "The Cookie header is {len} bytes; at most {limit} are read. Remove cookies for this site and retry."
        ),
    )
}

/// The bearer token of a request, if it sent `Authorization: Bearer …`.
fn bearer(req: &RequestHead) -> Option<&str> {
    req.headers.get("authorization").and_then(bearer_value)
}

fn bearer_value(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
