//! The per-request hot path of edge-session: the key ring, the sealed envelope and its
//! AEAD, the session claims, HS256 signatures and the HTTP header lists. A separate
//! crate only so that it is compiled at opt-level 3 while the rest of the worker is
//! built for size (see `Cargo.toml` here); use it through `edge_session`, which
//! re-exports these modules unchanged.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[path = "../aead.rs"]
pub mod aead;
#[path = "../ascii.rs"]
pub mod ascii;
#[path = "../b64.rs"]
pub mod b64;
#[path = "../chacha.rs"]
pub mod chacha;
#[path = "../claims_json.rs"]
mod claims_json;
#[path = "../data.rs"]
pub mod data;
#[path = "../hs256.rs"]
pub mod hs256;
#[path = "../http.rs"]
pub mod http;
#[path = "../keyring.rs"]
pub mod keyring;
#[path = "../seal.rs"]
pub mod seal;
#[path = "../session.rs"]
pub mod session;
