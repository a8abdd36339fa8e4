//! The key ring: named root keys from the `SESSION_KEYS` secret, and the subkeys derived
//! from them.
//!
//! # Format
//! `SESSION_KEYS` is a list of `kid:base64key` entries separated by commas and/or
//! whitespace (newlines included). The key may be standard or url-safe base64, padded or
//! not. Generate entries with `edge-session keygen` (see [`format_entry`]).
//!
//! ```text
//! k2026b:0d1mFh3rX9...,k2026a:q8Zp2...
//! ```
//!
//! # Invariants
//! - A ring holds 1 to [`MAX_KEYS`] keys with distinct, valid kids ([`Kid`]).
//! - The **first** key is the primary: it seals and signs. Every key opens and verifies,
//!   so rotation is "prepend a new key, remove the old one once its seals have expired".
//! - Root keys are random and at least [`MIN_KEY_LEN`] bytes; passwords are not keys and
//!   there is no stretching.
//! - Root keys are never used directly. At parse time each one is expanded with
//!   HKDF-SHA256 (salt [`HKDF_SALT`], info = [`KeyPurpose::info`]) into one [`SubKey`]
//!   per purpose, so a cookie-sealing key can never verify a bearer JWT, and the Ed25519
//!   seed behind the published JWKS is independent of both. The root key is
//!   zeroized right after derivation; only subkeys are kept, and they are zeroized when
//!   the ring is dropped.
//! - Errors name an entry by its kid or by its 1-based position, never by key material.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ascii::InlineAscii;
use crate::b64;

/// Smallest accepted root key, in bytes (256 bits).
pub const MIN_KEY_LEN: usize = 32;
/// Largest number of keys in one ring.
pub const MAX_KEYS: usize = 16;
/// Longest accepted kid, in characters.
pub const MAX_KID_LEN: usize = 32;
/// Length of every derived subkey, in bytes.
pub const SUBKEY_LEN: usize = 32;
/// HKDF salt shared by every derivation; changing it changes every subkey.
pub const HKDF_SALT: &[u8] = b"edge-session v1";

const _: () = assert!(SUBKEY_LEN == 32 && MIN_KEY_LEN >= SUBKEY_LEN);
const _: () = assert!(MAX_KID_LEN <= u8::MAX as usize);

/// A key identifier: 1 to 32 characters of `A-Z a-z 0-9 _ -`.
///
/// Kids are not secret: they travel in every seal and JWT header and may be logged.
///
/// Stored inline ([`InlineAscii`]): copying one allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Kid(InlineAscii<MAX_KID_LEN>);

impl Kid {
    /// Validates and wraps a kid.
    ///
    /// # Errors
    /// [`KeyRingError::InvalidKid`] when `kid` is empty, longer than [`MAX_KID_LEN`] or
    /// holds a character outside `A-Z a-z 0-9 _ -`.
    ///
    /// # Example
    /// ```
    /// use edge_session_hotpath::keyring::Kid;
    /// assert_eq!(Kid::new("k2026-a").map(|k| k.to_string()).ok(), Some("k2026-a".into()));
    /// assert!(Kid::new("no spaces").is_err());
    /// ```
    pub fn new(kid: &str) -> Result<Kid, KeyRingError> {
        Kid::checked(kid).map_err(|problem| KeyRingError::InvalidKid { entry: None, problem })
    }

    fn checked(kid: &str) -> Result<Kid, KidProblem> {
        check_kid(kid)?;
        // check_kid allows only ASCII, at most MAX_KID_LEN bytes: `new` succeeds.
        InlineAscii::new(kid).map(Kid).ok_or(KidProblem::TooLong { len: kid.len() })
    }

    /// The kid as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check_kid(kid: &str) -> Result<(), KidProblem> {
    if kid.is_empty() {
        return Err(KidProblem::Empty);
    }
    if kid.len() > MAX_KID_LEN {
        return Err(KidProblem::TooLong { len: kid.len() });
    }
    match kid.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-')) {
        Some(index) => Err(KidProblem::BadCharacter { index }),
        None => Ok(()),
    }
}

