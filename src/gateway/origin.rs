//! Phase two: the origin's session instructions (`Edge-Session-Set`,
//! `Edge-Session-Action`), rolling refresh, cookie writing and cache headers.
//!
//! Invariant: if anything about the update is wrong (bad JSON, non-ASCII bytes,
//! unknown action, sealed session over the cookie cap), the client gets a clear
//! error and **no** `Set-Cookie`, so the session it had stays intact.

use serde::Deserialize;

use super::{Entropy, Gateway, Identity, Log, Pending, ACTION_HEADER, RESERVED_PREFIX, SET_HEADER};
use crate::cookie::{self, SetCookie};
use crate::data::SessionData;
use crate::denylist;
use crate::http::{Headers, Response};
use crate::session::{self, Claims, Sid};
use crate::store::KvStore;

/// What the shell does with the origin's response.
#[derive(Debug)]
pub enum Finish {
    /// Send the origin's response with the rewritten headers.
    Pass,
    /// Discard the origin's response and send this one instead.
    Replace(Response),
}

/// `Edge-Session-Set`: create or replace the session.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionSet {
    sub: String,
    #[serde(default)]
    data: serde_json::Map<String, serde_json::Value>,
    /// Absolute lifetime in seconds, at most `SESSION_ABSOLUTE_TTL`.
    #[serde(default)]
    ttl: Option<u64>,
}

/// Largest `Edge-Session-Set` value read; larger updates are refused.
pub const MAX_SET_HEADER: usize = 64 * 1024;

enum Outcome {
    Keep,
    Clear,
    Write(Claims),
}

fn bad_update(message: String) -> Finish {
    Finish::Replace(Response::error(502, "invalid_session_update", &message))
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn finish(
    gw: &Gateway,
    pending: Pending,
    headers: &mut Headers,
    denylist: &impl KvStore,
    entropy: &mut impl Entropy,
    now: u64,
    log: &mut Log,
) -> Finish {
    let cfg = gw.config();
    let set = headers.get(SET_HEADER).map(str::to_owned);
    let action = headers.get(ACTION_HEADER).map(|a| a.trim().to_ascii_lowercase());
    headers.remove_prefixed(RESERVED_PREFIX);
    let Pending { identity, cookies, clear, .. } = pending;
    let current = match &identity {
        Identity::Cookie(s) => Some(s.claims()),
        _ => None,
    };

    let mut outcome = Outcome::Keep;
    if let Some(raw) = set {
        if raw.len() > MAX_SET_HEADER {
            return bad_update(format!(
                "the origin's Edge-Session-Set is {} bytes; at most {MAX_SET_HEADER} are accepted",
                raw.len()
            ));
        }
        // Header bytes above 0x7f reach us as Latin-1: UTF-8 sent raw would be stored
        // garbled. Refuse it, and say how to send it.
        if let Some(at) = raw.find(|c: char| !c.is_ascii()) {
            return bad_update(format!(
                "the origin's Edge-Session-Set has a non-ASCII byte at offset {at}; send JSON with non-ASCII characters escaped as \\uXXXX"
            ));
        }
        let update: SessionSet = match serde_json::from_str(&raw) {
            Ok(u) => u,
            Err(e) => {
                return bad_update(format!("the origin's Edge-Session-Set is not valid: {e}"));
            }
        };
        let claims = match current {
            Some(c) if c.sub == update.sub => {
                let mut c = session::refresh(c, &cfg.policy, now);
                c.data = SessionData::from_map(&update.data);
                c
            }
            _ => {
                let sid = match new_sid(entropy) {
                    Ok(sid) => sid,
                    Err(r) => return Finish::Replace(r),
                };
                match session::new_claims(
                    update.sub,
                    SessionData::from_map(&update.data),
                    sid,
                    &cfg.policy,
                    now,
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        return bad_update(format!(
                            "the origin's Edge-Session-Set is not valid: {e}"
                        ))
                    }
                }
            }
        };
        let claims = match update.ttl {
            None => claims,
            Some(ttl) if ttl > 0 && ttl <= cfg.policy.absolute_ttl => {
                let exp = claims.exp.min(claims.auth_time.saturating_add(ttl));
                Claims { exp, idle_exp: claims.idle_exp.min(exp), ..claims }
            }
            Some(ttl) => {
                return bad_update(format!(
                    "the origin's Edge-Session-Set asks for ttl {ttl}; it must be between 1 and SESSION_ABSOLUTE_TTL ({})",
                    cfg.policy.absolute_ttl
                ))
            }
        };
        // A different user (or a fresh login) replaces the old session: its copies die.
        if let Some(old) = current.filter(|c| c.sid != claims.sid) {
            if let Err(e) = denylist::revoke_session(
                denylist,
                old.sid.as_str(),
                old.exp,
                now,
                cfg.policy.leeway,
                "replaced",
            )
            .await
            {
                log.push(format!("could not revoke the replaced session: {e}"));
            }
        }
        outcome = Outcome::Write(claims);
    }

    if let Some(action) = action.as_deref() {
        let subject = identity.subject();
        match action {
            "destroy" => outcome = Outcome::Clear,
            "revoke" | "revoke-all" => {
                let written = match (action, subject) {
                    (_, None) => Ok(()),
                    ("revoke", Some((sid, _, _, exp))) => {
                        denylist::revoke_session(
                            denylist,
                            sid,
                            exp,
                            now,
                            cfg.policy.leeway,
                            "revoke",
                        )
                        .await
                    }
                    (_, Some((_, sub, _, _))) => {
                        denylist::revoke_user(
                            denylist,
                            sub,
                            now,
                            cfg.policy.absolute_ttl,
                            cfg.policy.leeway,
                        )
                        .await
                    }
                };
                let clear = cookie::clear(&cfg.cookie, &cookies);
                if let Err(e) = written {
                    log.push(format!("Edge-Session-Action {action} could not be recorded: {e}"));
                    let mut r = Response::error(
                        503,
                        "revocation_failed",
                        "The session was signed out in this browser, but the revocation could not be recorded; copies of it may still work. Retry.",
                    );
                    append_cookies(&mut r.headers, &clear);
                    return Finish::Replace(r);
                }
                outcome = Outcome::Clear;
            }
            "rotate" => {
                let base = match std::mem::replace(&mut outcome, Outcome::Keep) {
                    Outcome::Write(c) => Some(c),
                    _ => current.cloned(),
                };
                match base {
                    None => log.push("Edge-Session-Action rotate ignored: no session".to_owned()),
                    Some(mut c) => {
                        let old = c.sid.clone();
                        c.sid = match new_sid(entropy) {
                            Ok(sid) => sid,
                            Err(r) => return Finish::Replace(r),
                        };
                        if let Err(e) = denylist::revoke_session(
                            denylist,
                            old.as_str(),
                            c.exp,
                            now,
                            cfg.policy.leeway,
                            "rotate",
                        )
                        .await
                        {
                            log.push(format!("could not revoke the rotated-out session id: {e}"));
                        }
                        outcome = Outcome::Write(session::refresh(&c, &cfg.policy, now));
                    }
                }
            }
            other => {
                return bad_update(format!(
                    "the origin's Edge-Session-Action `{}` is unknown; expected destroy, revoke, revoke-all or rotate",
                    other.chars().filter(|c| c.is_ascii_graphic()).take(32).collect::<String>()
                ));
            }
        }
    }

    if let (Outcome::Keep, Identity::Cookie(s)) = (&outcome, &identity) {
        if let Some(reason) = s.needs_reissue(&cfg.policy, now) {
            log.push(format!("session re-issued: {reason:?}"));
            outcome = Outcome::Write(session::refresh(s.claims(), &cfg.policy, now));
        }
    }
    if let (Outcome::Keep, true) = (&outcome, clear) {
        outcome = Outcome::Clear;
    }

    let set_cookies = match outcome {
        Outcome::Keep => Vec::new(),
        Outcome::Clear => cookie::clear(&cfg.cookie, &cookies),
        Outcome::Write(claims) => match write(gw, &claims, &cookies, entropy, now) {
            Ok(lines) => lines,
            Err(r) => return Finish::Replace(r),
        },
    };
    let session_dependent =
        !matches!(identity, Identity::Anonymous) || !set_cookies.is_empty() || !cookies.is_empty();
    if session_dependent {
        privatize(headers, matches!(identity, Identity::Bearer(_)));
    }
    append_cookies(headers, &set_cookies);
    Finish::Pass
}

