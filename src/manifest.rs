//! Deploys of static assets: content hashes, per-deploy manifests, the deploy list,
//! retention, canary assignment and the choice of the deploy a client is served.
//!
//! Storage layout (KV namespace `ASSETS`):
//! - `blob:<sha256 hex>`: the raw bytes of one file, written once, never changed.
//! - `manifest:<deploy id>`: a [`Manifest`] (JSON): path → [`FileEntry`].
//!   Manifests are immutable: a deploy id names one tree forever, so readers may
//!   cache a parsed manifest without expiry.
//! - `deploys`: the [`DeploysDoc`] (JSON): every deploy in publication order, the
//!   `current` one, an optional `canary`, and the retention settings.
//!
//! Invariants:
//! - Publishing writes blobs, then the manifest, then the deploy list, so a reader
//!   that finds a deploy in the list finds its manifest and blobs (up to KV's
//!   eventual consistency; see `assets`).
//! - Files larger than [`MAX_BLOB_BYTES`] are refused at publish time, never split:
//!   the worker builds a response body in memory and an isolate has 128 MB.
//! - Retention is a pure function of the deploy list and `now`, shared by the
//!   router and `gc`; for a fixed list it only shrinks as time passes, so `gc`
//!   never deletes what a reader with the same list would still serve.
//! - The current and the canary deploy are always retained.
//! - Canary assignment is a stable hash of (canary id, client id): a client inside
//!   the canary share stays inside as the share grows.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod ids;
pub use ids::{format_utc, utc_parts, AssetHash, AssetHasher, DeployId};

/// Key of the deploy list.
pub const DEPLOYS_KEY: &str = "deploys";
/// Prefix of manifest keys: `manifest:<deploy id>`.
pub const MANIFEST_PREFIX: &str = "manifest:";
/// Prefix of blob keys: `blob:<sha256 hex>`.
pub const BLOB_PREFIX: &str = "blob:";
/// Workers KV's value size limit: 25 MiB. Larger files are refused.
pub const MAX_BLOB_BYTES: u64 = 25 * 1024 * 1024;
/// The longest deploy id.
pub const MAX_DEPLOY_ID_LEN: usize = 64;
/// The format version written into manifests and the deploy list.
pub const FORMAT_VERSION: u32 = 1;
const DAY: u64 = 86_400;

/// What is wrong with a stored document or an identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// A deploy id outside `[A-Za-z0-9_-]{1,64}`; the value is not echoed.
    BadDeployId {
        /// Its length in bytes.
        len: usize,
    },
    /// A document that is not the expected JSON.
    Malformed {
        /// Which document (`deploys` or `manifest:<id>`).
        what: String,
        /// What the parser or the validation said.
        reason: String,
    },
    /// A deploy id that is not in the deploy list.
    UnknownDeploy(DeployId),
    /// A deploy that is listed but out of retention (its files may be gone).
    NotRetained(DeployId),
    /// A canary share above 100 %.
    BadPercent(u8),
    /// Retention that would keep nothing.
    BadRetention,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::BadDeployId { len } => write!(
                f,
                "deploy id of {len} bytes is invalid; expected 1 to 64 characters from A-Z a-z 0-9 _ -"
            ),
            ManifestError::Malformed { what, reason } => write!(f, "`{what}` is malformed: {reason}"),
            ManifestError::UnknownDeploy(id) => write!(f, "deploy `{id}` is not in the deploy list"),
            ManifestError::NotRetained(id) => write!(
                f,
                "deploy `{id}` is out of retention (its files may already be collected); publish it again instead"
            ),
            ManifestError::BadPercent(p) => write!(f, "canary share is {p} %; expected 0 to 100"),
            ManifestError::BadRetention => write!(f, "retention must keep at least 1 deploy"),
        }
    }
}

impl std::error::Error for ManifestError {}

fn malformed(what: &str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Malformed { what: what.to_owned(), reason: reason.into() }
}

/// One file of a deploy. Serialized with an informative `etag` field; readers
/// derive the ETag from `hash` and ignore the stored one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileEntry {
    /// SHA-256 of the content; the blob key.
    pub hash: AssetHash,
    /// The `Content-Type` to answer with (visible ASCII only).
    #[serde(rename = "type")]
    pub content_type: String,
    /// Size in bytes (at most [`MAX_BLOB_BYTES`]).
    pub size: u64,
    /// True for content-hashed names, served `immutable` from any retained deploy.
    pub immutable: bool,
}

