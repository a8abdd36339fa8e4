//! JWS (compact JWT) issue and verification with an algorithm allow-list, built on
//! `jsonwebtoken` 11 with a custom HS256-only crypto provider.
//!
//! # Two uses
//! - **`Edge-Session` assertion** (worker → origin): a short-lived (~60 s) token signed
//!   with HS256 whose key is the UTF-8 bytes of the `ORIGIN_SECRET` string shared with
//!   the origin, exactly as `jose` does with `new TextEncoder().encode(secret)`; the
//!   string must therefore be at least 32 bytes long. `iss` is the edge issuer, `aud`
//!   the origin audience, and the header carries no `kid`. Any JWT library verifies it.
//! - **Bearer tokens** for API clients: HS256 with a key derived from the worker's key
//!   ring, the key id in the header's `kid`, `aud` = the bearer audience. The worker
//!   verifies them itself, looking the key up by `kid`.
//!
//! Both carry [`TokenClaims`].
//!
//! # Invariants
//! - The only algorithm is HS256. [`Alg`] is the allow-list type and cannot represent
//!   `none`; a header naming any other algorithm is [`JwtError::AlgorithmNotAllowed`]
//!   before any key is looked up.
//! - No clock: `jsonwebtoken`'s own `exp`/`nbf` checks read the system clock (natively
//!   `SystemTime::now()`, which panics on `wasm32-unknown-unknown`; `Date` via js-sys on
//!   wasm32), while the core takes time only as an argument. So every claim check of the
//!   library is off (no path of ours reads its clock) and `exp`, `nbf`, `iat` are checked
//!   here against the caller's `now`, with [`Validation::leeway`].
//! - Order of checks in [`verify`]: length cap, header, algorithm allow-list, key id,
//!   signature, then registered claims (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`). No
//!   claim is looked at before the signature has been checked.
//! - Signatures are compared in constant time (`Mac::verify_slice`).
//! - The process-wide `jsonwebtoken` [`CryptoProvider`] is installed on first use by
//!   [`mint`] and [`verify`] themselves. It links HMAC-SHA256 only; its JWK helpers are
//!   the library's panicking placeholders and no code path here reaches them. If a
//!   different provider was installed first, both functions refuse with
//!   [`JwtError::Provider`] instead of trusting (or panicking in) it.
//! - No token, key or claim value ever appears in an error message or `Debug` output.

use std::fmt;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error as LibError, ErrorKind as LibErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::b64;

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
/// `none` (and every asymmetric algorithm) is unrepresentable.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC using SHA-256 (RFC 7518 §3.2).
    HS256,
}

impl Alg {
    /// Parses a JWS `alg` name (case-sensitive, as RFC 7515 says).
    ///
    /// # Errors
    /// [`JwtError::AlgorithmNotAllowed`] naming the algorithm for anything but `HS256`.
    pub fn parse(name: &str) -> Result<Alg, JwtError> {
        match name {
            "HS256" => Ok(Alg::HS256),
            other => Err(JwtError::AlgorithmNotAllowed(printable(other))),
        }
    }

    /// The JWS name of the algorithm, e.g. `"HS256"`.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
        }
    }

    fn lib(self) -> Algorithm {
        match self {
            Alg::HS256 => Algorithm::HS256,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret HMAC key: private bytes, redacted `Debug`, constant-time equality, zeroized
/// on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct JwtKey(Vec<u8>);

impl JwtKey {
    /// Wraps secret key bytes (for the origin assertion: the UTF-8 bytes of the shared
    /// secret string).
    ///
    /// # Errors
    /// [`JwtError::WeakKey`] if `bytes` is shorter than [`MIN_KEY_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<JwtKey, JwtError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(JwtError::WeakKey { len: bytes.len() });
        }
        Ok(JwtKey(bytes.to_vec()))
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtKey([redacted; {} bytes])", self.0.len())
    }
}

impl PartialEq for JwtKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for JwtKey {}

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
    /// The application's session data.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Token id, for bearer tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
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
    /// The HMAC key is shorter than [`MIN_KEY_LEN`].
    WeakKey {
        /// Length of the rejected key in bytes.
        len: usize,
    },
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
                return write!(f, "token algorithm `{alg}` is not allowed (HS256 is)")
            }
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

