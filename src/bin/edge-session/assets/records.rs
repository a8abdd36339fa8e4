//! What `assets publish` learns before it plans: the bundler's records of what it
//! emitted (found in the directory or given with `--bundler-manifest`), and, after
//! planning, the pages that reference a script or stylesheet left mutable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use edge_session::assets::BundlerRecord;
use edge_session::manifest::Manifest;

use super::build::referenced;

/// Records looked for inside the published directory, each relative to it. A
/// `manifest.json` counts only as a flat map of names to files (webpack's), so a
/// web app manifest of that name is left alone.
const FOUND_IN_DIR: &[&str] = &[".vite/manifest.json", "asset-manifest.json", "manifest.json"];

/// The records for a publish of `dir`: those found in it, then those given.
///
/// # Errors
/// A given record that cannot be read or parsed; a `.vite/manifest.json` or
/// `asset-manifest.json` in `dir` that is not a record.
pub fn load(dir: &Path, given: &[PathBuf]) -> anyhow::Result<Vec<(String, BundlerRecord)>> {
    let mut out = Vec::new();
    for rel in FOUND_IN_DIR {
        let path = dir.join(rel);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let record = match *rel {
            "manifest.json" => BundlerRecord::parse_flat_map(rel, &bytes),
            _ => Some(BundlerRecord::parse(rel, &bytes)?),
        };
        out.extend(record.map(|r| ((*rel).to_owned(), r)));
    }
    for path in given {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
        out.push((shown.clone(), BundlerRecord::parse(&shown, &bytes)?));
    }
    Ok(out)
}

/// Warnings for pages that reference a script or stylesheet that is not
/// immutable: a page of this deploy could load a later deploy's copy of it.
pub fn mutable_page_assets(dir: &Path, manifest: &Manifest) -> Vec<String> {
    let is_page = |p: &str| p.ends_with(".html") || p.ends_with(".htm");
    let code = |p: &str| [".js", ".mjs", ".css"].iter().any(|e| p.ends_with(e));
    let targets: BTreeSet<String> = manifest.files.keys().filter(|p| code(p)).cloned().collect();
    let mut warnings = Vec::new();
    for page in manifest.files.keys().filter(|p| is_page(p)) {
        let Ok(text) = std::fs::read_to_string(dir.join(page)) else { continue };
        for target in referenced(page, &text, &targets) {
            if manifest.files.get(&target).is_some_and(|e| !e.immutable) {
                warnings.push(format!(
                    "warning: {page} references {target}, which is not content-hashed: it is \
                     served as mutable, so a page of an older deploy may load a newer copy. \
                     Let the bundler hash it, publish with its manifest (--bundler-manifest), \
                     or use --immutable-prefix"
                ));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_session::manifest::FileEntry;
    use edge_session::manifest::{AssetHash, DeployId};

    #[test]
    fn records_are_found_and_pages_that_load_mutable_code_are_named() {
        let dir = std::env::temp_dir().join(format!("es-records-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".vite")).unwrap();
        let vite =
            r#"{"index.html":{"file":"assets/index-BfX3kq_T.js","name":"index","isEntry":true}}"#;
        std::fs::write(dir.join(".vite/manifest.json"), vite).unwrap();
        std::fs::write(dir.join("manifest.json"), r#"{"name":"PWA","icons":[]}"#).unwrap();
        let page = r#"<script type="module" src="/assets/index-BfX3kq_T.js"></script>
            <script src="./legacy.js"></script><link rel="stylesheet" href="style.css">"#;
        std::fs::write(dir.join("index.html"), page).unwrap();
        let found = load(&dir, &[]).unwrap();
        assert_eq!(found.len(), 1, "the web app manifest is no record");
        assert_eq!(found[0].0, ".vite/manifest.json");
        let entry = |immutable| FileEntry {
            hash: AssetHash::of(b"x"),
            content_type: "text/javascript".into(),
            size: 1,
            immutable,
        };
        let files = [
            ("index.html", false),
            ("assets/index-BfX3kq_T.js", true),
            ("legacy.js", false),
            ("style.css", false),
        ];
        let manifest = Manifest {
            version: 1,
            id: DeployId::parse("d").unwrap(),
            created: 0,
            files: files.iter().map(|(p, i)| ((*p).to_owned(), entry(*i))).collect(),
        };
        let warnings = mutable_page_assets(&dir, &manifest);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("index.html references legacy.js"), "{}", warnings[0]);
        assert!(warnings[1].contains("index.html references style.css"), "{}", warnings[1]);
        let bad = dir.join("meta.json");
        std::fs::write(&bad, "{").unwrap();
        let e = load(&dir, &[bad]).unwrap_err();
        assert!(format!("{e:#}").contains("not JSON"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
