//! The per-request hot path of edge-session: the key ring, the sealed envelope and its
//! AEAD, the session claims, HS256 signatures and the HTTP header lists. A separate
//! crate only so that it is compiled at opt-level 3 while the rest of the worker is
//! built for size (see `Cargo.toml` here); use it through `edge_session`, which
//! re-exports these modules unchanged.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod aead;
pub mod ascii;
pub mod b64;
pub mod chacha;
mod claims;
mod claims_json;
pub mod data;
pub mod hs256;
pub mod http;
pub mod keyring;
pub mod seal;
pub mod session;
