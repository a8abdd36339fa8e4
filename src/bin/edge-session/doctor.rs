//! `edge-session doctor`: checks a `wrangler.toml` and its secrets the way the
//! worker will at startup (the same [`Worker::from_lookup`]), then what the worker
//! accepts but should not be left so: fail-open revocation, cookies without the
//! `__Host-` prefix or `Secure`, an assertion sent over plain http, secrets in
//! `[vars]`, placeholder KV ids before a deploy, a health check without its trigger.
//!
//! Exit codes: 0 nothing wrong (risks, if any, are printed); 3 a problem the worker
//! or `wrangler deploy` would refuse (or a risk, with `--strict`); 1 the files could
//! not be read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use toml::Value;

use edge_session::pipeline::Worker;

/// Arguments of `doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The wrangler configuration to check.
    #[arg(long, default_value = "wrangler.toml", value_name = "FILE")]
    config: PathBuf,
    /// Secrets as `NAME=VALUE` lines (`.dev.vars`); a missing file counts as none.
    #[arg(long, default_value = ".dev.vars", value_name = "FILE")]
    secrets: PathBuf,
    /// A wrangler environment (`[env.NAME]`): its vars and bindings replace the top level's.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Also a setting, as `wrangler deploy --var NAME:VALUE` gives it (repeatable).
    #[arg(long = "var", value_name = "NAME:VALUE")]
    vars: Vec<String>,
    /// Check for `wrangler deploy`: placeholder KV ids are problems, not notes.
    #[arg(long)]
    deploy: bool,
    /// Exit 3 on risks too.
    #[arg(long)]
    strict: bool,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// The worker (or `wrangler deploy`) refuses it.
    Problem,
    /// Accepted, but weakens what edge-session promises.
    Risk,
    /// Worth knowing; nothing to fix now.
    Note,
}

/// One thing the doctor says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    level: Level,
    /// The setting or section it is about.
    what: String,
    /// What is wrong and what to do, in plain words (never a secret's value).
    message: String,
}

fn finding(level: Level, what: &str, message: impl Into<String>) -> Finding {
    Finding { level, what: what.to_owned(), message: message.into() }
}

/// What the worker will see: the settings (vars, then secrets and `--var` over
/// them), the KV bindings, Durable Object bindings and cron triggers.
#[derive(Debug, Default)]
struct Deployment {
    settings: BTreeMap<String, String>,
    /// Settings written in `[vars]` (plain text in the repository).
    in_vars: Vec<String>,
    kv: BTreeMap<String, String>,
    durable_objects: Vec<String>,
    crons: Vec<String>,
}

