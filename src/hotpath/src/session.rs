//! Session claims and their lifecycle, enforced inside the seal.
//!
//! A session cookie is [`Claims`] as JSON, sealed with [`crate::seal`] under the cookie's
//! name and the purpose [`PURPOSE`].
//!
//! # Invariants
//! - A [`VerifiedSession`] exists only as the result of [`open_session`]: the seal was
//!   authentic (checked first), the JSON parsed, and the claims were current and
//!   consistent at `now` (checked after). There is no other constructor.
//! - `auth_time ≤ iat` and `idle_exp ≤ exp` hold for every sealed or opened session;
//!   `exp` and `auth_time` never move, a rolling [`refresh`] moves only `iat` and
//!   `idle_exp` (never past `exp`).
//! - `sub` is 1 to [`MAX_SUB_LEN`] bytes with no control characters ([`check_subject`]),
//!   checked when claims are created, sealed and opened.
//! - Time is `now`, Unix seconds, passed in; the [`SessionPolicy::leeway`] allows for
//!   clock skew between edge locations. All arithmetic saturates, so no field value,
//!   however absurd, can panic.
//! - Error messages never contain claim values, the cookie, or the plaintext.

use std::fmt;

use zeroize::Zeroizing;

use crate::claims::SID_EXPECTED;
pub use crate::claims::{Claims, Sid, MAX_SUB_LEN, SID_LEN};
use crate::claims_json;
use crate::data::SessionData;
use crate::keyring::{KeyRing, Kid};
use crate::seal::{self, SealContext, SealError};

/// The seal purpose of session cookies (bound into the associated data).
pub const PURPOSE: &str = "session";
/// Largest accepted [`SessionPolicy::leeway`], in seconds.
pub const MAX_LEEWAY: u64 = 300;
/// How long sessions live and when they are refreshed.
///
/// Build it with [`SessionPolicy::new`] (validated) or [`SessionPolicy::default`]. The
/// fields are public for reading; functions here stay panic-free even for values `new`
/// would reject, and clamp `leeway` to [`MAX_LEEWAY`] and `refresh_after` to `[0, 1]`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct SessionPolicy {
    /// Seconds from login to absolute expiry. Defaults to 7 days (604800).
    pub absolute_ttl: u64,
    /// Seconds of inactivity after which a session expires. Defaults to 24 hours (86400).
    pub idle_ttl: u64,
    /// Fraction of `idle_ttl` after `iat` from which a request re-issues the cookie
    /// (rolling refresh). 0 re-issues on every request, 1 only when the idle window is
    /// used up. Defaults to 0.25 (every 6 hours with the default idle TTL).
    pub refresh_after: f64,
    /// Clock skew tolerated on every time check, in seconds, at most [`MAX_LEEWAY`].
    /// Defaults to 60.
    pub leeway: u64,
}

impl SessionPolicy {
    /// A validated policy.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the field: a TTL of 0, `idle_ttl > absolute_ttl`,
    /// `refresh_after` outside `[0, 1]` (or NaN), `leeway > 300`.
    pub fn new(
        absolute_ttl: u64,
        idle_ttl: u64,
        refresh_after: f64,
        leeway: u64,
    ) -> Result<Self, PolicyError> {
        if absolute_ttl == 0 {
            return Err(PolicyError::ZeroAbsoluteTtl);
        }
        if idle_ttl == 0 {
            return Err(PolicyError::ZeroIdleTtl);
        }
        if idle_ttl > absolute_ttl {
            return Err(PolicyError::IdleExceedsAbsolute { idle_ttl, absolute_ttl });
        }
        if !(0.0..=1.0).contains(&refresh_after) {
            return Err(PolicyError::RefreshAfterOutOfRange { value: refresh_after });
        }
        if leeway > MAX_LEEWAY {
            return Err(PolicyError::LeewayTooLarge { leeway });
        }
        Ok(SessionPolicy { absolute_ttl, idle_ttl, refresh_after, leeway })
    }

    fn effective_leeway(&self) -> u64 {
        self.leeway.min(MAX_LEEWAY)
    }
}

impl Default for SessionPolicy {
    /// 7 days absolute, 24 hours idle, refresh after a quarter of the idle window (6 h),
    /// 60 s leeway.
    fn default() -> Self {
        SessionPolicy {
            absolute_ttl: 7 * 86_400,
            idle_ttl: 86_400,
            refresh_after: 0.25,
            leeway: 60,
        }
    }
}

/// A rejected [`SessionPolicy`].
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum PolicyError {
    /// `absolute_ttl` is 0.
    ZeroAbsoluteTtl,
    /// `idle_ttl` is 0.
    ZeroIdleTtl,
    /// `idle_ttl` is longer than `absolute_ttl`.
    IdleExceedsAbsolute {
        /// The idle TTL given.
        idle_ttl: u64,
        /// The absolute TTL given.
        absolute_ttl: u64,
    },
    /// `refresh_after` is not a number in `[0, 1]`.
    RefreshAfterOutOfRange {
        /// The value given.
        value: f64,
    },
    /// `leeway` is above [`MAX_LEEWAY`].
    LeewayTooLarge {
        /// The value given.
        leeway: u64,
    },
}

