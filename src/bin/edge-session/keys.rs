//! Command definitions and the key/cookie commands: `keygen`, `seal`, `open`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};

use edge_session::cookie::{CookieOptions, SessionCookies};
use edge_session::data::SessionData;
use edge_session::keyring::{format_entry, KeyRing, Kid};
use edge_session::session::{self, SessionPolicy, Sid};

/// edge-session: sealed sessions, revocation and skew-free assets at the edge.
#[derive(Parser, Debug)]
#[command(name = "edge-session", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a new session key (and an origin secret).
    Keygen(KeygenArgs),
    /// Seal a session into a cookie value (for tests and debugging).
    Seal(SealArgs),
    /// Open a sealed cookie value or a whole `Cookie` header and print its claims.
    Open(OpenArgs),
    /// Revoke a session (`--sid`) or sign a user out everywhere (`--user`).
    Revoke(crate::revoke::RevokeArgs),
    /// Inspect the revocation list.
    #[command(subcommand)]
    Denylist(crate::revoke::DenylistCmd),
    /// Publish, list, promote and garbage-collect static asset deploys.
    Assets(crate::assets::AssetsCmd),
    /// Drain and undrain origins of the pool (ORIGINS) at run time.
    #[command(subcommand)]
    Origins(crate::origins::OriginsCmd),
    /// Check wrangler.toml and its secrets as the worker will, and say what is risky.
    Doctor(crate::doctor::DoctorArgs),
}

#[derive(Args, Debug)]
struct KeygenArgs {
    /// Key id of the new key; defaults to `k` + the current Unix time.
    #[arg(long)]
    kid: Option<String>,
    /// Prepend the new key to this existing SESSION_KEYS value (rotation).
    #[arg(long, value_name = "SESSION_KEYS")]
    rotate: Option<String>,
    /// Print `.dev.vars` lines (SESSION_KEYS=…, ORIGIN_SECRET=…) and nothing else.
    #[arg(long)]
    dev_vars: bool,
}

/// Where the key ring comes from.
#[derive(Args, Debug)]
struct KeySource {
    /// The SESSION_KEYS value; else the SESSION_KEYS environment variable; else
    /// the SESSION_KEYS line of `--dev-vars-file`.
    #[arg(long, value_name = "SESSION_KEYS")]
    keys: Option<String>,
    /// A `.dev.vars` file to read SESSION_KEYS from.
    #[arg(long, default_value = ".dev.vars")]
    dev_vars_file: PathBuf,
    /// The session cookie name (sealing binds it).
    #[arg(long, default_value = "__Host-session")]
    cookie_name: String,
}

#[derive(Args, Debug)]
struct SealArgs {
    #[command(flatten)]
    source: KeySource,
    /// The subject (user id).
    #[arg(long)]
    sub: String,
    /// Session data as a JSON object.
    #[arg(long, default_value = "{}")]
    data: String,
    /// Absolute lifetime in seconds.
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    ttl: u64,
}

#[derive(Args, Debug)]
struct OpenArgs {
    #[command(flatten)]
    source: KeySource,
    /// A sealed value (`v1.<kid>.<…>`) or a whole Cookie header (`a=b; __Host-session=…`).
    value: String,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keygen(a) => keygen(a),
        Command::Seal(a) => seal(a),
        Command::Open(a) => open(a),
        Command::Revoke(a) => crate::revoke::revoke(a, now()?),
        Command::Denylist(c) => crate::revoke::denylist(c, now()?),
        Command::Assets(c) => crate::assets::run(c),
        Command::Origins(c) => crate::origins::run(c, now()?),
        Command::Doctor(a) => crate::doctor::run(a),
    }
}

fn now() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no secure randomness: {e}"))?;
    Ok(b)
}

fn keygen(a: KeygenArgs) -> Result<ExitCode> {
    let kid = Kid::new(&a.kid.unwrap_or(format!("k{}", now()?)))?;
    let entry = format_entry(&kid, &random::<32>()?);
    let keys = match &a.rotate {
        Some(existing) => {
            let ring = KeyRing::parse(existing)
                .context("--rotate: the existing SESSION_KEYS is invalid")?;
            if ring.kids().any(|k| k == &kid) {
                bail!("kid `{kid}` is already in the key ring; pick another with --kid");
            }
            format!("{entry},{}", existing.trim())
        }
        None => entry,
    };
    KeyRing::parse(&keys).context("generated key ring does not parse (bug)")?;
    let origin_secret = edge_session::b64::encode_url(&random::<32>()?);
    let mut out = std::io::stdout().lock();
    if a.dev_vars {
        writeln!(out, "SESSION_KEYS={keys}")?;
        writeln!(out, "ORIGIN_SECRET={origin_secret}")?;
    } else {
        writeln!(out, "SESSION_KEYS={keys}")?;
        writeln!(out, "ORIGIN_SECRET={origin_secret}")?;
        eprintln!();
        eprintln!("Store them as secrets (never in wrangler.toml):");
        eprintln!("  wrangler secret put SESSION_KEYS    # paste the SESSION_KEYS value");
        eprintln!("  wrangler secret put ORIGIN_SECRET   # paste ORIGIN_SECRET; give the same value to your origin");
        if a.rotate.is_some() {
            eprintln!("The new key `{kid}` is now primary; old keys still open existing cookies.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ring(source: &KeySource) -> Result<KeyRing> {
    let spec = source
        .keys
        .clone()
        .or_else(|| std::env::var("SESSION_KEYS").ok())
        .or_else(|| crate::dev_vars::read(&source.dev_vars_file, "SESSION_KEYS"))
        .context("no key ring: pass --keys, set SESSION_KEYS, or create .dev.vars with `edge-session keygen --dev-vars > .dev.vars`")?;
    Ok(KeyRing::parse(&spec)?)
}

fn seal(a: SealArgs) -> Result<ExitCode> {
    let ring = ring(&a.source)?;
    let data = SessionData::from_json(&a.data).context("--data")?;
    let day = 24 * 3600;
    let policy = SessionPolicy::new(a.ttl, a.ttl.min(day), 0.25, 60)?;
    let claims = session::new_claims(a.sub, data, Sid::from_random(random()?), &policy, now()?)?;
    let sealed = session::seal_claims(&ring, &a.source.cookie_name, &claims, &random()?)?;
    println!("{sealed}");
    Ok(ExitCode::SUCCESS)
}

fn open(a: OpenArgs) -> Result<ExitCode> {
    let ring = ring(&a.source)?;
    let value = a.value.trim().trim_start_matches("Cookie:").trim();
    let sealed = if value.starts_with("v1.") {
        value.to_owned()
    } else {
        let opts = CookieOptions { name: a.source.cookie_name.clone(), ..CookieOptions::default() };
        match SessionCookies::from_header(&opts, Some(value)).reassemble() {
            Ok(Some(v)) => v,
            Ok(None) => bail!("no `{}` cookie (or chunks) in the given header", opts.name),
            Err(e) => {
                eprintln!("invalid: {e}");
                return Ok(ExitCode::from(3));
            }
        }
    };
    // Open with a generous policy so that expired sessions can still be inspected.
    let policy = SessionPolicy::default();
    match session::open_session(&ring, &a.source.cookie_name, &sealed, &policy, now()?) {
        Ok(s) => {
            let c = s.claims();
            println!("{}", serde_json::to_string_pretty(c)?);
            eprintln!("valid: sealed with key `{}`; expires at {}", s.kid(), s.expires_at());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("invalid: {e}");
            Ok(ExitCode::from(3))
        }
    }
}
