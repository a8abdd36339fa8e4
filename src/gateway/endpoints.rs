//! The worker's own endpoints under `/_session/`:
//! - `POST /_session/token`: exchange a cookie session for a short-lived bearer JWT.
//! - `POST /_session/logout`: revoke the session (denylist) and clear its cookies.
//! - `POST /_session/admin/revoke?sid=…|user=…`: admin revocation, only when the
//!   `ADMIN_TOKEN` secret is set, authenticated with `Authorization: Bearer <token>`.
//! - `GET /_session/jwks.json`: the public Ed25519 keys of the ring (RFC 7517 JWK
//!   Set), for verifying EdDSA bearer tokens and assertions.
//!
//! Every answer is JSON with `Cache-Control: no-store`, except the JWKS, which is
//! public and cached for [`JWKS_MAX_AGE`] seconds (so a key added to the ring is
//! published at least that long before it signs: see the README's rotation drill).

use serde_json::json;

use super::origin::append_cookies;
use super::{bearer, Entropy, Gateway, Identity, Log};
use crate::config::TokenData;
use crate::cookie;
use crate::data::SessionData;
use crate::denylist;
use crate::http::{decode_query_value, query_param, RequestHead, Response};
use crate::jwt::{self, JwtError, TokenClaims};
use crate::store::KvStore;

/// `max-age` of `/_session/jwks.json`, in seconds.
pub const JWKS_MAX_AGE: u64 = 300;

fn method_not_allowed(allow: &str) -> Response {
    let mut r = Response::error(405, "method_not_allowed", &format!("use {allow}"));
    r.headers.set("allow", allow);
    r
}

/// Why `/_session/token` mints no token.
enum BearerError {
    /// The token would exceed the bearer length limit (`TOKEN_DATA=include`).
    TooLarge { len: usize },
    /// No key of `TOKEN_ALG` in the ring.
    NoKey,
    /// Signing failed.
    Sign(JwtError),
}

impl Gateway {
    pub(super) async fn endpoint(
        &self,
        name: &str,
        req: &RequestHead,
        denylist: &impl KvStore,
        entropy: &mut impl Entropy,
        now: u64,
        log: &mut Log,
    ) -> Response {
        match name {
            "jwks.json" if !matches!(req.method.as_str(), "GET" | "HEAD") => {
                method_not_allowed("GET, HEAD")
            }
            "jwks.json" => {
                let mut r = Response::json(200, &self.jwks());
                r.headers.set("cache-control", format!("public, max-age={JWKS_MAX_AGE}"));
                r.headers.set("access-control-allow-origin", "*");
                r
            }
            "token" | "logout" if req.method != "POST" => method_not_allowed("POST"),
            "token" => self.token(req, denylist, entropy, now, log).await,
            "logout" => self.logout(req, denylist, now, log).await,
            "admin/revoke" => self.admin_revoke(req, denylist, now, log).await,
            _ => Response::error(404, "not_found", "unknown /_session/ endpoint"),
        }
    }