impl Deployment {
    /// A setting's value, when set and not empty.
    fn setting(&self, name: &str) -> Option<&str> {
        self.settings.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Runs `doctor`.
pub fn run(a: DoctorArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("cannot read {}", a.config.display()))?;
    let doc: Value = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", a.config.display()))?;
    let mut d = deployment(&doc, a.env.as_deref())?;
    let secrets = std::fs::read_to_string(&a.secrets).ok();
    if let Some(text) = &secrets {
        d.settings.extend(crate::dev_vars::parse(text));
    }
    for v in &a.vars {
        let (name, value) =
            v.split_once(':').with_context(|| format!("--var `{v}`: expected NAME:VALUE"))?;
        d.settings.insert(name.trim().to_owned(), value.to_owned());
    }
    let mut findings = check(&d, a.deploy);
    if secrets.is_none() {
        let msg = format!(
            "{} not found: secrets set with `wrangler secret put` are not visible here; pass them with --secrets FILE (NAME=VALUE lines)",
            a.secrets.display()
        );
        findings.push(finding(Level::Note, "secrets", msg));
    }
    findings.sort_by_key(|f| f.level);
    for f in &findings {
        let tag = match f.level {
            Level::Problem => "problem",
            Level::Risk => "risk   ",
            Level::Note => "note   ",
        };
        println!("{tag}  {}: {}", f.what, f.message);
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let (problems, risks) = (count(Level::Problem), count(Level::Risk));
    println!(
        "{}: {problems} problem(s), {risks} risk(s) in {}{}",
        if problems == 0 { "ok" } else { "not ready" },
        a.config.display(),
        a.env.as_deref().map(|e| format!(" [env.{e}]")).unwrap_or_default()
    );
    let failed = problems > 0 || (a.strict && risks > 0);
    Ok(if failed { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// The settings and bindings of the top level, or of `[env.NAME]`: as wrangler does,
/// an environment inherits `triggers` but not `vars` or bindings.
fn deployment(doc: &Value, env: Option<&str>) -> Result<Deployment> {
    let top = doc.as_table().context("the configuration is not a TOML table")?;
    let scoped = match env {
        None => None,
        Some(name) => Some(
            doc.get("env")
                .and_then(|e| e.get(name))
                .and_then(Value::as_table)
                .with_context(|| format!("there is no [env.{name}] section"))?,
        ),
    };
    let own = |key: &str| match scoped {
        Some(s) => s.get(key),
        None => top.get(key),
    };
    let inherited = |key: &str| scoped.and_then(|s| s.get(key)).or_else(|| top.get(key));
    let mut d = Deployment::default();
    for (name, value) in own("vars").and_then(Value::as_table).into_iter().flatten() {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        d.settings.insert(name.clone(), text);
        d.in_vars.push(name.clone());
    }
    for ns in own("kv_namespaces").and_then(Value::as_array).into_iter().flatten() {
        let binding = ns.get("binding").and_then(Value::as_str).unwrap_or_default();
        let id = ns.get("id").and_then(Value::as_str).unwrap_or_default();
        d.kv.insert(binding.to_owned(), id.to_owned());
    }
    let dos = own("durable_objects").and_then(|v| v.get("bindings")).and_then(Value::as_array);
    for b in dos.into_iter().flatten() {
        d.durable_objects.push(b.get("name").and_then(Value::as_str).unwrap_or_default().into());
    }
    let crons = inherited("triggers").and_then(|t| t.get("crons")).and_then(Value::as_array);
    d.crons = crons.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    Ok(d)
}

/// Everything the doctor finds in `d`; `deploy`: checking for `wrangler deploy`.
fn check(d: &Deployment, deploy: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Err(e) = Worker::from_lookup(|name: &str| d.setting(name).map(str::to_owned)) {
        let msg = format!("the worker would answer every request with 500: {e}");
        out.push(finding(Level::Problem, "settings", msg));
    }
    out.extend(secret_findings(d));
    out.extend(binding_findings(d, deploy));
    out.extend(policy_findings(d));
    out.extend(fleet_findings(d));
    out
}

/// Secrets: where they are written, and whether they look random.
fn secret_findings(d: &Deployment) -> Vec<Finding> {
    let mut out = Vec::new();
    for name in ["SESSION_KEYS", "ORIGIN_SECRET", "ADMIN_TOKEN"] {
        if d.in_vars.iter().any(|v| v == name) {
            let msg = "is in [vars], in plain text in the repository: remove it and run `npx wrangler secret put` instead (and replace the value: it is no longer secret)";
            out.push(finding(Level::Problem, name, msg));
        }
    }
    let mut secrets = vec![("ORIGIN_SECRET", d.settings.get("ORIGIN_SECRET").cloned())];
    if let Some(ring) = d.settings.get("SESSION_KEYS") {
        for entry in ring.split(',') {
            let value = entry.split_once(':').map(|(_, v)| v.trim().to_owned());
            secrets.push(("SESSION_KEYS", value));
        }
    }
    for (name, value) in secrets {
        if value.is_some_and(|v| looks_weak(&v)) {
            let msg = "looks like a password, not a random key (few distinct characters): generate one with `edge-session keygen`";
            out.push(finding(Level::Risk, name, msg));
        }
    }
    out
}

/// A secret of few distinct characters (`aaaa…`, a word repeated).
fn looks_weak(value: &str) -> bool {
    let mut seen: Vec<char> = value.chars().collect();
    seen.sort_unstable();
    seen.dedup();
    !value.is_empty() && seen.len() < 12
}

/// The KV namespaces, Durable Object and their ids.
fn binding_findings(d: &Deployment, deploy: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let denylist = d.settings.get("DENYLIST_BINDING").map_or("DENYLIST", String::as_str);
    for binding in ["ASSETS", denylist] {
        match d.kv.get(binding) {
            None => out.push(finding(
                Level::Problem,
                "kv_namespaces",
                format!("no binding `{binding}`: add a [[kv_namespaces]] entry (npx wrangler kv namespace create {binding})"),
            )),
            Some(id) if is_placeholder(id) => {
                let level = if deploy { Level::Problem } else { Level::Note };
                out.push(finding(
                    level,
                    "kv_namespaces",
                    format!("`{binding}` has the placeholder id {id}: fine for `wrangler dev`; before `wrangler deploy`, create the namespace (npx wrangler kv namespace create {binding}) and paste its id"),
                ));
            }
            Some(_) => {}
        }
    }
    let strong = d.settings.get("STRONG_REVOCATION_PATHS").is_some_and(|v| !v.trim().is_empty());
    if strong && !d.durable_objects.iter().any(|n| n == "REVOCATION_DO") {
        let msg = "STRONG_REVOCATION_PATHS is set but no Durable Object binding is named REVOCATION_DO: those paths would fail closed";
        out.push(finding(Level::Problem, "durable_objects", msg));
    }
    out
}

/// A KV id that is not 32 hex digits, or is all zeros but its last digits.
fn is_placeholder(id: &str) -> bool {
    let hex = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    !hex || id.trim_start_matches('0').len() <= 2
}

/// Settings the worker accepts that weaken its promises.
fn policy_findings(d: &Deployment) -> Vec<Finding> {
    let mut out = Vec::new();
    let is =
        |name: &str, value: &str| d.setting(name).is_some_and(|v| v.eq_ignore_ascii_case(value));
    if is("REVOCATION_FAIL_MODE", "open") {
        out.push(finding(Level::Risk, "REVOCATION_FAIL_MODE", "is open: while the denylist cannot be read, revoked sessions are accepted; keep `closed` (the default) unless availability matters more than sign-out"));
    }
    if is("COOKIE_SECURE", "false") {
        out.push(finding(Level::Risk, "COOKIE_SECURE", "is false: the session cookie also travels over plain http, where anyone on the path can copy it; only for local development"));
    }
    if is("COOKIE_HTTPONLY", "false") {
        out.push(finding(
            Level::Risk,
            "COOKIE_HTTPONLY",
            "is false: page scripts (and any XSS) can read the sealed session",
        ));
    }
    if is("COOKIE_SAMESITE", "none") {
        out.push(finding(Level::Risk, "COOKIE_SAMESITE", "is None: every site's requests carry the cookie; CSRF and WebSocket checks (Origin, Sec-Fetch-Site) are then the only guard"));
    }
    let name = d.setting("COOKIE_NAME").unwrap_or("__Host-session");
    if !name.starts_with("__Host-") {
        out.push(finding(Level::Risk, "COOKIE_NAME", format!("`{name}` has no `__Host-` prefix: a sibling subdomain can set or shadow the session cookie")));
    }
    out
}

/// The origins and the health check.
fn fleet_findings(d: &Deployment) -> Vec<Finding> {
    let mut out = Vec::new();
    let origins = d.setting("ORIGINS").or_else(|| d.setting("ORIGIN_URL")).unwrap_or_default();
    for url in origins.split(',').filter_map(|e| e.split_whitespace().next()) {
        let host = url.strip_prefix("http://").map(host_of);
        let local = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "[::1]");
        if let Some(host) = host.filter(|h| !local(h)) {
            out.push(finding(Level::Risk, "ORIGINS", format!("{url} is plain http to {host}: the Edge-Session assertion (the user's identity) crosses the network unencrypted; use https")));
        }
    }
    match (d.setting("HEALTH_CHECK_PATH").is_some(), !d.crons.is_empty()) {
        (true, false) => out.push(finding(
            Level::Risk,
            "HEALTH_CHECK_PATH",
            "is set but [triggers] crons is empty: no active health check will run",
        )),
        (false, true) => out.push(finding(
            Level::Note,
            "triggers",
            "a cron trigger runs but HEALTH_CHECK_PATH is unset: it checks nothing",
        )),
        _ => {}
    }
    out
}

/// The host of `authority[/path]`: `[::1]` whole, else up to a `:port`.
fn host_of(rest: &str) -> &str {
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.find(']') {
        Some(end) if authority.starts_with('[') => authority.get(..=end).unwrap_or(authority),
        _ => authority.split(':').next().unwrap_or(authority),
    }
}

#[cfg(test)]
mod tests;
