//! JWS (compact JWT) issue and verification with an algorithm allow-list, built on
//! `jsonwebtoken` 11 with a custom crypto provider (HS256 and EdDSA only).
//!
//! # Two uses
//! - **`Edge-Session` assertion** (worker → origin): a short-lived (~60 s) token.
//!   With `ASSERTION_ALG=HS256` (the default) it is signed with HS256 whose key is the
//!   UTF-8 bytes of the `ORIGIN_SECRET` string shared with the origin, exactly as
//!   `jose` does with `new TextEncoder().encode(secret)` (so the string must be at
//!   least 32 bytes long), and the header carries no `kid`. With `ASSERTION_ALG=EdDSA`
//!   it is signed with the key ring's primary Ed25519 key and names its `kid`; the
//!   origin verifies it with the public JWKS (`/_session/jwks.json`) and holds no
//!   secret at all. `iss` is the edge issuer, `aud` the origin audience.
//! - **Bearer tokens** for API clients: HS256 with a key derived from the worker's key
//!   ring (`TOKEN_ALG=HS256`, the default) or EdDSA with the ring's Ed25519 key
//!   (`TOKEN_ALG=EdDSA`), the key id in the header's `kid`, `aud` = the bearer
//!   audience. The worker verifies them itself, looking the key up by `kid` and
//!   algorithm ([`verify_with`]).
//!
//! Both carry [`TokenClaims`].
//!
//! # Invariants
//! - The algorithms are HS256 and EdDSA (Ed25519). [`Alg`] is the allow-list type and
//!   cannot represent `none`; a header naming any other algorithm is
//!   [`JwtError::AlgorithmNotAllowed`] before any key is looked up.
//! - Every [`JwtKey`] is bound to one algorithm. A token whose (allowed) algorithm is
//!   not its key's is [`JwtError::KeyAlgorithmMismatch`]: an Ed25519 public key is
//!   never an HMAC secret, so HS/RS-style confusion cannot verify anything.
//! - No clock: `jsonwebtoken`'s own `exp`/`nbf` checks read the system clock (natively
//!   `SystemTime::now()`, which panics on `wasm32-unknown-unknown`; `Date` via js-sys on
//!   wasm32), while the core takes time only as an argument. So every claim check of the
//!   library is off (no path of ours reads its clock) and `exp`, `nbf`, `iat` are checked
//!   here against the caller's `now`, with [`Validation::leeway`].
//! - Order of checks in [`verify`]: length cap, header, algorithm allow-list, key id,
//!   signature, then registered claims (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`). No
//!   claim is looked at before the signature has been checked.
//! - HMAC tags are compared in constant time (`Mac::verify_slice`); Ed25519 signatures
//!   are checked with `verify_strict`.
//! - The process-wide `jsonwebtoken` `CryptoProvider` (see `provider.rs`) is installed
//!   on first use by [`mint`] and [`verify`] themselves. If a different provider was
//!   installed first, both functions refuse with [`JwtError::Provider`] instead of
//!   trusting (or panicking in) it.
//! - No token, key or claim value ever appears in an error message or `Debug` output.

mod key;
mod provider;
#[cfg(test)]
mod tests;

use std::fmt;

use jsonwebtoken::errors::{Error as LibError, ErrorKind as LibErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use key::{jwks, JwtKey, ED25519_KEY_LEN};
use provider::provider_ready;

use crate::data::SessionData;
use crate::{b64, hs256};

/// Smallest accepted HMAC key in bytes (RFC 7518 §3.2: at least the hash output size).
pub const MIN_KEY_LEN: usize = 32;
/// Default for [`Validation::max_token_len`], in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8192;
/// Default for [`Validation::leeway`], in seconds.
pub const DEFAULT_LEEWAY: u64 = 30;

/// Longest algorithm name echoed back in [`JwtError::AlgorithmNotAllowed`].
const MAX_ECHOED_ALG_LEN: usize = 32;

/// The algorithm allow-list type: the algorithms this crate signs and verifies with.
///
/// `none`, RSA, ECDSA and the other HMAC sizes are unrepresentable.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC using SHA-256 (RFC 7518 §3.2), with a shared secret.
    HS256,
    /// EdDSA with Ed25519 (RFC 8037 §3.1), with a public key anyone may hold.
    EdDSA,
}