/// A 256-bit key derived for one [`KeyPurpose`]. Secret: its `Debug` is redacted, it is
/// zeroized on drop and compared in constant time.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SubKey([u8; SUBKEY_LEN]);

impl SubKey {
    /// The key bytes, for handing to a cipher or MAC. Do not copy them elsewhere.
    pub fn as_bytes(&self) -> &[u8; SUBKEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubKey(<redacted>)")
    }
}

impl PartialEq for SubKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SubKey {}

/// What a subkey is for. Each purpose gets an independent HKDF output.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KeyPurpose {
    /// XChaCha20-Poly1305 sealing of cookies (HKDF info `"cookie-seal"`).
    CookieSeal,
    /// HMAC signing of bearer JWTs (HKDF info `"bearer-jwt"`).
    BearerJwt,
    /// The 32-byte seed of the Ed25519 key that signs EdDSA JWTs (bearer tokens and
    /// `Edge-Session` assertions when configured) and whose public half is published
    /// at `/_session/jwks.json` (HKDF info `"jwt-ed25519"`). Derived from the ring, so
    /// the JWKS follows `SESSION_KEYS` rotation with no secret of its own.
    JwtEd25519,
}

impl KeyPurpose {
    /// Every purpose, in storage order.
    pub const ALL: [KeyPurpose; 3] =
        [KeyPurpose::CookieSeal, KeyPurpose::BearerJwt, KeyPurpose::JwtEd25519];

    /// The HKDF `info` string of this purpose.
    pub fn info(self) -> &'static str {
        match self {
            KeyPurpose::CookieSeal => "cookie-seal",
            KeyPurpose::BearerJwt => "bearer-jwt",
            KeyPurpose::JwtEd25519 => "jwt-ed25519",
        }
    }
}

/// What is wrong with a kid.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KidProblem {
    /// The kid is empty.
    Empty,
    /// The kid is longer than [`MAX_KID_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The byte at `index` (0-based) is not one of `A-Z a-z 0-9 _ -`.
    BadCharacter {
        /// 0-based byte offset of the first bad character.
        index: usize,
    },
}

impl fmt::Display for KidProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KidProblem::Empty => f.write_str("it is empty"),
            KidProblem::TooLong { len } => write!(f, "it is {len} bytes long"),
            KidProblem::BadCharacter { index } => {
                write!(f, "the character at offset {index} is not allowed")
            }
        }
    }
}

/// Why a key ring could not be built. Messages never contain key material.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum KeyRingError {
    /// No entries at all.
    Empty,
    /// The entry at this 1-based position has no `:` between kid and key.
    MissingColon {
        /// 1-based position of the entry.
        entry: usize,
    },
    /// A kid is not valid. `entry` is the 1-based position when parsing a spec.
    InvalidKid {
        /// 1-based position of the entry, if the kid came from a spec.
        entry: Option<usize>,
        /// What is wrong with it.
        problem: KidProblem,
    },
    /// The key after `kid:` is empty.
    EmptyKey {
        /// The entry's kid.
        kid: Kid,
    },
    /// The key after `kid:` is not base64.
    InvalidBase64 {
        /// The entry's kid.
        kid: Kid,
    },
    /// The key is shorter than [`MIN_KEY_LEN`] bytes.
    KeyTooShort {
        /// The entry's kid.
        kid: Kid,
        /// The key's length in bytes.
        len: usize,
    },
    /// Two entries share a kid.
    DuplicateKid {
        /// The repeated kid.
        kid: Kid,
    },
    /// More than [`MAX_KEYS`] entries.
    TooManyKeys {
        /// How many entries were given.
        count: usize,
    },
    /// HKDF refused to derive a subkey. Cannot happen for 32-byte outputs; kept so that
    /// derivation never panics.
    Derivation,
}