/// Signs `claims` (which must serialize to a JSON object) with HS256; the header is
/// `{"alg":"HS256","typ":"JWT"}` plus `kid` if given.
///
/// # Errors
/// [`JwtError::Encode`] if the claims do not serialize to a JSON object,
/// [`JwtError::Provider`] if a foreign crypto provider is installed.
///
/// # Example
/// ```
/// use edge_session::jwt::{mint, verify, JwtKey, TokenClaims, Validation};
/// let key = JwtKey::from_bytes(b"an-origin-secret-of-32-bytes-or-more").unwrap();
/// let claims = TokenClaims {
///     iss: "edge-session".into(), aud: "origin".into(), sub: "ada".into(),
///     sid: "s1".into(), iat: 100, nbf: 100, exp: 160, auth_time: 90, gen: 0,
///     data: Default::default(), jti: None,
/// };
/// let token = mint(&claims, &key, None).unwrap();
/// let v = Validation::new("edge-session", "origin");
/// let back: TokenClaims = verify(&token, |_| Some(&key), &v, 120).unwrap();
/// assert_eq!(back, claims);
/// ```
pub fn mint<C: Serialize>(claims: &C, key: &JwtKey, kid: Option<&str>) -> Result<String, JwtError> {
    provider_ready()?;
    let value = serde_json::to_value(claims)
        .map_err(|e| JwtError::Encode(format!("claims do not serialize to JSON: {e}")))?;
    if !value.is_object() {
        return Err(JwtError::Encode("claims must serialize to a JSON object".into()));
    }
    let mut header = Header::new(Alg::HS256.lib());
    header.kid = kid.map(str::to_owned);
    let encoding_key = EncodingKey::from_secret(key.as_bytes());
    jsonwebtoken::encode(&header, &value, &encoding_key)
        .map_err(|e| JwtError::Encode(e.to_string()))
}

/// Verifies a compact JWS and returns its claims.
///
/// `keys` maps the header's `kid` (or `None` when absent) to the key to check with.
/// `now` is the current Unix time in seconds. See the module doc for the order of
/// checks. Required claims: `exp`, `iss`, `aud`, `sub`; `nbf` and `iat` are checked
/// when present.
///
/// # Errors
/// Every [`JwtError`] variant except `WeakKey` and `Encode`, by the first check failing.
pub fn verify<'k, C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(Option<&str>) -> Option<&'k JwtKey>,
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
    let key = keys(kid.as_deref()).ok_or(JwtError::UnknownKid)?;

    provider_ready()?;
    let decoded = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(key.as_bytes()),
        &clock_free_validation(alg),
    )
    .map_err(|e| map_lib_error(&e, alg))?;
    let Value::Object(claims) = decoded.claims else {
        return Err(JwtError::Malformed("claims are not a JSON object"));
    };
    check_registered_claims(&claims, validation, now)?;
    serde_json::from_value(Value::Object(claims))
        .map_err(|_| JwtError::Malformed("claims do not have the expected shape"))
}

/// Decodes the header far enough to apply the allow-list: `(alg, kid)`.
fn parse_header(header_b64: &str) -> Result<(Alg, Option<String>), JwtError> {
    let bytes =
        b64::decode_url(header_b64).ok_or(JwtError::Malformed("header is not base64url"))?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Malformed("header is not a JSON object"))?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Alg::parse(name)?,
        _ => return Err(JwtError::Malformed("header has no `alg` string")),
    };
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we know none.
    if header.contains_key("crit") {
        return Err(JwtError::Malformed("header lists `crit` extensions; none are supported"));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("header `kid` is not a string")),
    };
    Ok((alg, kid))
}

/// A `jsonwebtoken::Validation` that checks only the algorithm and signature: every
/// claim check (and with it every read of the system clock) is off.
fn clock_free_validation(alg: Alg) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg.lib());
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.reject_tokens_expiring_in_less_than = 0;
    v // `iss`, `sub`, `aud` stay `None`: nothing else is compared.
}

