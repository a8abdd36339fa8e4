//! A [`KvStore`] that runs `wrangler kv …` (wrangler 4.x), for any binding:
//! `ASSETS` for assets, `DENYLIST` for revocations.
//!
//! Each call is one synchronous `wrangler` process (about 2 s), so the futures are
//! ready at once and `store::block_on_ready` drives them. Bulk writes and deletes
//! ([`WranglerKv::put_many`], [`WranglerKv::delete_many`]) use `kv bulk put|delete`
//! with a JSON file: one process for many keys.
//!
//! Facts about wrangler 4.86 this relies on (checked against its source):
//! - Without `--local` or `--remote`, `wrangler kv` acts on the **local** store; we
//!   always pass one of them, so "not `--local`" means the real account.
//! - `kv key get` of a missing key prints `Value not found` plus a newline and exits
//!   0 in local mode, and fails with `404` in remote mode. A stored value equal to
//!   that text is told apart by listing the key.
//! - Local `kv bulk put` decodes base64 values into a JS string before storing
//!   them, which corrupts bytes that are not UTF-8; such values go through
//!   `kv key put --path` one by one instead. Remote bulk put is byte-exact.
//! - Local `kv key list` returns at most 1000 keys (no cursor); a full page under a
//!   prefix whose next characters are all hex digits (our `blob:` keys) is listed
//!   again per hex digit. Other full pages are an error rather than a silent cut.
//! - A local one-shot `wrangler kv …` (it boots its own workerd) can hang for good
//!   now and then, seen with `kv key list` next to a running `wrangler dev` on a
//!   busy machine. Every call therefore has a deadline (`--wrangler-timeout`,
//!   default 60 s local, 600 s remote); on expiry its whole process group is
//!   killed and the call is run once more.
//! - A local one-shot can also fail now and then for no reason of ours, next to a
//!   running `wrangler dev`: `false == true` (an assertion inside wrangler or
//!   miniflare, seen once in CI from `kv key list`) and `KV GET failed: 500`
//!   (seen with four one-shots at once). A failed local call is therefore run once
//!   more too, with a warning that shows the first failure. Remote failures are
//!   reported at once: a missing key there is a failure (`404`) we read.
//!
//! Every call here is idempotent (get, list, put of fixed values, delete), so a
//! retry cannot change the outcome.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use edge_session::store::{KvStore, ListedKey, StoreError, MIN_TTL};

/// How many keys local listing returns at most.
const LOCAL_LIST_CAP: usize = 1000;
/// Raw bytes per remote bulk request (base64 makes it 4/3 larger; the API takes 100 MB).
const BULK_BYTES: usize = 48 * 1024 * 1024;
/// Keys per bulk request (the API's limit is 10 000).
const BULK_KEYS: usize = 5_000;
const NOT_FOUND: &[u8] = b"Value not found\n";
/// Default deadline of one local wrangler call (a normal one takes 2 to 15 s).
const LOCAL_TIMEOUT_SECS: u64 = 60;
/// Default deadline of one remote wrangler call (bulk uploads of up to 48 MiB).
const REMOTE_TIMEOUT_SECS: u64 = 600;
/// Attempts per wrangler call when it times out.
const ATTEMPTS: u32 = 2;

/// Where and how to reach a KV namespace through wrangler; flatten into commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KvArgs {
    /// KV binding name in wrangler.toml (defaults to the command's own binding).
    #[arg(long, value_name = "NAME")]
    pub binding: Option<String>,
    /// Use the local store of `wrangler dev` instead of the Cloudflare account.
    #[arg(long)]
    pub local: bool,
    /// Directory of the local store (as given to `wrangler dev --persist-to`).
    #[arg(long, value_name = "DIR", requires = "local")]
    pub persist_to: Option<PathBuf>,
    /// Path of wrangler.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How to run wrangler, e.g. "npx wrangler" (default: $WRANGLER, else
    /// node_modules/.bin/wrangler found upwards from the current directory, else
    /// "npx --no-install wrangler").
    #[arg(long, value_name = "CMD")]
    pub wrangler: Option<String>,
    /// Seconds one wrangler call may take before it is killed and run once more
    /// (default 60 with --local, 600 otherwise; 0: no limit).
    #[arg(long, value_name = "SECS")]
    pub wrangler_timeout: Option<u64>,
}