impl Serialize for FileEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FileEntry", 5)?;
        st.serialize_field("hash", &self.hash)?;
        st.serialize_field("type", &self.content_type)?;
        st.serialize_field("size", &self.size)?;
        st.serialize_field("etag", &self.hash.etag())?;
        st.serialize_field("immutable", &self.immutable)?;
        st.end()
    }
}

/// The file list of one deploy: manifest key (URL path without the leading `/`,
/// percent-decoded) → [`FileEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The deploy this manifest belongs to.
    pub id: DeployId,
    /// Publication time, Unix seconds.
    pub created: u64,
    /// Path → entry, sorted.
    pub files: BTreeMap<String, FileEntry>,
}

impl Manifest {
    /// Parses and validates a stored manifest.
    ///
    /// # Errors
    /// [`ManifestError::Malformed`] for bad JSON, another version, an invalid path,
    /// an oversized file or a content type that is not a safe header value.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest, ManifestError> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| malformed(what, e.to_string()))?;
        if m.version != FORMAT_VERSION {
            return Err(malformed(
                what,
                format!("version {} (expected {FORMAT_VERSION})", m.version),
            ));
        }
        for (path, entry) in &m.files {
            crate::asset_paths::validate_key(path)
                .map_err(|e| malformed(what, format!("path `{}`: {e}", shown(path))))?;
            if entry.size > MAX_BLOB_BYTES {
                return Err(malformed(what, format!("`{}` is larger than 25 MiB", shown(path))));
            }
            if entry.content_type.is_empty()
                || entry.content_type.len() > 200
                || !entry.content_type.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(malformed(
                    what,
                    format!("`{}` has an unusable content type", shown(path)),
                ));
            }
        }
        Ok(m)
    }

    /// The JSON stored under `manifest:<id>`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A hash of the file list alone (not id or time): equal trees, equal hashes.
    pub fn tree_hash(&self) -> AssetHash {
        AssetHash::of(&serde_json::to_vec(&self.files).unwrap_or_default())
    }

    /// Sum of the file sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().fold(0u64, |acc, e| acc.saturating_add(e.size))
    }
}

/// Shows a stored or client-supplied string in a message: short, no controls.
pub(crate) fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// How long deploys are kept. Defaults to the last 5 deploys and any younger
/// than 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Keep the last `keep_last` deploys (at least 1). Defaults to 5.
    pub keep_last: u32,
    /// Keep every deploy younger than `keep_days` days. Defaults to 7.
    pub keep_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { keep_last: 5, keep_days: 7 }
    }
}

/// Retention settings to change; `None` keeps the stored value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionUpdate {
    /// New `keep_last` (at least 1).
    pub keep_last: Option<u32>,
    /// New `keep_days`.
    pub keep_days: Option<u32>,
}

impl RetentionUpdate {
    /// Applies the update.
    ///
    /// # Errors
    /// [`ManifestError::BadRetention`] for `keep_last` 0.
    pub fn apply(&self, r: &mut Retention) -> Result<(), ManifestError> {
        if self.keep_last == Some(0) {
            return Err(ManifestError::BadRetention);
        }
        r.keep_last = self.keep_last.unwrap_or(r.keep_last);
        r.keep_days = self.keep_days.unwrap_or(r.keep_days);
        Ok(())
    }
}

/// One deploy in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployEntry {
    /// Its id.
    pub id: DeployId,
    /// Publication time, Unix seconds.
    pub created: u64,
    /// Number of files.
    pub files: u64,
    /// Total size of its files.
    pub bytes: u64,
    /// The deploy's own origins, for clients pinned to it: a base URL, or several
    /// in the syntax of `ORIGINS` ([`deploy_pool`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A deploy that receives a share of new clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// The canary deploy.
    pub id: DeployId,
    /// Share of new clients sent to it, 0 to 100 (0: reachable only by `?dpl=`).
    pub percent: u8,
}

/// How a deploy is activated by publish or promote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Becomes the current deploy; any canary is cleared.
    Current,
    /// Becomes the canary with this share (or current when there is none yet).
    Canary(u8),
}

