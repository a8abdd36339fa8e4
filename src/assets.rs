//! Skew-free static assets, platform-independent: the router ([`classify`],
//! [`serve()`]), publishing ([`plan_publish`], [`commit_publish`], [`publish()`]),
//! rollout ([`promote`]) and garbage collection ([`plan_gc`], [`apply_gc`]), all
//! over [`KvStore`](crate::store::KvStore). Deploys, manifests, retention and pins
//! are in [`crate::manifest`].
//!
//! Serving rules (issue #4):
//! - A path under an origin path (`ASSET_ORIGIN_PATHS`) is never an asset.
//! - Until the first publish (no `deploys` key) every well-formed request goes
//!   to the origin, which may serve the site raw (dev fallback).
//! - Un-hashed paths (HTML, `favicon.ico`, …) come from the client's deploy: a
//!   retained pin (`?dpl=`, then `X-Deploy-Id`, then the pin cookie), else the
//!   canary or current deploy. Navigations ignore the pin cookie unless
//!   `ASSET_STICKY_NAVIGATIONS` is set, so a reload reaches a promoted deploy.
//!   They are sent with `Cache-Control: no-cache` and the content-hash ETag.
//! - Immutable (content-hashed) paths are answered from the client's deploy, else
//!   from any retained deploy, newest first, with
//!   `Cache-Control: public, max-age=31536000, immutable`.
//! - A miss on an asset-looking path is 404 `no-store`; HTML is never sent for a
//!   missing asset. The SPA fallback (`SPA_FALLBACK`) answers only navigations
//!   to paths that are not asset-looking. Other misses go to the origin.
//! - Every answer names its deploy in `X-Deploy-Id`; documents set the pin cookie
//!   (`SameSite=Lax; Secure; HttpOnly; Path=/`) when it changes.
//! - KV consistency: publishing writes blobs, manifest, deploy list in that order;
//!   an isolate that sees the list before the manifest (KV propagates each key on
//!   its own, up to about 60 s) falls back to the previous deploy, and a blob not
//!   yet visible is a 503 `no-store` (retryable), never a 404 that sticks.

mod cache;
pub mod conditional;
mod gc;
pub mod immutable;
mod publish;
#[cfg(test)]
mod publish_tests;
mod serve;
#[cfg(test)]
mod serve_tests;
#[cfg(test)]
pub(crate) mod testkit;

use std::fmt;

pub use crate::asset_paths::{
    content_type_for, decode_path, is_asset_like, is_content_hashed, key_for, validate_key,
    PathError, MAX_PATH_BYTES,
};
pub use cache::AssetCache;
pub use gc::{apply_gc, plan_gc, GcPlan};
pub use immutable::{BundlerRecord, Immutability, ImmutableReport, ImmutableRule, RecordKind};
pub use publish::{
    check_blob, commit_publish, load_deploys, plan_publish, promote, publish, upload_blob,
    MissingBlob, PlanKind, PublishFile, PublishOptions, PublishPlan, PublishSummary,
};
pub use serve::{classify, serve, Outcome, Route, Served};

use crate::manifest::{DeployId, ManifestError};
use crate::store::StoreError;

/// Name of the header that carries a deploy id, both ways and to the origin.
pub const DEPLOY_HEADER: &str = "x-deploy-id";
/// Name of the query parameter that pins a deploy.
pub const PIN_QUERY: &str = "dpl";
/// `Cache-Control` of content-hashed files.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Router settings, read once per isolate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetConfig {
    /// `ASSET_PREFIXES`: path prefixes that only assets live under; a miss there
    /// is a 404. Defaults to `/assets/`.
    pub asset_prefixes: Vec<String>,
    /// `ASSET_ORIGIN_PATHS`: paths never answered from assets (the origin's and
    /// the worker's own). An entry ending in `/` is a prefix; other entries match
    /// the path itself and everything below it. Defaults to `/api/, /_session/`.
    pub origin_paths: Vec<String>,
    /// `SPA_FALLBACK`: manifest key answered to navigations that match no file,
    /// e.g. `index.html`. Defaults to off.
    pub spa_fallback: Option<String>,
    /// `ASSET_PIN_COOKIE`: name of the pin cookie. Defaults to `__Host-dpl`.
    pub pin_cookie: String,
    /// `ASSET_STICKY_NAVIGATIONS`: let the pin cookie choose the deploy of
    /// navigations too. Defaults to false (a reload gets the current deploy).
    pub sticky_navigations: bool,
    /// `ASSET_CACHE_TTL`: seconds an isolate keeps the deploy list. Defaults to 5.
    pub cache_ttl: u64,
}

impl Default for AssetConfig {
    fn default() -> Self {
        AssetConfig {
            asset_prefixes: vec!["/assets/".into()],
            origin_paths: vec!["/api/".into(), "/_session/".into()],
            spa_fallback: None,
            pin_cookie: "__Host-dpl".into(),
            sticky_navigations: false,
            cache_ttl: 5,
        }
    }
}

