//! # edge-session
//!
//! Sealed client-side sessions, edge revocation and skew-free static assets for
//! Cloudflare Workers, so that origin servers hold no session state at all.
//!
//! The crate has three faces:
//! - a **platform-independent core** (every public module here): pure Rust, no I/O,
//!   no clock, no randomness. Time comes in as `now` (Unix seconds), randomness as
//!   bytes, storage through small traits. It is tested natively and on wasm32.
//! - a **thin wasm32 shell** (`shell`, only on `wasm32`): the Workers `fetch` handler
//!   that maps the core onto KV, origin `fetch` and secrets.
//! - a **native CLI** (`src/bin/edge-session`) for keys, inspection, revocation and
//!   asset publishing, and a stateless **demo origin** (`src/bin/demo-origin.rs`).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// Compiled as their own crate at opt-level 3 (src/hotpath/Cargo.toml says why),
// with their sources in src/hotpath/src/.
pub use edge_session_hotpath::{
    aead, ascii, b64, chacha, data, hs256, http, keyring, seal, session,
};

mod asset_paths;
pub mod assets;
pub mod config;
pub mod cookie;
pub mod denylist;
mod escaped;
pub mod fleet;
pub mod gateway;
pub mod jwt;
pub mod manifest;
pub mod pipeline;
pub mod store;
pub mod telemetry;

#[cfg(target_arch = "wasm32")]
mod shell;