impl Alg {
    /// Parses a JWS `alg` name (case-sensitive, as RFC 7515 says).
    ///
    /// # Errors
    /// [`JwtError::AlgorithmNotAllowed`] naming the algorithm for anything but `HS256`
    /// and `EdDSA`.
    pub fn parse(name: &str) -> Result<Alg, JwtError> {
        match name {
            "HS256" => Ok(Alg::HS256),
            "EdDSA" => Ok(Alg::EdDSA),
            other => Err(JwtError::AlgorithmNotAllowed(printable(other))),
        }
    }

    /// The JWS name of the algorithm, e.g. `"HS256"`.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn lib(self) -> Algorithm {
        match self {
            Alg::HS256 => Algorithm::HS256,
            Alg::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`verify`] requires of a token besides a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Required value of `iss`.
    pub issuer: String,
    /// Value that `aud` must be, or contain if it is an array.
    pub audience: String,
    /// Accepted header algorithms. Defaults to `[HS256]`; empty rejects every token.
    pub algorithms: Vec<Alg>,
    /// Clock-skew allowance in seconds for `exp`, `nbf` and `iat`. Defaults to
    /// [`DEFAULT_LEEWAY`].
    pub leeway: u64,
    /// Longest accepted token in bytes, checked before anything is decoded. Defaults to
    /// [`DEFAULT_MAX_TOKEN_LEN`].
    pub max_token_len: usize,
}

