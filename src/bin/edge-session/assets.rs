//! `edge-session assets publish|list|promote|gc|build`: skew-free static assets in
//! Workers KV, written through `wrangler kv` (see `wrangler_kv`).
//!
//! Exit codes:
//! - 0: done, including "nothing to do" (publishing an unchanged tree).
//! - 1: a failure: wrangler or KV, reading files, writing the build.
//! - 2: bad usage (clap).
//! - 3: refused: a file above 25 MiB, a path that cannot be served, a deploy id
//!   reused with other files, an unknown or expired deploy, a malformed deploy
//!   list, or gc finding a retained manifest it cannot read. Nothing was changed.
//!
//! Progress goes to stderr, only when stderr is a terminal; results go to stdout.

mod build;
mod records;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use edge_session::assets::{
    check_blob, commit_publish, load_deploys, plan_gc, plan_publish, promote, AssetsError, GcPlan,
    PlanKind, PublishFile, PublishOptions, PublishPlan,
};
use edge_session::manifest::{
    format_utc, Activation, AssetHasher, DeployId, DeployState, RetentionUpdate, DEPLOYS_KEY,
};
use edge_session::store::{block_on_ready, KvStore};

use crate::wrangler_kv::{KvArgs, WranglerKv};

/// The binding used when `--binding` is not given.
pub const DEFAULT_BINDING: &str = "ASSETS";
/// Exit code of a refused command.
pub const EXIT_REFUSED: u8 = 3;
/// Raw bytes read into memory per upload round.
const UPLOAD_ROUND_BYTES: u64 = 48 * 1024 * 1024;

/// `edge-session assets …`.
#[derive(Debug, clap::Args)]
pub struct AssetsCmd {
    /// What to do.
    #[command(subcommand)]
    pub command: AssetsSub,
}

/// The `assets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AssetsSub {
    /// Hash a directory, upload new blobs, write its manifest, activate it.
    Publish(PublishArgs),
    /// Show deploys: id, creation time, age, files, size, state.
    List(ListArgs),
    /// Make a retained deploy current (rollback included), or the canary.
    Promote(PromoteArgs),
    /// Delete deploys out of retention and blobs no retained manifest uses.
    Gc(GcArgs),
    /// Copy a site, renaming scripts/styles/images to content-hashed names.
    Build(BuildArgs),
}

/// Retention flags shared by publish and gc; given values are stored.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct RetentionArgs {
    /// Keep the last N deploys (stored in the deploy list; default 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub retain: Option<u32>,
    /// Also keep every deploy younger than T days (stored; default 7).
    #[arg(long, value_name = "T")]
    pub retain_days: Option<u32>,
}

impl RetentionArgs {
    fn update(&self) -> RetentionUpdate {
        RetentionUpdate { keep_last: self.retain, keep_days: self.retain_days }
    }
}

/// `assets publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The directory to publish (dotfiles are skipped, `.well-known/` is kept).
    pub dir: PathBuf,
    /// Deploy id, `[A-Za-z0-9_-]{1,64}` (default: UTC time + tree hash).
    #[arg(long, value_name = "ID")]
    pub deploy_id: Option<String>,
    /// Publish as a canary: send PCT % of new clients to it (0: only `?dpl=`).
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub canary: Option<u8>,
    /// This deploy's own origins, for clients pinned to it: one base URL, or a pool
    /// as in ORIGINS ("https://v42-a.internal, https://v42-b.internal weight=2");
    /// used while any is healthy, then the current pool.
    #[arg(long, value_name = "URLS")]
    pub origin: Option<String>,
    /// Treat every file under this prefix as immutable (repeatable), e.g. `assets/`.
    #[arg(long, value_name = "PREFIX")]
    pub immutable_prefix: Vec<String>,
    /// A bundler's record of its outputs (repeatable): an esbuild metafile, a
    /// webpack/Rspack asset manifest, a Vite manifest. DIR's own
    /// `.vite/manifest.json`, `asset-manifest.json` and webpack `manifest.json`
    /// are read without this.
    #[arg(long, value_name = "FILE")]
    pub bundler_manifest: Vec<PathBuf>,
    /// Show what would be uploaded; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kv: KvArgs,
}

/// `assets list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kv: KvArgs,
}

/// `assets promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The deploy to activate.
    pub id: String,
    /// Make it the canary with this share instead of current.
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub canary: Option<u8>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kv: KvArgs,
}

/// `assets gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kv: KvArgs,
}

/// `assets build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Source directory.
    pub src: PathBuf,
    /// Output directory (must not exist, be empty, or hold an earlier build).
    pub out: PathBuf,
    /// Never rename this path or file name (repeatable).
    #[arg(long, value_name = "PATH")]
    pub keep: Vec<String>,
}