fn map_lib_error(error: &LibError, alg: Alg) -> JwtError {
    match error.kind() {
        LibErrorKind::InvalidSignature => JwtError::BadSignature,
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

// ----- the HS256-only crypto provider -----

type HmacSha256 = Hmac<Sha256>;

/// HS256 signer and verifier: a keyed HMAC state, cloned for every message.
struct Hs256(HmacSha256);

impl jsonwebtoken::signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl jsonwebtoken::signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        // Constant-time comparison of the whole tag.
        mac.verify_slice(tag).map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn hmac_for(
    algorithm: &Algorithm,
    family: AlgorithmFamily,
    key: &[u8],
) -> Result<HmacSha256, LibError> {
    if *algorithm != Algorithm::HS256 {
        return Err(LibErrorKind::UnsupportedAlgorithm.into());
    }
    if family != AlgorithmFamily::Hmac {
        return Err(LibErrorKind::InvalidKeyFormat.into());
    }
    <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| LibErrorKind::InvalidKeyFormat.into())
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, LibError> {
    Ok(Box::new(Hs256(hmac_for(algorithm, key.family(), key.as_bytes())?)))
}

fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> Result<Box<dyn JwtVerifier>, LibError> {
    let bytes = key.try_get_as_bytes()?;
    Ok(Box::new(Hs256(hmac_for(algorithm, key.family(), bytes)?)))
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs [`PROVIDER`] once; tells whether it is the one in force.
fn provider_ready() -> Result<(), JwtError> {
    static OURS: OnceLock<bool> = OnceLock::new();
    let ours = *OURS.get_or_init(|| match PROVIDER.install_default() {
        Ok(()) => true,
        Err(existing) => std::ptr::eq(existing, &PROVIDER),
    });
    if ours {
        Ok(())
    } else {
        Err(JwtError::Provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-origin";
    const NOW: u64 = 1_700_000_030;
    const LEEWAY: u64 = DEFAULT_LEEWAY;

    fn key() -> JwtKey {
        JwtKey::from_bytes(SECRET).unwrap()
    }

    fn val() -> Validation {
        Validation::new("edge-session", "origin")
    }

    fn claims() -> TokenClaims {
        serde_json::from_value(json!({"iss": "edge-session", "aud": "origin", "sub": "ada",
            "sid": "s1", "iat": NOW, "nbf": NOW, "exp": NOW + 60, "auth_time": NOW - 9,
            "gen": 2, "data": {"name": "ada"}}))
        .unwrap()
    }

    /// An independent HS256 signer over a raw `header.payload` (hmac crate, no jsonwebtoken).
    fn sign_message(message: &str, secret: &[u8]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", b64::encode_url(&mac.finalize().into_bytes()))
    }

    fn sign_raw(header: &str, claims: &str) -> String {
        let (h, c) = (b64::encode_url(header.as_bytes()), b64::encode_url(claims.as_bytes()));
        sign_message(&format!("{h}.{c}"), SECRET)
    }

    /// Base registered claims with `name` set to `value` (`None`: removed), signed.
    fn with(name: &str, value: Option<Value>) -> String {
        let mut c = json!({"iss": "edge-session", "aud": "origin", "sub": "ada", "exp": NOW + 60});
        match value {
            Some(v) => c[name] = v,
            None => drop(c.as_object_mut().unwrap().remove(name)),
        }
        sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c.to_string())
    }

    fn check_at(token: &str, v: &Validation, now: u64) -> Result<Value, JwtError> {
        let k = key();
        verify(token, |_| Some(&k), v, now)
    }

    fn check(token: &str) -> Result<Value, JwtError> {
        check_at(token, &val(), NOW)
    }

    fn is_malformed(r: Result<Value, JwtError>) -> bool {
        matches!(r, Err(JwtError::Malformed(_)))
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn mint_then_verify_round_trips_with_and_without_kid() {
        let k = key();
        let token = mint(&claims(), &k, None).unwrap();
        assert_eq!(verify(&token, |_| Some(&k), &val(), NOW), Ok(claims()));
        let header = b64::decode_url(token.split('.').next().unwrap()).unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));

        let other = JwtKey::from_bytes(&[7u8; 32]).unwrap();
        let token = mint(&claims(), &k, Some("k2")).unwrap();
        let ring = |kid: Option<&str>| match kid {
            Some("k1") => Some(&other),
            Some("k2") => Some(&k),
            _ => None,
        };
        assert_eq!(verify(&token, ring, &val(), NOW), Ok(claims()));
        // The same token under a ring that maps `k2` to another key fails.
        let swapped = |kid: Option<&str>| kid.map(|_| &other);
        assert_eq!(verify::<Value>(&token, swapped, &val(), NOW), Err(JwtError::BadSignature));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn known_answer_token_minted_by_jose_verifies() {
        // Minted by `jose` 5 (SignJWT, HS256, key = TextEncoder().encode(secret)).
        let secret = b"edge-session-known-answer-secret-0123456789";
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.\
            eyJzaWQiOiJzaWQta2F0LTEiLCJhdXRoX3RpbWUiOjE3MDAwMDAwMDAsImdlbiI6MywiZGF0YSI6eyJuYW1l\
            IjoiYWRhIiwibG9naW5zIjoyfSwiaXNzIjoiZWRnZS1zZXNzaW9uIiwiYXVkIjoib3JpZ2luIiwic3ViIjoi\
            YWRhIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDA2MH0.\
            ym0aXbU6mZl1_d_eSgBsrkI7vnfsMQt-tYsvUVv9OyQ";
        // The signature, recomputed independently with the hmac crate.
        let (message, _) = token.rsplit_once('.').unwrap();
        assert_eq!(sign_message(message, secret), token);

        let k = JwtKey::from_bytes(secret).unwrap();
        let ring = |kid: Option<&str>| (kid == Some("k1")).then_some(&k);
        let got: TokenClaims = verify(token, ring, &val(), 1_700_000_010).unwrap();
        let want: TokenClaims = serde_json::from_value(json!({"iss": "edge-session",
            "aud": "origin", "sub": "ada", "sid": "sid-kat-1", "iat": 1_700_000_000u64,
            "nbf": 1_700_000_000u64, "exp": 1_700_000_060u64, "auth_time": 1_700_000_000u64,
            "gen": 3, "data": {"name": "ada", "logins": 2}}))
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(want.data.get("logins"), Some(&json!(2)));
        // The same claims minted by us verify under the same ring.
        let ours = mint(&want, &k, Some("k1")).unwrap();
        assert_eq!(verify(&ours, ring, &val(), 1_700_000_010), Ok(want));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn disallowed_algorithms_are_rejected_before_key_lookup() {
        let payload =
            b64::encode_url(br#"{"iss":"edge-session","aud":"origin","sub":"a","exp":9}"#);
        let none = format!("{}.{payload}.", b64::encode_url(br#"{"alg":"none"}"#));
        let panicking_ring = |_: Option<&str>| -> Option<&JwtKey> { panic!("key looked up") };
        let err = verify::<Value>(&none, panicking_ring, &val(), NOW).unwrap_err();
        assert_eq!(err, JwtError::AlgorithmNotAllowed("none".into()));
        assert!(err.to_string().contains("`none`"), "{err}");

        for alg in ["HS384", "HS512", "RS256", "hs256", "None", ""] {
            let token = sign_raw(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), r#"{"sub":"a"}"#);
            assert_eq!(check(&token), Err(JwtError::AlgorithmNotAllowed(alg.into())));
        }
        // An empty allow-list rejects even HS256.
        let v = Validation { algorithms: vec![], ..val() };
        let err = check_at(&with("sub", None), &v, NOW);
        assert_eq!(err, Err(JwtError::AlgorithmNotAllowed("HS256".into())));
        // A hostile name is truncated and made printable before being echoed.
        let long = format!("{}\n", "X".repeat(100));
        assert_eq!(Alg::parse(&long), Err(JwtError::AlgorithmNotAllowed("X".repeat(32))));
        assert_eq!(Alg::parse("a\u{7}b"), Err(JwtError::AlgorithmNotAllowed("a?b".into())));
        assert_eq!(Alg::HS256.to_string(), "HS256");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn tampering_and_wrong_keys_are_bad_signatures() {
        let token = mint(&claims(), &key(), None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let (header, payload, signature) = (parts[0], parts[1], parts[2]);
        let mut evil = claims();
        evil.sub = "root".into();
        let evil = b64::encode_url(serde_json::to_string(&evil).unwrap().as_bytes());
        assert_eq!(check(&format!("{header}.{evil}.{signature}")), Err(JwtError::BadSignature));

        let mut sig = b64::decode_url(signature).unwrap();
        sig[0] ^= 1;
        for bad in [&sig[..], &sig[..31], &[]] {
            let token = format!("{header}.{payload}.{}", b64::encode_url(bad));
            assert_eq!(check(&token), Err(JwtError::BadSignature));
        }
        let wrong = JwtKey::from_bytes(b"another-secret-that-is-long-enough!!").unwrap();
        let result = verify::<Value>(&token, |_| Some(&wrong), &val(), NOW);
        assert_eq!(result, Err(JwtError::BadSignature));
        // Signature is checked before the claims: unsigned junk claims are BadSignature.
        assert_eq!(check(&format!("{header}.%%%.{signature}")), Err(JwtError::BadSignature));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn unknown_kid_is_reported() {
        let k = key();
        let ring = |kid: Option<&str>| (kid == Some("k1")).then_some(&k);
        for kid in [Some("k9"), None] {
            let token = mint(&claims(), &k, kid).unwrap();
            assert_eq!(verify::<Value>(&token, ring, &val(), NOW), Err(JwtError::UnknownKid));
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn time_claims_respect_leeway_edges() {
        let token = mint(&claims(), &key(), None).unwrap();
        let exp = claims().exp;
        assert!(check_at(&token, &val(), exp + LEEWAY).is_ok());
        assert_eq!(check_at(&token, &val(), exp + LEEWAY + 1), Err(JwtError::Expired));
        let strict = Validation { leeway: 0, ..val() };
        assert!(check_at(&token, &strict, exp).is_ok());
        assert_eq!(check_at(&token, &strict, exp + 1), Err(JwtError::Expired));
        // nbf = iat = NOW: fine up to `leeway` seconds early, not one more.
        assert!(check_at(&token, &val(), NOW - LEEWAY).is_ok());
        assert_eq!(check_at(&token, &strict, NOW - 1), Err(JwtError::NotYetValid));
        assert_eq!(check(&with("nbf", Some(json!(NOW + LEEWAY + 1)))), Err(JwtError::NotYetValid));
        assert!(check(&with("iat", Some(json!(NOW + LEEWAY)))).is_ok());
        let future = with("iat", Some(json!(NOW + LEEWAY + 1)));
        assert_eq!(check(&future), Err(JwtError::IssuedInFuture));
        // Extreme values do not overflow.
        assert!(check_at(&with("exp", Some(json!(u64::MAX))), &val(), u64::MAX).is_ok());
        assert_eq!(
            check_at(&with("exp", Some(json!(0))), &val(), u64::MAX),
            Err(JwtError::Expired)
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn issuer_and_audience_must_match() {
        assert_eq!(check(&with("iss", Some(json!("someone")))), Err(JwtError::WrongIssuer));
        assert_eq!(check(&with("aud", Some(json!("bearer")))), Err(JwtError::WrongAudience));
        assert!(check(&with("aud", Some(json!(["api", "origin"])))).is_ok());
        assert_eq!(check(&with("aud", Some(json!(["Origin"])))), Err(JwtError::WrongAudience));
        assert_eq!(check(&with("aud", Some(json!([])))), Err(JwtError::WrongAudience));
        assert!(is_malformed(check(&with("aud", Some(json!(["origin", 5]))))));
        assert!(is_malformed(check(&with("aud", Some(json!({"origin": true}))))));
        assert!(is_malformed(check(&with("iss", Some(json!(["edge-session"]))))));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn required_claims_and_claim_types() {
        for name in ["exp", "iss", "aud", "sub"] {
            assert_eq!(check(&with(name, None)), Err(JwtError::MissingClaim(name)));
            assert_eq!(check(&with(name, Some(Value::Null))), Err(JwtError::MissingClaim(name)));
        }
        let bad = [("exp", json!("soon")), ("exp", json!(-1)), ("exp", json!(1.7e9))];
        let more =
            [("nbf", json!("x")), ("iat", json!(true)), ("sub", json!("")), ("sub", json!(7))];
        for (name, value) in bad.into_iter().chain(more) {
            assert!(is_malformed(check(&with(name, Some(value)))), "{name}");
        }
        // Valid registered claims but the wrong shape for TokenClaims (no `sid`).
        let k = key();
        let err = verify::<TokenClaims>(&with("sid", None), |_| Some(&k), &val(), NOW);
        assert_eq!(err, Err(JwtError::Malformed("claims do not have the expected shape")));
        assert!(is_malformed(check(&sign_raw(r#"{"alg":"HS256"}"#, "[1,2,3]"))));
        assert!(is_malformed(check(&sign_raw(r#"{"alg":"HS256"}"#, "not json"))));
        let header = b64::encode_url(br#"{"alg":"HS256"}"#);
        assert!(is_malformed(check(&sign_message(&format!("{header}.%%%"), SECRET))));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn garbage_and_bad_headers_are_malformed() {
        for token in ["", ".", "..", "...", "a.b.c", "not a token", "e30.e30.c2ln.c2ln"] {
            assert!(is_malformed(check(token)), "{token:?}");
        }
        // Padded base64, raw JSON instead of base64, and a valid token with a 4th segment.
        let padded = ["eyJhbGciOiJIUzI1NiJ9=.e30.c2ln", "{\"alg\":\"HS256\"}.e30.c2ln"];
        for token in padded.map(String::from).into_iter().chain([with("x", None) + ".x"]) {
            assert!(is_malformed(check(&token)), "{token:?}");
        }
        let headers: [&[u8]; 7] = [
            b"not json",
            b"[\"HS256\"]",
            br#"{"typ":"JWT"}"#,
            br#"{"alg":256}"#,
            br#"{"alg":"HS256","kid":5}"#,
            br#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
            br#"{"alg":"HS256","alg":"HS256"}"#,
        ];
        for h in headers {
            let token = format!("{}.e30.c2ln", b64::encode_url(h));
            assert!(is_malformed(check(&token)), "{token:?}");
        }
        let big = format!("{}.{}.", "a".repeat(100_000), "b".repeat(10));
        assert_eq!(check(&big), Err(JwtError::TooLong { len: 100_012, max: 8192 }));
        let capped = Validation { max_token_len: 10, ..val() };
        assert_eq!(
            check_at("aaaa.bbbb.cc", &capped, NOW),
            Err(JwtError::TooLong { len: 12, max: 10 })
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn keys_are_checked_and_redacted() {
        assert_eq!(JwtKey::from_bytes(&[1u8; 31]), Err(JwtError::WeakKey { len: 31 }));
        assert_eq!(JwtKey::from_bytes(b""), Err(JwtError::WeakKey { len: 0 }));
        let msg = JwtError::WeakKey { len: 16 }.to_string();
        assert_eq!(msg, "HMAC key is 16 bytes; at least 32 are required");
        assert_eq!(format!("{:?}", key()), "JwtKey([redacted; 39 bytes])");
        assert_eq!(key(), key());
        assert_ne!(key(), JwtKey::from_bytes(&[0u8; 39]).unwrap());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn mint_needs_object_claims_and_provider_refuses_other_algorithms() {
        let want = JwtError::Encode("claims must serialize to a JSON object".into());
        assert_eq!(mint(&5u32, &key(), None), Err(want));
        assert!(matches!(mint(&"x", &key(), None), Err(JwtError::Encode(_))));
        provider_ready().unwrap();
        let (enc, dec) = (EncodingKey::from_secret(SECRET), DecodingKey::from_secret(SECRET));
        assert!(new_signer(&Algorithm::HS384, &enc).is_err());
        assert!(new_verifier(&Algorithm::RS256, &dec).is_err());
        let rsa = DecodingKey::from_rsa_raw_components(b"n", b"e");
        assert!(new_verifier(&Algorithm::HS256, &rsa).is_err());
        assert!(new_signer(&Algorithm::HS256, &EncodingKey::from_ec_der(b"k")).is_err());
        // jsonwebtoken's own encode with another algorithm errors instead of panicking.
        let header = Header::new(Algorithm::HS512);
        assert!(jsonwebtoken::encode(&header, &json!({}), &enc).is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    fn check(token: &str) -> Result<Value, JwtError> {
        let k = JwtKey::from_bytes(&[9u8; 32]).unwrap();
        verify(token, |_| Some(&k), &Validation::new("i", "a"), 0)
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(token in "\\PC{0,300}") {
            let _ = check(&token);
        }

        #[test]
        fn arbitrary_segments_never_verify(
            h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,80}", s in "[A-Za-z0-9_-]{0,60}",
        ) {
            let token = format!("{h}.{p}.{s}");
            prop_assert!(check(&token).is_err());
        }

        #[test]
        fn any_single_byte_change_is_rejected(index in 0usize..400, byte in 0x21u8..0x7f) {
            let k = JwtKey::from_bytes(&[9u8; 32]).unwrap();
            let claims = serde_json::json!({"iss": "i", "aud": "a", "sub": "s", "exp": 100});
            let token = mint(&claims, &k, Some("k")).unwrap();
            prop_assert!(check(&token).is_ok());
            let mut bytes = token.into_bytes();
            let index = index % bytes.len();
            prop_assume!(bytes[index] != byte);
            bytes[index] = byte;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(check(&changed).is_err(), "accepted {}", changed);
        }
    }
}