impl Validation {
    /// A validation for `issuer` and `audience` with the defaults of every other field.
    ///
    /// # Example
    /// ```
    /// use edge_session::jwt::{Alg, Validation};
    /// let v = Validation::new("edge-session", "origin");
    /// assert_eq!(v.algorithms, vec![Alg::HS256]);
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Validation {
        Validation {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: vec![Alg::HS256],
            leeway: DEFAULT_LEEWAY,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// Claims of both token kinds the worker mints (origin assertion and bearer token).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TokenClaims {
    /// Issuer.
    pub iss: String,
    /// Audience (origin audience or bearer audience).
    pub aud: String,
    /// Subject: the user.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Not before (Unix seconds).
    pub nbf: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// When the user authenticated (Unix seconds).
    pub auth_time: u64,
    /// Per-user revocation generation.
    #[serde(default)]
    pub gen: u64,
    /// The application's session data: a JSON object, kept as text.
    #[serde(default)]
    pub data: SessionData,
    /// Token id, for bearer tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
    /// True when the session had data that this token leaves out to stay within
    /// the bearer size limit (`TOKEN_DATA=fit`); absent otherwise.
    #[serde(skip_serializing_if = "is_false", default)]
    pub data_omitted: bool,
    /// In an assertion for a cookie session: when the session ends at the latest
    /// (its absolute expiry). Absent in bearer tokens and their assertions.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_exp: Option<u64>,
    /// In an assertion for a cookie session: when the session ends if the user is
    /// idle, counted from this request (the cookie answered to it says the same,
    /// unless the origin changes the session). Absent in bearer tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idle_exp: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why a token could not be minted or was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// The token is longer than [`Validation::max_token_len`].
    TooLong {
        /// Length of the token in bytes.
        len: usize,
        /// The cap in bytes.
        max: usize,
    },
    /// The token is not a well-formed compact JWS; the text says which part is wrong.
    Malformed(&'static str),
    /// The header names an algorithm outside the allow-list (its name, truncated).
    AlgorithmNotAllowed(String),
    /// No key is known for the header's `kid` (or for its absence).
    UnknownKid,
    /// The signature does not match: tampered token or wrong key.
    BadSignature,
    /// `exp` + leeway is before now.
    Expired,
    /// `nbf` is after now + leeway.
    NotYetValid,
    /// `iat` is after now + leeway.
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not name the expected audience.
    WrongAudience,
    /// A required claim is absent (or `null`).
    MissingClaim(&'static str),
    /// The header's algorithm is allowed, but the key found for its `kid` is bound to
    /// another algorithm (e.g. `HS256` presented against an Ed25519 public key).
    KeyAlgorithmMismatch {
        /// The algorithm the token header names.
        token: Alg,
        /// The algorithm of the key its `kid` maps to.
        key: Alg,
    },
    /// The HMAC key is shorter than [`MIN_KEY_LEN`].
    WeakKey {
        /// Length of the rejected key in bytes.
        len: usize,
    },
    /// A public key or JWK is unusable; the text says why (no key material).
    InvalidKey(&'static str),
    /// The token could not be built (claims not serializable to a JSON object).
    Encode(String),
    /// A `jsonwebtoken` crypto provider other than this module's was installed first.
    Provider,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use JwtError as E;
        let text = match self {
            E::TooLong { len, max } => {
                return write!(f, "token is {len} bytes; at most {max} are accepted")
            }
            E::Malformed(what) => return write!(f, "malformed token: {what}"),
            E::AlgorithmNotAllowed(alg) => {
                return write!(
                    f,
                    "token algorithm `{alg}` is not allowed (HS256 and EdDSA are supported)"
                )
            }
            E::KeyAlgorithmMismatch { token, key } => {
                return write!(
                    f,
                    "token algorithm `{token}` does not match its key, which is a {key} key"
                )
            }
            E::InvalidKey(why) => return write!(f, "unusable key: {why}"),
            E::MissingClaim(claim) => return write!(f, "token lacks required claim `{claim}`"),
            E::WeakKey { len } => {
                return write!(f, "HMAC key is {len} bytes; at least {MIN_KEY_LEN} are required")
            }
            E::Encode(why) => return write!(f, "cannot build token: {why}"),
            E::UnknownKid => "token names a key id that no known key has",
            E::BadSignature => "token signature does not match (tampered token or wrong key)",
            E::Expired => "token has expired (`exp` + leeway is in the past)",
            E::NotYetValid => "token is not valid yet (`nbf` is beyond now + leeway)",
            E::IssuedInFuture => "token was issued in the future (`iat` beyond now + leeway)",
            E::WrongIssuer => "token `iss` is not the expected issuer",
            E::WrongAudience => "token `aud` does not contain the expected audience",
            E::Provider => "a foreign jsonwebtoken CryptoProvider was installed first; refusing",
        };
        f.write_str(text)
    }
}

impl std::error::Error for JwtError {}

/// Signs `claims` (which must serialize to a JSON object) with `key`'s algorithm; the
/// header is `{"alg":"HS256"|"EdDSA","typ":"JWT"}` plus `kid` if given.
///
/// # Errors
/// [`JwtError::Encode`] if the claims do not serialize to a JSON object or `key` is a
/// public key alone, [`JwtError::Provider`] if a foreign crypto provider is installed.
///
/// # Example
/// ```
/// use edge_session::jwt::{mint, verify, JwtKey, TokenClaims, Validation};
/// let key = JwtKey::from_bytes(b"an-origin-secret-of-32-bytes-or-more").unwrap();
/// let claims = TokenClaims {
///     iss: "edge-session".into(), aud: "origin".into(), sub: "ada".into(),
///     sid: "s1".into(), iat: 100, nbf: 100, exp: 160, auth_time: 90, gen: 0,
///     data: Default::default(), jti: None, data_omitted: false,
///     session_exp: None, idle_exp: None,
/// };
/// let token = mint(&claims, &key, None).unwrap();
/// let v = Validation::new("edge-session", "origin");
/// let back: TokenClaims = verify(&token, |_| Some(&key), &v, 120).unwrap();
/// assert_eq!(back, claims);
/// ```
pub fn mint<C: Serialize>(claims: &C, key: &JwtKey, kid: Option<&str>) -> Result<String, JwtError> {
    provider_ready()?;
    if !key.can_sign() {
        return Err(JwtError::Encode("an EdDSA public key cannot sign".into()));
    }
    let not_json =
        |e: serde_json::Error| JwtError::Encode(format!("claims do not serialize to JSON: {e}"));
    let not_object = || JwtError::Encode("claims must serialize to a JSON object".into());
    match key.hs256() {
        // The per-request path: claims serialized once, signed in the hot-path crate.
        Some(prepared) => {
            let claims_json = serde_json::to_vec(claims).map_err(not_json)?;
            if claims_json.first() != Some(&b'{') {
                return Err(not_object());
            }
            Ok(prepared.sign(&jws_header(Alg::HS256, kid)?, &claims_json))
        }
        None => {
            let value = serde_json::to_value(claims).map_err(not_json)?;
            if !value.is_object() {
                return Err(not_object());
            }
            mint_eddsa(&value, key, kid)
        }
    }
}

/// The protected header `{"alg":…,"kid":…,"typ":"JWT"}`, `kid` only when given.
fn jws_header(alg: Alg, kid: Option<&str>) -> Result<String, JwtError> {
    #[derive(Serialize)]
    struct JwsHeader<'a> {
        alg: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        kid: Option<&'a str>,
        typ: &'a str,
    }
    if alg == Alg::HS256 && kid.is_none() {
        // The per-request assertion: the same bytes, without running the serializer.
        return Ok(hs256::HEADER.to_owned());
    }
    serde_json::to_string(&JwsHeader { alg: alg.name(), kid, typ: "JWT" })
        .map_err(|e| JwtError::Encode(format!("the header does not serialize: {e}")))
}

/// EdDSA compact JWS (RFC 7515 §7.1, RFC 8037 §3.1): the key pair signs the ASCII
/// signing input `b64url(header).b64url(claims)` directly.
fn mint_eddsa(claims: &Value, key: &JwtKey, kid: Option<&str>) -> Result<String, JwtError> {
    let mut token = b64::encode_url(jws_header(Alg::EdDSA, kid)?.as_bytes());
    token.push('.');
    token.push_str(&b64::encode_url(claims.to_string().as_bytes()));
    let signature = key
        .ed25519_sign(token.as_bytes())
        .ok_or_else(|| JwtError::Encode("the key cannot sign EdDSA".into()))?;
    token.push('.');
    token.push_str(&b64::encode_url(&signature));
    Ok(token)
}

/// Verifies a compact JWS and returns its claims.
///
/// `keys` maps the header's `kid` (or `None` when absent) to the key to check with;
/// the key must be bound to the header's algorithm. `now` is the current Unix time in
/// seconds. See the module doc for the order of checks. Required claims: `exp`,
/// `iss`, `aud`, `sub`; `nbf` and `iat` are checked when present.
///
/// # Errors
/// Every [`JwtError`] variant except `WeakKey`, `InvalidKey` and `Encode`, by the
/// first check failing.
pub fn verify<'k, C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(Option<&str>) -> Option<&'k JwtKey>,
    validation: &Validation,
    now: u64,
) -> Result<C, JwtError> {
    verify_with(token, |kid, _| keys(kid), validation, now)
}

/// Like [`verify`], but `keys` also receives the header's (allowed) algorithm, for a
/// key ring that holds one key per `(kid, algorithm)`: an HMAC secret and an Ed25519
/// key under the same kid. Whatever `keys` returns must still be bound to that
/// algorithm ([`JwtError::KeyAlgorithmMismatch`] otherwise).
///
/// # Errors
/// As [`verify`].
pub fn verify_with<'k, C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(Option<&str>, Alg) -> Option<&'k JwtKey>,
    validation: &Validation,
    now: u64,
) -> Result<C, JwtError> {
    if token.len() > validation.max_token_len {
        return Err(JwtError::TooLong { len: token.len(), max: validation.max_token_len });
    }
    let mut segments = token.split('.');
    let header_b64 = match (segments.next(), segments.next(), segments.next(), segments.next()) {
        (Some(header), Some(_), Some(_), None) => header,
        _ => return Err(JwtError::Malformed("expected three `.`-separated segments")),
    };
    let (alg, kid) = parse_header(header_b64)?;
    if !validation.algorithms.contains(&alg) {
        return Err(JwtError::AlgorithmNotAllowed(alg.name().to_owned()));
    }
    let key = keys(kid.as_deref(), alg).ok_or(JwtError::UnknownKid)?;
    if key.alg() != alg {
        return Err(JwtError::KeyAlgorithmMismatch { token: alg, key: key.alg() });
    }
    provider_ready()?;
    // Verify the signature over `header.payload` directly: `jsonwebtoken::decode`
    // would deserialize its full `Header` type, whose embedded `Jwk` parser alone
    // costs ~40 KB of wasm; the header was already parsed above.
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("expected three `.`-separated segments"))?;
    let valid = match (key.hs256(), key.ed25519_public_bytes()) {
        // HS256 (the key is bound to it, checked above): in the hot-path crate.
        (Some(prepared), _) => prepared.verify(message.as_bytes(), signature),
        (None, Some(public)) => jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            &DecodingKey::from_ed_der(&public),
            alg.lib(),
        )
        .map_err(|e| map_lib_error(&e, alg))?,
        (None, None) => return Err(JwtError::InvalidKey("the key has no verifying half")),
    };
    if !valid {
        return Err(JwtError::BadSignature);
    }
    let payload = message.split_once('.').map(|(_, p)| p).unwrap_or_default();
    let payload =
        b64::decode_url(payload).ok_or(JwtError::Malformed("payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| JwtError::Malformed("claims are not a JSON object"))?;
    check_registered_claims(&claims, validation, now)?;
    serde_json::from_value(Value::Object(claims))
        .map_err(|_| JwtError::Malformed("claims do not have the expected shape"))
}

/// Decodes the header far enough to apply the allow-list: `(alg, kid)`.
fn parse_header(header_b64: &str) -> Result<(Alg, Option<String>), JwtError> {
    let bytes =
        b64::decode_url(header_b64).ok_or(JwtError::Malformed("header is not base64url"))?;
    // A struct (not a map) so that a repeated `alg`, `kid` or `crit` is an error
    // instead of "last one wins"; other members are ignored.
    #[derive(serde::Deserialize)]
    struct RawHeader {
        alg: Option<Value>,
        kid: Option<Value>,
        crit: Option<Value>,
    }
    let header: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Malformed("header is not a JSON object"))?;
    let alg = match &header.alg {
        Some(Value::String(name)) => Alg::parse(name)?,
        _ => return Err(JwtError::Malformed("header has no `alg` string")),
    };
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we know none.
    if header.crit.is_some() {
        return Err(JwtError::Malformed("header lists `crit` extensions; none are supported"));
    }
    let kid = match header.kid {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(JwtError::Malformed("header `kid` is not a string")),
    };
    Ok((alg, kid))
}