/// Runs an `assets` subcommand. Refusals print `error: …` and return exit code 3;
/// failures are returned as errors (exit code 1 in `main`).
///
/// # Errors
/// Wrangler/KV failures and I/O errors.
pub fn run(cmd: AssetsCmd) -> anyhow::Result<ExitCode> {
    let result = match cmd.command {
        AssetsSub::Publish(a) => run_publish(a),
        AssetsSub::List(a) => run_list(a),
        AssetsSub::Promote(a) => run_promote(a),
        AssetsSub::Gc(a) => run_gc(a),
        AssetsSub::Build(a) => return run_build(a),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failure::Refused(msg)) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(Failure::Failed(e)) => Err(e),
    }
}

enum Failure {
    Refused(String),
    Failed(anyhow::Error),
}

impl From<AssetsError> for Failure {
    fn from(e: AssetsError) -> Self {
        match e {
            AssetsError::Store(_)
            | AssetsError::ReadFailed { .. }
            | AssetsError::ContentChanged(_) => Failure::Failed(anyhow!(e)),
            other => Failure::Refused(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Failed(e)
    }
}

impl From<edge_session::store::StoreError> for Failure {
    fn from(e: edge_session::store::StoreError) -> Self {
        Failure::Failed(anyhow!(e))
    }
}

/// Drives a store future; `WranglerKv` futures are ready at once.
fn ready<F: std::future::Future>(fut: F) -> anyhow::Result<F::Output> {
    block_on_ready(fut)
        .ok_or_else(|| anyhow!("internal error: a KV call did not complete synchronously"))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Files under `dir`, sorted, as (`/`-separated relative path, absolute path).
/// Skips dotfiles and dot-directories except `.well-known`.
pub(crate) fn walk(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    fn go(
        dir: &Path,
        rel: &str,
        depth: u32,
        out: &mut Vec<(String, PathBuf)>,
    ) -> anyhow::Result<()> {
        if depth > 32 {
            bail!("{} is nested more than 32 levels deep (a symlink loop?)", dir.display());
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read directory {}", dir.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| anyhow!("{}: file name is not UTF-8", e.path().display()))?;
            if name.starts_with('.') && name != ".well-known" {
                continue;
            }
            let path = e.path();
            let child = if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") };
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("cannot stat {}", path.display()))?;
            if meta.is_dir() {
                go(&path, &child, depth + 1, out)?;
            } else if meta.is_file() {
                out.push((child, path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, "", 0, &mut out)?;
    Ok(out)
}

fn hash_file(path: &Path) -> anyhow::Result<(edge_session::manifest::AssetHash, u64)> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = AssetHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        size += n as u64;
    }
    Ok((h.finish(), size))
}

/// `12 B`, `3.4 KiB`, `1.2 MiB`.
pub(crate) fn human(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / 1_048_576.0),
    }
}

fn age(secs: u64) -> String {
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A progress line on stderr, drawn only on a terminal.
struct Progress {
    on: bool,
    total: u64,
    done: u64,
    what: &'static str,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Self {
        Progress { on: std::io::stderr().is_terminal(), total, done: 0, what }
    }
    fn add(&mut self, bytes: u64) {
        self.done = self.done.saturating_add(bytes).min(self.total);
        if self.on {
            let width = 30u64;
            let filled = (self.done * width).checked_div(self.total).unwrap_or(width) as usize;
            let bar =
                format!("{}{}", "#".repeat(filled), ".".repeat(width as usize - filled.min(30)));
            eprint!("\r{} [{bar}] {} / {}   ", self.what, human(self.done), human(self.total));
            let _ = std::io::stderr().flush();
        }
    }
    fn finish(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(80));
        }
    }
}

fn run_publish(a: PublishArgs) -> Result<(), Failure> {
    let t = now();
    let kv = WranglerKv::from_args(&a.kv, DEFAULT_BINDING);
    let (plan, count) = plan_dir(&a, &kv, t)?;
    if a.dry_run {
        print_dry_run(&plan, count, &kv);
        return Ok(());
    }
    upload(&kv, &a.dir, &plan)?;
    let s = ready(commit_publish(&kv, &plan, t))??;
    let state = match plan.options.activation {
        Activation::Canary(p) if s.kind != PlanKind::Unchanged => format!("canary at {p}%"),
        _ => "current".to_owned(),
    };
    match s.kind {
        PlanKind::Unchanged => println!(
            "unchanged: the tree is identical to current deploy {}; {count} files, 0 new blobs, 0 B sent{}",
            s.deploy,
            if s.activated { " (retention updated)" } else { "" }
        ),
        _ => println!(
            "deploy {} is {state}: {} files, {} new blobs, {} sent ({})",
            s.deploy,
            s.files,
            s.new_blobs,
            human(s.bytes_sent),
            kv.describe()
        ),
    }
    Ok(())
}