impl fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRingError::Empty => {
                f.write_str("SESSION_KEYS is empty; generate keys with `edge-session keygen`")
            }
            KeyRingError::MissingColon { entry } => write!(
                f,
                "SESSION_KEYS entry {entry} has no `:`; expected `kid:base64key` \
                 (generate one with `edge-session keygen`)"
            ),
            KeyRingError::InvalidKid { entry, problem } => {
                match entry {
                    Some(entry) => write!(f, "the kid of SESSION_KEYS entry {entry} is invalid")?,
                    None => f.write_str("invalid kid")?,
                }
                write!(f, ": {problem}; expected 1 to {MAX_KID_LEN} characters of A-Z a-z 0-9 _ -")
            }
            KeyRingError::EmptyKey { kid } => {
                write!(
                    f,
                    "key `{kid}` is empty; expected `{kid}:base64key` with no space after `:`"
                )
            }
            KeyRingError::InvalidBase64 { kid } => write!(
                f,
                "key `{kid}` is not valid base64; expected standard or url-safe base64, padded or not"
            ),
            KeyRingError::KeyTooShort { kid, len } => {
                write!(f, "key `{kid}` is {len} bytes; at least {MIN_KEY_LEN} are required")?;
                f.write_str(" (keys must be random; generate one with `edge-session keygen`)")
            }
            KeyRingError::DuplicateKid { kid } => {
                write!(f, "kid `{kid}` appears more than once; every key needs its own kid")
            }
            KeyRingError::TooManyKeys { count } => write!(
                f,
                "SESSION_KEYS has {count} keys; at most {MAX_KEYS} are allowed \
                 (remove keys whose seals have expired)"
            ),
            KeyRingError::Derivation => f.write_str("subkey derivation failed"),
        }
    }
}

impl std::error::Error for KeyRingError {}

/// One key of the ring: its kid and one subkey per purpose, in [`KeyPurpose::ALL`] order.
struct Entry {
    kid: Kid,
    cookie_seal: SubKey,
    bearer_jwt: SubKey,
    jwt_ed25519: SubKey,
}

impl Entry {
    #[cold] // once per isolate: built for size (this crate is at opt-level 3)
    fn derive(kid: Kid, raw: &[u8]) -> Result<Entry, KeyRingError> {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), raw);
        let derive = |purpose: KeyPurpose| -> Result<SubKey, KeyRingError> {
            let mut key = SubKey([0; SUBKEY_LEN]);
            hk.expand(purpose.info().as_bytes(), &mut key.0)
                .map_err(|_| KeyRingError::Derivation)?;
            Ok(key)
        };
        Ok(Entry {
            cookie_seal: derive(KeyPurpose::CookieSeal)?,
            bearer_jwt: derive(KeyPurpose::BearerJwt)?,
            jwt_ed25519: derive(KeyPurpose::JwtEd25519)?,
            kid,
        })
    }

    fn subkey(&self, purpose: KeyPurpose) -> &SubKey {
        match purpose {
            KeyPurpose::CookieSeal => &self.cookie_seal,
            KeyPurpose::BearerJwt => &self.bearer_jwt,
            KeyPurpose::JwtEd25519 => &self.jwt_ed25519,
        }
    }
}

/// The keys of `SESSION_KEYS`, as subkeys. Its `Debug` prints kids only.
///
/// Build it once per process or isolate ([`KeyRing::parse`] runs HKDF for every key).
pub struct KeyRing {
    primary: Entry,
    others: Vec<Entry>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("primary", &self.primary.kid.as_str())
            .field("kids", &self.kids().map(Kid::as_str).collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// Parses a `SESSION_KEYS` spec (see the [module docs](self)).
    ///
    /// # Errors
    /// Every [`KeyRingError`] except [`KeyRingError::Derivation`] in practice: the first
    /// problem found, naming the entry by position or kid.
    ///
    /// # Example
    /// ```
    /// use edge_session_hotpath::keyring::KeyRing;
    /// let spec = format!("new:{},old:{}", "A".repeat(43), "B".repeat(42) + "A");
    /// let ring = KeyRing::parse(&spec).map_err(|e| e.to_string())?;
    /// assert_eq!(ring.primary_kid().as_str(), "new");
    /// assert_eq!(ring.len(), 2);
    /// assert!(KeyRing::parse("").is_err());
    /// # Ok::<(), String>(())
    /// ```
    #[cold] // once per isolate
    pub fn parse(spec: &str) -> Result<KeyRing, KeyRingError> {
        let entries =
            || spec.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty());
        let count = entries().count();
        if count == 0 {
            return Err(KeyRingError::Empty);
        }
        if count > MAX_KEYS {
            return Err(KeyRingError::TooManyKeys { count });
        }
        let mut raw = Vec::with_capacity(count);
        for (index, entry) in entries().enumerate() {
            let position = index.saturating_add(1);
            let (kid, key) =
                entry.split_once(':').ok_or(KeyRingError::MissingColon { entry: position })?;
            let kid = Kid::checked(kid)
                .map_err(|problem| KeyRingError::InvalidKid { entry: Some(position), problem })?;
            if key.is_empty() {
                return Err(KeyRingError::EmptyKey { kid });
            }
            let bytes = Zeroizing::new(match b64::decode_lenient(key) {
                Some(bytes) => bytes,
                None => return Err(KeyRingError::InvalidBase64 { kid }),
            });
            raw.push((kid, bytes));
        }
        Self::build(raw)
    }

