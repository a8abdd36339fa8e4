//! `edge-session revoke` and `edge-session denylist list`: admin revocation through
//! `wrangler kv` against the `DENYLIST` namespace (local with `--local`).

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use edge_session::denylist::{self, SID_PREFIX, USER_PREFIX};
use edge_session::manifest::format_utc;
use edge_session::session::{check_subject, Sid};
use edge_session::store::{block_on_ready, KvStore};

use crate::wrangler_kv::{KvArgs, WranglerKv};

/// Revoke one session or every session of a user.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The session id to revoke (the `sid` claim).
    // Session ids are base64url: one in 64 starts with `-`, which is a value here.
    #[arg(
        long,
        conflicts_with = "user",
        required_unless_present = "user",
        allow_hyphen_values = true
    )]
    sid: Option<String>,
    /// Sign this user (the `sub` claim) out everywhere: every session and bearer
    /// token authenticated up to now.
    #[arg(long, allow_hyphen_values = true)]
    user: Option<String>,
    /// The worker's SESSION_ABSOLUTE_TTL: how long the entry must live.
    #[arg(long, default_value_t = 604_800)]
    absolute_ttl: u64,
    /// The worker's CLOCK_SKEW.
    #[arg(long, default_value_t = 60)]
    leeway: u64,
    #[command(flatten)]
    kv: KvArgs,
}

/// Inspect the denylist.
#[derive(Subcommand, Debug)]
pub enum DenylistCmd {
    /// List entries and when each expires.
    List(ListArgs),
}

/// Arguments of `denylist list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    kv: KvArgs,
}

fn run_ready<F: std::future::Future>(f: F) -> Result<F::Output> {
    block_on_ready(f).context("the wrangler KV store unexpectedly returned a pending future")
}

/// Runs `revoke`.
pub fn revoke(a: RevokeArgs, now: u64) -> Result<ExitCode> {
    let store = WranglerKv::from_args(&a.kv, "DENYLIST");
    match (&a.sid, &a.user) {
        (Some(sid), None) => {
            if Sid::parse(sid).is_none() {
                bail!(
                    "`{sid}` is not a session id (22 base64url characters, as in the `sid` claim)"
                );
            }
            let exp = now.saturating_add(a.absolute_ttl);
            run_ready(denylist::revoke_session(&store, sid, exp, now, a.leeway, "admin"))??;
            println!("revoked session {sid} in {}", store.describe());
        }
        (None, Some(user)) => {
            check_subject(user).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
            run_ready(denylist::revoke_user(&store, user, now, a.absolute_ttl, a.leeway))??;
            println!(
                "signed out user {user} everywhere (sessions authenticated up to {}) in {}",
                format_utc(now),
                store.describe()
            );
        }
        _ => bail!("pass exactly one of --sid or --user"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `denylist …`.
pub fn denylist(cmd: DenylistCmd, now: u64) -> Result<ExitCode> {
    let DenylistCmd::List(a) = cmd;
    let store = WranglerKv::from_args(&a.kv, "DENYLIST");
    let mut rows = Vec::new();
    for prefix in [SID_PREFIX, USER_PREFIX] {
        rows.extend(run_ready(store.list(prefix))??);
    }
    if rows.is_empty() {
        println!("the denylist in {} is empty", store.describe());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<48} {:<22} IN", "KEY", "EXPIRES (UTC)");
    for row in rows {
        let (at, left) = match row.expiration {
            Some(exp) => (format_utc(exp), format!("{}s", exp.saturating_sub(now))),
            None => ("never".to_owned(), "-".to_owned()),
        };
        println!("{:<48} {:<22} {}", row.name, at, left);
    }
    Ok(ExitCode::SUCCESS)
}