/// Hashes the directory, reads the bundler records and plans the publish; prints
/// which files are immutable and warns about pages that reference mutable code.
fn plan_dir(a: &PublishArgs, kv: &WranglerKv, t: u64) -> Result<(PublishPlan, usize), Failure> {
    let deploy_id = match &a.deploy_id {
        Some(s) => Some(DeployId::parse(s).map_err(|e| Failure::Refused(e.to_string()))?),
        None => None,
    };
    let mut files = Vec::new();
    for (rel, abs) in walk(&a.dir)? {
        let (hash, size) = hash_file(&abs)?;
        files.push(PublishFile { path: rel, hash, size });
    }
    let count = files.len();
    let records = records::load(&a.dir, &a.bundler_manifest)
        .map_err(|e| Failure::Refused(format!("{e:#}")))?;
    for (source, r) in &records {
        println!("bundler record: {source} ({}, {} outputs)", r.kind, r.len());
    }
    let options = PublishOptions {
        deploy_id,
        activation: a.canary.map_or(Activation::Current, Activation::Canary),
        retention: a.retention.update(),
        origin: a.origin.clone(),
        immutable_prefixes: a.immutable_prefix.clone(),
        records: records.into_iter().map(|(_, r)| r).collect(),
    };
    let plan = ready(plan_publish(kv, files, options, t))??;
    println!("{count} files: {}", plan.immutable);
    for path in &plan.immutable.listed_but_unhashed {
        println!("note: {path} is a bundler output without a hash in its name: served as mutable");
    }
    for w in records::mutable_page_assets(&a.dir, &plan.manifest) {
        eprintln!("{w}");
    }
    Ok((plan, count))
}

fn print_dry_run(plan: &PublishPlan, count: usize, kv: &WranglerKv) {
    println!(
        "dry run: deploy {} ({:?}) of {count} files; {} new blobs ({}) to upload to {}",
        plan.manifest.id,
        plan.kind,
        plan.missing.len(),
        human(plan.missing_bytes()),
        kv.describe()
    );
    for b in &plan.missing {
        println!("  {}  {} ({})", b.hash.to_hex().get(..12).unwrap_or(""), b.path, human(b.size));
    }
}

/// Uploads the blobs the plan lists, checked against their hashes, in rounds of at
/// most [`UPLOAD_ROUND_BYTES`] read into memory.
fn upload(kv: &WranglerKv, dir: &Path, plan: &PublishPlan) -> Result<(), Failure> {
    let mut progress = Progress::new("uploading", plan.missing_bytes());
    let mut round: Vec<(String, Vec<u8>)> = Vec::new();
    let mut round_bytes = 0u64;
    for blob in &plan.missing {
        let bytes = std::fs::read(dir.join(&blob.path)).map_err(|e| AssetsError::ReadFailed {
            path: blob.path.clone(),
            reason: e.to_string(),
        })?;
        check_blob(blob, &bytes)?;
        round_bytes += blob.size;
        round.push((blob.hash.blob_key(), bytes));
        if round_bytes >= UPLOAD_ROUND_BYTES {
            kv.put_many(&round, None, |b| progress.add(b))?;
            round.clear();
            round_bytes = 0;
        }
    }
    if !round.is_empty() {
        kv.put_many(&round, None, |b| progress.add(b))?;
    }
    progress.finish();
    Ok(())
}

fn run_list(a: ListArgs) -> Result<(), Failure> {
    let kv = WranglerKv::from_args(&a.kv, DEFAULT_BINDING);
    let t = now();
    let Some(doc) = ready(load_deploys(&kv))?? else {
        println!("no deploys in {}", kv.describe());
        return Ok(());
    };
    let state = |id: &DeployId| doc.state(id, t).unwrap_or(DeployState::Expired);
    if a.json {
        let deploys: Vec<_> = doc
            .deploys
            .iter()
            .rev()
            .map(|d| {
                serde_json::json!({
                    "id": d.id.as_str(), "created": d.created, "age_secs": t.saturating_sub(d.created),
                    "files": d.files, "bytes": d.bytes, "state": state(&d.id).to_string(), "origin": d.origin,
                })
            })
            .collect();
        let out = serde_json::json!({
            "current": doc.current.as_ref().map(DeployId::as_str),
            "canary": doc.canary.as_ref().map(|c| serde_json::json!({"id": c.id.as_str(), "percent": c.percent})),
            "retention": {"keep_last": doc.retention.keep_last, "keep_days": doc.retention.keep_days},
            "deploys": deploys,
        });
        println!("{}", serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?);
        return Ok(());
    }
    println!(
        "{:<34} {:<21} {:>8} {:>6} {:>10}  STATE",
        "DEPLOY", "CREATED", "AGE", "FILES", "SIZE"
    );
    for d in doc.deploys.iter().rev() {
        println!(
            "{:<34} {:<21} {:>8} {:>6} {:>10}  {}{}",
            d.id.as_str(),
            format_utc(d.created),
            age(t.saturating_sub(d.created)),
            d.files,
            human(d.bytes),
            state(&d.id),
            d.origin.as_ref().map(|o| format!("  origin {o}")).unwrap_or_default()
        );
    }
    println!(
        "retention: last {} deploys and any younger than {} days ({})",
        doc.retention.keep_last,
        doc.retention.keep_days,
        kv.describe()
    );
    Ok(())
}

