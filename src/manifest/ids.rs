//! Identifiers: deploy ids, content hashes, and UTC formatting for ids and listings.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ManifestError, BLOB_PREFIX, MANIFEST_PREFIX, MAX_DEPLOY_ID_LEN};

const DAY: u64 = 86_400;

/// A validated deploy id: 1 to 64 characters from `A-Z a-z 0-9 _ -`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeployId(String);

impl DeployId {
    /// Validates an id.
    ///
    /// # Errors
    /// [`ManifestError::BadDeployId`] when empty, too long or with other characters.
    pub fn parse(text: &str) -> Result<DeployId, ManifestError> {
        let ok = (1..=MAX_DEPLOY_ID_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(DeployId(text.to_owned()))
        } else {
            Err(ManifestError::BadDeployId { len: text.len() })
        }
    }

    /// The default id of a new deploy: UTC time of publication plus the first 8 hex
    /// digits of the tree hash, e.g. `20250509-073012-3f2a1b9c`.
    pub fn generate(created: u64, tree: &AssetHash) -> DeployId {
        let (y, mo, d, h, mi, s) = utc_parts(created);
        let hex = tree.to_hex();
        let short = hex.get(..8).unwrap_or(&hex);
        DeployId(format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}-{short}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The KV key of this deploy's manifest.
    pub fn manifest_key(&self) -> String {
        format!("{MANIFEST_PREFIX}{}", self.0)
    }
}

impl TryFrom<String> for DeployId {
    type Error = ManifestError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeployId::parse(&value)
    }
}

impl From<DeployId> for String {
    fn from(id: DeployId) -> String {
        id.0
    }
}

impl fmt::Display for DeployId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeployId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeployId({})", self.0)
    }
}

/// A SHA-256 content hash. Made by hashing ([`AssetHash::of`], [`AssetHasher`]) or
/// by parsing a stored manifest or blob key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetHash([u8; 32]);

impl AssetHash {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> AssetHash {
        AssetHash(Sha256::digest(bytes).into())
    }

    /// Parses 64 lower-case hex digits.
    pub fn from_hex(text: &str) -> Option<AssetHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_val(*pair.first()?)?;
            let lo = hex_val(*pair.get(1)?)?;
            *out.get_mut(i)? = hi << 4 | lo;
        }
        Some(AssetHash(out))
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The KV key of the blob with this hash.
    pub fn blob_key(&self) -> String {
        format!("{BLOB_PREFIX}{}", self.to_hex())
    }

    /// The strong entity tag of a file with this content: the quoted hex hash.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.to_hex())
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for AssetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetHash({})", self.to_hex())
    }
}

impl Serialize for AssetHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for AssetHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AssetHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("hash must be 64 lower-case hex digits"))
    }
}

/// Incremental SHA-256 for files read in pieces (the CLI streams big files).
#[derive(Default)]
pub struct AssetHasher(Sha256);

impl AssetHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        AssetHasher(Sha256::new())
    }
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// The hash of everything fed.
    pub fn finish(self) -> AssetHash {
        AssetHash(self.0.finalize().into())
    }
}

/// Splits Unix seconds into UTC (year, month, day, hour, minute, second).
pub fn utc_parts(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / DAY) as i64;
    let rem = secs % DAY;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

/// Formats Unix seconds as `2025-05-09 07:30:12Z`.
pub fn format_utc(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn deploy_ids_are_validated_and_generated() {
        assert!(DeployId::parse("v1_release-2").is_ok());
        for bad in ["", "a b", "a/b", "a.b", "é", "a\0", &"x".repeat(65)] {
            assert!(DeployId::parse(bad).is_err(), "{bad:?}");
        }
        let e = DeployId::parse(&"x".repeat(65)).unwrap_err().to_string();
        assert!(e.contains("65 bytes") && e.contains("1 to 64"), "{e}");
        let gen = DeployId::generate(1_746_775_812, &AssetHash::of(b"tree"));
        assert!(gen.as_str().starts_with("20250509-073012-"), "{gen}");
        assert_eq!(gen.as_str().len(), 24);
        assert!(DeployId::parse(gen.as_str()).is_ok());
        assert_eq!(format_utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00Z");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn hashes_round_trip_and_reject_bad_hex() {
        let h = AssetHash::of(b"abc");
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(AssetHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(AssetHash::from_hex(&h.to_hex().to_uppercase()), None);
        assert_eq!(AssetHash::from_hex("abc"), None);
        assert_eq!(AssetHash::from_hex(&"g".repeat(64)), None);
        let mut inc = AssetHasher::new();
        inc.update(b"a");
        inc.update(b"bc");
        assert_eq!(inc.finish(), h);
        assert_eq!(h.etag(), format!("\"{}\"", h.to_hex()));
        assert!(h.blob_key().starts_with("blob:ba78"));
    }
}
