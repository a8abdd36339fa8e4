//! Which published files are immutable (content-hashed), and by which rule.
//!
//! An immutable file is served with a one-year `immutable` cache and from every
//! retained deploy, so a page of an older deploy still finds its chunks after a new
//! deploy. Calling a file immutable that is not (its name stays while its bytes
//! change) would pin stale bytes in caches; missing one that is makes old pages 404.
//! So publish decides from knowledge first and guesses last. Rules, in order:
//!
//! 1. [`ImmutableRule::Prefix`]: a prefix the user named (`--immutable-prefix`).
//! 2. [`ImmutableRule::Framework`]: the fixed immutable folders of frameworks, whose
//!    servers send them with `immutable` themselves: Next.js `_next/static/`,
//!    SvelteKit `_app/immutable/`, Astro `_astro/`, Nuxt `_nuxt/` (but not
//!    `_nuxt/builds/`, whose `latest.json` changes; its `meta/` is immutable).
//! 3. [`ImmutableRule::Bundler`]: the file is an output listed in the bundler's own
//!    record ([`BundlerRecord`]: Vite's `.vite/manifest.json`, webpack/Rspack asset
//!    manifests, esbuild's metafile) and its name carries the hash token the bundler
//!    wrote: for a Vite chunk, what follows its `name`; otherwise a token as in rule 4
//!    that may also be all lower-case (the record says a bundler named it).
//! 4. [`ImmutableRule::Name`]: the last resort, [`is_content_hashed`]: the name
//!    carries a hash in a form that Rollup/Vite, webpack, esbuild or Parcel emit.
//!
//! Known limit of rule 3: a record that lists an output its bundler was told not to
//! hash (say `[name].js`) whose name happens to end in `-` and eight letters is taken
//! as hashed. Publish's counts and warnings show what each rule decided.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::asset_paths::{file_name, hash_tokens, is_content_hashed, is_hash_token};

/// Why a file is immutable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImmutableRule {
    /// Under a prefix given with `--immutable-prefix`.
    Prefix,
    /// Under a framework's immutable folder (see [`FRAMEWORK_FOLDERS`]).
    Framework,
    /// Listed by a bundler record, with the bundler's hash in its name.
    Bundler(RecordKind),
    /// Its name carries a content hash ([`is_content_hashed`]).
    Name,
}

impl fmt::Display for ImmutableRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImmutableRule::Prefix => f.write_str("--immutable-prefix"),
            ImmutableRule::Framework => f.write_str("framework folder"),
            ImmutableRule::Bundler(k) => write!(f, "{k}"),
            ImmutableRule::Name => f.write_str("hashed name"),
        }
    }
}

/// Framework folders whose every file is content-addressed, and the exceptions
/// inside them (a path under an exception that is not under its re-inclusion).
pub const FRAMEWORK_FOLDERS: &[&str] = &["_next/static/", "_app/immutable/", "_astro/", "_nuxt/"];

fn in_framework_folder(path: &str) -> bool {
    if path.starts_with("_nuxt/builds/") {
        return path.starts_with("_nuxt/builds/meta/");
    }
    FRAMEWORK_FOLDERS.iter().any(|f| path.starts_with(f))
}

/// The bundler that wrote a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// Vite's `build.manifest` (`.vite/manifest.json`).
    Vite,
    /// esbuild's metafile (`metafile: true`).
    Esbuild,
    /// An asset manifest of webpack, Rspack or Create React App: a map of names to
    /// emitted files (`webpack-manifest-plugin`, `asset-manifest.json`).
    AssetManifest,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Vite => "Vite manifest",
            RecordKind::Esbuild => "esbuild metafile",
            RecordKind::AssetManifest => "asset manifest",
        })
    }
}

/// A bundler record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Where it came from (a file name), as given.
    pub source: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bundler record `{}`: {}", self.source, self.problem)
    }
}

impl std::error::Error for RecordError {}

/// The outputs a bundler says it wrote: path (as the record spells it) and, for
/// Vite chunks, the chunk's `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlerRecord {
    /// Which bundler format it is.
    pub kind: RecordKind,
    outputs: BTreeMap<String, Option<String>>,
}