    /// Builds a ring from already-decoded keys, first = primary, with the same checks as
    /// [`KeyRing::parse`]. Every `Vec` is zeroized before this returns, on success or error.
    ///
    /// # Errors
    /// [`KeyRingError::Empty`], [`KeyRingError::TooManyKeys`],
    /// [`KeyRingError::KeyTooShort`], [`KeyRingError::DuplicateKid`].
    pub fn from_raw(entries: Vec<(Kid, Vec<u8>)>) -> Result<KeyRing, KeyRingError> {
        let entries = entries.into_iter().map(|(kid, key)| (kid, Zeroizing::new(key))).collect();
        Self::build(entries)
    }

    #[cold] // once per isolate
    fn build(raw: Vec<(Kid, Zeroizing<Vec<u8>>)>) -> Result<KeyRing, KeyRingError> {
        if raw.is_empty() {
            return Err(KeyRingError::Empty);
        }
        if raw.len() > MAX_KEYS {
            return Err(KeyRingError::TooManyKeys { count: raw.len() });
        }
        for (index, (kid, key)) in raw.iter().enumerate() {
            if key.len() < MIN_KEY_LEN {
                return Err(KeyRingError::KeyTooShort { kid: kid.clone(), len: key.len() });
            }
            if raw.iter().take(index).any(|(earlier, _)| earlier == kid) {
                return Err(KeyRingError::DuplicateKid { kid: kid.clone() });
            }
        }
        let mut derived = Vec::with_capacity(raw.len());
        for (kid, key) in raw {
            derived.push(Entry::derive(kid, &key)?);
            // `key` (Zeroizing) is wiped here.
        }
        let mut derived = derived.into_iter();
        let primary = derived.next().ok_or(KeyRingError::Empty)?;
        Ok(KeyRing { primary, others: derived.collect() })
    }

    /// The kid of the primary key, the one [`KeyRing::primary`] seals and signs with.
    pub fn primary_kid(&self) -> &Kid {
        &self.primary.kid
    }

    /// Every kid, primary first, in spec order.
    pub fn kids(&self) -> impl Iterator<Item = &Kid> {
        self.entries().map(|entry| &entry.kid)
    }

    /// Number of keys, at least 1.
    pub fn len(&self) -> usize {
        self.others.len().saturating_add(1)
    }

    /// Always `false`: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The primary kid and its subkey for `purpose`: what to seal or sign with.
    pub fn primary(&self, purpose: KeyPurpose) -> (&Kid, &SubKey) {
        (&self.primary.kid, self.primary.subkey(purpose))
    }

    /// The subkey for `purpose` of the key named `kid`, if the ring holds it.
    pub fn get(&self, kid: &str, purpose: KeyPurpose) -> Option<&SubKey> {
        self.get_entry(kid, purpose).map(|(_, key, _)| key)
    }

