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
use crate::store::{KvStore, StoreError};

/// What the shell does with the origin's response.
#[derive(Debug)]
pub enum Finish {
    /// Send the origin's response with the rewritten headers; `refreshed` when the
    /// session was re-sealed for a rolling refresh (no instruction from the origin).
    Pass {
        /// A rolling refresh re-sealed the session.
        refreshed: bool,
    },
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

fn bad_update(message: String) -> Response {
    Response::error(502, "invalid_session_update", &message)
}

/// A denylist write a step asks for; [`finish`] makes it (its only awaits).
enum Revoke {
    /// One session id, until its expiry.
    Session { sid: String, exp: u64, reason: &'static str },
    /// Every session of a user (sign out everywhere).
    User { sub: String },
}

async fn record(
    gw: &Gateway,
    denylist: &impl KvStore,
    r: &Revoke,
    now: u64,
) -> Result<(), StoreError> {
    let policy = &gw.config().policy;
    match r {
        Revoke::Session { sid, exp, reason } => {
            denylist::revoke_session(denylist, sid, *exp, now, policy.leeway, reason).await
        }
        Revoke::User { sub } => {
            denylist::revoke_user(denylist, sub, now, policy.absolute_ttl, policy.leeway).await
        }
    }
}

/// What an `Edge-Session-Action` asks for.
enum Action {
    /// Keep the outcome so far (`rotate` without a session).
    Keep(Outcome),
    /// Clear the cookies (`destroy`).
    Clear,
    /// Record this revocation, then clear the cookies (`revoke`, `revoke-all`).
    Revoke(Option<Revoke>),
    /// Write these claims after revoking the old id (`rotate`).
    Rotate(Claims, Revoke),
}

/// Phase two, in named steps: the origin's `Edge-Session-Set` ([`apply_set`]), then
/// its `Edge-Session-Action` ([`apply_action`]), then a rolling refresh or clearing
/// ([`reissue_or_clear`]), then a session-dependent response made private with the
/// cookies appended. The steps decide; the denylist writes they ask for happen here.
pub(super) async fn finish(
    gw: &Gateway,
    pending: Pending,
    headers: &mut Headers,
    denylist: &impl KvStore,
    entropy: &mut impl Entropy,
    now: u64,
    log: &mut Log,
) -> Finish {
    let set = headers.get(SET_HEADER).map(str::to_owned);
    let action = headers.get(ACTION_HEADER).map(|a| a.trim().to_ascii_lowercase());
    headers.remove_prefixed(RESERVED_PREFIX);
    let Pending { identity, cookies, clear, .. } = pending;
    let mut outcome = Outcome::Keep;
    if let Some(raw) = set {
        let (claims, replaced) = match apply_set(gw, &raw, &identity, entropy, now) {
            Ok(applied) => applied,
            Err(r) => return Finish::Replace(r),
        };
        // A different user (or a fresh login) replaces the old session: its copies die.
        if let Some(old) = replaced {
            if let Err(e) = record(gw, denylist, &old, now).await {
                log.push(format!("could not revoke the replaced session: {e}"));
            }
        }
        outcome = Outcome::Write(claims);
    }
    if let Some(action) = action.as_deref() {
        outcome = match apply_action(gw, action, outcome, &identity, entropy, now, log) {
            Err(r) => return Finish::Replace(r),
            Ok(Action::Keep(o)) => o,
            Ok(Action::Clear) => Outcome::Clear,
            Ok(Action::Revoke(r)) => {
                let written = match &r {
                    Some(r) => record(gw, denylist, r, now).await,
                    None => Ok(()),
                };
                if let Err(e) = written {
                    log.push(format!("Edge-Session-Action {action} could not be recorded: {e}"));
                    return Finish::Replace(revocation_failed(gw, &cookies));
                }
                Outcome::Clear
            }
            Ok(Action::Rotate(claims, old)) => {
                if let Err(e) = record(gw, denylist, &old, now).await {
                    log.push(format!("could not revoke the rotated-out session id: {e}"));
                }
                Outcome::Write(claims)
            }
        };
    }
    let (outcome, refreshed) = reissue_or_clear(gw, outcome, &identity, clear, now, log);
    let set_cookies = match outcome {
        Outcome::Keep => Vec::new(),
        Outcome::Clear => cookie::clear(&gw.config().cookie, &cookies),
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
    Finish::Pass { refreshed }
}

/// `Edge-Session-Set`: the claims to write (the same user's session refreshed with
/// the new data, or a new session), and the session it replaces, to revoke.
fn apply_set(
    gw: &Gateway,
    raw: &str,
    identity: &Identity,
    entropy: &mut impl Entropy,
    now: u64,
) -> Result<(Claims, Option<Revoke>), Response> {
    let update = parse_set(raw)?;
    let policy = &gw.config().policy;
    let current = match identity {
        Identity::Cookie(s) => Some(s.claims()),
        _ => None,
    };
    let claims = match current {
        Some(c) if c.sub == update.sub => {
            let mut c = session::refresh(c, policy, now);
            c.data = SessionData::from_map(&update.data);
            c
        }
        _ => {
            let sid = new_sid(entropy)?;
            let data = SessionData::from_map(&update.data);
            session::new_claims(update.sub, data, sid, policy, now).map_err(|e| {
                bad_update(format!("the origin's Edge-Session-Set is not valid: {e}"))
            })?
        }
    };
    let claims = with_ttl(claims, update.ttl, policy.absolute_ttl)?;
    let replaced = current.filter(|c| c.sid != claims.sid).map(|old| Revoke::Session {
        sid: old.sid.as_str().to_owned(),
        exp: old.exp,
        reason: "replaced",
    });
    Ok((claims, replaced))
}

/// Reads an `Edge-Session-Set` value: at most [`MAX_SET_HEADER`] bytes of ASCII JSON.
fn parse_set(raw: &str) -> Result<SessionSet, Response> {
    if raw.len() > MAX_SET_HEADER {
        return Err(bad_update(format!(
            "the origin's Edge-Session-Set is {} bytes; at most {MAX_SET_HEADER} are accepted",
            raw.len()
        )));
    }
    // Header bytes above 0x7f reach us as Latin-1: UTF-8 sent raw would be stored
    // garbled. Refuse it, and say how to send it.
    if let Some(at) = raw.find(|c: char| !c.is_ascii()) {
        return Err(bad_update(format!(
            "the origin's Edge-Session-Set has a non-ASCII byte at offset {at}; send JSON with non-ASCII characters escaped as \\uXXXX"
        )));
    }
    let set: SessionSet = serde_json::from_str(raw)
        .map_err(|e| bad_update(format!("the origin's Edge-Session-Set is not valid: {e}")))?;
    if set.data.iter().any(|(k, v)| k == RESERVED_KEY || holds_reserved_key(v)) {
        return Err(bad_update(format!(
            "the origin's Edge-Session-Set data uses the key `{RESERVED_KEY}`, which the worker's JSON library reserves (a token carrying it could not be read back); rename it"
        )));
    }
    Ok(set)
}

/// serde_json's marker for raw values: an object whose first key it is (and the
/// worker's maps are sorted, so `$…` comes first) is read as a raw value, not an
/// object. Found by fuzzing `verify_jwt`: claims holding it minted a token that did
/// not verify. Session data may not use it.
const RESERVED_KEY: &str = "$serde_json::private::RawValue";

/// Whether `value` has an object with the reserved key, at any depth.
fn holds_reserved_key(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(m) => {
            m.iter().any(|(k, v)| k == RESERVED_KEY || holds_reserved_key(v))
        }
        serde_json::Value::Array(items) => items.iter().any(holds_reserved_key),
        _ => false,
    }
}

/// Shortens the session to `ttl` seconds from login, when the origin asks.
fn with_ttl(claims: Claims, ttl: Option<u64>, absolute_ttl: u64) -> Result<Claims, Response> {
    match ttl {
        None => Ok(claims),
        Some(ttl) if ttl > 0 && ttl <= absolute_ttl => {
            let exp = claims.exp.min(claims.auth_time.saturating_add(ttl));
            Ok(Claims { exp, idle_exp: claims.idle_exp.min(exp), ..claims })
        }
        Some(ttl) => Err(bad_update(format!(
            "the origin's Edge-Session-Set asks for ttl {ttl}; it must be between 1 and SESSION_ABSOLUTE_TTL ({absolute_ttl})"
        ))),
    }
}

/// `Edge-Session-Action`: what `destroy`, `revoke`, `revoke-all` or `rotate` asks
/// for, given the outcome so far.
fn apply_action(
    gw: &Gateway,
    action: &str,
    outcome: Outcome,
    identity: &Identity,
    entropy: &mut impl Entropy,
    now: u64,
    log: &mut Log,
) -> Result<Action, Response> {
    let subject = identity.subject();
    match action {
        "destroy" => Ok(Action::Clear),
        "revoke" => Ok(Action::Revoke(subject.map(|(sid, _, _, exp)| Revoke::Session {
            sid: sid.to_owned(),
            exp,
            reason: "revoke",
        }))),
        "revoke-all" => {
            Ok(Action::Revoke(subject.map(|(_, sub, _, _)| Revoke::User { sub: sub.to_owned() })))
        }
        "rotate" => {
            let base = match outcome {
                Outcome::Write(c) => c,
                _ => match identity {
                    Identity::Cookie(s) => s.claims().clone(),
                    _ => {
                        log.push("Edge-Session-Action rotate ignored: no session".to_owned());
                        return Ok(Action::Keep(outcome));
                    }
                },
            };
            let old = Revoke::Session { sid: base.sid.as_str().to_owned(), exp: base.exp, reason: "rotate" };
            let rotated = Claims { sid: new_sid(entropy)?, ..base };
            Ok(Action::Rotate(session::refresh(&rotated, &gw.config().policy, now), old))
        }
        other => Err(bad_update(format!(
            "the origin's Edge-Session-Action `{}` is unknown; expected destroy, revoke, revoke-all or rotate",
            other.chars().filter(|c| c.is_ascii_graphic()).take(32).collect::<String>()
        ))),
    }
}

/// The 503 of a revocation that could not be recorded; it still clears the cookies.
fn revocation_failed(gw: &Gateway, cookies: &cookie::SessionCookies) -> Response {
    let mut r = Response::error(
        503,
        "revocation_failed",
        "The session was signed out in this browser, but the revocation could not be recorded; copies of it may still work. Retry.",
    );
    append_cookies(&mut r.headers, &cookie::clear(&gw.config().cookie, cookies));
    r
}

/// With no instruction from the origin: a rolling refresh when the session is due
/// for one (then `true`), or clearing cookies the request showed to be bad.
fn reissue_or_clear(
    gw: &Gateway,
    outcome: Outcome,
    identity: &Identity,
    clear: bool,
    now: u64,
    log: &mut Log,
) -> (Outcome, bool) {
    let Outcome::Keep = outcome else { return (outcome, false) };
    let policy = &gw.config().policy;
    if let Identity::Cookie(s) = identity {
        if let Some(reason) = s.needs_reissue(policy, now) {
            log.push(format!("session re-issued: {reason:?}"));
            return (Outcome::Write(session::refresh(s.claims(), policy, now)), true);
        }
    }
    match clear {
        true => (Outcome::Clear, false),
        false => (Outcome::Keep, false),
    }
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
