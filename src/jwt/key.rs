//! JWS keys, each bound to exactly one algorithm, and their public JWK / JWKS form.
//!
//! # Invariants
//! - A [`JwtKey`] knows its algorithm ([`JwtKey::alg`]): an HMAC secret is only ever
//!   an HS256 key, an Ed25519 key only ever an EdDSA key. [`verify_with`] refuses a
//!   token whose header names another algorithm than its key's
//!   ([`JwtError::KeyAlgorithmMismatch`]), so a public key can never be used as an
//!   HMAC secret (the classic RS/HS "algorithm confusion").
//! - Only public Ed25519 keys leave this module ([`JwtKey::public_jwk`], [`jwks`]);
//!   HMAC secrets and Ed25519 seeds have no public form. Symmetric (`kty: oct`) JWKs
//!   are refused by `JwtKey::from_jwk` (test builds only: the worker takes no key from
//!   outside its ring).
//! - Public keys that are not canonical curve points, or are of small order ("weak"
//!   keys, for which forged signatures exist), are refused. Signatures are checked
//!   with `verify_strict` (no malleable `S`, no small-order `R`).
//! - Secret bytes are zeroized on drop, compared in constant time and never printed.
//!
//! [`verify_with`]: super::verify_with

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{Alg, JwtError, MIN_KEY_LEN};
use crate::{b64, hs256};

/// Length of an Ed25519 seed and of an Ed25519 public key, in bytes.
pub const ED25519_KEY_LEN: usize = 32;

/// A JWS key: a secret HMAC key (HS256), an Ed25519 key pair (EdDSA, signs and
/// verifies) or an Ed25519 public key (EdDSA, verifies only).
///
/// Secret material is private, redacted in `Debug`, compared in constant time and
/// zeroized on drop.
#[derive(Clone)]
pub struct JwtKey(Inner);

#[derive(Clone)]
enum Inner {
    /// The secret (for equality; zeroized on drop) and the prepared HMAC state (as
    /// secret as the key; the `hmac` crate offers no zeroizing of it, and it lives as
    /// long as the key).
    Hmac(Vec<u8>, hs256::Key),
    Ed25519Pair(SigningKey),
    Ed25519Public(VerifyingKey),
}

impl JwtKey {
    /// An HS256 key from secret bytes (for the origin assertion: the UTF-8 bytes of
    /// the shared secret string, as `jose` does with `TextEncoder`).
    ///
    /// # Errors
    /// [`JwtError::WeakKey`] if `bytes` is shorter than [`MIN_KEY_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<JwtKey, JwtError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(JwtError::WeakKey { len: bytes.len() });
        }
        let prepared =
            hs256::Key::new(bytes).ok_or(JwtError::InvalidKey("HMAC refused the key"))?;
        Ok(JwtKey(Inner::Hmac(bytes.to_vec(), prepared)))
    }

    /// An EdDSA (Ed25519) key pair from a 32-byte secret seed (RFC 8032 §5.1.5). It
    /// signs and verifies. Derives the public key: one scalar multiplication.
    pub fn ed25519_from_seed(seed: &[u8; ED25519_KEY_LEN]) -> JwtKey {
        JwtKey(Inner::Ed25519Pair(SigningKey::from_bytes(seed)))
    }

    /// A verify-only EdDSA key from the 32-byte encoding of an Ed25519 public key
    /// (the JWK `x`).
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] when `bytes` is not 32 bytes, not a point on the
    /// curve, or a small-order ("weak") point.
    pub fn ed25519_public(bytes: &[u8]) -> Result<JwtKey, JwtError> {
        let bytes: &[u8; ED25519_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| JwtError::InvalidKey("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| JwtError::InvalidKey("not an Ed25519 curve point"))?;
        if key.is_weak() {
            return Err(JwtError::InvalidKey("a small-order Ed25519 public key"));
        }
        Ok(JwtKey(Inner::Ed25519Public(key)))
    }

    /// A verify-only EdDSA key from a public JWK (`{"kty": "OKP", "crv": "Ed25519",
    /// "x": …}`), as published by [`jwks`]. `alg`, when present, must be `EdDSA`;
    /// `use`, when present, must be `sig`.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] for any other key type (symmetric `oct` keys above
    /// all: a JWKS never carries secrets), curve, `alg` or `use`, a JWK holding the
    /// private `d`, or a bad `x`.
    // Only the tests read JWKs back (to check what /_session/jwks.json publishes);
    // the worker never takes keys from outside its ring.
    #[cfg(test)]
    pub(crate) fn from_jwk(jwk: &Value) -> Result<JwtKey, JwtError> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            return Err(JwtError::InvalidKey("only OKP Ed25519 JWKs are accepted"));
        }
        if jwk.get("alg").is_some_and(|a| a.as_str() != Some("EdDSA")) {
            return Err(JwtError::InvalidKey("the JWK `alg` is not EdDSA"));
        }
        if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
            return Err(JwtError::InvalidKey("the JWK `use` is not sig"));
        }
        if jwk.get("d").is_some() {
            return Err(JwtError::InvalidKey("the JWK holds a private key (`d`)"));
        }
        let x = field("x").ok_or(JwtError::InvalidKey("the JWK has no `x` string"))?;
        let bytes =
            b64::decode_url(x).ok_or(JwtError::InvalidKey("the JWK `x` is not base64url"))?;
        JwtKey::ed25519_public(&bytes)
    }

    /// The one algorithm this key signs and verifies with.
    pub fn alg(&self) -> Alg {
        match self.0 {
            Inner::Hmac(..) => Alg::HS256,
            Inner::Ed25519Pair(_) | Inner::Ed25519Public(_) => Alg::EdDSA,
        }
    }

    /// Whether [`mint`](super::mint) can sign with this key (not a public key alone).
    pub fn can_sign(&self) -> bool {
        !matches!(self.0, Inner::Ed25519Public(_))
    }

    /// The public JWK of an Ed25519 key with this `kid`:
    /// `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"alg":"EdDSA","use":"sig"}`.
    /// `None` for an HMAC key, which has no public half.
    pub fn public_jwk(&self, kid: &str) -> Option<Value> {
        let public = self.ed25519_public_bytes()?;
        Some(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64::encode_url(&public),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        }))
    }

    /// The prepared HS256 key, if this is one.
    pub(super) fn hs256(&self) -> Option<&hs256::Key> {
        match &self.0 {
            Inner::Hmac(_, prepared) => Some(prepared),
            _ => None,
        }
    }

    /// The Ed25519 public key bytes (JWK `x`).
    pub(super) fn ed25519_public_bytes(&self) -> Option<[u8; ED25519_KEY_LEN]> {
        match &self.0 {
            Inner::Hmac(..) => None,
            Inner::Ed25519Pair(pair) => Some(pair.verifying_key().to_bytes()),
            Inner::Ed25519Public(public) => Some(public.to_bytes()),
        }
    }

    /// An Ed25519 signature of `message` (RFC 8032, deterministic), if this is a pair.
    pub(super) fn ed25519_sign(&self, message: &[u8]) -> Option<[u8; 64]> {
        match &self.0 {
            Inner::Ed25519Pair(pair) => Some(pair.sign(message).to_bytes()),
            _ => None,
        }
    }
}