    /// Like [`KeyRing::get`], also returning the ring's [`Kid`] and whether it is the
    /// primary key (`false` means the caller should re-seal with the primary).
    pub fn get_entry(&self, kid: &str, purpose: KeyPurpose) -> Option<(&Kid, &SubKey, bool)> {
        if self.primary.kid.as_str() == kid {
            return Some((&self.primary.kid, self.primary.subkey(purpose), true));
        }
        self.others
            .iter()
            .find(|entry| entry.kid.as_str() == kid)
            .map(|entry| (&entry.kid, entry.subkey(purpose), false))
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.primary).chain(self.others.iter())
    }
}

/// Formats one `SESSION_KEYS` entry, `kid:base64url(raw)`, as written by
/// `edge-session keygen`.
///
/// # Example
/// ```
/// use edge_session_hotpath::keyring::{format_entry, Kid};
/// let kid = Kid::new("k1").map_err(|e| e.to_string())?;
/// assert_eq!(format_entry(&kid, &[0xfb, 0xff]), "k1:-_8");
/// # Ok::<(), String>(())
/// ```
pub fn format_entry(kid: &Kid, raw: &[u8]) -> String {
    let encoded = Zeroizing::new(b64::encode_url(raw));
    let mut entry =
        String::with_capacity(kid.as_str().len().saturating_add(encoded.len()).saturating_add(1));
    entry.push_str(kid.as_str());
    entry.push(':');
    entry.push_str(&encoded);
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8, len: usize) -> Vec<u8> {
        vec![byte; len]
    }

    fn entry(kid: &str, byte: u8) -> String {
        format_entry(&Kid::new(kid).unwrap(), &key(byte, 32))
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn parses_all_separators_and_encodings() {
        let raw: Vec<u8> = (0u8..32).map(|b| b.wrapping_mul(37).wrapping_add(0xf0)).collect();
        let url = b64::encode_url(&raw);
        let std_padded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw);
        assert!(std_padded.ends_with('=') && std_padded.contains(['+', '/']));
        assert!(url.contains(['-', '_']));
        let spec = format!(
            "\n  a:{url} ,b:{std_padded},,\tc:{}\r\nd:{url}=  \n",
            std_padded.trim_end_matches('=')
        );
        let ring = KeyRing::parse(&spec).unwrap();
        let kids: Vec<&str> = ring.kids().map(Kid::as_str).collect();
        assert_eq!(kids, ["a", "b", "c", "d"]);
        assert_eq!(ring.len(), 4);
        assert!(!ring.is_empty());
        assert_eq!(ring.primary_kid().as_str(), "a");
        // Same raw key in every encoding -> same subkeys.
        let a = ring.get("a", KeyPurpose::CookieSeal).unwrap();
        for kid in ["b", "c", "d"] {
            assert_eq!(ring.get(kid, KeyPurpose::CookieSeal).unwrap(), a, "{kid}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn primary_and_lookup() {
        let ring = KeyRing::parse(&format!("{},{}", entry("new", 1), entry("old", 2))).unwrap();
        let (kid, primary) = ring.primary(KeyPurpose::CookieSeal);
        assert_eq!(kid.as_str(), "new");
        assert_eq!(Some(primary), ring.get("new", KeyPurpose::CookieSeal));
        let (kid, _, is_primary) = ring.get_entry("new", KeyPurpose::BearerJwt).unwrap();
        assert_eq!((kid.as_str(), is_primary), ("new", true));
        let (kid, old, is_primary) = ring.get_entry("old", KeyPurpose::CookieSeal).unwrap();
        assert_eq!((kid.as_str(), is_primary), ("old", false));
        assert_ne!(old, primary);
        assert!(ring.get("missing", KeyPurpose::CookieSeal).is_none());
        assert!(ring.get("", KeyPurpose::CookieSeal).is_none());
        assert!(ring.get("NEW", KeyPurpose::CookieSeal).is_none());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn purposes_get_independent_subkeys() {
        let ring = KeyRing::parse(&entry("k", 7)).unwrap();
        let seal = ring.get("k", KeyPurpose::CookieSeal).unwrap();
        let jwt = ring.get("k", KeyPurpose::BearerJwt).unwrap();
        let ed = ring.get("k", KeyPurpose::JwtEd25519).unwrap();
        assert_ne!(seal, jwt);
        assert_ne!(ed, seal);
        assert_ne!(ed, jwt);
        let infos: Vec<&str> = KeyPurpose::ALL.iter().map(|p| p.info()).collect();
        assert_eq!(infos, ["cookie-seal", "bearer-jwt", "jwt-ed25519"]);
        assert_ne!(seal.as_bytes(), &[7u8; 32]);
        assert_ne!(jwt.as_bytes(), &[7u8; 32]);
    }

    /// Known answer: HKDF-SHA256(ikm = 00..1f, salt = "edge-session v1", info), computed
    /// independently with Python's `hmac` module (RFC 5869 by hand).
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn subkey_derivation_known_answer() {
        let raw: Vec<u8> = (0u8..32).collect();
        let ring = KeyRing::from_raw(vec![(Kid::new("k1").unwrap(), raw)]).unwrap();
        assert_eq!(
            hex(ring.primary(KeyPurpose::CookieSeal).1.as_bytes()),
            "e76de6e9636423ba7e387055e7dfb83ee5494f38549d0506c387f541fe23467b"
        );
        assert_eq!(
            hex(ring.primary(KeyPurpose::BearerJwt).1.as_bytes()),
            "9c12abb16293a6e5e0bceef9118c158145ec753a54b8023a5877b870353619f2"
        );
        assert_eq!(
            hex(ring.primary(KeyPurpose::JwtEd25519).1.as_bytes()),
            "fd1b89f068225e81e922d47d1a5e6b0ac5857dac8a867e81c5114f2aaeb1fb64"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn error_messages_are_actionable() {
        let good = entry("ok", 1);
        let short = format_entry(&Kid::new("k2").unwrap(), &key(3, 16));
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "SESSION_KEYS is empty; generate keys with `edge-session keygen`"),
            (" ,\n\t, ".into(), "SESSION_KEYS is empty"),
            (format!("{good},{}", b64::encode_url(&key(9, 32))), "entry 2 has no `:`"),
            (format!("{good}, :AAAA"), "kid of SESSION_KEYS entry 2 is invalid: it is empty"),
            (format!("{}:AAAA", "k".repeat(33)), "entry 1 is invalid: it is 33 bytes long"),
            ("k.1:AAAA".into(), "entry 1 is invalid: the character at offset 1 is not allowed"),
            ("k1:".into(), "key `k1` is empty"),
            ("k1:abc$def".into(), "key `k1` is not valid base64"),
            ("k1:QUFBQ=UFB".into(), "key `k1` is not valid base64"),
            (format!("{good},{short}"), "key `k2` is 16 bytes; at least 32 are required"),
            (format!("{good},{}", entry("ok", 2)), "kid `ok` appears more than once"),
        ];
        for (spec, expected) in cases {
            let message = KeyRing::parse(&spec).unwrap_err().to_string();
            assert!(message.contains(expected), "{spec:?}: {message}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn errors_never_echo_key_material() {
        let secret = b64::encode_url(b"0123456789abcdef0123456789abcdef");
        let specs = [
            secret.clone(),
            format!("ok:{secret},{secret}"),
            format!("{secret}:{secret}"),
            format!("k1:{secret}!"),
            format!("k1:{}", &secret[..20]),
            format!("k1:{secret},k1:{secret}"),
        ];
        for spec in specs {
            let err = KeyRing::parse(&spec).unwrap_err();
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(&secret[..12]), "{text}");
            }
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn key_length_boundary() {
        let kid = Kid::new("k").unwrap();
        assert!(KeyRing::parse(&format_entry(&kid, &key(1, 32))).is_ok());
        assert!(KeyRing::parse(&format_entry(&kid, &key(1, 64))).is_ok());
        assert_eq!(
            KeyRing::parse(&format_entry(&kid, &key(1, 31))).unwrap_err(),
            KeyRingError::KeyTooShort { kid, len: 31 }
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn at_most_sixteen_keys() {
        let spec = |n: u8| (0..n).map(|i| entry(&format!("k{i}"), i)).collect::<Vec<_>>().join(",");
        assert_eq!(KeyRing::parse(&spec(16)).unwrap().len(), 16);
        let err = KeyRing::parse(&spec(17)).unwrap_err();
        assert_eq!(err, KeyRingError::TooManyKeys { count: 17 });
        assert!(err.to_string().contains("17 keys; at most 16"), "{err}");
        // Counted before anything is decoded: a bad 17th entry is not what is reported.
        let err = KeyRing::parse(&format!("{},bad", spec(16))).unwrap_err();
        assert_eq!(err, KeyRingError::TooManyKeys { count: 17 });
        let raw = (0..17).map(|i| (Kid::new(&format!("k{i}")).unwrap(), key(1, 32))).collect();
        assert_eq!(KeyRing::from_raw(raw).unwrap_err(), KeyRingError::TooManyKeys { count: 17 });
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn from_raw_checks_like_parse() {
        let k = |s: &str| Kid::new(s).unwrap();
        assert_eq!(KeyRing::from_raw(vec![]).unwrap_err(), KeyRingError::Empty);
        assert_eq!(
            KeyRing::from_raw(vec![(k("a"), key(1, 32)), (k("a"), key(2, 32))]).unwrap_err(),
            KeyRingError::DuplicateKid { kid: k("a") }
        );
        assert_eq!(
            KeyRing::from_raw(vec![(k("a"), key(1, 32)), (k("b"), key(2, 8))]).unwrap_err(),
            KeyRingError::KeyTooShort { kid: k("b"), len: 8 }
        );
        let from_raw = KeyRing::from_raw(vec![(k("a"), key(1, 40))]).unwrap();
        let parsed = KeyRing::parse(&format_entry(&k("a"), &key(1, 40))).unwrap();
        assert_eq!(
            from_raw.get("a", KeyPurpose::BearerJwt),
            parsed.get("a", KeyPurpose::BearerJwt)
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn kid_validation() {
        for good in ["a", "A-z_09", &"x".repeat(32)] {
            assert_eq!(Kid::new(good).unwrap().as_str(), good);
        }
        let bad = |s: &str| match Kid::new(s) {
            Err(KeyRingError::InvalidKid { entry: None, problem }) => problem,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(bad(""), KidProblem::Empty);
        assert_eq!(bad(&"x".repeat(33)), KidProblem::TooLong { len: 33 });
        assert_eq!(bad("ab c"), KidProblem::BadCharacter { index: 2 });
        assert_eq!(bad("é"), KidProblem::BadCharacter { index: 0 });
        assert_eq!(bad("k.1"), KidProblem::BadCharacter { index: 1 });
        assert_eq!(bad("k:1"), KidProblem::BadCharacter { index: 1 });
        assert_eq!(Kid::new("k1").unwrap().to_string(), "k1");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn debug_output_is_redacted() {
        let raw = [0xabu8; 32];
        let ring = KeyRing::from_raw(vec![
            (Kid::new("one").unwrap(), raw.to_vec()),
            (Kid::new("two").unwrap(), raw.to_vec()),
        ])
        .unwrap();
        let debug = format!("{ring:?}");
        assert_eq!(debug, r#"KeyRing { primary: "one", kids: ["one", "two"] }"#);
        let subkey = ring.get("one", KeyPurpose::CookieSeal).unwrap();
        assert_eq!(format!("{subkey:?}"), "SubKey(<redacted>)");
        let subkey_hex = hex(subkey.as_bytes());
        assert!(!debug.contains(&subkey_hex[..8]));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn format_entry_round_trips() {
        let raw: Vec<u8> = (0u8..48).collect();
        let kid = Kid::new("kg").unwrap();
        let line = format_entry(&kid, &raw);
        assert!(line.starts_with("kg:") && !line.contains('='), "{line}");
        let parsed = KeyRing::parse(&line).unwrap();
        let direct = KeyRing::from_raw(vec![(kid, raw)]).unwrap();
        assert_eq!(
            parsed.get("kg", KeyPurpose::CookieSeal),
            direct.get("kg", KeyPurpose::CookieSeal)
        );
    }
}
