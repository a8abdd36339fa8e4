//! The sealed envelope: authenticated encryption of a cookie value under the key ring.
//!
//! # Format
//! ```text
//! v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>
//! ```
//! - `v1`: the format [`VERSION`]. Anything else is [`SealError::UnsupportedVersion`].
//! - `kid`: the [`Kid`] of the key that sealed it, so that rotated-out keys still open.
//! - the payload: unpadded base64url (RFC 4648 §5) of a 24-byte nonce, the ciphertext
//!   (as long as the plaintext) and the 16-byte Poly1305 tag.
//!
//! # Invariants
//! - AEAD is XChaCha20-Poly1305 with the [`KeyPurpose::CookieSeal`] subkey. Its 192-bit
//!   nonce is passed in by the caller (the core has no randomness) and must be fresh
//!   random bytes for every seal; random 192-bit nonces do not collide in practice.
//! - The associated data binds the version, kid, cookie name and purpose
//!   ([`associated_data`]), each length-prefixed so that no two contexts share an
//!   encoding: a seal made for one cookie, purpose or kid does not open under another;
//!   it is [`SealError::Tampered`].
//! - [`open`] rejects input longer than [`MAX_SEALED_LEN`] before decoding anything,
//!   parses with `split_once` (never indexing), and distinguishes malformed input from
//!   input that fails authentication. It never panics.
//! - Opened plaintext is zeroized when dropped; error messages never contain the sealed
//!   value or plaintext.

use std::fmt;

use zeroize::Zeroizing;

use crate::keyring::{KeyPurpose, KeyRing, Kid};
use crate::{aead, b64};

/// The envelope version written by [`seal`] and the only one [`open`] accepts.
pub const VERSION: &str = "v1";
/// Longest sealed string [`open`] accepts (and [`seal`] produces), in bytes.
pub const MAX_SEALED_LEN: usize = 64 * 1024;
/// XChaCha20 nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length in bytes.
pub const TAG_LEN: usize = 16;
/// Prefix of every associated-data string: domain and version, NUL-terminated.
pub const AD_PREFIX: &[u8] = b"edge-session\0v1\0";

const _: () = assert!(NONCE_LEN == aead::NONCE_LEN && TAG_LEN == aead::TAG_LEN);

/// Length of `v1.` plus the `.` after the kid.
const VERSION_AND_DOTS: usize = VERSION.len() + 2;

/// Where a sealed value is used. Both fields are bound into the associated data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealContext<'a> {
    /// The cookie name (for example `__Host-session`).
    pub name: &'a str,
    /// What the plaintext is (for example `session`), so that two kinds of value stored
    /// under one cookie name cannot be swapped.
    pub purpose: &'a str,
}

/// A successfully opened seal.
pub struct Opened {
    /// The authenticated plaintext; zeroized when dropped. Derefs to `Vec<u8>`.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The kid that opened it.
    pub kid: Kid,
    /// Whether that kid is the ring's primary. `false` means: re-seal with the primary.
    pub by_primary: bool,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext", &format_args!("<{} bytes>", self.plaintext.len()))
            .field("kid", &self.kid)
            .field("by_primary", &self.by_primary)
            .finish()
    }
}

/// Why a value could not be sealed or opened. Messages never contain the value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SealError {
    /// The sealed string is (or, from [`seal`], would be) longer than `max` bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit, [`MAX_SEALED_LEN`].
        max: usize,
    },
    /// One part of the envelope is missing or unreadable: `"version"`, `"kid"`,
    /// `"payload"` (empty or not unpadded base64url) or `"payload length"` (shorter than
    /// nonce plus tag).
    Malformed(&'static str),
    /// The version is not [`VERSION`].
    UnsupportedVersion,
    /// The kid is well formed but not in the key ring (rotated out, or another ring).
    UnknownKid,
    /// Authentication failed: a different key, a different cookie name or purpose, or a
    /// modified value.
    Tampered,
    /// A [`SealContext`] field is longer than 65535 bytes and cannot be length-prefixed.
    ContextTooLong {
        /// `"name"` or `"purpose"`.
        part: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::TooLong { len, max } => {
                write!(f, "sealed value is {len} bytes; at most {max} are allowed")
            }
            SealError::Malformed(part) => write!(
                f,
                "sealed value has a malformed {part}; expected `{VERSION}.<kid>.<base64url payload>`"
            ),
            SealError::UnsupportedVersion => {
                write!(f, "sealed value has an unsupported version; expected `{VERSION}`")
            }
            SealError::UnknownKid => {
                f.write_str("sealed value names a kid that is not in the key ring")
            }
            SealError::Tampered => f.write_str(
                "sealed value failed authentication (other key, other cookie name or purpose, \
                 or modified)",
            ),
            SealError::ContextTooLong { part, len } => {
                write!(f, "seal context {part} is {len} bytes; at most {} are allowed", u16::MAX)
            }
        }
    }
}

