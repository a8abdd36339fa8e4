//! HS256 compact JWS signatures (RFC 7515 §7.1 with HMAC-SHA256, RFC 7518 §3.2): the
//! `Edge-Session` assertion minted on every authenticated request, and the check of
//! HS256 bearer tokens.
//!
//! It lives in the hot-path crate (opt-level 3) and takes the claims already
//! serialized: minting through `jsonwebtoken` (claims to a `serde_json::Value`, then
//! to JSON again, at opt-level `z`) was 7 % of the worker's CPU per proxied request
//! in a V8 profile inside workerd. [`verify`] is the signature check of
//! `edge_session::jwt::verify` for HS256; parsing and claim checks stay there.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The protected header when no key id is sent.
pub const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Length of an HS256 signature in unpadded base64url (32 bytes).
const SIGNATURE_B64_LEN: usize = 43;

/// Signs `claims_json` under `secret` as a compact JWS: `b64url(header_json) .
/// b64url(claims_json) . b64url(HMAC-SHA256(secret, signing input))`.
///
/// Both inputs are used byte for byte: the caller serializes them (and checks
/// that the claims are a JSON object). `None` only if `hmac` refuses the key, which
/// it does for no length (RFC 2104 §2: longer keys are hashed first).
///
/// ```
/// use edge_session_hotpath::hs256;
/// let token = hs256::sign(hs256::HEADER, br#"{"sub":"alice"}"#, b"secret").unwrap();
/// assert_eq!(token.split('.').count(), 3);
/// assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
/// ```
pub fn sign(header_json: &str, claims_json: &[u8], secret: &[u8]) -> Option<String> {
    Some(Key::new(secret)?.sign(header_json, claims_json))
}

/// Whether `signature_b64` is the HS256 signature of `signing_input` (the token's
/// `header.payload`) under `secret`. The signature must be canonical unpadded
/// base64url of 32 bytes; the tags are compared in constant time
/// (`Mac::verify_slice`).
///
/// ```
/// use edge_session_hotpath::hs256;
/// let token = hs256::sign(hs256::HEADER, br#"{"sub":"alice"}"#, b"secret").unwrap();
/// let (input, signature) = token.rsplit_once('.').unwrap();
/// assert!(hs256::verify(input.as_bytes(), signature, b"secret"));
/// assert!(!hs256::verify(input.as_bytes(), signature, b"other secret"));
/// ```
pub fn verify(signing_input: &[u8], signature_b64: &str, secret: &[u8]) -> bool {
    Key::new(secret).is_some_and(|key| key.verify(signing_input, signature_b64))
}

/// An HS256 key, prepared: HMAC-SHA256's inner and outer states after the key block
/// (RFC 2104), computed once. Signing with it saves the two SHA-256 compressions of
/// that key schedule on every token; a clone of the state is used per token.
///
/// The state signs like the secret does: keep it as secret. `Debug` shows nothing.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl Key {
    /// Prepares `secret`. `None` only if `hmac` refuses it, which it does for no
    /// length (longer keys are hashed first).
    #[cold] // once per key and isolate: built for size
    pub fn new(secret: &[u8]) -> Option<Key> {
        <Hmac<Sha256> as Mac>::new_from_slice(secret).ok().map(Key)
    }

    /// As [`sign`], with this key.
    pub fn sign(&self, header_json: &str, claims_json: &[u8]) -> String {
        let len = b64_len(header_json.len()) + b64_len(claims_json.len()) + SIGNATURE_B64_LEN + 2;
        let mut token = String::with_capacity(len);
        URL_SAFE_NO_PAD.encode_string(header_json.as_bytes(), &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let mut mac = self.0.clone();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// As [`verify`], with this key.
    pub fn verify(&self, signing_input: &[u8], signature_b64: &str) -> bool {
        if signature_b64.len() != SIGNATURE_B64_LEN {
            return false;
        }
        // base64 wants room for its length estimate (33 bytes for 43 characters).
        let mut tag = [0u8; 36];
        let Ok(32) = URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut tag) else {
            return false;
        };
        let mut mac = self.0.clone();
        mac.update(signing_input);
        mac.verify_slice(&tag[..32]).is_ok()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hs256::Key(<redacted>)")
    }
}

/// Unpadded base64 length of `n` bytes.
const fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 Appendix A.1: the HS256 example, with its exact header and payload bytes.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn rfc7515_appendix_a1() {
        let header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
        let payload =
            b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
        let key = URL_SAFE_NO_PAD
            .decode(
                "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
            )
            .unwrap();
        assert_eq!(
            sign(header, payload, &key).unwrap(),
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
             .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
             .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn verify_accepts_only_the_exact_signature() {
        let token = sign(HEADER, br#"{"sub":"a"}"#, b"k1").unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        assert!(verify(input.as_bytes(), signature, b"k1"));
        assert!(!verify(input.as_bytes(), signature, b"k2"), "other key");
        assert!(!verify(b"x.y", signature, b"k1"), "other input");
        assert!(!verify(input.as_bytes(), &signature[..42], b"k1"), "truncated");
        assert!(!verify(input.as_bytes(), &format!("{signature}A"), b"k1"), "too long");
        assert!(!verify(input.as_bytes(), "", b"k1"), "empty");
        let mut flipped = signature.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        assert!(!verify(input.as_bytes(), std::str::from_utf8(&flipped).unwrap(), b"k1"));
        // The last character carries 2 unused bits: a non-canonical spelling of the
        // same tag is refused, not accepted as equal.
        let last = signature.as_bytes()[42];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let i = alphabet.iter().position(|&c| c == last).unwrap();
        let twin = alphabet[i ^ 1] as char;
        assert!(!verify(input.as_bytes(), &format!("{}{twin}", &signature[..42]), b"k1"));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn capacity_is_exact() {
        for n in 0..40 {
            let claims = vec![b'a'; n];
            let token = sign(HEADER, &claims, b"k").unwrap();
            assert_eq!(token.len(), b64_len(HEADER.len()) + b64_len(n) + SIGNATURE_B64_LEN + 2);
        }
    }

    /// A prepared key signs and verifies as the secret does, for many tokens in a row
    /// (each token starts from a fresh copy of the key state).
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn a_prepared_key_is_the_secret() {
        let key = Key::new(b"k1").unwrap();
        for n in 0..70 {
            let claims = vec![b'a' + (n % 26) as u8; n];
            let token = key.sign(HEADER, &claims);
            assert_eq!(Some(token.clone()), sign(HEADER, &claims, b"k1"));
            let (input, signature) = token.rsplit_once('.').unwrap();
            assert!(key.verify(input.as_bytes(), signature));
            assert!(!Key::new(b"k2").unwrap().verify(input.as_bytes(), signature));
        }
        assert_eq!(format!("{key:?}"), "hs256::Key(<redacted>)");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn any_key_length_signs() {
        for len in [0, 1, 32, 64, 65, 200] {
            let token = sign(HEADER, b"{}", &vec![7u8; len]).unwrap();
            assert_eq!(token.rsplit('.').next().map(str::len), Some(SIGNATURE_B64_LEN));
        }
    }
}