impl BundlerRecord {
    /// Parses a record, telling its format by its shape: an object of objects with
    /// `file` is Vite's; `inputs` + `outputs` objects is esbuild's; otherwise every
    /// string value (nested too) that names a file is an output, as in webpack's
    /// and Create React App's asset manifests.
    ///
    /// # Errors
    /// Not JSON, or no output found in it.
    pub fn parse(source: &str, bytes: &[u8]) -> Result<BundlerRecord, RecordError> {
        let bad =
            |problem: &str| RecordError { source: source.to_owned(), problem: problem.into() };
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let obj = json.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let (kind, outputs) = if let Some(outs) = obj.get("outputs").and_then(Value::as_object) {
            (RecordKind::Esbuild, outs.keys().map(|k| (k.clone(), None)).collect())
        } else if !obj.is_empty()
            && obj.values().all(|v| v.get("file").is_some_and(Value::is_string))
        {
            (RecordKind::Vite, vite_outputs(obj))
        } else {
            let mut out = BTreeMap::new();
            collect_paths(&json, &mut out);
            (RecordKind::AssetManifest, out)
        };
        if outputs.is_empty() {
            return Err(bad("lists no output file (expected a Vite manifest, an esbuild metafile or an asset manifest)"));
        }
        Ok(BundlerRecord { kind, outputs })
    }

    /// Like [`parse`](Self::parse), but only for a flat map of names to file paths
    /// (webpack-manifest-plugin's `manifest.json`): `None` for anything else, such
    /// as a web app manifest of the same name.
    pub fn parse_flat_map(source: &str, bytes: &[u8]) -> Option<BundlerRecord> {
        let json: Value = serde_json::from_slice(bytes).ok()?;
        let obj = json.as_object().filter(|o| !o.is_empty())?;
        obj.values().all(|v| v.as_str().is_some_and(looks_like_file)).then_some(())?;
        BundlerRecord::parse(source, bytes).ok()
    }

    /// How many outputs it lists.
    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    /// True when it lists no output (never, for a parsed record).
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

fn vite_outputs(obj: &serde_json::Map<String, Value>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for chunk in obj.values() {
        if let Some(file) = chunk.get("file").and_then(Value::as_str) {
            let name = chunk.get("name").and_then(Value::as_str).map(str::to_owned);
            out.insert(file.to_owned(), name);
        }
        for list in ["css", "assets"] {
            for f in chunk.get(list).and_then(Value::as_array).into_iter().flatten() {
                if let Some(f) = f.as_str() {
                    out.entry(f.to_owned()).or_insert(None);
                }
            }
        }
    }
    out
}

fn looks_like_file(s: &str) -> bool {
    let name = file_name(normalize(s));
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=12).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    }) && !s.contains(char::is_whitespace)
}

fn collect_paths(v: &Value, out: &mut BTreeMap<String, Option<String>>) {
    match v {
        Value::String(s) if looks_like_file(s) => {
            out.insert(s.clone(), None);
        }
        Value::Array(items) => items.iter().for_each(|i| collect_paths(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_paths(i, out)),
        _ => {}
    }
}

/// Strips what a record may put before a path relative to the published
/// directory: a scheme and host, `./`, leading `/`.
fn normalize(output: &str) -> &str {
    let no_host = match output.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => output,
    };
    let no_query = no_host.split(['?', '#']).next().unwrap_or(no_host);
    no_query.trim_start_matches("./").trim_start_matches('/')
}

/// Decides the rule of each file; built once per publish.
#[derive(Debug, Default)]
pub struct Immutability {
    prefixes: Vec<String>,
    /// Every `/`-boundary suffix of every record output, with its kind and name.
    listed: BTreeMap<String, (RecordKind, Option<String>)>,
}

impl Immutability {
    /// The rules for these prefixes (leading `/` ignored) and records.
    pub fn new(prefixes: &[String], records: &[BundlerRecord]) -> Self {
        let prefixes = prefixes.iter().map(|p| p.trim_start_matches('/').to_owned()).collect();
        let mut listed = BTreeMap::new();
        for r in records {
            for (output, name) in &r.outputs {
                let mut rest = normalize(output);
                // `dist/assets/a-X.js` (esbuild, relative to its working directory)
                // matches the published `assets/a-X.js`: every suffix is a key.
                loop {
                    if !rest.is_empty() {
                        listed.entry(rest.to_owned()).or_insert_with(|| (r.kind, name.clone()));
                    }
                    match rest.split_once('/') {
                        Some((_, tail)) => rest = tail,
                        None => break,
                    }
                }
            }
        }
        Immutability { prefixes, listed }
    }