fn run_promote(a: PromoteArgs) -> Result<(), Failure> {
    let id = DeployId::parse(&a.id).map_err(|e| Failure::Refused(e.to_string()))?;
    let kv = WranglerKv::from_args(&a.kv, DEFAULT_BINDING);
    let how = a.canary.map_or(Activation::Current, Activation::Canary);
    let doc = ready(promote(&kv, &id, how, now()))??;
    let current = doc.current.as_ref().map_or("-", DeployId::as_str);
    match (&doc.canary, how) {
        (Some(c), Activation::Canary(_)) if c.id == id => {
            println!("deploy {id} is the canary at {}% (current: {current})", c.percent)
        }
        _ => println!("deploy {current} is current (no canary)"),
    }
    println!("isolates pick this up within their cache TTL plus KV propagation (up to about 60 s)");
    Ok(())
}

fn print_gc(plan: &GcPlan, keys: bool) {
    let ids = |v: &[DeployId]| v.iter().map(DeployId::as_str).collect::<Vec<_>>().join(", ");
    println!("keep {} deploys: {}", plan.kept_deploys.len(), ids(&plan.kept_deploys));
    if !plan.dropped_deploys.is_empty() {
        println!("drop {} deploys: {}", plan.dropped_deploys.len(), ids(&plan.dropped_deploys));
    }
    println!(
        "{} manifests and {} blobs to delete; {} blobs kept",
        plan.drop_manifests.len(),
        plan.drop_blobs.len(),
        plan.kept_blobs
    );
    if plan.doc.is_some() {
        println!("the deploy list is rewritten first (pruned entries, retention settings)");
    }
    if keys {
        for k in plan.drop_manifests.iter().chain(&plan.drop_blobs) {
            println!("  {k}");
        }
    }
    for k in &plan.foreign_keys {
        println!("left alone (unknown key): {k}");
    }
}

fn run_gc(a: GcArgs) -> Result<(), Failure> {
    let kv = WranglerKv::from_args(&a.kv, DEFAULT_BINDING);
    let plan = ready(plan_gc(&kv, a.retention.update(), now()))??;
    print_gc(&plan, a.dry_run);
    if a.dry_run || plan.is_empty() {
        if plan.is_empty() {
            println!("nothing to collect");
        }
        return Ok(());
    }
    // Same order as `assets::apply_gc`, with bulk deletes.
    if let Some(doc) = &plan.doc {
        ready(kv.put(DEPLOYS_KEY, &doc.to_json(), None))??;
    }
    kv.delete_many(&plan.drop_manifests)?;
    kv.delete_many(&plan.drop_blobs)?;
    println!(
        "collected {} manifests and {} blobs",
        plan.drop_manifests.len(),
        plan.drop_blobs.len()
    );
    Ok(())
}

fn run_build(a: BuildArgs) -> anyhow::Result<ExitCode> {
    let report = build::build(&a.src, &a.out, &a.keep)?;
    for (from, to) in &report.renamed {
        println!("  {from} -> {to}");
    }
    println!(
        "built {} files into {}: {} renamed, {} rewritten",
        report.files,
        a.out.display(),
        report.renamed.len(),
        report.rewritten.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_skips_dotfiles_but_keeps_well_known() {
        let dir = std::env::temp_dir().join(format!("es-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for p in ["a/b.txt", ".git/config", ".well-known/x", "c.html", ".DS_Store"] {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, p).unwrap();
        }
        let got: Vec<String> = walk(&dir).unwrap().into_iter().map(|(r, _)| r).collect();
        assert_eq!(got, [".well-known/x", "a/b.txt", "c.html"]);
        let (h, n) = hash_file(&dir.join("c.html")).unwrap();
        assert_eq!((h, n), (edge_session::manifest::AssetHash::of(b"c.html"), 6));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(walk(&dir).is_err());
    }

    #[test]
    fn sizes_and_refusals() {
        assert_eq!(human(12), "12 B");
        assert_eq!(human(3 * 1024 + 512), "3.5 KiB");
        assert_eq!(human(5 * 1_048_576), "5.0 MiB");
        assert!(matches!(Failure::from(AssetsError::NoFiles), Failure::Refused(_)));
        let store = edge_session::store::StoreError::new("get", "k", "x");
        assert!(matches!(Failure::from(AssetsError::Store(store)), Failure::Failed(_)));
    }
}