/// The deploy list stored under [`DEPLOYS_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploysDoc {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Deploys in publication order, oldest first.
    pub deploys: Vec<DeployEntry>,
    /// The deploy new clients get.
    pub current: Option<DeployId>,
    /// The deploy a share of new clients gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// Retention settings, shared by the router and `gc`.
    #[serde(default)]
    pub retention: Retention,
}

impl Default for DeploysDoc {
    fn default() -> Self {
        DeploysDoc {
            version: FORMAT_VERSION,
            deploys: Vec::new(),
            current: None,
            canary: None,
            retention: Retention::default(),
        }
    }
}

/// Where a deploy stands, for `assets list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployState {
    /// The current deploy.
    Current,
    /// The canary, with its share.
    Canary(u8),
    /// Kept by retention: still served to pinned clients and for hashed assets.
    Retained,
    /// Out of retention: no longer served, collected by the next `gc`.
    Expired,
}

impl fmt::Display for DeployState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployState::Current => f.write_str("current"),
            DeployState::Canary(p) => write!(f, "canary {p}%"),
            DeployState::Retained => f.write_str("retained"),
            DeployState::Expired => f.write_str("expired"),
        }
    }
}

/// Why a deploy was chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSource {
    /// `?dpl=<id>` in the query.
    Query,
    /// The `X-Deploy-Id` request header.
    Header,
    /// The pin cookie.
    Cookie,
    /// The canary share, by the client id's bucket.
    Canary,
    /// The current deploy.
    Current,
    /// A retained deploy older than current (current's manifest is unusable).
    Fallback,
}

/// The pins a request carries, raw; invalid or unknown ones are ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pins<'a> {
    /// From `?dpl=`.
    pub query: Option<&'a str>,
    /// From `X-Deploy-Id`.
    pub header: Option<&'a str>,
    /// From the pin cookie (already left out for navigations unless sticky).
    pub cookie: Option<&'a str>,
}