/// Seals `claims` and encodes the cookie lines; refuses sessions over the cap.
pub(super) fn write(
    gw: &Gateway,
    claims: &Claims,
    present: &cookie::SessionCookies,
    entropy: &mut impl Entropy,
    now: u64,
) -> Result<Vec<SetCookie>, Response> {
    let cfg = gw.config();
    let mut nonce = [0u8; 24];
    entropy.fill(&mut nonce).map_err(|e| Response::error(503, "no_randomness", &e.to_string()))?;
    let sealed =
        session::seal_claims(&cfg.keys, &cfg.cookie.name, claims, &nonce).map_err(|e| match e {
            // Too much session data is the origin's doing: 502, like the cookie cap.
            session::SessionError::Seal(crate::seal::SealError::TooLong { len, max }) => {
                Response::error(
                    502,
                    "session_too_large",
                    &format!("the origin's session would be {len} bytes sealed; at most {max} are allowed"),
                )
            }
            e => Response::error(500, "seal_failed", &e.to_string()),
        })?;
    cookie::encode(&cfg.cookie, &sealed, session::max_age(claims, now), present)
        .map_err(|e| Response::error(502, "session_too_large", &e.to_string()))
}

/// A fresh 128-bit session id.
pub(super) fn new_sid(entropy: &mut impl Entropy) -> Result<Sid, Response> {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes).map_err(|e| Response::error(503, "no_randomness", &e.to_string()))?;
    Ok(Sid::from_random(bytes))
}

/// Appends each cookie as its own `Set-Cookie` header (never folded).
pub(super) fn append_cookies(headers: &mut Headers, lines: &[SetCookie]) {
    for line in lines {
        headers.append("set-cookie", line.as_str());
    }
}

/// Marks a session-dependent response uncacheable by shared caches, unless the
/// origin already said something at least as strict, and varies it on the credential.
pub(super) fn privatize(headers: &mut Headers, bearer: bool) {
    let cc = headers.get("cache-control").map(str::to_ascii_lowercase);
    match cc {
        Some(v) if v.contains("no-store") || v.contains("private") => {}
        Some(v) => {
            let kept: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty() && *d != "public" && !d.starts_with("s-maxage"))
                .collect();
            let value = if kept.is_empty() {
                "private".to_owned()
            } else {
                format!("private, {}", kept.join(", "))
            };
            headers.set("cache-control", value);
        }
        None => headers.set("cache-control", "private"),
    }
    let mut vary = headers.get("vary").unwrap_or_default().to_owned();
    if vary.trim() != "*" {
        for name in ["Cookie", "Authorization"] {
            if name == "Authorization" && !bearer {
                continue;
            }
            let has = vary.split(',').any(|v| v.trim().eq_ignore_ascii_case(name));
            if !has {
                if !vary.trim().is_empty() {
                    vary.push_str(", ");
                }
                vary.push_str(name);
            }
        }
        headers.set("vary", vary);
    }
}
