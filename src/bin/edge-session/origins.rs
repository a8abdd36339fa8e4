//! `edge-session origins list|drain URL|undrain URL`: the pool's run-time state in
//! KV (`pool` in the `ASSETS` namespace), written through `wrangler kv` like
//! `revoke` (local with `--local`). A drained origin gets no new requests once each
//! isolate has read the state (`POOL_CACHE_TTL`, at most 10 s, plus KV propagation
//! in production); requests in flight finish. An undrained one ramps up over
//! `ORIGIN_SLOW_START`.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use edge_session::fleet::{check_url, HealthReport, PoolState, HEALTH_KEY, POOL_KEY};
use edge_session::manifest::format_utc;
use edge_session::store::{block_on_ready, KvStore};

use crate::assets::DEFAULT_BINDING;
use crate::wrangler_kv::{KvArgs, WranglerKv};

/// Change or show which origins of `ORIGINS` take new requests.
#[derive(Subcommand, Debug)]
pub enum OriginsCmd {
    /// Show drained and undrained origins, and what the last health check found.
    List(ListArgs),
    /// Stop new requests to an origin (as listed in ORIGINS), e.g. before redeploying it.
    Drain(ChangeArgs),
    /// Send requests to a drained origin again, ramping up over ORIGIN_SLOW_START.
    Undrain(ChangeArgs),
}

/// Arguments of `origins list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    kv: KvArgs,
}

/// Arguments of `origins drain|undrain`.
#[derive(Args, Debug)]
pub struct ChangeArgs {
    /// The origin's base URL, exactly as in ORIGINS (a trailing `/` is ignored).
    url: String,
    #[command(flatten)]
    kv: KvArgs,
}

fn ready<F: std::future::Future>(f: F) -> Result<F::Output> {
    block_on_ready(f).context("the wrangler KV store unexpectedly returned a pending future")
}

fn read(store: &WranglerKv) -> Result<PoolState> {
    match ready(store.get(POOL_KEY))?? {
        None => Ok(PoolState::default()),
        Some(bytes) => PoolState::parse(&bytes).map_err(anyhow::Error::msg),
    }
}

/// Runs `origins …`.
pub fn run(cmd: OriginsCmd, now: u64) -> Result<ExitCode> {
    let (kv, change) = match &cmd {
        OriginsCmd::List(a) => (&a.kv, None),
        OriginsCmd::Drain(a) => (&a.kv, Some((true, &a.url))),
        OriginsCmd::Undrain(a) => (&a.kv, Some((false, &a.url))),
    };
    let store = WranglerKv::from_args(kv, DEFAULT_BINDING);
    let mut state = read(&store)?;
    if let Some((drain, url)) = change {
        let url = match check_url(url) {
            Ok(url) => url,
            Err(why) => bail!("the origin URL {why}"),
        };
        match drain {
            true => state.drain(&url, now),
            false => state.undrain(&url, now),
        }
        ready(store.put(POOL_KEY, &state.to_json(), None))??;
        let what = if drain { "drained: no new requests" } else { "undrained: ramping up" };
        println!("{url} {what} once isolates re-read the pool (POOL_CACHE_TTL, at most 10 s, plus KV propagation) ({})", store.describe());
        return Ok(ExitCode::SUCCESS);
    }
    if state.drained.is_empty() && state.undrained.is_empty() {
        println!(
            "no origin drained ({}); every origin of ORIGINS takes requests",
            store.describe()
        );
    }
    for (url, at) in &state.drained {
        println!("drained    {url}  since {}", format_utc(*at));
    }
    for (url, at) in &state.undrained {
        println!("undrained  {url}  since {}", format_utc(*at));
    }
    print_health(&store, now)?;
    Ok(ExitCode::SUCCESS)
}

/// What the last active health check (the cron trigger) found, if one ran.
fn print_health(store: &WranglerKv, now: u64) -> Result<()> {
    let Some(bytes) = ready(store.get(HEALTH_KEY))?? else {
        println!("no health check has run (HEALTH_CHECK_PATH and a cron trigger turn them on)");
        return Ok(());
    };
    let report = HealthReport::parse(&bytes).map_err(anyhow::Error::msg)?;
    let when = format_utc(report.checked_at);
    if !report.is_current(now) {
        println!("health report of {when} is too old to count (is the cron trigger running?)");
    } else if report.failing.is_empty() {
        println!("every origin passed its health check (report of {when})");
    }
    for (url, f) in &report.failing {
        println!("failing    {url}  since {}: {} (report of {when})", format_utc(f.since), f.why);
    }
    Ok(())
}