/// Writes `value` rounded to three decimals without `f64`'s `Display`, whose
/// formatting machinery would add kilobytes to the worker for one error message.
fn write_fraction(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
    let milli = (value * 1000.0).round();
    if !milli.is_finite() || milli.abs() >= 1e15 {
        return f.write_str(if value.is_nan() { "not a number" } else { "out of range" });
    }
    // In range for i64 (checked above); `as` truncates nothing here.
    let milli = milli as i64;
    let sign = if milli < 0 { "-" } else { "" };
    let (int, frac) = (milli.unsigned_abs() / 1000, milli.unsigned_abs() % 1000);
    if frac == 0 {
        write!(f, "{sign}{int}")
    } else {
        let digits = format!("{frac:03}");
        write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
    }
}

impl PolicyError {
    /// The [`SessionPolicy`] field at fault (`"absolute_ttl"`, `"idle_ttl"`,
    /// `"refresh_after"` or `"leeway"`), for mapping to a setting name.
    pub fn field(&self) -> &'static str {
        match self {
            PolicyError::ZeroAbsoluteTtl => "absolute_ttl",
            PolicyError::ZeroIdleTtl | PolicyError::IdleExceedsAbsolute { .. } => "idle_ttl",
            PolicyError::RefreshAfterOutOfRange { .. } => "refresh_after",
            PolicyError::LeewayTooLarge { .. } => "leeway",
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::ZeroAbsoluteTtl => f.write_str("absolute_ttl is 0; expected seconds > 0"),
            PolicyError::ZeroIdleTtl => f.write_str("idle_ttl is 0; expected seconds > 0"),
            PolicyError::IdleExceedsAbsolute { idle_ttl, absolute_ttl } => write!(
                f,
                "idle_ttl is {idle_ttl} s but absolute_ttl is {absolute_ttl} s; \
                 the idle timeout must not exceed the absolute one"
            ),
            PolicyError::RefreshAfterOutOfRange { value } => {
                f.write_str("refresh_after is ")?;
                write_fraction(f, *value)?;
                f.write_str("; expected a fraction from 0 to 1")
            }
            PolicyError::LeewayTooLarge { leeway } => {
                write!(f, "leeway is {leeway} s; at most {MAX_LEEWAY} s are allowed")
            }
        }
    }
}

impl std::error::Error for PolicyError {}

/// What is wrong with a `sub`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubjectError {
    /// `sub` is empty.
    Empty,
    /// `sub` is longer than [`MAX_SUB_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// `sub` holds a control character at this byte offset.
    ControlCharacter {
        /// 0-based byte offset.
        index: usize,
    },
}

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sub ")?;
        match self {
            SubjectError::Empty => f.write_str("is empty"),
            SubjectError::TooLong { len } => write!(f, "is {len} bytes"),
            SubjectError::ControlCharacter { index } => {
                write!(f, "has a control character at byte {index}")
            }
        }?;
        write!(f, "; expected 1 to {MAX_SUB_LEN} bytes without control characters")
    }
}

impl std::error::Error for SubjectError {}

/// Checks the `sub` rules: 1 to [`MAX_SUB_LEN`] bytes, no control characters.
///
/// # Errors
/// The first [`SubjectError`] found.
pub fn check_subject(sub: &str) -> Result<(), SubjectError> {
    if sub.is_empty() {
        return Err(SubjectError::Empty);
    }
    if sub.len() > MAX_SUB_LEN {
        return Err(SubjectError::TooLong { len: sub.len() });
    }
    match sub.char_indices().find(|(_, c)| c.is_control()) {
        Some((index, _)) => Err(SubjectError::ControlCharacter { index }),
        None => Ok(()),
    }
}

