//! `edge-session`: the native command line of edge-session.
//!
//! Exit codes: 0 success; 1 the operation failed (bad input, store error);
//! 2 usage error (clap); 3 refused: `open` found the cookie invalid (tampered,
//! expired, …), or `assets` refused the input (file too large, bad path, unknown
//! or expired deploy), or `doctor` found a problem.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
mod assets;
#[cfg(not(target_arch = "wasm32"))]
mod dev_vars;
#[cfg(not(target_arch = "wasm32"))]
mod doctor;
#[cfg(not(target_arch = "wasm32"))]
mod keys;
#[cfg(not(target_arch = "wasm32"))]
mod origins;
#[cfg(not(target_arch = "wasm32"))]
mod revoke;
#[cfg(not(target_arch = "wasm32"))]
mod wrangler_kv;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = keys::Cli::parse();
    match keys::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