impl std::error::Error for SealError {}

/// The associated data for a seal under `kid` in `ctx`:
/// [`AD_PREFIX`], then for each of kid, name and purpose a big-endian `u16` length and
/// the bytes.
///
/// # Errors
/// [`SealError::ContextTooLong`] if a part is longer than 65535 bytes.
pub fn associated_data(kid: &str, ctx: &SealContext<'_>) -> Result<Vec<u8>, SealError> {
    let parts = [("kid", kid), ("name", ctx.name), ("purpose", ctx.purpose)];
    let len =
        parts.iter().fold(AD_PREFIX.len(), |n, (_, p)| n.saturating_add(p.len()).saturating_add(2));
    let mut ad = Vec::with_capacity(len);
    ad.extend_from_slice(AD_PREFIX);
    for (part, text) in parts {
        let len = u16::try_from(text.len())
            .map_err(|_| SealError::ContextTooLong { part, len: text.len() })?;
        ad.extend_from_slice(&len.to_be_bytes());
        ad.extend_from_slice(text.as_bytes());
    }
    Ok(ad)
}

/// Unpadded base64 length of `n` bytes.
fn encoded_len(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(2) / 3
}

/// Seals `plaintext` for `ctx` with the ring's primary [`KeyPurpose::CookieSeal`] key.
///
/// `nonce` must be 24 fresh random bytes (from the caller's CSPRNG) for every call.
///
/// # Errors
/// [`SealError::TooLong`] if the result would exceed [`MAX_SEALED_LEN`] (so [`open`]
/// would refuse it); [`SealError::ContextTooLong`] for an absurd cookie name or purpose.
///
/// # Example
/// ```
/// use edge_session_hotpath::keyring::KeyRing;
/// use edge_session_hotpath::seal::{open, seal, SealContext};
/// let ring = KeyRing::parse(&format!("k1:{}", "A".repeat(43))).map_err(|e| e.to_string())?;
/// let ctx = SealContext { name: "__Host-s", purpose: "session" };
/// let sealed = seal(&ring, &ctx, b"hello", &[7; 24]).map_err(|e| e.to_string())?;
/// assert!(sealed.starts_with("v1.k1."));
/// let opened = open(&ring, &ctx, &sealed).map_err(|e| e.to_string())?;
/// assert_eq!(&opened.plaintext[..], b"hello");
/// # Ok::<(), String>(())
/// ```
pub fn seal(
    ring: &KeyRing,
    ctx: &SealContext<'_>,
    plaintext: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<String, SealError> {
    let (kid, key) = ring.primary(KeyPurpose::CookieSeal);
    let too_long = |len| SealError::TooLong { len, max: MAX_SEALED_LEN };
    if plaintext.len() > MAX_SEALED_LEN {
        return Err(too_long(encoded_len(plaintext.len())));
    }
    let payload_len = plaintext.len().saturating_add(NONCE_LEN + TAG_LEN);
    let prefix_len = kid.as_str().len().saturating_add(VERSION_AND_DOTS);
    let total = prefix_len.saturating_add(encoded_len(payload_len));
    if total > MAX_SEALED_LEN {
        return Err(too_long(total));
    }
    let ad = associated_data(kid.as_str(), ctx)?;

    let mut buf = Zeroizing::new(Vec::with_capacity(payload_len));
    buf.extend_from_slice(nonce);
    buf.extend_from_slice(plaintext);
    let body = buf.get_mut(NONCE_LEN..).ok_or(too_long(total))?;
    let tag = aead::seal_in_place(key.as_bytes(), nonce, &ad, body).map_err(|_| too_long(total))?;
    buf.extend_from_slice(&tag);

    let mut sealed = String::with_capacity(total);
    sealed.push_str(VERSION);
    sealed.push('.');
    sealed.push_str(kid.as_str());
    sealed.push('.');
    sealed.push_str(&b64::encode_url(&buf));
    Ok(sealed)
}

/// Opens a value made by [`seal`] with any key of the ring, in the same `ctx`.
///
/// # Errors
/// In the order checked: [`SealError::TooLong`], [`SealError::Malformed`] /
/// [`SealError::UnsupportedVersion`], [`SealError::UnknownKid`], then
/// [`SealError::Tampered`] when authentication fails.
pub fn open(ring: &KeyRing, ctx: &SealContext<'_>, sealed: &str) -> Result<Opened, SealError> {
    if sealed.len() > MAX_SEALED_LEN {
        return Err(SealError::TooLong { len: sealed.len(), max: MAX_SEALED_LEN });
    }
    let (version, rest) = sealed.split_once('.').ok_or(SealError::Malformed("version"))?;
    if version.is_empty() {
        return Err(SealError::Malformed("version"));
    }
    if version != VERSION {
        return Err(SealError::UnsupportedVersion);
    }
    let (kid, payload) = rest.split_once('.').ok_or(SealError::Malformed("kid"))?;
    let Some((kid, key, by_primary)) = ring.get_entry(kid, KeyPurpose::CookieSeal) else {
        return Err(match Kid::new(kid) {
            Ok(_) => SealError::UnknownKid,
            Err(_) => SealError::Malformed("kid"),
        });
    };
    if payload.is_empty() {
        return Err(SealError::Malformed("payload"));
    }
    let mut buf = Zeroizing::new(b64::decode_url(payload).ok_or(SealError::Malformed("payload"))?);
    let short = SealError::Malformed("payload length");
    let body_len = buf.len().checked_sub(NONCE_LEN + TAG_LEN).ok_or(short.clone())?;

    let (nonce, rest) = buf.split_at_mut_checked(NONCE_LEN).ok_or(short.clone())?;
    let nonce: [u8; NONCE_LEN] = (&*nonce).try_into().map_err(|_| short.clone())?;
    let (body, tag) = rest.split_at_mut_checked(body_len).ok_or(short.clone())?;
    let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| short)?;
    let ad = associated_data(kid.as_str(), ctx)?;
    aead::open_in_place(key.as_bytes(), &nonce, &ad, body, &tag).map_err(|e| match e {
        aead::AeadError::Tampered => SealError::Tampered,
        // Unreachable: `sealed` is at most MAX_SEALED_LEN bytes.
        aead::AeadError::TooLong => SealError::TooLong { len: sealed.len(), max: MAX_SEALED_LEN },
    })?;

    // Move the plaintext to the front: drop the nonce, then the tag.
    let nonce_len = NONCE_LEN.min(buf.len());
    buf.drain(..nonce_len);
    buf.truncate(body_len);
    Ok(Opened { plaintext: buf, kid: kid.clone(), by_primary })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: SealContext<'static> = SealContext { name: "__Host-session", purpose: "session" };

    fn ring(entries: &[(&str, u8)]) -> KeyRing {
        KeyRing::from_raw(
            entries.iter().map(|(kid, byte)| (Kid::new(kid).unwrap(), vec![*byte; 32])).collect(),
        )
        .unwrap()
    }

    fn sealed(ring: &KeyRing, plaintext: &[u8]) -> String {
        seal(ring, &CTX, plaintext, &[0x42; NONCE_LEN]).unwrap()
    }

    /// Known answer, computed independently in Python (HChaCha20 by hand +
    /// `cryptography`'s ChaCha20Poly1305): key ring `k1` = bytes 00..1f (so the
    /// cookie-seal subkey is e76de6e9…467b, see keyring.rs), nonce = bytes 00..17.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn known_answer_vector() {
        let raw: Vec<u8> = (0u8..32).collect();
        let ring = KeyRing::from_raw(vec![(Kid::new("k1").unwrap(), raw)]).unwrap();
        let nonce: [u8; 24] = core::array::from_fn(|i| i as u8);
        let sealed = seal(&ring, &CTX, br#"{"sub":"alice"}"#, &nonce).unwrap();
        assert_eq!(
            sealed,
            "v1.k1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXxIbkPRPGw9qElRFHRm8QCIXFedgsaUSyXs28VK2_lQ"
        );
        let opened = open(&ring, &CTX, &sealed).unwrap();
        assert_eq!(&opened.plaintext[..], br#"{"sub":"alice"}"#);
        assert_eq!(
            associated_data("k1", &CTX).unwrap(),
            b"edge-session\0v1\0\0\x02k1\0\x0e__Host-session\0\x07session"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn round_trips() {
        let ring = ring(&[("k1", 1)]);
        for plaintext in [&b""[..], b"x", &[0u8; 1000], "ünïcødé".as_bytes()] {
            let sealed = sealed(&ring, plaintext);
            assert!(sealed.starts_with("v1.k1."), "{sealed}");
            let payload = sealed.rsplit('.').next().unwrap();
            assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(b64::decode_url(payload).unwrap().len(), 24 + plaintext.len() + 16);
            let opened = open(&ring, &CTX, &sealed).unwrap();
            assert_eq!(&opened.plaintext[..], plaintext);
            assert_eq!(opened.kid.as_str(), "k1");
            assert!(opened.by_primary);
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn nonce_changes_output() {
        let ring = ring(&[("k1", 1)]);
        let a = seal(&ring, &CTX, b"same", &[1; 24]).unwrap();
        let b = seal(&ring, &CTX, b"same", &[2; 24]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, seal(&ring, &CTX, b"same", &[1; 24]).unwrap());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn context_is_bound() {
        let ring = ring(&[("k1", 1)]);
        let sealed = sealed(&ring, b"payload");
        let other = |name, purpose| open(&ring, &SealContext { name, purpose }, &sealed);
        assert_eq!(other("__Host-other", "session").unwrap_err(), SealError::Tampered);
        assert_eq!(other("__Host-session", "csrf").unwrap_err(), SealError::Tampered);
        assert_eq!(other("", "").unwrap_err(), SealError::Tampered);
        // Moving bytes between name and purpose changes the encoding.
        assert_eq!(other("__Host-sessions", "ession").unwrap_err(), SealError::Tampered);
        assert!(other("__Host-session", "session").is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn associated_data_is_unambiguous() {
        let ad = |kid, name, purpose| associated_data(kid, &SealContext { name, purpose }).unwrap();
        assert_ne!(ad("k", "ab", "c"), ad("k", "a", "bc"));
        assert_ne!(ad("ka", "b", "c"), ad("k", "ab", "c"));
        assert_ne!(ad("k", "", "ab"), ad("k", "ab", ""));
        let long = "x".repeat(65536);
        assert_eq!(
            associated_data("k", &SealContext { name: &long, purpose: "p" }).unwrap_err(),
            SealError::ContextTooLong { part: "name", len: 65536 }
        );
        assert!(associated_data("k", &SealContext { name: &long[1..], purpose: "p" }).is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn kid_swap_is_tampered_and_unknown_kid_is_unknown() {
        let ring = ring(&[("k1", 1), ("k2", 2)]);
        let sealed = sealed(&ring, b"payload");
        let swapped = sealed.replacen("v1.k1.", "v1.k2.", 1);
        assert_eq!(open(&ring, &CTX, &swapped).unwrap_err(), SealError::Tampered);
        let unknown = sealed.replacen("v1.k1.", "v1.k9.", 1);
        assert_eq!(open(&ring, &CTX, &unknown).unwrap_err(), SealError::UnknownKid);
        let bad_kid = sealed.replacen("v1.k1.", "v1.k 1.", 1);
        assert_eq!(open(&ring, &CTX, &bad_kid).unwrap_err(), SealError::Malformed("kid"));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn rotation() {
        let old = ring(&[("a", 1)]);
        let rotated = ring(&[("b", 2), ("a", 1)]);
        let retired = ring(&[("b", 2)]);
        let sealed_by_old = sealed(&old, b"s");
        let opened = open(&rotated, &CTX, &sealed_by_old).unwrap();
        assert_eq!((opened.kid.as_str(), opened.by_primary), ("a", false));
        let resealed = sealed(&rotated, &opened.plaintext);
        assert!(resealed.starts_with("v1.b."));
        let opened = open(&rotated, &CTX, &resealed).unwrap();
        assert_eq!((opened.kid.as_str(), opened.by_primary), ("b", true));
        assert_eq!(open(&retired, &CTX, &sealed_by_old).unwrap_err(), SealError::UnknownKid);
        assert!(open(&retired, &CTX, &resealed).unwrap().by_primary);
        // A different key under the same kid: authentication fails.
        let impostor = ring(&[("a", 9)]);
        assert_eq!(open(&impostor, &CTX, &sealed_by_old).unwrap_err(), SealError::Tampered);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn malformed_inputs_are_named() {
        let ring = ring(&[("k1", 1)]);
        let good = sealed(&ring, b"payload");
        let payload = good.rsplit('.').next().unwrap();
        let short = b64::encode_url(&[0u8; 39]);
        let cases: Vec<(String, SealError)> = vec![
            (String::new(), SealError::Malformed("version")),
            ("v1".into(), SealError::Malformed("version")),
            (format!(".k1.{payload}"), SealError::Malformed("version")),
            (format!("v2.k1.{payload}"), SealError::UnsupportedVersion),
            (format!("V1.k1.{payload}"), SealError::UnsupportedVersion),
            ("v1.k1".into(), SealError::Malformed("kid")),
            (format!("v1..{payload}"), SealError::Malformed("kid")),
            ("v1.k1.".into(), SealError::Malformed("payload")),
            (format!("v1.k1.{payload}="), SealError::Malformed("payload")),
            (format!("v1.k1.{payload}.x"), SealError::Malformed("payload")),
            (format!("v1.k1.+{}", &payload[1..]), SealError::Malformed("payload")),
            (format!("v1.k1.{short}"), SealError::Malformed("payload length")),
            (format!("v1.k1.{}", b64::encode_url(&[0u8; 40])), SealError::Tampered),
        ];
        for (input, expected) in cases {
            assert_eq!(open(&ring, &CTX, &input).unwrap_err(), expected, "{input:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn length_limit_is_checked_first() {
        let ring = ring(&[("k1", 1)]);
        let huge = "v2.".to_string() + &"x".repeat(MAX_SEALED_LEN);
        assert_eq!(
            open(&ring, &CTX, &huge).unwrap_err(),
            SealError::TooLong { len: MAX_SEALED_LEN + 3, max: MAX_SEALED_LEN }
        );
        // The largest plaintext that fits seals and opens; one more byte is refused.
        // 65536 - len("v1.k1.") = 65530 characters = 16382 quads + 2 characters, which
        // carry 16382 * 3 + 1 = 49147 payload bytes, 40 of them nonce and tag.
        let fits = 49107;
        let sealed = sealed(&ring, &vec![1; fits]);
        assert_eq!(sealed.len(), MAX_SEALED_LEN);
        assert_eq!(open(&ring, &CTX, &sealed).unwrap().plaintext.len(), fits);
        let err = seal(&ring, &CTX, &vec![1; fits + 1], &[0; 24]).unwrap_err();
        assert!(matches!(err, SealError::TooLong { len, .. } if len > MAX_SEALED_LEN), "{err}");
        let err = seal(&ring, &CTX, &vec![1; MAX_SEALED_LEN + 1], &[0; 24]).unwrap_err();
        assert!(matches!(err, SealError::TooLong { .. }), "{err}");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn every_single_character_change_is_rejected() {
        let ring = ring(&[("k1", 1), ("k2", 2)]);
        let sealed = sealed(&ring, b"{\"sub\":\"alice\"}");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \0";
        let mut tried = 0;
        for position in 0..sealed.len() {
            for &replacement in alphabet {
                let mut bytes = sealed.clone().into_bytes();
                if bytes[position] == replacement {
                    continue;
                }
                bytes[position] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(open(&ring, &CTX, &changed).is_err(), "{changed}");
                tried += 1;
            }
        }
        assert!(tried > 5000, "{tried}");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn every_payload_bit_flip_is_tampered() {
        let ring = ring(&[("k1", 1)]);
        let sealed = sealed(&ring, b"some plaintext");
        let (prefix, payload) = sealed.rsplit_once('.').unwrap();
        let raw = b64::decode_url(payload).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut flipped = raw.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let input = format!("{prefix}.{}", b64::encode_url(&flipped));
            assert_eq!(open(&ring, &CTX, &input).unwrap_err(), SealError::Tampered, "bit {bit}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn every_truncation_is_rejected() {
        let ring = ring(&[("k1", 1)]);
        let sealed = sealed(&ring, b"some plaintext");
        for end in 0..sealed.len() {
            assert!(open(&ring, &CTX, &sealed[..end]).is_err(), "{end}");
            assert!(open(&ring, &CTX, &sealed[end + 1..]).is_err(), "{end}");
        }
        assert!(open(&ring, &CTX, &format!("{sealed}A")).is_err());
        assert!(open(&ring, &CTX, &format!("{sealed}AAAA")).is_err());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn errors_and_debug_never_show_values() {
        let ring = ring(&[("k1", 1)]);
        let sealed = sealed(&ring, b"top-secret-plaintext");
        let opened = open(&ring, &CTX, &sealed).unwrap();
        let debug = format!("{opened:?}");
        assert!(!debug.contains("top-secret"), "{debug}");
        assert!(debug.contains("20 bytes"), "{debug}");
        let payload = sealed.rsplit('.').next().unwrap();
        for input in
            [format!("v9.k1.{payload}"), format!("v1.k1.{payload}x"), sealed.replace("k1", "zz")]
        {
            let err = open(&ring, &CTX, &input).unwrap_err();
            assert!(!err.to_string().contains(&payload[..10]), "{err}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> KeyRing {
        KeyRing::from_raw(vec![
            (Kid::new("k1").unwrap(), vec![1; 32]),
            (Kid::new("k2").unwrap(), vec![2; 32]),
        ])
        .unwrap()
    }

    const CTX: SealContext<'static> = SealContext { name: "c", purpose: "p" };

    proptest! {
        #[test]
        fn arbitrary_strings_never_open(input in ".{0,300}") {
            prop_assert!(open(&ring(), &CTX, &input).is_err());
        }

        #[test]
        fn arbitrary_envelopes_never_open(kid in "k[0-9]", payload in "[A-Za-z0-9_-]{0,200}") {
            let input = format!("v1.{kid}.{payload}");
            prop_assert!(open(&ring(), &CTX, &input).is_err());
        }

        #[test]
        fn round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
                      nonce in any::<[u8; 24]>(), name in ".{0,40}", purpose in ".{0,40}") {
            let ring = ring();
            let ctx = SealContext { name: &name, purpose: &purpose };
            let sealed = seal(&ring, &ctx, &plaintext, &nonce).unwrap();
            let opened = open(&ring, &ctx, &sealed).unwrap();
            prop_assert_eq!(&opened.plaintext[..], &plaintext[..]);
        }

        #[test]
        fn mutations_never_open(plaintext in proptest::collection::vec(any::<u8>(), 0..100),
                                position in any::<proptest::sample::Index>(), byte in any::<u8>()) {
            let ring = ring();
            let sealed = seal(&ring, &CTX, &plaintext, &[3; 24]).unwrap();
            let mut bytes = sealed.clone().into_bytes();
            let i = position.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes);
            prop_assert!(open(&ring, &CTX, &changed).is_err());
        }
    }
}