fn map_lib_error(error: &LibError, alg: Alg) -> JwtError {
    match error.kind() {
        LibErrorKind::InvalidSignature => JwtError::BadSignature,
        LibErrorKind::InvalidEddsaKey | LibErrorKind::InvalidKeyFormat => {
            JwtError::InvalidKey("the key does not fit the token's algorithm")
        }
        LibErrorKind::InvalidAlgorithm
        | LibErrorKind::UnsupportedAlgorithm
        | LibErrorKind::MissingAlgorithm => JwtError::AlgorithmNotAllowed(alg.name().to_owned()),
        LibErrorKind::Base64(_) => JwtError::Malformed("a segment is not unpadded base64url"),
        LibErrorKind::Json(_) | LibErrorKind::Utf8(_) => {
            JwtError::Malformed("header or claims are not valid JSON")
        }
        LibErrorKind::InvalidToken => JwtError::Malformed("expected three `.`-separated segments"),
        _ => JwtError::Malformed("rejected by the JWS decoder"),
    }
}

/// Checks `exp`, `nbf`, `iat`, `iss`, `aud` and `sub` against `validation` and `now`.
fn check_registered_claims(
    claims: &Map<String, Value>,
    validation: &Validation,
    now: u64,
) -> Result<(), JwtError> {
    let leeway = validation.leeway;
    let exp = numeric_date(claims, "exp", "`exp` is not a non-negative integer")?
        .ok_or(JwtError::MissingClaim("exp"))?;
    if exp.saturating_add(leeway) < now {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf", "`nbf` is not a non-negative integer")? {
        if nbf > now.saturating_add(leeway) {
            return Err(JwtError::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(claims, "iat", "`iat` is not a non-negative integer")? {
        if iat > now.saturating_add(leeway) {
            return Err(JwtError::IssuedInFuture);
        }
    }
    match present(claims, "iss") {
        None => return Err(JwtError::MissingClaim("iss")),
        Some(Value::String(iss)) if *iss == validation.issuer => {}
        Some(Value::String(_)) => return Err(JwtError::WrongIssuer),
        Some(_) => return Err(JwtError::Malformed("`iss` is not a string")),
    }
    let audience = validation.audience.as_str();
    let aud_ok = match present(claims, "aud") {
        None => return Err(JwtError::MissingClaim("aud")),
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(items)) => {
            let mut found = false;
            for item in items {
                match item {
                    Value::String(aud) => found |= aud == audience,
                    _ => return Err(JwtError::Malformed("`aud` array holds a non-string")),
                }
            }
            found
        }
        Some(_) => return Err(JwtError::Malformed("`aud` is not a string or array")),
    };
    if !aud_ok {
        return Err(JwtError::WrongAudience);
    }
    match present(claims, "sub") {
        None => Err(JwtError::MissingClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() => Ok(()),
        Some(_) => Err(JwtError::Malformed("`sub` is not a non-empty string")),
    }
}

/// The claim's value, treating `null` as absent.
fn present<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    claims.get(name).filter(|v| !v.is_null())
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
    malformed: &'static str,
) -> Result<Option<u64>, JwtError> {
    match present(claims, name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(JwtError::Malformed(malformed)),
    }
}

/// An attacker-chosen name made safe to echo: at most 32 chars, printable ASCII only.
fn printable(name: &str) -> String {
    name.chars()
        .take(MAX_ECHOED_ALG_LEN)
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect()
}
