//! The pool's run-time state, kept in KV under [`POOL_KEY`] (in the `ASSETS`
//! namespace): which origins are drained, and when each was drained or undrained.
//! `edge-session origins drain|undrain|list` writes and reads it; each isolate reads
//! it at most every `POOL_CACHE_TTL` seconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The KV key of the pool state.
pub const POOL_KEY: &str = "pool";

/// Drained origins and undrained ones (base URL → Unix seconds of the change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolState {
    /// Origins that get no new requests.
    #[serde(default)]
    pub drained: BTreeMap<String, u64>,
    /// Origins brought back, and when (their slow start counts from then).
    #[serde(default)]
    pub undrained: BTreeMap<String, u64>,
}

impl PoolState {
    /// Reads the stored JSON.
    ///
    /// # Errors
    /// A message saying why it is not a pool state.
    pub fn parse(bytes: &[u8]) -> Result<PoolState, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("`{POOL_KEY}` is malformed: {e}"))
    }

    /// The JSON to store.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Drains `url` at `now`.
    pub fn drain(&mut self, url: &str, now: u64) {
        self.undrained.remove(url);
        self.drained.insert(url.to_owned(), now);
    }

    /// Undrains `url` at `now` (its slow start begins).
    pub fn undrain(&mut self, url: &str, now: u64) {
        self.drained.remove(url);
        self.undrained.insert(url.to_owned(), now);
    }
}