/// A KV namespace reached through `wrangler kv`.
#[derive(Debug)]
pub struct WranglerKv {
    binding: String,
    local: bool,
    persist_to: Option<PathBuf>,
    config: Option<PathBuf>,
    program: Vec<String>,
    timeout: Option<Duration>,
    tmp_counter: Cell<u64>,
    /// Number of wrangler processes run so far.
    pub calls: Cell<u64>,
}

fn find_wrangler() -> Vec<String> {
    if let Ok(cmd) = std::env::var("WRANGLER") {
        let parts: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        if !parts.is_empty() {
            return parts;
        }
    }
    let mut dir = std::env::current_dir().ok();
    while let Some(d) = dir {
        let candidate = d.join("node_modules/.bin/wrangler");
        if candidate.is_file() {
            return vec![candidate.to_string_lossy().into_owned()];
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    ["npx", "--no-install", "wrangler"].map(str::to_owned).to_vec()
}

impl WranglerKv {
    /// A store for `args`, using `default_binding` when `--binding` is not given.
    pub fn from_args(args: &KvArgs, default_binding: &str) -> Self {
        let program = match &args.wrangler {
            Some(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
            None => find_wrangler(),
        };
        WranglerKv {
            binding: args.binding.clone().unwrap_or_else(|| default_binding.to_owned()),
            local: args.local,
            persist_to: args.persist_to.clone(),
            config: args.config.clone(),
            program,
            timeout: match args.wrangler_timeout {
                Some(0) => None,
                Some(t) => Some(Duration::from_secs(t)),
                None if args.local => Some(Duration::from_secs(LOCAL_TIMEOUT_SECS)),
                None => Some(Duration::from_secs(REMOTE_TIMEOUT_SECS)),
            },
            tmp_counter: Cell::new(0),
            calls: Cell::new(0),
        }
    }

    /// Where this store points, for messages: `ASSETS (local)`.
    pub fn describe(&self) -> String {
        let place = match (&self.persist_to, self.local) {
            (Some(p), _) => format!("local, {}", p.display()),
            (None, true) => "local".to_owned(),
            (None, false) => "remote".to_owned(),
        };
        format!("{} ({place})", self.binding)
    }

    fn common(&self) -> Vec<String> {
        let mut a = vec!["--binding".to_owned(), self.binding.clone()];
        a.push(if self.local { "--local" } else { "--remote" }.to_owned());
        if let Some(p) = &self.persist_to {
            a.push("--persist-to".to_owned());
            a.push(p.to_string_lossy().into_owned());
        }
        if let Some(c) = &self.config {
            a.push("--config".to_owned());
            a.push(c.to_string_lossy().into_owned());
        }
        a
    }

    /// Runs `wrangler <args> <common>`; returns (success, stdout, stderr). A run
    /// past the deadline is killed and run again, and so is a failed local run
    /// (see the module docs), up to [`ATTEMPTS`] runs in all.
    fn run(
        &self,
        op: &'static str,
        key: &str,
        args: &[&str],
    ) -> Result<(bool, Vec<u8>, String), StoreError> {
        let (exe, pre) = self
            .program
            .split_first()
            .ok_or_else(|| StoreError::new(op, key, "no wrangler command configured"))?;
        let what = args.iter().take(3).copied().collect::<Vec<_>>().join(" ");
        let secs = self.timeout.map_or(0, |t| t.as_secs());
        let mut timeouts = 0;
        for attempt in 1..=ATTEMPTS {
            self.calls.set(self.calls.get() + 1);
            let mut cmd = Command::new(exe);
            cmd.args(pre)
                .args(args)
                .args(self.common())
                .env("WRANGLER_SEND_METRICS", "false")
                .env("NO_COLOR", "1")
                .env("FORCE_COLOR", "0")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            #[cfg(unix)]
            {
                // Own process group, so a timeout also ends wrangler's workerd.
                use std::os::unix::process::CommandExt;
                cmd.process_group(0);
            }
            let child = cmd.spawn().map_err(|e| {
                StoreError::new(
                    op,
                    key,
                    format!(
                        "cannot run `{}`: {e}; install wrangler (npm i) or pass --wrangler",
                        self.program.join(" ")
                    ),
                )
            })?;
            let last = attempt == ATTEMPTS;
            match wait_with_deadline(child, self.timeout) {
                Some(Ok((false, _, stderr))) if self.local && !last => {
                    eprintln!(
                        "warning: `wrangler {what}` failed ({}); trying again",
                        short(&stderr)
                    );
                }
                Some(done) => {
                    return done.map_err(|e| StoreError::new(op, key, format!("wrangler: {e}")));
                }
                None => {
                    timeouts += 1;
                    if !last {
                        eprintln!(
                            "warning: `wrangler {what}` did not finish within {secs} s; killed, \
                             trying again"
                        );
                    }
                }
            }
        }
        Err(StoreError::new(
            op,
            key,
            format!(
                "wrangler did not finish within {secs} s ({timeouts} of {ATTEMPTS} runs); is the \
                 local store busy? (raise --wrangler-timeout, 0 for no limit)"
            ),
        ))
    }

    fn fail(op: &'static str, key: &str, stderr: &str) -> StoreError {
        StoreError::new(op, key, format!("wrangler failed: {}", short(stderr)))
    }

    fn temp_file(&self, suffix: &str, bytes: &[u8]) -> Result<TempFile, StoreError> {
        let n = self.tmp_counter.get();
        self.tmp_counter.set(n + 1);
        let path = std::env::temp_dir()
            .join(format!("edge-session-kv-{}-{n}{suffix}", std::process::id()));
        std::fs::write(&path, bytes).map_err(|e| {
            StoreError::new("put", "", format!("cannot write temp file {}: {e}", path.display()))
        })?;
        Ok(TempFile(path))
    }

    fn list_once(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        let mut args = vec!["kv", "key", "list"];
        if !prefix.is_empty() {
            args.extend(["--prefix", prefix]);
        }
        let (ok, stdout, stderr) = self.run("list", prefix, &args)?;
        if !ok {
            return Err(Self::fail("list", prefix, &stderr));
        }
        #[derive(serde::Deserialize)]
        struct Item {
            name: String,
            expiration: Option<u64>,
        }
        let items: Vec<Item> = serde_json::from_slice(&stdout).map_err(|e| {
            StoreError::new("list", prefix, format!("wrangler printed no JSON key list: {e}"))
        })?;
        Ok(items
            .into_iter()
            .map(|i| ListedKey { name: i.name, expiration: i.expiration })
            .collect())
    }

    fn list_all(&self, prefix: &str, depth: usize) -> Result<Vec<ListedKey>, StoreError> {
        let page = self.list_once(prefix)?;
        if !self.local || page.len() < LOCAL_LIST_CAP {
            return Ok(page);
        }
        let hex_next = page.iter().all(|k| {
            k.name
                .strip_prefix(prefix)
                .and_then(|r| r.bytes().next())
                .is_some_and(|b| b.is_ascii_hexdigit())
        });
        if !hex_next || depth >= 4 {
            return Err(StoreError::new(
                "list",
                prefix,
                "local listing stops at 1000 keys and these keys cannot be split further",
            ));
        }
        let mut all = Vec::new();
        for digit in "0123456789abcdef".chars() {
            all.extend(self.list_all(&format!("{prefix}{digit}"), depth + 1)?);
        }
        Ok(all)
    }

    fn put_one(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let file = self.temp_file(".bin", value)?;
        let path = file.0.to_string_lossy().into_owned();
        let ttl = ttl.map(|t| t.max(MIN_TTL).to_string());
        let mut args = vec!["kv", "key", "put", key, "--path", &path];
        if let Some(t) = &ttl {
            args.extend(["--ttl", t]);
        }
        let (ok, _, stderr) = self.run("put", key, &args)?;
        if ok {
            Ok(())
        } else {
            Err(Self::fail("put", key, &stderr))
        }
    }

    fn bulk_put(&self, items: &[(&str, &[u8])], ttl: Option<u64>) -> Result<(), StoreError> {
        let first = items.first().map_or("", |(k, _)| *k);
        let json: Vec<serde_json::Value> = items
            .iter()
            .map(|(k, v)| {
                let mut o = serde_json::json!({
                    "key": k,
                    "value": base64::engine::general_purpose::STANDARD.encode(v),
                    "base64": true,
                });
                if let (Some(t), Some(map)) = (ttl, o.as_object_mut()) {
                    map.insert("expiration_ttl".to_owned(), serde_json::json!(t.max(MIN_TTL)));
                }
                o
            })
            .collect();
        let body =
            serde_json::to_vec(&json).map_err(|e| StoreError::new("put", first, e.to_string()))?;
        let file = self.temp_file(".json", &body)?;
        let path = file.0.to_string_lossy().into_owned();
        let (ok, _, stderr) = self.run("put", first, &["kv", "bulk", "put", &path])?;
        if ok {
            Ok(())
        } else {
            Err(Self::fail("put", first, &stderr))
        }
    }

    /// Writes many keys with few processes, calling `progress(bytes)` after each
    /// batch. Local mode sends only UTF-8 values in bulk (see the module docs).
    ///
    /// # Errors
    /// The first failing batch; earlier batches stay written.
    pub fn put_many(
        &self,
        items: &[(String, Vec<u8>)],
        ttl: Option<u64>,
        mut progress: impl FnMut(u64),
    ) -> Result<(), StoreError> {
        let mut batch: Vec<(&str, &[u8])> = Vec::new();
        let mut batch_bytes = 0usize;
        for (key, value) in items {
            if self.local && std::str::from_utf8(value).is_err() {
                self.put_one(key, value, ttl)?;
                progress(value.len() as u64);
                continue;
            }
            if !batch.is_empty()
                && (batch_bytes + value.len() > BULK_BYTES || batch.len() >= BULK_KEYS)
            {
                self.bulk_put(&batch, ttl)?;
                progress(batch_bytes as u64);
                batch.clear();
                batch_bytes = 0;
            }
            batch.push((key, value));
            batch_bytes += value.len();
        }
        if !batch.is_empty() {
            self.bulk_put(&batch, ttl)?;
            progress(batch_bytes as u64);
        }
        Ok(())
    }

    /// Deletes many keys with `kv bulk delete --force`.
    ///
    /// # Errors
    /// The first failing batch.
    pub fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(BULK_KEYS) {
            let first = chunk.first().map_or("", String::as_str);
            let body = serde_json::to_vec(chunk)
                .map_err(|e| StoreError::new("delete", first, e.to_string()))?;
            let file = self.temp_file(".json", &body)?;
            let path = file.0.to_string_lossy().into_owned();
            let (ok, _, stderr) =
                self.run("delete", first, &["kv", "bulk", "delete", &path, "--force"])?;
            if !ok {
                return Err(Self::fail("delete", first, &stderr));
            }
        }
        Ok(())
    }
}

/// wrangler's error output on one line, at most 600 characters, without
/// control characters (its colours).
fn short(stderr: &str) -> String {
    let text: String =
        stderr.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" | ");
    text.chars().filter(|c| !c.is_control()).take(600).collect()
}

/// Collects a child's output until it exits (`Some`), or kills its process group
/// at the deadline (`None`). Output is read on threads so a full pipe never
/// stalls the child.
fn wait_with_deadline(
    mut child: Child,
    timeout: Option<Duration>,
) -> Option<std::io::Result<(bool, Vec<u8>, String)>> {
    fn reader<R: Read + Send + 'static>(
        pipe: Option<R>,
    ) -> std::thread::JoinHandle<std::io::Result<Vec<u8>>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                p.read_to_end(&mut buf)?;
            }
            Ok(buf)
        })
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            kill_group(&mut child);
            // The reader threads end when the killed processes' pipes close.
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let join = |h: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
        h.join().unwrap_or_else(|_| Err(std::io::Error::other("output reader panicked")))
    };
    let stdout = match join(out) {
        Ok(b) => b,
        Err(e) => return Some(Err(e)),
    };
    let stderr = match join(err) {
        Ok(b) => b,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok((status.success(), stdout, String::from_utf8_lossy(&stderr).into_owned())))
}

