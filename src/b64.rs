//! Base64 helpers shared by every module: one place that says which alphabet is used.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Encodes bytes as unpadded base64url (RFC 4648 §5), the alphabet of seals and JWTs.
pub fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url. Padding or characters outside the alphabet are errors.
pub fn decode_url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes base64 written by a person: standard or url-safe alphabet, padded or not.
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.contains(['-', '_']) {
        return URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok();
    }
    if text.ends_with('=') {
        STANDARD.decode(text).ok()
    } else {
        STANDARD_NO_PAD.decode(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn round_trips_and_accepts_both_alphabets() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(decode_url(&encode_url(&bytes)).as_deref(), Some(&bytes[..]));
        assert_eq!(decode_lenient("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_lenient("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_url("+/8="), None);
        assert_eq!(decode_lenient("not base64!"), None);
    }
}
