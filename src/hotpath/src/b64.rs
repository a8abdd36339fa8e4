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

/// The 6-bit value of a base64url character, or `None` outside the alphabet.
pub fn url_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
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
        let alphabet = encode_url(&[
            0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14,
            0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92,
            0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7,
            0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
        ]);
        assert_eq!(alphabet.len(), 64);
        for (value, c) in alphabet.bytes().enumerate() {
            assert_eq!(url_value(c), Some(value as u8), "{}", c as char);
        }
        assert_eq!((0..=255u8).filter(|&c| url_value(c).is_some()).count(), 64);
    }
}