    async fn token(
        &self,
        req: &RequestHead,
        denylist: &impl KvStore,
        entropy: &mut impl Entropy,
        now: u64,
        log: &mut Log,
    ) -> Response {
        let (pending, unknown) = self.authenticate(req, denylist, now, log).await;
        if let Some((len, limit)) = pending.oversize {
            return super::oversize_cookie_header(len, limit);
        }
        if unknown {
            return Response::error(
                503,
                "session_store_unavailable",
                "the revocation list could not be read; retry shortly",
            );
        }
        let session = match &pending.identity {
            Identity::Cookie(s) => s,
            _ => {
                let mut r = Response::error(
                    401,
                    "not_logged_in",
                    "a valid session cookie is required to obtain a token",
                );
                if pending.clear {
                    append_cookies(
                        &mut r.headers,
                        &cookie::clear(&self.config.cookie, &pending.cookies),
                    );
                }
                return r;
            }
        };
        let mut jti = [0u8; 16];
        if let Err(e) = entropy.fill(&mut jti) {
            return Response::error(503, "no_randomness", &e.to_string());
        }
        let claims = self.token_claims(
            session.claims(),
            &self.config.token_audience,
            now,
            self.config.token_ttl,
            Some(crate::b64::encode_url(&jti)),
        );
        match self.mint_bearer(claims) {
            Ok((token, claims)) => Response::json(
                200,
                &json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": claims.exp.saturating_sub(now),
                    "exp": claims.exp,
                    "data_included": self.config.token_data != TokenData::Omit
                        && !claims.data_omitted,
                }),
            ),
            Err(BearerError::TooLarge { len }) => Response::error(
                422,
                "token_too_large",
                &format!(
                    "the token would be {len} bytes; bearer tokens are limited to {} bytes. \
                     Keep less data in the session, or set TOKEN_DATA to fit or omit",
                    jwt::DEFAULT_MAX_TOKEN_LEN
                ),
            ),
            Err(BearerError::NoKey) => {
                Response::error(500, "token_failed", "no bearer key is configured")
            }
            Err(BearerError::Sign(e)) => {
                log.push(format!("could not mint a bearer token: {e}"));
                Response::error(500, "token_failed", "the token could not be signed")
            }
        }
    }

    /// Mints a bearer token under `TOKEN_DATA`, so that every token it returns is
    /// within the length the worker reads bearer tokens with.
    fn mint_bearer(&self, mut claims: TokenClaims) -> Result<(String, TokenClaims), BearerError> {
        let (kid, key) = self.primary_key(self.config.token_alg).ok_or(BearerError::NoKey)?;
        let mint = |c: &TokenClaims| jwt::mint(c, key, Some(kid)).map_err(BearerError::Sign);
        if self.config.token_data == TokenData::Omit {
            claims.data = SessionData::default();
        }
        let token = mint(&claims)?;
        let limit = jwt::DEFAULT_MAX_TOKEN_LEN;
        if token.len() <= limit {
            return Ok((token, claims));
        }
        if self.config.token_data == TokenData::Include {
            return Err(BearerError::TooLarge { len: token.len() });
        }
        claims.data_omitted = !claims.data.is_empty();
        claims.data = SessionData::default();
        let token = mint(&claims)?;
        // Identity claims are bounded (`sub`, `iss`, `aud` at most 256 bytes each).
        match token.len() <= limit {
            true => Ok((token, claims)),
            false => Err(BearerError::TooLarge { len: token.len() }),
        }
    }

    async fn logout(
        &self,
        req: &RequestHead,
        denylist: &impl KvStore,
        now: u64,
        log: &mut Log,
    ) -> Response {
        let (pending, _) = self.authenticate(req, denylist, now, log).await;
        // Revoke whatever credential came, even one whose revocation state is unknown.
        let subject = match &pending.identity {
            Identity::Anonymous => self.unverified_subject(req, now),
            other => other.subject().map(|(sid, _, _, exp)| (sid.to_owned(), exp)),
        };
        let clear = cookie::clear(&self.config.cookie, &pending.cookies);
        let written = match &subject {
            Some((sid, exp)) => {
                denylist::revoke_session(
                    denylist,
                    sid,
                    *exp,
                    now,
                    self.config.policy.leeway,
                    "logout",
                )
                .await
            }
            None => Ok(()),
        };
        let mut r = match written {
            Ok(()) => Response::json(200, &json!({ "ok": true, "revoked": subject.is_some() })),
            Err(e) => {
                log.push(format!("logout could not be recorded: {e}"));
                Response::error(
                    503,
                    "revocation_failed",
                    "Signed out in this browser, but the revocation could not be recorded; copies of the session may still work. Retry.",
                )
            }
        };
        append_cookies(&mut r.headers, &clear);
        r
    }

    /// For logout when the denylist is unreadable: the cookie's sid, if it opens.
    fn unverified_subject(&self, req: &RequestHead, now: u64) -> Option<(String, u64)> {
        let cookies =
            cookie::SessionCookies::from_header(&self.config.cookie, req.headers.get("cookie"));
        let sealed = cookies.reassemble().ok()??;
        let s = crate::session::open_session(
            &self.config.keys,
            &self.config.cookie.name,
            &sealed,
            &self.config.policy,
            now,
        )
        .ok()?;
        Some((s.claims().sid.as_str().to_owned(), s.claims().exp))
    }

    async fn admin_revoke(
        &self,
        req: &RequestHead,
        denylist: &impl KvStore,
        now: u64,
        log: &mut Log,
    ) -> Response {
        let Some(admin) = &self.config.admin_token else {
            return Response::error(404, "not_found", "unknown /_session/ endpoint");
        };
        if req.method != "POST" {
            return method_not_allowed("POST");
        }
        if !bearer(req).is_some_and(|t| admin.matches(t)) {
            let mut r =
                Response::error(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>");
            r.headers.set("www-authenticate", "Bearer realm=\"edge-session admin\"");
            return r;
        }
        // A value that is empty, not UTF-8 or holds a control character is malformed.
        let param = |name: &str| {
            query_param(&req.query, name).map(|v| {
                decode_query_value(v).filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
            })
        };
        let policy = &self.config.policy;
        let (what, result) = match (param("sid"), param("user")) {
            (Some(Some(sid)), None) => (
                format!("sid {sid}"),
                // The sid's own expiry is unknown here: cover the longest lifetime.
                denylist::revoke_session(
                    denylist,
                    &sid,
                    now.saturating_add(policy.absolute_ttl),
                    now,
                    policy.leeway,
                    "admin",
                )
                .await,
            ),
            (None, Some(Some(user))) => (
                format!("user {user}"),
                denylist::revoke_user(denylist, &user, now, policy.absolute_ttl, policy.leeway)
                    .await,
            ),
            _ => {
                return Response::error(
                    400,
                    "bad_request",
                    "pass exactly one of ?sid=<sid> or ?user=<sub>",
                )
            }
        };
        match result {
            Ok(()) => {
                log.push(format!("admin revoked {what}"));
                Response::json(200, &json!({ "ok": true, "revoked": what }))
            }
            Err(e) => {
                log.push(format!("admin revocation failed: {e}"));
                Response::error(
                    503,
                    "revocation_failed",
                    "the revocation could not be recorded; retry",
                )
            }
        }
    }
}
