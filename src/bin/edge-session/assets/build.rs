//! `edge-session assets build SRC OUT`: a content-hashed copy of a static site.
//!
//! Scripts, styles, images and fonts are renamed `name.<hash8>.ext` (first 8 hex
//! digits of the SHA-256 of their final content) and every reference to them in
//! HTML, JS, CSS and web manifests is rewritten. HTML files keep their names: they
//! are the un-hashed entry points. Files referencing each other are hashed after
//! their dependencies; a reference cycle is hashed as one group (a change in any
//! member renames all of them).
//!
//! References are found lexically: quoted strings (`"…"`, `'…'`, `` `…` `` without
//! `${`) and CSS `url(…)`. A string is a reference when, without its `?query` or
//! `#fragment`, it resolves to a renamed file: from the site root when it starts
//! with `/`, else from the referencing file's directory. In JS only `/`, `./` and
//! `../` strings count (bare names are package specifiers). Only the last path
//! segment is replaced, so the reference keeps its form.
//!
//! Never renamed: HTML, `favicon.ico`, service workers (`sw.js`,
//! `service-worker.js`), `.well-known/`, names that are already content-hashed (by the
//! bundler's record in the source, as `assets publish` reads it, else by the name),
//! and paths given with `--keep`. Chosen over esbuild (`--entry-names=[name].[hash]`)
//! because the demo site has no bundling step to preserve, esbuild does not
//! rewrite HTML, and this needs no Node tooling to build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context};
use edge_session::assets::Immutability;
use edge_session::manifest::AssetHash;

/// Name of the marker file that tells an output directory is ours to replace.
pub const MARKER: &str = ".edge-session-build";

const HASHED_EXT: &[&str] = &[
    "js", "mjs", "css", "svg", "png", "jpg", "jpeg", "gif", "webp", "avif", "ico", "woff", "woff2",
    "ttf", "otf", "wasm",
];
const TEXT_EXT: &[&str] = &["html", "htm", "js", "mjs", "css", "webmanifest", "svg"];
const NEVER: &[&str] = &["favicon.ico", "sw.js", "service-worker.js"];

fn ext(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Files written.
    pub files: usize,
    /// Renamed files: old path → new path.
    pub renamed: BTreeMap<String, String>,
    /// Files whose references were rewritten.
    pub rewritten: Vec<String>,
}

/// One reference inside a text file: byte range of the string content and the
/// file it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    start: usize,
    end: usize,
    target: String,
}