/// Why a session could not be created, sealed or opened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SessionError {
    /// The seal did not open (missing parts, unknown kid, tampered, ...).
    Seal(SealError),
    /// The plaintext is not valid claims JSON, or the claims are inconsistent. The
    /// message names the problem and position, never a value.
    MalformedClaims(String),
    /// `exp + leeway < now`.
    Expired,
    /// `idle_exp + leeway < now`.
    IdleExpired,
    /// `iat > now + leeway`: issued in the future beyond the tolerated skew.
    IssuedInFuture,
    /// The `sub` given to [`new_claims`] or [`seal_claims`] breaks the rules.
    InvalidSubject(SubjectError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Seal(err) => write!(f, "session cookie did not open: {err}"),
            SessionError::MalformedClaims(why) => write!(f, "session claims are malformed: {why}"),
            SessionError::Expired => f.write_str("session has passed its absolute expiry"),
            SessionError::IdleExpired => f.write_str("session has passed its idle expiry"),
            SessionError::IssuedInFuture => {
                f.write_str("session was issued in the future (clock skew beyond the leeway)")
            }
            SessionError::InvalidSubject(err) => write!(f, "invalid session subject: {err}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Seal(err) => Some(err),
            SessionError::InvalidSubject(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SealError> for SessionError {
    fn from(err: SealError) -> Self {
        SessionError::Seal(err)
    }
}

/// Describes a JSON error without quoting any value: serde_json's own message is kept
/// only when it can name nothing but a field (`missing field `exp``) or is ours.
fn describe_json_error(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let safe = ["missing field", "duplicate field", SID_EXPECTED];
    if safe.iter().any(|prefix| message.starts_with(prefix)) {
        return message;
    }
    let what = match err.classify() {
        serde_json::error::Category::Data => "a value of the wrong type or range",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Io => "unreadable JSON",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// Checks what must hold for any claims, sealed or opened.
fn check_consistency(claims: &Claims) -> Result<(), String> {
    if claims.idle_exp > claims.exp {
        return Err("idle expiry is after the absolute expiry".into());
    }
    if claims.auth_time > claims.iat {
        return Err("auth_time is after iat".into());
    }
    check_subject(&claims.sub).map_err(|err| err.to_string())
}

/// Claims for a fresh login: `iat = auth_time = now`, `exp = now + absolute_ttl`,
/// `idle_exp = min(now + idle_ttl, exp)`, `gen = 0`.
///
/// # Errors
/// [`SessionError::InvalidSubject`] when `sub` breaks [`check_subject`].
pub fn new_claims(
    sub: String,
    data: SessionData,
    sid: Sid,
    policy: &SessionPolicy,
    now: u64,
) -> Result<Claims, SessionError> {
    check_subject(&sub).map_err(SessionError::InvalidSubject)?;
    let exp = now.saturating_add(policy.absolute_ttl);
    let idle_exp = now.saturating_add(policy.idle_ttl).min(exp);
    Ok(Claims { sid, sub, iat: now, auth_time: now, exp, idle_exp, gen: 0, data })
}

/// The same session re-issued at `now` (rolling refresh): `iat = max(now, iat)` (so a
/// clock behind the issuer's never breaks `auth_time ≤ iat`) and
/// `idle_exp = min(iat + idle_ttl, exp)`; everything else is kept.
pub fn refresh(claims: &Claims, policy: &SessionPolicy, now: u64) -> Claims {
    let iat = now.max(claims.iat);
    Claims { iat, idle_exp: iat.saturating_add(policy.idle_ttl).min(claims.exp), ..claims.clone() }
}

/// Seconds from `now` until the session expires (absolute or idle, whichever is first),
/// 0 if it already has: the cookie's `Max-Age`.
pub fn max_age(claims: &Claims, now: u64) -> u64 {
    claims.exp.min(claims.idle_exp).saturating_sub(now)
}

/// Seals claims as the value of cookie `cookie_name` with the ring's primary key.
///
/// # Errors
/// [`SessionError::InvalidSubject`] or [`SessionError::MalformedClaims`] for claims that
/// [`open_session`] would refuse; [`SessionError::Seal`] if the result is too long.
pub fn seal_claims(
    ring: &KeyRing,
    cookie_name: &str,
    claims: &Claims,
    nonce: &[u8; 24],
) -> Result<String, SessionError> {
    check_subject(&claims.sub).map_err(SessionError::InvalidSubject)?;
    check_consistency(claims).map_err(SessionError::MalformedClaims)?;
    // Pre-sized so that typical claims serialize without reallocating (which would leave
    // unzeroized copies behind); zeroized on drop.
    let mut json = Zeroizing::new(Vec::with_capacity(512));
    serde_json::to_writer(&mut *json, claims)
        .map_err(|err| SessionError::MalformedClaims(describe_json_error(&err)))?;
    let ctx = SealContext { name: cookie_name, purpose: PURPOSE };
    Ok(seal::seal(ring, &ctx, &json, nonce)?)
}

/// Why a verified session should be sealed again now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReissueReason {
    /// It was opened with a key that is no longer the primary.
    KeyRotated,
    /// Enough of the idle window has passed to roll it forward ([`refresh`]).
    IdleRefresh,
}

/// A session whose seal, JSON and times were checked by [`open_session`], the only way
/// to get one.
#[derive(Clone, Debug)]
pub struct VerifiedSession {
    claims: Claims,
    kid: Kid,
    by_primary: bool,
}

impl VerifiedSession {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// The kid of the key that opened the seal.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// Whether that key is the ring's primary.
    pub fn by_primary(&self) -> bool {
        self.by_primary
    }

    /// Whether to re-seal now: [`ReissueReason::KeyRotated`] (checked first) when opened
    /// with a non-primary key, [`ReissueReason::IdleRefresh`] when
    /// `now - iat >= refresh_after * idle_ttl`.
    pub fn needs_reissue(&self, policy: &SessionPolicy, now: u64) -> Option<ReissueReason> {
        if !self.by_primary {
            return Some(ReissueReason::KeyRotated);
        }
        let elapsed = now.saturating_sub(self.claims.iat) as f64;
        let threshold = policy.refresh_after.clamp(0.0, 1.0) * policy.idle_ttl as f64;
        (elapsed >= threshold).then_some(ReissueReason::IdleRefresh)
    }

    /// When the session expires: `min(exp, idle_exp)`.
    pub fn expires_at(&self) -> u64 {
        self.claims.exp.min(self.claims.idle_exp)
    }
}

/// Opens and verifies the session cookie `cookie_name` whose value is `sealed`.
///
/// Checks, in order: the seal (authenticity, under this cookie name and [`PURPOSE`]);
/// the JSON; `exp + leeway < now` → [`SessionError::Expired`];
/// `idle_exp + leeway < now` → [`SessionError::IdleExpired`];
/// `iat > now + leeway` → [`SessionError::IssuedInFuture`]; then consistency
/// (`idle_exp ≤ exp`, `auth_time ≤ iat`, valid `sub`) → [`SessionError::MalformedClaims`].
///
/// # Errors
/// As listed above; the denylist is not consulted here.
pub fn open_session(
    ring: &KeyRing,
    cookie_name: &str,
    sealed: &str,
    policy: &SessionPolicy,
    now: u64,
) -> Result<VerifiedSession, SessionError> {
    let ctx = SealContext { name: cookie_name, purpose: PURPOSE };
    let opened = seal::open(ring, &ctx, sealed)?;
    let json = std::str::from_utf8(&opened.plaintext)
        .map_err(|_| SessionError::MalformedClaims("the claims are not UTF-8".into()))?;
    // The layout seal_claims writes is read directly; serde_json reads anything else.
    let claims = match claims_json::read(json) {
        Some(claims) => claims,
        None => serde_json::from_str(json)
            .map_err(|err| SessionError::MalformedClaims(describe_json_error(&err)))?,
    };
    let leeway = policy.effective_leeway();
    if claims.exp.saturating_add(leeway) < now {
        return Err(SessionError::Expired);
    }
    if claims.idle_exp.saturating_add(leeway) < now {
        return Err(SessionError::IdleExpired);
    }
    if claims.iat > now.saturating_add(leeway) {
        return Err(SessionError::IssuedInFuture);
    }
    check_consistency(&claims).map_err(SessionError::MalformedClaims)?;
    Ok(VerifiedSession { claims, kid: opened.kid, by_primary: opened.by_primary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::Kid;
    use serde_json::{Map, Value};

    const COOKIE: &str = "__Host-session";
    const NOW: u64 = 1_700_000_000;
    const DAY: u64 = 86_400;

    fn ring(entries: &[(&str, u8)]) -> KeyRing {
        KeyRing::from_raw(
            entries.iter().map(|(kid, byte)| (Kid::new(kid).unwrap(), vec![*byte; 32])).collect(),
        )
        .unwrap()
    }

    fn sid() -> Sid {
        Sid::from_random([0x5a; 16])
    }

    fn claims(now: u64) -> Claims {
        let mut data = Map::new();
        data.insert("role".into(), Value::from("admin"));
        new_claims("alice".into(), data.into(), sid(), &SessionPolicy::default(), now).unwrap()
    }

    fn seal_at(ring: &KeyRing, claims: &Claims) -> String {
        seal_claims(ring, COOKIE, claims, &[9; 24]).unwrap()
    }

    fn open_at(ring: &KeyRing, sealed: &str, now: u64) -> Result<VerifiedSession, SessionError> {
        open_session(ring, COOKIE, sealed, &SessionPolicy::default(), now)
    }

    /// Seals raw JSON under the session context, bypassing `seal_claims`' checks.
    fn seal_json(ring: &KeyRing, json: &str) -> String {
        let ctx = SealContext { name: COOKIE, purpose: PURPOSE };
        seal::seal(ring, &ctx, json.as_bytes(), &[1; 24]).unwrap()
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn sid_format() {
        let sid = Sid::from_random([0xff; 16]);
        assert_eq!(sid.as_str(), "_____________________w");
        assert_eq!(Sid::parse(sid.as_str()), Some(sid.clone()));
        assert_eq!(sid.to_string(), sid.as_str());
        assert_eq!(Sid::from_random([0; 16]).as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        for bad in [
            "",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAA+A",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAA ",
            // Non-canonical: the last character carries bits beyond 128.
            "AAAAAAAAAAAAAAAAAAAAAB",
            "_____________________x",
            "ААААААААААА",
        ] {
            assert_eq!(Sid::parse(bad), None, "{bad:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn policy_validation() {
        let default = SessionPolicy::default();
        assert_eq!(
            (default.absolute_ttl, default.idle_ttl, default.refresh_after, default.leeway),
            (604_800, 86_400, 0.25, 60)
        );
        assert_eq!(SessionPolicy::new(604_800, 86_400, 0.25, 60), Ok(default));
        assert!(SessionPolicy::new(10, 10, 0.0, 0).is_ok());
        assert!(SessionPolicy::new(10, 10, 1.0, 300).is_ok());
        let err = |a, i, r, l| SessionPolicy::new(a, i, r, l).unwrap_err();
        assert_eq!(err(0, 0, 0.5, 0), PolicyError::ZeroAbsoluteTtl);
        assert_eq!(err(10, 0, 0.5, 0), PolicyError::ZeroIdleTtl);
        assert_eq!(
            err(10, 11, 0.5, 0),
            PolicyError::IdleExceedsAbsolute { idle_ttl: 11, absolute_ttl: 10 }
        );
        assert_eq!(err(10, 10, -0.1, 0), PolicyError::RefreshAfterOutOfRange { value: -0.1 });
        assert_eq!(err(10, 10, 1.5, 0), PolicyError::RefreshAfterOutOfRange { value: 1.5 });
        let shown = |v: f64| PolicyError::RefreshAfterOutOfRange { value: v }.to_string();
        assert!(shown(-0.1).contains("is -0.1;"), "{}", shown(-0.1));
        assert!(shown(1.5).contains("is 1.5;"), "{}", shown(1.5));
        assert!(shown(2.0).contains("is 2;"), "{}", shown(2.0));
        assert!(shown(1.0625).contains("is 1.063;"), "{}", shown(1.0625));
        assert!(shown(f64::NAN).contains("is not a number;"), "{}", shown(f64::NAN));
        assert!(shown(1e300).contains("is out of range;"), "{}", shown(1e300));
        assert!(matches!(err(10, 10, f64::NAN, 0), PolicyError::RefreshAfterOutOfRange { .. }));
        assert_eq!(err(10, 10, 0.5, 301), PolicyError::LeewayTooLarge { leeway: 301 });
        let fields = [err(0, 1, 0.5, 0), err(1, 0, 0.5, 0), err(1, 2, 0.5, 0), err(1, 1, 2.0, 0)]
            .map(|e| e.field());
        assert_eq!(fields, ["absolute_ttl", "idle_ttl", "idle_ttl", "refresh_after"]);
        assert_eq!(err(1, 1, 0.5, 999).field(), "leeway");
        assert_eq!(
            err(10, 11, 0.5, 0).to_string(),
            "idle_ttl is 11 s but absolute_ttl is 10 s; the idle timeout must not exceed the \
             absolute one"
        );
        assert_eq!(err(10, 10, 0.5, 301).to_string(), "leeway is 301 s; at most 300 s are allowed");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn new_claims_sets_times() {
        let c = claims(NOW);
        assert_eq!(
            (c.iat, c.auth_time, c.exp, c.idle_exp, c.gen),
            (NOW, NOW, NOW + 7 * DAY, NOW + DAY, 0)
        );
        assert_eq!(c.sub, "alice");
        // idle_exp is capped by exp; huge values saturate instead of overflowing.
        let policy = SessionPolicy { absolute_ttl: 100, idle_ttl: 500, ..SessionPolicy::default() };
        let c = new_claims("a".into(), SessionData::empty(), sid(), &policy, NOW).unwrap();
        assert_eq!((c.exp, c.idle_exp), (NOW + 100, NOW + 100));
        let c = new_claims(
            "a".into(),
            SessionData::empty(),
            sid(),
            &SessionPolicy::default(),
            u64::MAX - 5,
        )
        .unwrap();
        assert_eq!((c.exp, c.idle_exp), (u64::MAX, u64::MAX));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn subject_rules() {
        for good in ["a", "user@example.com", "ünï cødé 🎉", &"x".repeat(256)] {
            assert_eq!(check_subject(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_subject(""), Err(SubjectError::Empty));
        assert_eq!(check_subject(&"x".repeat(257)), Err(SubjectError::TooLong { len: 257 }));
        assert_eq!(check_subject(&"é".repeat(129)), Err(SubjectError::TooLong { len: 258 }));
        assert_eq!(check_subject("a\nb"), Err(SubjectError::ControlCharacter { index: 1 }));
        assert_eq!(check_subject("é\0"), Err(SubjectError::ControlCharacter { index: 2 }));
        assert_eq!(check_subject("a\u{7f}"), Err(SubjectError::ControlCharacter { index: 1 }));
        assert_eq!(check_subject("\u{85}"), Err(SubjectError::ControlCharacter { index: 0 }));
        let err = new_claims(
            "bad\r\nsub".into(),
            SessionData::empty(),
            sid(),
            &SessionPolicy::default(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(err, SessionError::InvalidSubject(SubjectError::ControlCharacter { index: 3 }));
        assert!(!err.to_string().contains("bad"), "{err}");
        // seal_claims refuses what open_session would refuse.
        let mut c = claims(NOW);
        c.sub = String::new();
        assert_eq!(
            seal_claims(&ring(&[("k", 1)]), COOKIE, &c, &[0; 24]),
            Err(SessionError::InvalidSubject(SubjectError::Empty))
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn round_trip_and_compact_json() {
        let ring = ring(&[("k1", 1)]);
        let c = claims(NOW);
        let session = open_at(&ring, &seal_at(&ring, &c), NOW).unwrap();
        assert_eq!(session.claims(), &c);
        assert_eq!(session.kid().as_str(), "k1");
        assert!(session.by_primary());
        assert_eq!(session.expires_at(), NOW + DAY);
        assert_eq!(session.clone().into_claims(), c);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"sid":"{}","sub":"alice","iat":{NOW},"at":{NOW},"exp":{},"ie":{},"d":{{"role":"admin"}}}}"#,
                sid(),
                NOW + 7 * DAY,
                NOW + DAY
            )
        );
        let mut with_gen = c.clone();
        with_gen.gen = 3;
        with_gen.data = SessionData::empty();
        let json = serde_json::to_string(&with_gen).unwrap();
        assert!(json.ends_with(r#""gen":3}"#) && !json.contains(r#""d""#), "{json}");
        assert_eq!(
            open_at(&ring, &seal_at(&ring, &with_gen), NOW).unwrap().into_claims(),
            with_gen
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn bound_to_cookie_name_and_purpose() {
        let ring = ring(&[("k1", 1)]);
        let sealed = seal_at(&ring, &claims(NOW));
        let policy = SessionPolicy::default();
        assert_eq!(
            open_session(&ring, "__Host-other", &sealed, &policy, NOW).unwrap_err(),
            SessionError::Seal(SealError::Tampered)
        );
        // A seal for another purpose under the same cookie name does not open as a session.
        let json = serde_json::to_vec(&claims(NOW)).unwrap();
        let ctx = SealContext { name: COOKIE, purpose: "csrf" };
        let other_purpose = seal::seal(&ring, &ctx, &json, &[2; 24]).unwrap();
        assert_eq!(
            open_at(&ring, &other_purpose, NOW).unwrap_err(),
            SessionError::Seal(SealError::Tampered)
        );
        assert_eq!(
            open_at(&ring, "garbage", NOW).unwrap_err(),
            SessionError::Seal(SealError::Malformed("version"))
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn rotation_requests_reissue() {
        let old = ring(&[("a", 1)]);
        let rotated = ring(&[("b", 2), ("a", 1)]);
        let retired = ring(&[("b", 2)]);
        let policy = SessionPolicy::default();
        let sealed = seal_at(&old, &claims(NOW));
        let session = open_at(&rotated, &sealed, NOW).unwrap();
        assert_eq!((session.kid().as_str(), session.by_primary()), ("a", false));
        assert_eq!(session.needs_reissue(&policy, NOW), Some(ReissueReason::KeyRotated));
        let resealed = seal_at(&rotated, session.claims());
        let session = open_at(&rotated, &resealed, NOW).unwrap();
        assert_eq!(session.needs_reissue(&policy, NOW), None);
        assert_eq!(
            open_at(&retired, &sealed, NOW).unwrap_err(),
            SessionError::Seal(SealError::UnknownKid)
        );
        assert!(open_at(&retired, &resealed, NOW).is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn expiry_edges_with_leeway() {
        let ring = ring(&[("k", 1)]);
        let policy = SessionPolicy { leeway: 60, ..SessionPolicy::default() };
        let open = |c: &Claims, now| open_session(&ring, COOKIE, &seal_at(&ring, c), &policy, now);
        // Absolute expiry: idle window as long as the absolute one, so only exp matters.
        let mut c = claims(NOW);
        c.idle_exp = c.exp;
        assert!(open(&c, c.exp + 60).is_ok());
        assert_eq!(open(&c, c.exp + 61).unwrap_err(), SessionError::Expired);
        // Idle expiry.
        let c = claims(NOW);
        assert!(open(&c, c.idle_exp).is_ok());
        assert!(open(&c, c.idle_exp + 60).is_ok());
        assert_eq!(open(&c, c.idle_exp + 61).unwrap_err(), SessionError::IdleExpired);
        // Both passed: absolute wins.
        assert_eq!(open(&c, c.exp + 61).unwrap_err(), SessionError::Expired);
        // Issued in the future.
        assert!(open(&c, NOW - 60).is_ok());
        assert_eq!(open(&c, NOW - 61).unwrap_err(), SessionError::IssuedInFuture);
        // No leeway.
        let strict = SessionPolicy { leeway: 0, ..policy };
        let sealed = seal_at(&ring, &c);
        assert!(open_session(&ring, COOKIE, &sealed, &strict, c.idle_exp).is_ok());
        assert_eq!(
            open_session(&ring, COOKIE, &sealed, &strict, c.idle_exp + 1).unwrap_err(),
            SessionError::IdleExpired
        );
        assert_eq!(
            open_session(&ring, COOKIE, &sealed, &strict, NOW - 1).unwrap_err(),
            SessionError::IssuedInFuture
        );
        // An unvalidated, absurd leeway is clamped to 300 s.
        let lax = SessionPolicy { leeway: u64::MAX, ..policy };
        assert!(open_session(&ring, COOKIE, &sealed, &lax, c.idle_exp + 300).is_ok());
        assert_eq!(
            open_session(&ring, COOKIE, &sealed, &lax, c.idle_exp + 301).unwrap_err(),
            SessionError::IdleExpired
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn idle_refresh_is_throttled() {
        let ring = ring(&[("k", 1)]);
        let policy = SessionPolicy::default(); // refresh after 0.25 * 24 h = 21600 s
        let session = open_at(&ring, &seal_at(&ring, &claims(NOW)), NOW).unwrap();
        assert_eq!(session.needs_reissue(&policy, NOW), None);
        assert_eq!(session.needs_reissue(&policy, NOW + 21_599), None);
        assert_eq!(session.needs_reissue(&policy, NOW + 21_600), Some(ReissueReason::IdleRefresh));
        assert_eq!(session.needs_reissue(&policy, NOW - 30), None);
        let always = SessionPolicy { refresh_after: 0.0, ..policy };
        assert_eq!(session.needs_reissue(&always, NOW), Some(ReissueReason::IdleRefresh));
        let at_end = SessionPolicy { refresh_after: 1.0, ..policy };
        assert_eq!(session.needs_reissue(&at_end, NOW + DAY - 1), None);
        assert_eq!(session.needs_reissue(&at_end, NOW + DAY), Some(ReissueReason::IdleRefresh));

        // Refreshing moves iat and idle_exp only; the refreshed seal is quiet again.
        let later = NOW + 21_600;
        let refreshed = refresh(session.claims(), &policy, later);
        assert_eq!((refreshed.iat, refreshed.idle_exp), (later, later + DAY));
        let c = session.claims();
        assert_eq!(
            (&refreshed.sid, &refreshed.sub, refreshed.auth_time, refreshed.exp, &refreshed.data),
            (&c.sid, &c.sub, c.auth_time, c.exp, &c.data)
        );
        let session = open_at(&ring, &seal_at(&ring, &refreshed), later + 1).unwrap();
        assert_eq!(session.needs_reissue(&policy, later + 1), None);
        // A session used every few hours outlives its idle window but not its exp.
        let mut current = refreshed;
        let mut now = later;
        while now < current.exp + 3600 {
            now += 5 * 3600;
            match open_at(&ring, &seal_at(&ring, &current), now) {
                Ok(session) => current = refresh(session.claims(), &policy, now),
                Err(err) => {
                    assert_eq!(err, SessionError::Expired);
                    break;
                }
            }
        }
        assert!(now > current.exp + 60 && now <= current.exp + 5 * 3600 + 60, "{now}");
        assert_eq!(current.idle_exp, current.exp);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn refresh_edges() {
        let policy = SessionPolicy::default();
        let c = claims(NOW);
        // Near the absolute expiry the idle window is capped.
        let late = refresh(&c, &policy, c.exp - 10);
        assert_eq!((late.iat, late.idle_exp), (c.exp - 10, c.exp));
        // A clock behind the issuer's never moves iat backwards (auth_time <= iat holds).
        let behind = refresh(&c, &policy, NOW - 30);
        assert_eq!((behind.iat, behind.idle_exp), (NOW, NOW + DAY));
        let ring = ring(&[("k", 1)]);
        assert!(open_at(&ring, &seal_at(&ring, &behind), NOW - 30).is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn max_age_and_expires_at() {
        let c = claims(NOW);
        assert_eq!(max_age(&c, NOW), DAY);
        assert_eq!(max_age(&c, NOW + DAY - 1), 1);
        assert_eq!(max_age(&c, NOW + DAY), 0);
        assert_eq!(max_age(&c, u64::MAX), 0);
        let mut c = c;
        c.idle_exp = c.exp;
        assert_eq!(max_age(&c, NOW), 7 * DAY);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn inconsistent_claims_are_malformed() {
        let ring = ring(&[("k", 1)]);
        let mut c = claims(NOW);
        c.idle_exp = c.exp + 1;
        assert!(matches!(
            seal_claims(&ring, COOKIE, &c, &[0; 24]),
            Err(SessionError::MalformedClaims(_))
        ));
        let s = sid();
        let json = |iat: u64, at: u64, exp: u64, ie: u64, sub: &str| {
            format!(r#"{{"sid":"{s}","sub":"{sub}","iat":{iat},"at":{at},"exp":{exp},"ie":{ie}}}"#)
        };
        let malformed = |json: &str| match open_at(&ring, &seal_json(&ring, json), NOW) {
            Err(SessionError::MalformedClaims(why)) => why,
            other => panic!("{json}: {other:?}"),
        };
        assert!(malformed(&json(NOW, NOW, NOW + 10, NOW + 11, "a")).contains("idle expiry"));
        assert!(malformed(&json(NOW, NOW + 1, NOW + 10, NOW + 10, "a")).contains("auth_time"));
        assert!(malformed(&json(NOW, NOW, NOW + 10, NOW + 10, "")).contains("sub is empty"));
        assert!(malformed(&json(NOW, NOW, NOW + 10, NOW + 10, "a\\u0000")).contains("control"));
        assert!(open_at(&ring, &seal_json(&ring, &json(NOW, NOW, NOW + 10, NOW + 10, "a")), NOW)
            .is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn json_errors_never_quote_values() {
        let ring = ring(&[("k", 1)]);
        let s = sid();
        let cases = [
            (r#"not json SECRET"#.to_string(), "invalid JSON at line 1"),
            (r#"{"sid":"SECRET"#.to_string(), "truncated JSON"),
            (format!(r#"{{"sid":"{s}","sub":"a","iat":"SECRET"}}"#), "wrong type"),
            (format!(r#"{{"sid":"{s}","sub":"a","iat":-1}}"#), "wrong type"),
            (r#"{"sid":"SECRET-SECRET-SECRET-123","sub":"a"}"#.to_string(), SID_EXPECTED),
            (r#"{"sid":12,"sub":"SECRET"}"#.to_string(), "wrong type"),
            (
                format!(r#"{{"sid":"{s}","sub":"SECRET","iat":1,"at":1,"ie":1}}"#),
                "missing field `exp`",
            ),
            (
                format!(
                    r#"{{"sid":"{s}","sub":"a","sub":"SECRET","iat":1,"at":1,"exp":1,"ie":1}}"#
                ),
                "duplicate field `sub`",
            ),
            (
                format!(r#"{{"sid":"{s}","sub":"a","iat":1,"at":1,"exp":1,"ie":1,"d":"SECRET"}}"#),
                "wrong type",
            ),
            ("[]".to_string(), "wrong type"),
            (String::new(), "truncated JSON"),
        ];
        for (json, expected) in cases {
            let err = open_at(&ring, &seal_json(&ring, &json), NOW).unwrap_err();
            let SessionError::MalformedClaims(why) = &err else { panic!("{json}: {err:?}") };
            assert!(why.contains(expected), "{json}: {why}");
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains("SECRET"), "{text}");
            }
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn tampered_and_truncated_cookies_never_open() {
        let ring = ring(&[("k", 1)]);
        let sealed = seal_at(&ring, &claims(NOW));
        for end in 0..sealed.len() {
            assert!(open_at(&ring, &sealed[..end], NOW).is_err(), "{end}");
        }
        for position in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(open_at(&ring, &changed, NOW).is_err(), "{position}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod prop {
    use super::*;
    use crate::claims::prop::json_value;
    use crate::keyring::Kid;
    use proptest::prelude::*;
    use serde_json::Map;

    fn ring() -> KeyRing {
        KeyRing::from_raw(vec![(Kid::new("k").unwrap(), vec![1; 32])]).unwrap()
    }

    prop_compose! {
        /// Consistent claims that are current at the returned `now`.
        fn current_claims()(
            sid in any::<[u8; 16]>(),
            sub in "[^\\p{Cc}]{1,64}",
            auth_time in 0u64..1 << 40,
            since_auth in 0u64..1 << 20,
            since_iat in 0u64..1 << 20,
            to_idle in 0u64..1 << 20,
            idle_to_exp in 0u64..1 << 20,
            gen in any::<u64>(),
            data in proptest::collection::btree_map(".{0,8}", json_value(), 0..5),
        ) -> (Claims, u64) {
            let iat = auth_time + since_auth;
            let now = iat + since_iat;
            let idle_exp = now + to_idle;
            let claims = Claims {
                sid: Sid::from_random(sid),
                sub,
                iat,
                auth_time,
                exp: idle_exp + idle_to_exp,
                idle_exp,
                gen,
                data: SessionData::from_map(&data.into_iter().collect::<Map<_, _>>()),
            };
            (claims, now)
        }
    }

    proptest! {
        #[test]
        fn claims_round_trip((claims, now) in current_claims(), nonce in any::<[u8; 24]>()) {
            let ring = ring();
            let sealed = seal_claims(&ring, "c", &claims, &nonce).unwrap();
            let policy = SessionPolicy { leeway: 0, ..SessionPolicy::default() };
            let session = open_session(&ring, "c", &sealed, &policy, now).unwrap();
            prop_assert_eq!(session.claims(), &claims);
            prop_assert_eq!(max_age(&claims, now), session.expires_at() - now);
        }

        #[test]
        fn arbitrary_cookies_never_open(input in ".{0,400}", now in any::<u64>()) {
            let policy = SessionPolicy::default();
            prop_assert!(open_session(&ring(), "c", &input, &policy, now).is_err());
        }

        #[test]
        fn arbitrary_sealed_plaintext_never_panics(
            plaintext in proptest::collection::vec(any::<u8>(), 0..300),
            now in any::<u64>(),
        ) {
            let ring = ring();
            let sealed =
                seal::seal(&ring, &SealContext { name: "c", purpose: PURPOSE }, &plaintext, &[0; 24])
                    .unwrap();
            let _ = open_session(&ring, "c", &sealed, &SessionPolicy::default(), now);
        }

        #[test]
        fn arbitrary_policies_never_panic(
            (claims, now) in current_claims(),
            absolute_ttl in any::<u64>(), idle_ttl in any::<u64>(),
            refresh_after in any::<f64>(), leeway in any::<u64>(), later in any::<u64>(),
        ) {
            let policy = SessionPolicy { absolute_ttl, idle_ttl, refresh_after, leeway };
            let ring = ring();
            let sealed = seal_claims(&ring, "c", &claims, &[0; 24]).unwrap();
            if let Ok(session) = open_session(&ring, "c", &sealed, &policy, now) {
                let _ = session.needs_reissue(&policy, later);
                let refreshed = refresh(session.claims(), &policy, later);
                prop_assert!(refreshed.idle_exp <= refreshed.exp);
                prop_assert!(refreshed.auth_time <= refreshed.iat);
            }
            let _ = new_claims("a".into(), SessionData::empty(), claims.sid.clone(), &policy, later);
        }
    }
}