    /// Why `path` (a manifest key) is immutable, or `None` when it is mutable.
    pub fn rule_for(&self, path: &str) -> Option<ImmutableRule> {
        if self.prefixes.iter().any(|p| path.starts_with(p.as_str())) {
            return Some(ImmutableRule::Prefix);
        }
        if in_framework_folder(path) {
            return Some(ImmutableRule::Framework);
        }
        if let Some((kind, name)) = self.listed.get(path) {
            if bundler_hashed(path, name.as_deref()) {
                return Some(ImmutableRule::Bundler(*kind));
            }
        }
        is_content_hashed(path).then_some(ImmutableRule::Name)
    }

    /// True when a record lists `path` (whether or not its name is hashed).
    pub fn is_listed(&self, path: &str) -> bool {
        self.listed.contains_key(path)
    }
}

/// A record-listed output is hashed when what follows its chunk name (Vite names a
/// chunk `[name]-[hash]`) is a token of at least six base64url characters; for a
/// name that does not start with the chunk name, or without one, when a hash token
/// of its name passes [`is_hash_token`] with all-lower-case tokens allowed.
fn bundler_hashed(path: &str, chunk_name: Option<&str>) -> bool {
    let name = file_name(path);
    let name = name.strip_suffix(".map").unwrap_or(name);
    let Some((stem, _)) = name.rsplit_once('.') else { return false };
    if let Some(rest) = chunk_name.and_then(|n| stem.strip_prefix(n)) {
        let hash = rest.strip_prefix('-').unwrap_or("");
        return hash.len() >= 6
            && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    }
    hash_tokens(stem).any(|t| is_hash_token(t, true))
}

/// How many files each rule made immutable, and which record-listed files stay
/// mutable because their names show no hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImmutableReport {
    /// Files made immutable, per rule.
    pub by_rule: BTreeMap<ImmutableRule, u64>,
    /// Files left mutable.
    pub mutable: u64,
    /// Record-listed files left mutable (no hash in the name).
    pub listed_but_unhashed: BTreeSet<String>,
}

impl ImmutableReport {
    /// Counts one file.
    pub fn add(&mut self, rules: &Immutability, path: &str, rule: Option<ImmutableRule>) {
        match rule {
            Some(r) => *self.by_rule.entry(r).or_default() += 1,
            None => {
                self.mutable += 1;
                if rules.is_listed(path) {
                    self.listed_but_unhashed.insert(path.to_owned());
                }
            }
        }
    }

    /// Files made immutable by any rule.
    pub fn immutable(&self) -> u64 {
        self.by_rule.values().sum()
    }
}