impl Drop for JwtKey {
    fn drop(&mut self) {
        // `SigningKey` zeroizes itself (ed25519-dalek's `zeroize` feature).
        if let Inner::Hmac(bytes, _) = &mut self.0 {
            bytes.zeroize();
        }
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Hmac(bytes, _) => write!(f, "JwtKey([redacted; {} bytes])", bytes.len()),
            Inner::Ed25519Pair(pair) => write!(
                f,
                "JwtKey(EdDSA pair, public x={}, seed redacted)",
                b64::encode_url(pair.verifying_key().as_bytes())
            ),
            Inner::Ed25519Public(public) => {
                write!(f, "JwtKey(EdDSA public, x={})", b64::encode_url(public.as_bytes()))
            }
        }
    }
}

impl PartialEq for JwtKey {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Inner::Hmac(a, _), Inner::Hmac(b, _)) => a.ct_eq(b).into(),
            (Inner::Ed25519Pair(a), Inner::Ed25519Pair(b)) => {
                a.to_bytes().ct_eq(&b.to_bytes()).into()
            }
            (Inner::Ed25519Public(a), Inner::Ed25519Public(b)) => {
                a.as_bytes().ct_eq(b.as_bytes()).into()
            }
            _ => false,
        }
    }
}

impl Eq for JwtKey {}

/// A JWK Set (RFC 7517 §5) of the public halves of `keys`: `{"keys": [...]}`, in the
/// given order. HMAC keys are skipped (they have no public half), so the set is
/// always safe to publish.
///
/// # Example
/// ```
/// use edge_session::jwt::{jwks, JwtKey};
/// let ed = JwtKey::ed25519_from_seed(&[7; 32]);
/// let hmac = JwtKey::from_bytes(&[1; 32]).map_err(|e| e.to_string())?;
/// let set = jwks([("k1", &ed), ("k0", &hmac)]);
/// assert_eq!(set["keys"].as_array().map(Vec::len), Some(1));
/// assert_eq!(set["keys"][0]["kid"], "k1");
/// assert!(set["keys"][0].get("d").is_none());
/// # Ok::<(), String>(())
/// ```
pub fn jwks<'a>(keys: impl IntoIterator<Item = (&'a str, &'a JwtKey)>) -> Value {
    let list: Vec<Value> = keys.into_iter().filter_map(|(kid, key)| key.public_jwk(kid)).collect();
    let mut set = Map::new();
    set.insert("keys".to_owned(), Value::Array(list));
    Value::Object(set)
}
