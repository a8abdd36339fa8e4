//! What a session asserts: [`Claims`] and its [`Sid`], the data of a session cookie.
//! Kept apart from [`crate::session`] (their lifecycle) so that the claims' own
//! reader, `claims_json`, depends on the types and not on the session logic that
//! calls it. Both are re-exported by `crate::session`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64;
use crate::data::SessionData;

/// Longest accepted `sub`, in bytes.
pub const MAX_SUB_LEN: usize = 256;
/// Length of a [`Sid`] in base64url characters (128 bits).
pub const SID_LEN: usize = 22;

const _: () = assert!(SID_LEN == (16 * 8usize).div_ceil(6));

/// A session id: 128 random bits as 22 unpadded base64url characters.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Sid(String);

impl Sid {
    /// Makes a sid from 16 random bytes (from the caller's CSPRNG).
    pub fn from_random(bytes: [u8; 16]) -> Sid {
        Sid(b64::encode_url(&bytes))
    }

    /// Accepts exactly 22 canonical base64url characters (what [`Sid::from_random`]
    /// produces), anything else is `None`.
    pub fn parse(text: &str) -> Option<Sid> {
        let (last, head) = text.as_bytes().split_last()?;
        // 22 characters carry 132 bits; the last one's low 4 bits must be zero, as
        // the encoder writes them (A, Q, g or w).
        let canonical = text.len() == SID_LEN
            && head.iter().all(|&c| b64::url_value(c).is_some())
            && b64::url_value(*last).is_some_and(|v| v & 0x0f == 0);
        canonical.then(|| Sid(text.to_owned()))
    }

    /// The sid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Error text for a bad sid during deserialization; it names no value.
pub(crate) const SID_EXPECTED: &str = "sid: expected 22 base64url characters";

impl Serialize for Sid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sid, D::Error> {
        struct SidVisitor;
        impl serde::de::Visitor<'_> for SidVisitor {
            type Value = Sid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SID_EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Sid, E> {
                Sid::parse(text).ok_or_else(|| E::custom(SID_EXPECTED))
            }
        }
        deserializer.deserialize_str(SidVisitor)
    }
}

/// What a session asserts. Serialized as compact JSON; three fields have short names to
/// save cookie space: `auth_time` is `"at"`, `idle_exp` is `"ie"`, `data` is `"d"`.
/// `gen` and `d` are omitted when zero / empty. All times are Unix seconds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Claims {
    /// Session id, stable for the session's life (the denylist key for logout).
    pub sid: Sid,
    /// The user (subject): 1 to [`MAX_SUB_LEN`] bytes, no control characters.
    pub sub: String,
    /// When this seal was issued; a rolling refresh moves it.
    pub iat: u64,
    /// When the user logged in; never moves.
    #[serde(rename = "at")]
    pub auth_time: u64,
    /// Absolute expiry; never moves.
    pub exp: u64,
    /// Idle expiry, at most `exp`; a rolling refresh moves it.
    #[serde(rename = "ie")]
    pub idle_exp: u64,
    /// Per-user revocation generation. Defaults to 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gen: u64,
    /// Application data from the origin, a JSON object kept as text. Defaults to empty.
    #[serde(rename = "d", default, skip_serializing_if = "SessionData::is_empty")]
    pub data: SessionData,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod prop {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Any JSON value a session's data may hold (used by the tests of `session` and `claims_json`).
    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