impl fmt::Display for ImmutableReport {
    /// `12 immutable (Vite manifest 10, hashed name 2), 3 mutable`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} immutable", self.immutable())?;
        if !self.by_rule.is_empty() {
            let parts: Vec<String> = self.by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        write!(f, ", {} mutable", self.mutable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VITE: &str = r#"{
      "index.html": {"file": "assets/index-BfX3kq_T.js", "name": "index", "src": "index.html",
                     "isEntry": true, "css": ["assets/index-Dq1fa2bc.css"], "dynamicImports": ["src/lazy.js"]},
      "src/lazy.js": {"file": "assets/lazy--Y7IcKfR.js", "name": "lazy", "isDynamicEntry": true,
                      "css": ["assets/lazy-_abcdefg.css"], "assets": ["assets/logo-abcdefgh.svg"]},
      "_plain.js": {"file": "assets/plain.js", "name": "plain"},
      "src/word.js": {"file": "assets/word-settings.js", "name": "word-settings"}
    }"#;

    fn rules(records: &[BundlerRecord]) -> Immutability {
        Immutability::new(&["/static/".to_owned()], records)
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn vite_manifest_decides_for_its_outputs() {
        let vite = BundlerRecord::parse(".vite/manifest.json", VITE.as_bytes()).unwrap();
        assert_eq!(vite.kind, RecordKind::Vite);
        let r = rules(&[vite]);
        let by_vite = Some(ImmutableRule::Bundler(RecordKind::Vite));
        for p in [
            "assets/lazy--Y7IcKfR.js",
            "assets/index-BfX3kq_T.js",
            "assets/lazy-_abcdefg.css",
            "assets/logo-abcdefgh.svg",
        ] {
            assert_eq!(r.rule_for(p), by_vite, "{p}");
        }
        // Listed, but the bundler wrote no hash: mutable, and reported.
        assert_eq!(r.rule_for("assets/plain.js"), None);
        assert_eq!(r.rule_for("assets/word-settings.js"), None, "the name is the chunk name");
        assert!(r.is_listed("assets/plain.js"));
        // Not listed: the name decides.
        assert_eq!(r.rule_for("img/photo-3f2a1b9c.png"), Some(ImmutableRule::Name));
        assert_eq!(r.rule_for("assets/other-abcdefgh.js"), None, "lower-case needs a record");
        assert_eq!(r.rule_for("static/app.js"), Some(ImmutableRule::Prefix));
        assert_eq!(r.rule_for("index.html"), None);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn esbuild_metafile_outputs_match_by_suffix() {
        let meta = r#"{"inputs": {"src/a.js": {"bytes": 1, "imports": []}},
          "outputs": {"dist/app-5ZUBHDB4.js": {"bytes": 9}, "dist/chunks/b-abcdefgh.js": {"bytes": 3},
                      "dist/app-5ZUBHDB4.css": {"bytes": 2}}}"#;
        let rec = BundlerRecord::parse("meta.json", meta.as_bytes()).unwrap();
        assert_eq!((rec.kind, rec.len()), (RecordKind::Esbuild, 3));
        let r = rules(&[rec]);
        let by = Some(ImmutableRule::Bundler(RecordKind::Esbuild));
        assert_eq!(r.rule_for("app-5ZUBHDB4.js"), by);
        assert_eq!(r.rule_for("chunks/b-abcdefgh.js"), by);
        assert_eq!(r.rule_for("app-5ZUBHDB4.css"), by);
        assert_eq!(r.rule_for("other/b-abcdefgh.js"), None, "only suffixes at `/` match");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn asset_manifests_and_web_app_manifests() {
        let webpack = r#"{"main.js": "auto/main.3f2a1b9c4d5e6f708192.js", "index.html": "/index.html",
                          "vendor.js": "https://cdn.test/s/vendor.abcdefgh.js?v=1"}"#;
        let rec = BundlerRecord::parse_flat_map("manifest.json", webpack.as_bytes()).unwrap();
        let r = rules(&[rec]);
        let by = Some(ImmutableRule::Bundler(RecordKind::AssetManifest));
        assert_eq!(r.rule_for("main.3f2a1b9c4d5e6f708192.js"), by);
        assert_eq!(r.rule_for("s/vendor.abcdefgh.js"), by);
        assert_eq!(r.rule_for("index.html"), None);
        let cra = r#"{"files": {"main.js": "/static/js/main.8c8b27cf.chunk.js"},
                      "entrypoints": ["static/js/main.8c8b27cf.chunk.js"]}"#;
        let r = rules(&[BundlerRecord::parse("asset-manifest.json", cra.as_bytes()).unwrap()]);
        assert_eq!(r.rule_for("static/js/main.8c8b27cf.chunk.js"), Some(ImmutableRule::Prefix));
        let r = Immutability::new(&[], &[BundlerRecord::parse("a", cra.as_bytes()).unwrap()]);
        assert_eq!(r.rule_for("static/js/main.8c8b27cf.chunk.js"), by);
        let pwa = r#"{"name": "App", "icons": [{"src": "icon-192.png", "sizes": "192x192"}], "start_url": "/"}"#;
        assert!(BundlerRecord::parse_flat_map("manifest.json", pwa.as_bytes()).is_none());
        for (bad, want) in
            [("{", "not JSON"), ("[]", "not a JSON object"), ("{\"a\": 1}", "lists no output")]
        {
            let e = BundlerRecord::parse("x.json", bad.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want) && e.to_string().contains("`x.json`"), "{e}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn framework_folders_and_the_report() {
        let r = Immutability::new(&[], &[]);
        for p in [
            "_next/static/chunks/x.js",
            "_app/immutable/entry/start.js",
            "_astro/a.css",
            "_nuxt/e.js",
        ] {
            assert_eq!(r.rule_for(p), Some(ImmutableRule::Framework), "{p}");
        }
        assert_eq!(r.rule_for("_nuxt/builds/latest.json"), None);
        assert_eq!(r.rule_for("_nuxt/builds/meta/1234.json"), Some(ImmutableRule::Framework));
        assert_eq!(r.rule_for("_next/data/x.json"), None);
        let vite = BundlerRecord::parse("m", VITE.as_bytes()).unwrap();
        let r = Immutability::new(&[], &[vite]);
        let mut report = ImmutableReport::default();
        for p in ["assets/lazy--Y7IcKfR.js", "assets/plain.js", "a.3f2a1b9c.js", "index.html"] {
            report.add(&r, p, r.rule_for(p));
        }
        assert_eq!(report.to_string(), "2 immutable (Vite manifest 1, hashed name 1), 2 mutable");
        assert_eq!(report.listed_but_unhashed.iter().collect::<Vec<_>>(), ["assets/plain.js"]);
    }
}