impl DeploysDoc {
    /// Parses and validates the deploy list.
    ///
    /// # Errors
    /// [`ManifestError::Malformed`] for bad JSON, another version, duplicate ids,
    /// a current or canary id not in the list, a share above 100 or `keep_last` 0.
    pub fn parse(bytes: &[u8]) -> Result<DeploysDoc, ManifestError> {
        let doc: DeploysDoc =
            serde_json::from_slice(bytes).map_err(|e| malformed(DEPLOYS_KEY, e.to_string()))?;
        if doc.version != FORMAT_VERSION {
            return Err(malformed(DEPLOYS_KEY, format!("version {}", doc.version)));
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &doc.deploys {
            if !seen.insert(&d.id) {
                return Err(malformed(DEPLOYS_KEY, format!("deploy `{}` is listed twice", d.id)));
            }
        }
        if let Some(c) = &doc.current {
            if !seen.contains(c) {
                return Err(malformed(DEPLOYS_KEY, format!("current `{c}` is not listed")));
            }
        }
        if let Some(c) = &doc.canary {
            if !seen.contains(&c.id) || c.percent > 100 {
                return Err(malformed(DEPLOYS_KEY, format!("canary `{}` is invalid", c.id)));
            }
        }
        for d in &doc.deploys {
            if let Some(o) = &d.origin {
                if let Err(e) = deploy_pool(o) {
                    let why = format!("deploy `{}`: origin {e}", d.id);
                    return Err(malformed(DEPLOYS_KEY, why));
                }
            }
        }
        if doc.retention.keep_last == 0 {
            return Err(malformed(DEPLOYS_KEY, "retention.keep_last is 0"));
        }
        Ok(doc)
    }

    /// The JSON stored under [`DEPLOYS_KEY`].
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The entry of `id`.
    pub fn entry(&self, id: &DeployId) -> Option<&DeployEntry> {
        self.deploys.iter().find(|d| &d.id == id)
    }

    /// The state of `id` at `now`, or `None` when it is not listed.
    pub fn state(&self, id: &DeployId, now: u64) -> Option<DeployState> {
        let pos = self.deploys.iter().position(|d| &d.id == id)?;
        let entry = self.deploys.get(pos)?;
        if self.current.as_ref() == Some(id) {
            return Some(DeployState::Current);
        }
        if let Some(c) = self.canary.as_ref().filter(|c| &c.id == id) {
            return Some(DeployState::Canary(c.percent));
        }
        let from_end = self.deploys.len().saturating_sub(pos);
        let young = now.saturating_sub(entry.created)
            < u64::from(self.retention.keep_days).saturating_mul(DAY);
        let recent = from_end <= self.retention.keep_last as usize;
        Some(if young || recent { DeployState::Retained } else { DeployState::Expired })
    }

    /// True when `id` is listed and not expired at `now`.
    pub fn is_retained(&self, id: &DeployId, now: u64) -> bool {
        matches!(self.state(id, now), Some(s) if s != DeployState::Expired)
    }

    /// Retained deploys at `now`, newest first.
    pub fn retained(&self, now: u64) -> Vec<&DeployEntry> {
        self.deploys.iter().rev().filter(|d| self.is_retained(&d.id, now)).collect()
    }

    /// The deploy a new client gets: the canary when `client_id` falls in its
    /// share, else the current deploy.
    pub fn assign(&self, client_id: &str, now: u64) -> Option<(&DeployId, PinSource)> {
        if let Some(c) = &self.canary {
            if self.is_retained(&c.id, now)
                && canary_bucket(&c.id, client_id) < u32::from(c.percent) * 100
            {
                return Some((&c.id, PinSource::Canary));
            }
        }
        self.current.as_ref().map(|c| (c, PinSource::Current))
    }

    /// Deploys to try for a request, best first, without duplicates: the first
    /// valid, retained pin (query, header, cookie in that order), the assigned
    /// deploy (canary or current), then retained deploys older than current,
    /// newest first (used only when the better ones' manifests cannot be read).
    /// Pins that are malformed, unknown or out of retention are skipped; the
    /// second list says which sources were ignored.
    pub fn candidates(
        &self,
        pins: &Pins<'_>,
        client_id: &str,
        now: u64,
    ) -> (Vec<(DeployId, PinSource)>, Vec<PinSource>) {
        let mut out: Vec<(DeployId, PinSource)> = Vec::new();
        let mut ignored = Vec::new();
        let push = |out: &mut Vec<(DeployId, PinSource)>, id: &DeployId, src| {
            if !out.iter().any(|(o, _)| o == id) {
                out.push((id.clone(), src));
            }
        };
        for (raw, src) in [
            (pins.query, PinSource::Query),
            (pins.header, PinSource::Header),
            (pins.cookie, PinSource::Cookie),
        ] {
            let Some(raw) = raw else { continue };
            match DeployId::parse(raw.trim()) {
                Ok(id) if self.is_retained(&id, now) => {
                    if out.is_empty() {
                        push(&mut out, &id, src);
                    }
                }
                _ => ignored.push(src),
            }
        }
        if let Some((id, src)) = self.assign(client_id, now) {
            push(&mut out, id, src);
        }
        if let Some(current) = &self.current {
            let pos = self.deploys.iter().position(|d| &d.id == current).unwrap_or(0);
            for d in self.deploys.iter().take(pos).rev() {
                if self.is_retained(&d.id, now) {
                    push(&mut out, &d.id, PinSource::Fallback);
                }
            }
        }
        (out, ignored)
    }

    /// Adds (when `entry` is given) and activates a deploy.
    ///
    /// # Errors
    /// [`ManifestError::UnknownDeploy`] when `id` is neither listed nor given,
    /// [`ManifestError::NotRetained`] for an expired deploy,
    /// [`ManifestError::BadPercent`] above 100.
    pub fn activate(
        &mut self,
        id: &DeployId,
        entry: Option<DeployEntry>,
        how: Activation,
        now: u64,
    ) -> Result<(), ManifestError> {
        if let Some(entry) = entry {
            match self.deploys.iter_mut().find(|d| d.id == entry.id) {
                Some(existing) => existing.origin = entry.origin,
                None => self.deploys.push(entry),
            }
        }
        if self.entry(id).is_none() {
            return Err(ManifestError::UnknownDeploy(id.clone()));
        }
        if !self.is_retained(id, now) {
            return Err(ManifestError::NotRetained(id.clone()));
        }
        match how {
            Activation::Current => {
                self.current = Some(id.clone());
                self.canary = None;
            }
            Activation::Canary(p) if p > 100 => return Err(ManifestError::BadPercent(p)),
            Activation::Canary(_) if self.current.is_none() => self.current = Some(id.clone()),
            Activation::Canary(_) if self.current.as_ref() == Some(id) => self.canary = None,
            Activation::Canary(p) => self.canary = Some(Canary { id: id.clone(), percent: p }),
        }
        Ok(())
    }
}

/// The canary bucket of a client, 0 to 9999: the first four bytes of
/// SHA-256(`edge-session canary v1`, canary id, client id) modulo 10 000. A client
/// is in a share of `p` % when its bucket is below `p * 100`, so growing the share
/// only ever adds clients.
pub fn canary_bucket(canary: &DeployId, client_id: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(b"edge-session canary v1\0");
    h.update(canary.as_str().as_bytes());
    h.update([0u8]);
    h.update(client_id.as_bytes());
    let d = h.finalize();
    let n = d.iter().take(4).fold(0u32, |acc, b| acc << 8 | u32::from(*b));
    n % 10_000
}

/// A deploy's own origins (its `origin` field: one base URL, or a list in the
/// syntax of `ORIGINS`), checked.
///
/// # Errors
/// What is wrong with the list.
pub fn deploy_pool(spec: &str) -> Result<Vec<crate::fleet::PoolOrigin>, String> {
    crate::fleet::parse_origins(spec, crate::fleet::check_url).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeployId {
        DeployId::parse(s).unwrap()
    }

    fn doc_with(ids: &[(&str, u64)]) -> DeploysDoc {
        let mut doc = DeploysDoc::default();
        for (i, c) in ids {
            doc.activate(
                &id(i),
                Some(DeployEntry { id: id(i), created: *c, files: 1, bytes: 1, origin: None }),
                Activation::Current,
                *c,
            )
            .unwrap();
        }
        doc
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn manifests_round_trip_and_bad_ones_are_refused() {
        let mut files = BTreeMap::new();
        let e = FileEntry {
            hash: AssetHash::of(b"x"),
            content_type: "text/html; charset=utf-8".into(),
            size: 1,
            immutable: false,
        };
        files.insert("index.html".to_owned(), e.clone());
        let m = Manifest { version: 1, id: id("d1"), created: 5, files };
        let json = m.to_json();
        assert!(String::from_utf8_lossy(&json).contains("\"etag\""));
        assert_eq!(Manifest::parse(&json, "m").unwrap(), m);
        let text = String::from_utf8(json).unwrap();
        let cases = [
            text.replace("\"version\":1", "\"version\":2"),
            text.replace("index.html", "../x"),
            text.replace("text/html; charset=utf-8", "text/html\\r\\nX: y"),
            text.replace("\"size\":1", "\"size\":99999999999"),
            text.replace(&e.hash.to_hex(), "zz"),
            "{".to_owned(),
        ];
        for bad in cases {
            let err = Manifest::parse(bad.as_bytes(), "manifest:d1").unwrap_err();
            assert!(matches!(err, ManifestError::Malformed { .. }), "{bad}");
            assert!(err.to_string().starts_with("`manifest:d1` is malformed"), "{err}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn deploy_list_validation() {
        let doc = doc_with(&[("a", 1), ("b", 2)]);
        assert_eq!(DeploysDoc::parse(&doc.to_json()).unwrap(), doc);
        let text = String::from_utf8(doc.to_json()).unwrap();
        for bad in [
            text.replace("\"current\": \"b\"", "\"current\": \"zz\""),
            text.replace("\"id\": \"a\"", "\"id\": \"b\""),
            text.replace("\"keep_last\": 5", "\"keep_last\": 0"),
            text.replace("\"version\": 1", "\"version\": 9"),
            "[]".to_owned(),
        ] {
            assert!(DeploysDoc::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn retention_keeps_last_n_young_current_and_canary() {
        let now = 100 * DAY;
        let mut doc = doc_with(&[("a", DAY), ("b", 2 * DAY), ("c", 3 * DAY), ("d", now - DAY)]);
        doc.retention = Retention { keep_last: 2, keep_days: 7 };
        doc.activate(&id("d"), None, Activation::Current, now).unwrap();
        let kept: Vec<_> = doc.retained(now).iter().map(|d| d.id.to_string()).collect();
        assert_eq!(kept, ["d", "c"]);
        assert_eq!(doc.state(&id("a"), now), Some(DeployState::Expired));
        // Promote of an expired deploy is refused.
        assert_eq!(
            doc.activate(&id("a"), None, Activation::Current, now),
            Err(ManifestError::NotRetained(id("a")))
        );
        // A canary is retained even when old.
        doc.activate(&id("c"), None, Activation::Canary(10), now).unwrap();
        doc.retention.keep_last = 1;
        assert_eq!(doc.state(&id("c"), now), Some(DeployState::Canary(10)));
        let kept: Vec<_> = doc.retained(now).iter().map(|d| d.id.to_string()).collect();
        assert_eq!(kept, ["d", "c"]);
        // Young deploys survive keep_last.
        doc.retention = Retention { keep_last: 1, keep_days: 200 };
        assert_eq!(doc.retained(now).len(), 4);
        assert!(doc.activate(&id("zz"), None, Activation::Current, now).is_err());
        assert_eq!(
            doc.activate(&id("d"), None, Activation::Canary(101), now),
            Err(ManifestError::BadPercent(101))
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn promote_clears_canary_and_first_canary_becomes_current() {
        let mut doc = DeploysDoc::default();
        let e = |s: &str| DeployEntry { id: id(s), created: 1, files: 0, bytes: 0, origin: None };
        doc.activate(&id("a"), Some(e("a")), Activation::Canary(30), 1).unwrap();
        assert_eq!(doc.current, Some(id("a")));
        assert_eq!(doc.canary, None);
        doc.activate(&id("b"), Some(e("b")), Activation::Canary(30), 1).unwrap();
        assert_eq!(doc.canary, Some(Canary { id: id("b"), percent: 30 }));
        doc.activate(&id("a"), None, Activation::Current, 1).unwrap();
        assert_eq!((doc.current.clone(), doc.canary.clone()), (Some(id("a")), None));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn canary_split_is_near_target_and_monotonic() {
        let mut doc = doc_with(&[("old", 1), ("new", 2)]);
        doc.activate(&id("old"), None, Activation::Current, 3).unwrap();
        let clients: Vec<String> = (0..1000).map(|i| format!("client-{i}")).collect();
        let mut previous: Vec<bool> = vec![false; clients.len()];
        for pct in [0u8, 1, 5, 10, 25, 50, 75, 90, 100] {
            doc.activate(&id("new"), None, Activation::Canary(pct), 3).unwrap();
            let now_in: Vec<bool> = clients
                .iter()
                .map(|c| doc.assign(c, 3).map(|(d, _)| d.as_str()) == Some("new"))
                .collect();
            let share = now_in.iter().filter(|b| **b).count() as f64 / 10.0;
            assert!((share - f64::from(pct)).abs() <= 5.0, "{pct}% gave {share}%");
            for (before, after) in previous.iter().zip(&now_in) {
                assert!(!before || *after, "a client moved back at {pct}%");
            }
            previous = now_in;
        }
        assert!(previous.iter().all(|b| *b));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn candidates_prefer_valid_pins_and_skip_unknown_ones() {
        let now = 10;
        let doc = doc_with(&[("a", 1), ("b", 2), ("c", 3)]);
        let pins = Pins { query: Some("nope"), header: Some("a"), cookie: Some("b") };
        let (c, ignored) = doc.candidates(&pins, "x", now);
        let ids: Vec<_> = c.iter().map(|(i, s)| (i.as_str(), *s)).collect();
        assert_eq!(
            ids,
            [("a", PinSource::Header), ("c", PinSource::Current), ("b", PinSource::Fallback)]
        );
        assert_eq!(ignored, [PinSource::Query]);
        let pins = Pins { query: Some("../etc"), header: None, cookie: Some("b") };
        let (c, _) = doc.candidates(&pins, "x", now);
        assert_eq!(c.first().map(|(i, s)| (i.as_str(), *s)), Some(("b", PinSource::Cookie)));
        let (c, ignored) = doc.candidates(&Pins::default(), "x", now);
        assert_eq!(c.first().map(|(i, _)| i.as_str()), Some("c"));
        assert!(ignored.is_empty());
        let (c, _) = DeploysDoc::default().candidates(&pins, "x", now);
        assert!(c.is_empty());
    }
}