/// A router setting that is present but wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetConfigError {
    /// The variable, e.g. `SPA_FALLBACK`.
    pub setting: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for AssetConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in {}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for AssetConfigError {}

impl AssetConfig {
    /// Reads the settings documented on the fields; absent or empty means default.
    ///
    /// # Errors
    /// The first setting that is malformed, named.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<AssetConfig, AssetConfigError> {
        let raw = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let bad = |setting: &'static str, problem: String| AssetConfigError { setting, problem };
        let mut cfg = AssetConfig::default();
        let list = |name: &'static str, v: String| -> Result<Vec<String>, AssetConfigError> {
            let items: Vec<String> =
                v.split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            match items.iter().find(|p| !p.starts_with('/') || p.len() > MAX_PATH_BYTES) {
                Some(p) => {
                    Err(bad(name, format!("`{}` must be a path starting with `/`", shown(p))))
                }
                None => Ok(items),
            }
        };
        if let Some(v) = raw("ASSET_PREFIXES") {
            cfg.asset_prefixes = list("ASSET_PREFIXES", v)?;
        }
        if let Some(v) = raw("ASSET_ORIGIN_PATHS") {
            cfg.origin_paths = list("ASSET_ORIGIN_PATHS", v)?;
        }
        match raw("SPA_FALLBACK").as_deref() {
            None | Some("off" | "false" | "none") => {}
            Some(v) => {
                let key = v.trim_start_matches('/');
                validate_key(key)
                    .map_err(|e| bad("SPA_FALLBACK", format!("`{}`: {e}", shown(v))))?;
                cfg.spa_fallback = Some(key.to_owned());
            }
        }
        if let Some(v) = raw("ASSET_PIN_COOKIE") {
            let ok = v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !ok {
                return Err(bad(
                    "ASSET_PIN_COOKIE",
                    format!("`{}` is not a cookie name", shown(&v)),
                ));
            }
            cfg.pin_cookie = v;
        }
        match raw("ASSET_STICKY_NAVIGATIONS").as_deref() {
            None => {}
            Some("true" | "1" | "yes") => cfg.sticky_navigations = true,
            Some("false" | "0" | "no") => cfg.sticky_navigations = false,
            Some(v) => {
                return Err(bad(
                    "ASSET_STICKY_NAVIGATIONS",
                    format!("must be `true` or `false`, got `{}`", shown(v)),
                ))
            }
        }
        if let Some(v) = raw("ASSET_CACHE_TTL") {
            cfg.cache_ttl = v.parse::<u64>().ok().filter(|t| *t <= 300).ok_or_else(|| {
                bad("ASSET_CACHE_TTL", format!("must be 0 to 300 seconds, got `{}`", shown(&v)))
            })?;
        }
        Ok(cfg)
    }
}

fn shown(v: &str) -> String {
    crate::manifest::shown(v)
}

/// A failure of publish, promote, list or gc.
#[derive(Debug)]
#[non_exhaustive]
pub enum AssetsError {
    /// KV failed.
    Store(StoreError),
    /// A stored document or an id is invalid, or an activation is refused.
    Manifest(ManifestError),
    /// The directory holds no files.
    NoFiles,
    /// A file path that cannot be served.
    BadPath {
        /// The path (relative to the published directory).
        path: String,
        /// Which rule it breaks.
        error: PathError,
    },
    /// Two files map to one path.
    DuplicatePath(String),
    /// A file above the KV value limit.
    TooLarge {
        /// The path.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A file changed between hashing and upload.
    ContentChanged(String),
    /// A file could not be read for upload.
    ReadFailed {
        /// The path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The deploy id exists with other files (deploy ids are immutable).
    Conflict(DeployId),
    /// Nothing has been published yet.
    NoDeploys,
    /// A deploy's origins that are not a list of `http(s)://host` URLs: why.
    BadOrigin(String),
    /// GC refused: a retained deploy's manifest is unusable.
    BrokenRetained {
        /// The deploy.
        id: DeployId,
        /// What is wrong with its manifest.
        reason: String,
    },
}

/// `bytes` in tenths of a MiB, rounded (integer arithmetic: no float formatting in
/// the worker).
fn mib_tenths(bytes: u64) -> u64 {
    bytes.saturating_mul(10).saturating_add(524_288) / 1_048_576
}

impl fmt::Display for AssetsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssetsError::Store(e) => write!(f, "{e}"),
            AssetsError::Manifest(e) => write!(f, "{e}"),
            AssetsError::NoFiles => f.write_str("nothing to publish: the directory holds no files"),
            AssetsError::BadPath { path, error } => write!(f, "cannot publish `{}`: {error}", shown(path)),
            AssetsError::DuplicatePath(p) => write!(f, "two files map to the path `{}`", shown(p)),
            AssetsError::TooLarge { path, size } => write!(
                f,
                "`{}` is {size} bytes ({}.{} MiB); Workers KV values are limited to {} bytes \
                 (25 MiB), so it cannot be published as an asset (split it at build time or \
                 serve it from R2)",
                shown(path),
                mib_tenths(*size) / 10,
                mib_tenths(*size) % 10,
                crate::manifest::MAX_BLOB_BYTES
            ),
            AssetsError::ContentChanged(p) => {
                write!(f, "`{}` changed while publishing; run the publish again", shown(p))
            }
            AssetsError::ReadFailed { path, reason } => write!(f, "cannot read `{}`: {reason}", shown(path)),
            AssetsError::Conflict(id) => write!(
                f,
                "deploy `{id}` already exists with other files; deploy ids are immutable, choose another"
            ),
            AssetsError::NoDeploys => f.write_str("nothing has been published yet (no `deploys` key)"),
            AssetsError::BadOrigin(why) => write!(f, "the deploy's origins: {why}"),
            AssetsError::BrokenRetained { id, reason } => write!(
                f,
                "refusing to collect: retained deploy `{id}` has an unusable manifest ({reason}); \
                 nothing was deleted"
            ),
        }
    }
}