/// Byte ranges of string literals and CSS `url(…)` contents.
fn string_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\'' || c == b'`' {
            let start = i + 1;
            let mut j = start;
            let mut ok = false;
            while let Some(&d) = b.get(j) {
                if d == c {
                    ok = true;
                    break;
                }
                if d == b'\n' || d == b'\\' || j - start > 1024 {
                    break;
                }
                j += 1;
            }
            if ok {
                let s = text.get(start..j).unwrap_or("");
                if !(c == b'`' && s.contains("${")) {
                    spans.push((start, j));
                }
                i = j + 1;
                continue;
            }
        } else if b.get(i..i + 4).is_some_and(|w| w.eq_ignore_ascii_case(b"url(")) {
            let start = i + 4;
            let first = b.get(start).copied();
            if first != Some(b'"') && first != Some(b'\'') {
                if let Some(len) = b.get(start..).and_then(|r| r.iter().position(|d| *d == b')')) {
                    let (s, e) = trim_span(text, start, start + len);
                    spans.push((s, e));
                    i = start + len + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    spans
}

fn trim_span(text: &str, start: usize, end: usize) -> (usize, usize) {
    let s = text.get(start..end).unwrap_or("");
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    (start + lead, end - trail)
}

/// Resolves a reference string from file `from` to a site path, if it is local.
fn resolve(from: &str, reference: &str, js: bool) -> Option<String> {
    let path = reference.split(['?', '#']).next()?;
    if path.is_empty() || path.contains("://") || path.starts_with("//") || path.contains(':') {
        return None;
    }
    if js && !(path.starts_with('/') || path.starts_with("./") || path.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        let mut d: Vec<&str> = from.split('/').collect();
        d.pop();
        d
    };
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn find_refs(path: &str, text: &str, targets: &BTreeSet<String>) -> Vec<Ref> {
    let js = matches!(ext(path).as_str(), "js" | "mjs");
    string_spans(text)
        .into_iter()
        .filter_map(|(start, end)| {
            let s = text.get(start..end)?;
            let target = resolve(path, s, js)?;
            (targets.contains(&target) && target != path).then_some(Ref { start, end, target })
        })
        .collect()
}

/// The files among `targets` that `text` (the file at `path`) references.
pub(crate) fn referenced(path: &str, text: &str, targets: &BTreeSet<String>) -> BTreeSet<String> {
    find_refs(path, text, targets).into_iter().map(|r| r.target).collect()
}

/// Replaces the last path segment of each reference with the target's new name.
fn rewrite(text: &str, refs: &[Ref], names: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len() + refs.len() * 9);
    let mut at = 0;
    for r in refs {
        let Some(new_path) = names.get(&r.target) else { continue };
        let old = text.get(r.start..r.end).unwrap_or("");
        let path_len = old.find(['?', '#']).unwrap_or(old.len());
        let (path, rest) = old.split_at(path_len);
        let dir_len = path.rfind('/').map_or(0, |i| i + 1);
        let new_name = new_path.rsplit('/').next().unwrap_or(new_path);
        out.push_str(text.get(at..r.start).unwrap_or(""));
        out.push_str(path.get(..dir_len).unwrap_or(""));
        out.push_str(new_name);
        out.push_str(rest);
        at = r.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

fn hashed_name(path: &str, hash: &AssetHash) -> String {
    let hex = hash.to_hex();
    let short = hex.get(..8).unwrap_or(&hex);
    let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
    let new = match name.rsplit_once('.') {
        Some((stem, e)) => format!("{stem}.{short}.{e}"),
        None => format!("{name}.{short}"),
    };
    if dir.is_empty() {
        new
    } else {
        format!("{dir}/{new}")
    }
}

/// Computes the output tree: path → bytes, plus the report. Pure.
fn transform(
    files: &BTreeMap<String, Vec<u8>>,
    keep: &[String],
    hashed: &Immutability,
) -> (BTreeMap<String, Vec<u8>>, BuildReport) {
    let renamable: BTreeSet<String> = files
        .keys()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            HASHED_EXT.contains(&ext(p).as_str())
                && !NEVER.contains(&name)
                && !p.starts_with(".well-known/")
                && hashed.rule_for(p).is_none()
                && !keep.iter().any(|k| k.trim_start_matches('/') == p.as_str() || k == name)
        })
        .cloned()
        .collect();
    let mut texts: BTreeMap<String, (String, Vec<Ref>)> = BTreeMap::new();
    for (p, bytes) in files {
        if TEXT_EXT.contains(&ext(p).as_str()) {
            if let Ok(t) = std::str::from_utf8(bytes) {
                let refs = find_refs(p, t, &renamable);
                if !refs.is_empty() {
                    texts.insert(p.clone(), (t.to_owned(), refs));
                }
            }
        }
    }
    let content = |p: &str, names: &BTreeMap<String, String>| -> Vec<u8> {
        match texts.get(p) {
            Some((t, refs)) => rewrite(t, refs, names).into_bytes(),
            None => files.get(p).cloned().unwrap_or_default(),
        }
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: BTreeSet<String> = renamable.clone();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|p| {
                texts
                    .get(*p)
                    .is_none_or(|(_, refs)| refs.iter().all(|r| names.contains_key(&r.target)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            // A cycle (or files depending on one): hash the rest as one group.
            let mut group = Vec::new();
            for p in &pending {
                group.extend_from_slice(p.as_bytes());
                group.push(0);
                group.extend(content(p, &names));
                group.push(0);
            }
            let g = AssetHash::of(&group).to_hex();
            for p in &pending {
                names.insert(
                    p.clone(),
                    hashed_name(p, &AssetHash::of(format!("{g}{p}").as_bytes())),
                );
            }
            break;
        }
        for p in ready {
            let h = AssetHash::of(&content(&p, &names));
            names.insert(p.clone(), hashed_name(&p, &h));
            pending.remove(&p);
        }
    }
    let mut out = BTreeMap::new();
    let mut report = BuildReport::default();
    for p in files.keys() {
        let target = names.get(p).cloned().unwrap_or_else(|| p.clone());
        if texts.contains_key(p) {
            report.rewritten.push(p.clone());
        }
        out.insert(target, content(p, &names));
    }
    report.files = out.len();
    report.renamed = names;
    (out, report)
}

/// Builds `src` into `out`. `out` must not exist, be empty, or hold a previous
/// build (marker file), which is then replaced.
///
/// # Errors
/// I/O failures, `out` inside `src`, or a non-empty `out` that is not a build.
pub fn build(src: &Path, out: &Path, keep: &[String]) -> anyhow::Result<BuildReport> {
    let src_abs = src.canonicalize().with_context(|| format!("cannot open {}", src.display()))?;
    if out.exists() {
        let out_abs = out.canonicalize()?;
        if out_abs.starts_with(&src_abs) || src_abs.starts_with(&out_abs) {
            bail!(
                "output {} and source {} must not contain each other",
                out.display(),
                src.display()
            );
        }
        let empty = std::fs::read_dir(out)?.next().is_none();
        if !empty {
            if !out.join(MARKER).is_file() {
                bail!(
                    "{} is not empty and was not made by `assets build`; remove it first",
                    out.display()
                );
            }
            std::fs::remove_dir_all(out)
                .with_context(|| format!("cannot clear {}", out.display()))?;
        }
    }
    let mut files = BTreeMap::new();
    for (rel, abs) in super::walk(src)? {
        let bytes =
            std::fs::read(&abs).with_context(|| format!("cannot read {}", abs.display()))?;
        files.insert(rel, bytes);
    }
    // A bundler's record in the source (`.vite/manifest.json`, …) says which names
    // are hashed already, as for `assets publish`; the name rule is the last resort.
    let records = super::records::load(src, &[])?;
    let hashed = Immutability::new(&[], &records.into_iter().map(|(_, r)| r).collect::<Vec<_>>());
    let (tree, report) = transform(&files, keep, &hashed);
    for (rel, bytes) in &tree {
        let dest = out.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&dest, bytes).with_context(|| format!("cannot write {}", dest.display()))?;
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(MARKER), b"made by edge-session assets build; safe to delete\n")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_session::assets::is_content_hashed;

    fn tree(items: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        items.iter().map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec())).collect()
    }

    fn text(out: &BTreeMap<String, Vec<u8>>, p: &str) -> String {
        String::from_utf8(
            out.get(p).unwrap_or_else(|| panic!("{p} missing: {:?}", out.keys())).clone(),
        )
        .unwrap()
    }

    #[test]
    fn renames_and_rewrites_html_js_css() {
        let files = tree(&[
            ("index.html", r#"<link href="/style.css"><script type="module" src="/app.js?v=1"></script><a href="/login">x</a><img src="img/logo.png">"#),
            ("app.js", "import { f } from './lib/util.js'; fetch('/api/me'); const u = new URL('./img/logo.png', import.meta.url); import 'lodash';"),
            ("lib/util.js", "export const f = () => '../style.css';"),
            ("style.css", "body { background: url(img/logo.png) } @import \"lib/extra.css\";"),
            ("lib/extra.css", "a{}"),
            ("img/logo.png", "PNG"),
            ("favicon.ico", "ico"),
            ("sw.js", "self.x = '/app.js'"),
            ("robots.txt", "/app.js"),
        ]);
        let (out, report) = transform(&files, &[], &Immutability::default());
        let n =
            |p: &str| report.renamed.get(p).unwrap_or_else(|| panic!("{p} not renamed")).clone();
        for p in ["app.js", "lib/util.js", "style.css", "lib/extra.css", "img/logo.png"] {
            assert!(is_content_hashed(&n(p)), "{}", n(p));
        }
        for p in ["index.html", "favicon.ico", "sw.js", "robots.txt"] {
            assert!(!report.renamed.contains_key(p) && out.contains_key(p), "{p}");
        }
        let html = text(&out, "index.html");
        assert!(html.contains(&format!("href=\"/{}\"", n("style.css"))), "{html}");
        assert!(html.contains(&format!("src=\"/{}?v=1\"", n("app.js"))), "{html}");
        assert!(html.contains(&format!("src=\"{}\"", n("img/logo.png"))), "{html}");
        assert!(html.contains("href=\"/login\""));
        let app = text(&out, &n("app.js"));
        let util_name = n("lib/util.js").rsplit('/').next().unwrap().to_owned();
        assert!(app.contains(&format!("'./lib/{util_name}'")), "{app}");
        assert!(app.contains("'/api/me'") && app.contains("'lodash'"), "{app}");
        let logo_name = n("img/logo.png").rsplit('/').next().unwrap().to_owned();
        assert!(app.contains(&format!("'./img/{logo_name}'")), "{app}");
        let css = text(&out, &n("style.css"));
        assert!(css.contains(&format!("url(img/{logo_name})")), "{css}");
        assert_eq!(
            text(&out, "sw.js"),
            format!("self.x = '/{}'", n("app.js")),
            "kept name, rewritten body"
        );
        assert_eq!(text(&out, "robots.txt"), "/app.js", "not a text type we scan");
        // The name is the hash of the final content.
        let app_hash = AssetHash::of(app.as_bytes()).to_hex();
        assert_eq!(n("app.js"), format!("app.{}.js", &app_hash[..8]));
    }

    #[test]
    fn a_dependency_change_renames_its_dependents_and_cycles_are_grouped() {
        let a = tree(&[
            ("index.html", "<script src=\"/a.js\">"),
            ("a.js", "import './b.js'"),
            ("b.js", "1"),
        ]);
        let b = tree(&[
            ("index.html", "<script src=\"/a.js\">"),
            ("a.js", "import './b.js'"),
            ("b.js", "2"),
        ]);
        let (_, ra) = transform(&a, &[], &Immutability::default());
        let (_, rb) = transform(&b, &[], &Immutability::default());
        assert_ne!(ra.renamed.get("a.js"), rb.renamed.get("a.js"), "a.js must change with b.js");
        let cyc = tree(&[("x.js", "import './y.js'"), ("y.js", "import './x.js'")]);
        let (out, r) = transform(&cyc, &[], &Immutability::default());
        let x = r.renamed.get("x.js").unwrap();
        let y = r.renamed.get("y.js").unwrap();
        assert!(text(&out, x).contains(y.as_str()) && text(&out, y).contains(x.as_str()));
        let (_, kept) = transform(&a, &["a.js".to_owned()], &Immutability::default());
        assert!(!kept.renamed.contains_key("a.js") && kept.renamed.contains_key("b.js"));
    }

    #[test]
    fn dynamic_imports_name_the_hashed_chunk() {
        let files = tree(&[
            ("index.html", "<script type=\"module\" src=\"/app.js\"></script>"),
            (
                "app.js",
                "const m = await import('./lazy.js'); import(\"/lazy.js\"); import(`./lazy.js`);",
            ),
            ("lazy.js", "export const x = 1;"),
        ]);
        let (out, report) = transform(&files, &[], &Immutability::default());
        let lazy = report.renamed.get("lazy.js").expect("lazy.js renamed");
        assert!(is_content_hashed(lazy) && out.contains_key(lazy), "{lazy}");
        let app = text(&out, report.renamed.get("app.js").expect("app.js renamed"));
        assert_eq!(
            app,
            format!("const m = await import('./{lazy}'); import(\"/{lazy}\"); import(`./{lazy}`);")
        );
        assert!(!app.contains("lazy.js'") && !out.contains_key("lazy.js"), "{app}");
    }

    #[test]
    fn resolution_rules() {
        assert_eq!(resolve("a/b.html", "c.css", false).as_deref(), Some("a/c.css"));
        assert_eq!(resolve("a/b.html", "../c.css?x#y", false).as_deref(), Some("c.css"));
        assert_eq!(resolve("a/b.js", "c.js", true), None);
        assert_eq!(resolve("a/b.js", "/c.js", true).as_deref(), Some("c.js"));
        assert_eq!(resolve("b.html", "../../c.css", false), None);
        for external in ["https://x/a.js", "//cdn/a.js", "data:image/png;base64,x", ""] {
            assert_eq!(resolve("b.html", external, false), None, "{external}");
        }
        assert_eq!(string_spans("a 'x' \"y\" `z${q}` url( a.png )").len(), 3);
    }

    #[test]
    fn names_a_bundler_record_lists_as_hashed_are_kept() {
        let files = tree(&[
            ("index.html", r#"<script src="/assets/lazy-abcdefgh.js"></script>"#),
            ("assets/lazy-abcdefgh.js", "export {}"),
        ]);
        // All lower-case: the name rule alone cannot tell it from a word, so it is renamed…
        let (_, report) = transform(&files, &[], &Immutability::default());
        assert!(report.renamed.contains_key("assets/lazy-abcdefgh.js"), "{:?}", report.renamed);
        // …unless Vite's manifest says the bundler wrote that hash.
        let vite = r#"{"src/lazy.js": {"file": "assets/lazy-abcdefgh.js", "name": "lazy"}}"#;
        let record = edge_session::assets::BundlerRecord::parse("m", vite.as_bytes()).unwrap();
        let (out, report) = transform(&files, &[], &Immutability::new(&[], &[record]));
        assert!(report.renamed.is_empty(), "{:?}", report.renamed);
        assert!(out.contains_key("assets/lazy-abcdefgh.js"));
    }
}