/// Kills a child started in its own process group, with everything it started.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A temporary file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl KvStore for WranglerKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (ok, stdout, stderr) = self.run("get", key, &["kv", "key", "get", key])?;
        if !ok {
            if !self.local && stderr.contains("404") {
                return Ok(None);
            }
            return Err(Self::fail("get", key, &stderr));
        }
        if stdout == NOT_FOUND {
            let exists = self.list_once(key)?.iter().any(|k| k.name == key);
            return Ok(exists.then_some(stdout));
        }
        Ok(Some(stdout))
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        self.put_one(key, value, ttl)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (ok, _, stderr) = self.run("delete", key, &["kv", "key", "delete", key])?;
        if ok || (!self.local && stderr.contains("404")) {
            Ok(())
        } else {
            Err(Self::fail("delete", key, &stderr))
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        self.list_all(prefix, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_session::store::block_on_ready;

    #[test]
    fn arguments_name_binding_place_and_config() {
        let args = KvArgs {
            binding: None,
            local: true,
            persist_to: Some("p".into()),
            config: Some("w.toml".into()),
            wrangler: Some("npx wrangler".into()),
            wrangler_timeout: None,
        };
        let kv = WranglerKv::from_args(&args, "DENYLIST");
        assert_eq!(kv.program, ["npx", "wrangler"]);
        assert_eq!(
            kv.common(),
            ["--binding", "DENYLIST", "--local", "--persist-to", "p", "--config", "w.toml"]
        );
        assert_eq!(kv.describe(), "DENYLIST (local, p)");
        let remote = WranglerKv::from_args(
            &KvArgs { binding: Some("ASSETS".into()), ..KvArgs::default() },
            "X",
        );
        assert_eq!(remote.common(), ["--binding", "ASSETS", "--remote"]);
        let broken = WranglerKv { program: vec!["/nonexistent/wrangler".into()], ..remote };
        let err = block_on_ready(broken.get("k")).unwrap().unwrap_err();
        assert!(err.to_string().contains("cannot run `/nonexistent/wrangler`"), "{err}");
    }

    fn fake(script: &str, timeout: u64) -> WranglerKv {
        let args = KvArgs {
            local: true,
            wrangler: Some("sh".into()),
            wrangler_timeout: Some(timeout),
            ..KvArgs::default()
        };
        let mut kv = WranglerKv::from_args(&args, "ASSETS");
        // `sh -c SCRIPT sh <wrangler args…>`
        kv.program = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
        kv
    }

    /// A fake that runs `first` on its first run and `then` on every later one (a
    /// flag file under the temp directory, named for `tag` and this process, tells).
    fn first_then(tag: &str, first: &str, then: &str, timeout: u64) -> WranglerKv {
        let flag = std::env::temp_dir().join(format!("es-wkv-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&flag);
        let flag = flag.display();
        fake(
            &format!("if [ -e {flag} ]; then rm {flag}; {then}; else touch {flag}; {first}; fi"),
            timeout,
        )
    }

    #[test]
    fn a_hung_or_failed_local_wrangler_is_run_once_more() {
        let t0 = Instant::now();
        let kv = fake("sleep 30", 1);
        let err = block_on_ready(kv.get("k")).unwrap().unwrap_err().to_string();
        assert!(err.contains("did not finish within 1 s (2 of 2 runs)"), "{err}");
        assert_eq!(kv.calls.get(), 2);
        assert!(t0.elapsed() < Duration::from_secs(10), "killed, not waited for");
        let marker = format!("sleep 30 # es-wkv-{}", std::process::id());
        let kv = fake(&marker, 1);
        assert!(block_on_ready(kv.get("k")).unwrap().is_err());
        let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
        assert!(left.stdout.is_empty(), "the whole process group is killed");

        // Hangs the first time only: the retry answers.
        let kv = first_then("hang", "sleep 30", "printf value", 1);
        assert_eq!(block_on_ready(kv.get("k")).unwrap().unwrap().as_deref(), Some(&b"value"[..]));
        assert_eq!(kv.calls.get(), 2);

        // A local run that fails is run once more; the second failure is the error.
        let kv = fake("printf out; printf '\\033[31mbad\\033[0m\\n\\nthing' >&2; exit 3", 5);
        let err = block_on_ready(kv.get("k")).unwrap().unwrap_err().to_string();
        assert!(err.contains("wrangler failed: [31mbad[0m | thing"), "{err}");
        assert_eq!(kv.calls.get(), 2);
        // Fails the first time only: the retry answers.
        let kv = first_then("fail", "echo 'false == true' >&2; exit 1", "printf value", 5);
        assert_eq!(block_on_ready(kv.get("k")).unwrap().unwrap().as_deref(), Some(&b"value"[..]));
        assert_eq!(kv.calls.get(), 2);
        // A remote failure is not run again.
        let mut kv = fake("printf 'bad thing' >&2; exit 3", 5);
        kv.local = false;
        let err = block_on_ready(kv.get("k")).unwrap().unwrap_err().to_string();
        assert!(err.contains("wrangler failed: bad thing"), "{err}");
        assert_eq!(kv.calls.get(), 1);
        // A failure, then a hang: the error names the one timeout.
        let kv = first_then("mixed", "exit 1", "sleep 30", 1);
        let err = block_on_ready(kv.get("k")).unwrap().unwrap_err().to_string();
        assert!(err.contains("did not finish within 1 s (1 of 2 runs)"), "{err}");
        let defaults = |local, t| {
            WranglerKv::from_args(
                &KvArgs { local, wrangler_timeout: t, ..KvArgs::default() },
                "ASSETS",
            )
            .timeout
        };
        assert_eq!(defaults(true, None), Some(Duration::from_secs(60)));
        assert_eq!(defaults(false, None), Some(Duration::from_secs(600)));
        assert_eq!(defaults(true, Some(0)), None);
    }

    /// Runs the real wrangler against a throw-away local store:
    /// `WRANGLER=…/node_modules/.bin/wrangler cargo test --bin edge-session -- --ignored`.
    #[test]
    #[ignore = "needs wrangler 4 (npm i) and about 30 s"]
    fn round_trips_through_local_wrangler() {
        let dir = std::env::temp_dir().join(format!("es-wkv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("wrangler.toml");
        std::fs::write(
            &config,
            "name = \"t\"\nmain = \"x.js\"\ncompatibility_date = \"2025-01-01\"\n\
             [[kv_namespaces]]\nbinding = \"DENYLIST\"\nid = \"00000000000000000000000000000002\"\n",
        )
        .unwrap();
        let args = KvArgs {
            binding: None,
            local: true,
            persist_to: Some(dir.join("state")),
            config: Some(config),
            wrangler: None,
            wrangler_timeout: None,
        };
        let kv = WranglerKv::from_args(&args, "DENYLIST");
        let bin: Vec<u8> = (0..=255u8).rev().collect();
        assert_eq!(block_on_ready(kv.get("missing")).unwrap().unwrap(), None);
        block_on_ready(kv.put("vnf", NOT_FOUND, None)).unwrap().unwrap();
        assert_eq!(block_on_ready(kv.get("vnf")).unwrap().unwrap().as_deref(), Some(NOT_FOUND));
        let items = vec![
            ("b:bin".to_owned(), bin.clone()),
            ("b:txt".to_owned(), "héllo".as_bytes().to_vec()),
        ];
        let mut sent = 0;
        kv.put_many(&items, Some(5), |n| sent += n).unwrap();
        assert_eq!(sent, 256 + 6);
        assert_eq!(block_on_ready(kv.get("b:bin")).unwrap().unwrap(), Some(bin));
        assert_eq!(
            block_on_ready(kv.get("b:txt")).unwrap().unwrap(),
            Some("héllo".as_bytes().to_vec())
        );
        let listed = block_on_ready(kv.list("b:")).unwrap().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(
            listed.iter().all(|k| k.expiration.is_some()),
            "TTL clamped to 60 s and listed: {listed:?}"
        );
        kv.delete_many(&["b:bin".to_owned(), "b:txt".to_owned()]).unwrap();
        block_on_ready(kv.delete("vnf")).unwrap().unwrap();
        assert!(block_on_ready(kv.list("")).unwrap().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