impl std::error::Error for AssetsError {}

impl From<StoreError> for AssetsError {
    fn from(e: StoreError) -> Self {
        AssetsError::Store(e)
    }
}

impl From<ManifestError> for AssetsError {
    fn from(e: ManifestError) -> Self {
        AssetsError::Manifest(e)
    }
}

/// Checks a deploy's origins (one base URL, or a list as in `ORIGINS`:
/// [`crate::manifest::deploy_pool`]); returned in that syntax, normalized.
///
/// # Errors
/// [`AssetsError::BadOrigin`].
pub fn validate_origin(spec: &str) -> Result<String, AssetsError> {
    let pool = crate::manifest::deploy_pool(spec).map_err(AssetsError::BadOrigin)?;
    let entry = |o: &crate::fleet::PoolOrigin| match o.weight {
        1 => o.url.clone(),
        w => format!("{} weight={w}", o.url),
    };
    Ok(pool.iter().map(entry).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn config_defaults_and_errors_name_the_setting() {
        let none = AssetConfig::from_lookup(|_| None).unwrap();
        assert_eq!(none, AssetConfig::default());
        let cfg = AssetConfig::from_lookup(|n| match n {
            "ASSET_PREFIXES" => Some("/static/, /img/".into()),
            "SPA_FALLBACK" => Some("/index.html".into()),
            "ASSET_STICKY_NAVIGATIONS" => Some("yes".into()),
            "ASSET_CACHE_TTL" => Some("0".into()),
            "ASSET_PIN_COOKIE" => Some("dpl".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.asset_prefixes, ["/static/", "/img/"]);
        assert_eq!(cfg.spa_fallback.as_deref(), Some("index.html"));
        assert!(cfg.sticky_navigations);
        assert_eq!((cfg.cache_ttl, cfg.pin_cookie.as_str()), (0, "dpl"));
        for (name, value) in [
            ("ASSET_PREFIXES", "static/"),
            ("ASSET_ORIGIN_PATHS", "/api/,api"),
            ("SPA_FALLBACK", "../x.html"),
            ("ASSET_PIN_COOKIE", "a b"),
            ("ASSET_STICKY_NAVIGATIONS", "maybe"),
            ("ASSET_CACHE_TTL", "-1"),
            ("ASSET_CACHE_TTL", "301"),
        ] {
            let e =
                AssetConfig::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
            assert_eq!(e.setting, name, "{value}: {e}");
            assert!(e.to_string().starts_with(&format!("configuration error in {name}")));
        }
        assert!(AssetConfig::from_lookup(|n| (n == "SPA_FALLBACK").then(|| "off".into()))
            .unwrap()
            .spa_fallback
            .is_none());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn origins_are_checked() {
        assert_eq!(validate_origin("https://v2.api.test/").unwrap(), "https://v2.api.test");
        assert_eq!(validate_origin("http://127.0.0.1:8788").unwrap(), "http://127.0.0.1:8788");
        assert_eq!(
            validate_origin(" https://a.test/ ,https://b.test weight=3").unwrap(),
            "https://a.test, https://b.test weight=3",
            "a deploy may name a pool"
        );
        let e = validate_origin("https://a.test, https://a.test").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        for bad in ["ftp://x", "https://", "https://u:p@x", "https://x/?q", "https://x y", "x", ""]
        {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
        let e = AssetsError::TooLarge { path: "big.bin".into(), size: 30 * 1_048_576 };
        assert!(
            e.to_string().contains("31457280 bytes (30.0 MiB)")
                && e.to_string().contains("26214400 bytes"),
            "{e}"
        );
        let e = AssetsError::TooLarge { path: "big.bin".into(), size: 27_000_000 };
        assert!(e.to_string().contains("(25.7 MiB)"), "{e}");
    }
}
