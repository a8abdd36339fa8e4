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
