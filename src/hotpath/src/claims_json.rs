//! Reading [`Claims`] from the JSON that `session::seal_claims` writes, without
//! serde's generic machinery: the fast path of `session::open_session`, which
//! calls [`read`] (this module depends on the claim types only).
//!
//! [`read`] accepts exactly one layout, serde_json's compact output for [`Claims`]:
//! ```text
//! {"sid":"…","sub":"…","iat":N,"at":N,"exp":N,"ie":N[,"gen":N][,"d":{…}]}
//! ```
//! with no escapes in `sid` or `sub` and plain decimal integers. For anything else it
//! returns `None`, and the caller parses with serde_json, which takes any JSON layout
//! and names the problem when there is one.
//!
//! # Invariant
//! When `read` returns claims, serde_json parses the same text to the same claims.
//! `Sid::parse` checks the sid, and `d` goes through [`SessionData`]'s own
//! deserialization (JSON and object checks). The tests compare the two parsers on
//! generated and mutated input.

use crate::claims::{Claims, Sid};
use crate::data::SessionData;

/// The claims of `json` if it has exactly the layout `seal_claims` writes.
pub(crate) fn read(json: &str) -> Option<Claims> {
    let mut r = Reader { rest: json };
    r.expect("{\"sid\":")?;
    let sid = Sid::parse(r.plain_string()?)?;
    r.expect(",\"sub\":")?;
    let sub = r.plain_string()?.to_owned();
    r.expect(",\"iat\":")?;
    let iat = r.uint()?;
    r.expect(",\"at\":")?;
    let auth_time = r.uint()?;
    r.expect(",\"exp\":")?;
    let exp = r.uint()?;
    r.expect(",\"ie\":")?;
    let idle_exp = r.uint()?;
    let gen = if r.eat(",\"gen\":") { r.uint()? } else { 0 };
    let data = if r.eat(",\"d\":") {
        // `d` is the last member: its text runs to the object's closing brace.
        let text = r.rest.strip_suffix('}')?;
        r.rest = "}";
        serde_json::from_str::<SessionData>(text).ok()?
    } else {
        SessionData::empty()
    };
    r.expect("}")?;
    r.rest.is_empty().then_some(Claims { sid, sub, iat, auth_time, exp, idle_exp, gen, data })
}

struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    fn eat(&mut self, literal: &str) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, literal: &str) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// A string without escapes or control characters (serde_json writes those two
    /// as escapes, so their absence means the text is the value).
    fn plain_string(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = body.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        let (value, after) = body.split_at(end);
        self.rest = after.strip_prefix('"')?;
        Some(value)
    }

    /// A non-negative integer as serde_json writes a `u64`: digits, no leading zero,
    /// no sign, fraction or exponent (the next literal refuses those), no overflow.
    fn uint(&mut self) -> Option<u64> {
        let digits = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let (text, after) = self.rest.split_at(digits);
        let n = text.len();
        if n == 0 || n > 20 || (n > 1 && text.starts_with('0')) {
            return None;
        }
        let fold = |s: &str| s.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        // Up to 19 digits cannot overflow. Only a 20th is checked: `checked_mul` is a
        // 128-bit multiplication in wasm.
        let value = if n < 20 {
            fold(text)
        } else {
            let (head, last) = text.split_at(19);
            fold(head).checked_mul(10)?.checked_add(fold(last))?
        };
        self.rest = after;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn serde(json: &str) -> Option<Claims> {
        serde_json::from_str(json).ok()
    }

    const SID: &str = "WlpaWlpaWlpaWlpaWlpaWg";

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn reads_what_seal_claims_writes() {
        let data = SessionData::from_map(
            json!({"role": "admin", "n": [1, 2.5, null], "o": {"k": "v}"}}).as_object().unwrap(),
        );
        for (gen, data) in [(0, SessionData::empty()), (3, data.clone()), (0, data)] {
            let claims = Claims {
                sid: Sid::parse(SID).unwrap(),
                sub: "alice@example.com ünï".into(),
                iat: 1_700_000_100,
                auth_time: 1_700_000_000,
                exp: u64::MAX,
                idle_exp: 0,
                gen,
                data,
            };
            let json = serde_json::to_string(&claims).unwrap();
            assert_eq!(read(&json), Some(claims), "{json}");
        }
    }

    /// Other layouts are left to serde_json: escapes, whitespace, order, unknown
    /// members, other number forms. Bad values are refused by both.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn other_layouts_fall_back_to_serde() {
        let base = format!(r#"{{"sid":"{SID}","sub":"a","iat":2,"at":1,"exp":9,"ie":8}}"#);
        assert!(read(&base).is_some());
        for (json, serde_reads_it) in [
            (base.replace(r#""a""#, r#""\u0061""#), true),
            (base.replace(r#""a""#, r#""a\"b""#), true),
            (base.replace(",", ", "), true),
            (base.replace(r#""iat":2,"at":1"#, r#""at":1,"iat":2"#), true),
            (base.replace("}", r#","x":1}"#), true),
            (base.replace("}", r#","d":{"a":1},"gen":2}"#), true),
            (base.replace(r#""iat":2"#, r#""iat":02"#), false),
            (base.replace(r#""iat":2"#, r#""iat":2.0"#), false),
            (base.replace(r#""iat":2"#, r#""iat":2e0"#), false),
            (base.replace(r#""iat":2"#, r#""iat":-2"#), false),
            (base.replace(r#""iat":2"#, r#""iat":18446744073709551616"#), false),
            (base.replace(r#""iat":2"#, r#""iat":99999999999999999999"#), false),
            (base.replace(r#""iat":2"#, r#""iat":100000000000000000000"#), false),
            (base.replace(r#""iat":2"#, r#""iat":"2""#), false),
            (base.replace("}", r#","d":[1]}"#), false),
            (base.replace("}", r#","d":{"a":}}"#), false),
            (base.replace("}", r#","d":{"a":1}}}"#), false),
            (base.replace("}", r#","gen":1,"gen":1}"#), false),
            (base.replace(SID, "WlpaWlpaWlpaWlpaWlpaWh"), false),
            (base.replace("\"a\"", "\"a\u{1}\""), false),
            (format!("{base} "), true),
            (format!("{base}x"), false),
            (base.trim_end_matches('}').to_owned(), false),
        ] {
            assert_eq!(read(&json), None, "{json}");
            assert_eq!(serde(&json).is_some(), serde_reads_it, "{json}");
        }
        let max = base.replace(r#""exp":9"#, r#""exp":18446744073709551615"#);
        assert_eq!(read(&max).map(|c| c.exp), Some(u64::MAX));
        assert_eq!(read(&max), serde(&max));
        let nineteen = base.replace(r#""exp":9"#, r#""exp":9999999999999999999"#);
        assert_eq!(read(&nineteen).map(|c| c.exp), Some(9_999_999_999_999_999_999));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use super::*;
    use crate::claims::prop::json_value;
    use proptest::prelude::*;
    use serde_json::Map;

    prop_compose! {
        fn claims()(
            sid in any::<[u8; 16]>(),
            sub in ".{1,24}",
            times in any::<[u64; 4]>(),
            gen in prop_oneof![Just(0u64), any::<u64>()],
            data in proptest::collection::btree_map(".{0,8}", json_value(), 0..5),
        ) -> Claims {
            Claims {
                sid: Sid::from_random(sid),
                sub,
                iat: times[0],
                auth_time: times[1],
                exp: times[2],
                idle_exp: times[3],
                gen,
                data: SessionData::from_map(&data.into_iter().collect::<Map<_, _>>()),
            }
        }
    }

    proptest! {
        /// What seal_claims writes is read back; where `read` declines (escapes in
        /// `sub`), serde_json reads it.
        #[test]
        fn agrees_with_serde_on_written_claims(c in claims()) {
            let json = serde_json::to_string(&c).unwrap();
            match read(&json) {
                Some(got) => prop_assert_eq!(got, c),
                None => {
                    prop_assert!(json.contains('\\'), "declined {}", json);
                    prop_assert_eq!(serde_json::from_str::<Claims>(&json).ok(), Some(c));
                }
            }
        }

        /// On any edit of written claims, `read` either declines or agrees with serde.
        #[test]
        fn never_disagrees_with_serde_on_edited_claims(
            c in claims(),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        ) {
            let mut bytes = serde_json::to_string(&c).unwrap().into_bytes();
            for (at, byte, kind) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ => bytes.insert(i, byte),
                }
            }
            if let Ok(json) = String::from_utf8(bytes) {
                if let Some(got) = read(&json) {
                    prop_assert_eq!(Some(got), serde_json::from_str::<Claims>(&json).ok(), "{}", json);
                }
            }
        }
    }
}
