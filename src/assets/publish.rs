//! Publishing and promoting deploys.
//!
//! Publish is split so the CLI can upload in bulk and show progress:
//! 1. [`plan_publish`] validates the files, builds the manifest, decides the
//!    deploy id and whether anything changed, and lists the blobs KV lacks
//!    (one `list`). It writes nothing.
//! 2. The caller uploads [`PublishPlan::missing`] ([`upload_blob`] or its own bulk
//!    writer after [`check_blob`]).
//! 3. [`commit_publish`] writes `manifest:<id>`, then re-reads and updates
//!    `deploys`, in that order: no reader finds a deploy whose manifest or blobs
//!    were not written before it.
//!
//! Idempotence: a tree identical to the current deploy (or to the canary, when
//! publishing a canary) is [`PlanKind::Unchanged`]: no blob, no manifest, and the
//! deploy list is only rewritten when a setting (share, retention) changes.
//! Deploy ids are immutable: reusing an id with other files is refused.
//!
//! Concurrency: KV has no compare-and-swap. Do not run two publishes, or a publish
//! and `gc`, at the same time: the last `deploys` write wins, and `gc` could
//! collect blobs uploaded by a publish that has not written its manifest yet.

use std::collections::{BTreeMap, BTreeSet};

use crate::asset_paths::{content_type_for, validate_key};
use crate::assets::immutable::{BundlerRecord, Immutability, ImmutableReport};
use crate::assets::{validate_origin, AssetsError};
use crate::manifest::{
    Activation, AssetHash, DeployEntry, DeployId, DeploysDoc, FileEntry, Manifest, RetentionUpdate,
    BLOB_PREFIX, DEPLOYS_KEY, FORMAT_VERSION, MAX_BLOB_BYTES,
};
use crate::store::KvStore;

/// One file to publish, hashed by the caller (see `AssetHasher`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishFile {
    /// Path relative to the published directory, `/` separated (the manifest key).
    pub path: String,
    /// SHA-256 of its content.
    pub hash: AssetHash,
    /// Its size in bytes.
    pub size: u64,
}

/// Publish settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    /// The id; defaults to UTC time + tree hash (see `DeployId::generate`).
    pub deploy_id: Option<DeployId>,
    /// Current (default) or canary with a share.
    pub activation: Activation,
    /// Retention settings to change and store.
    pub retention: RetentionUpdate,
    /// Origin base URL for clients pinned to this deploy.
    pub origin: Option<String>,
    /// Manifest-key prefixes whose files are immutable whatever their names.
    pub immutable_prefixes: Vec<String>,
    /// The bundler's own records of what it emitted (see `assets::immutable`).
    pub records: Vec<BundlerRecord>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            deploy_id: None,
            activation: Activation::Current,
            retention: RetentionUpdate::default(),
            origin: None,
            immutable_prefixes: Vec::new(),
            records: Vec::new(),
        }
    }
}

/// What a publish amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// A new deploy: blobs, manifest, deploy list.
    New,
    /// The deploy exists with exactly these files: only (re)activate it.
    Existing,
    /// Identical to the current deploy: nothing to do but settings.
    Unchanged,
}

/// A blob KV lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlob {
    /// Its hash.
    pub hash: AssetHash,
    /// A file holding it (to read it from).
    pub path: String,
    /// Its size.
    pub size: u64,
}

/// The outcome of [`plan_publish`].
#[derive(Debug, Clone)]
pub struct PublishPlan {
    /// The manifest of the tree (its id is the deploy id).
    pub manifest: Manifest,
    /// New, existing or unchanged.
    pub kind: PlanKind,
    /// Blobs to upload, one per distinct hash.
    pub missing: Vec<MissingBlob>,
    /// The options, origin normalised.
    pub options: PublishOptions,
    /// Which files are immutable, by which rule.
    pub immutable: ImmutableReport,
}

impl PublishPlan {
    /// Total size of the missing blobs.
    pub fn missing_bytes(&self) -> u64 {
        self.missing.iter().fold(0u64, |a, b| a.saturating_add(b.size))
    }
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSummary {
    /// The deploy.
    pub deploy: DeployId,
    /// New, existing or unchanged.
    pub kind: PlanKind,
    /// Files in the tree.
    pub files: u64,
    /// Blobs uploaded.
    pub new_blobs: u64,
    /// Bytes uploaded.
    pub bytes_sent: u64,
    /// True when the deploy list was written.
    pub activated: bool,
}

async fn read_doc<S: KvStore>(store: &S) -> Result<Option<DeploysDoc>, AssetsError> {
    match store.get(DEPLOYS_KEY).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(DeploysDoc::parse(&bytes)?)),
    }
}

/// Reads the deploy list (`None` before the first publish).
///
/// # Errors
/// KV failure or a malformed list.
pub async fn load_deploys<S: KvStore>(store: &S) -> Result<Option<DeploysDoc>, AssetsError> {
    read_doc(store).await
}

async fn read_manifest<S: KvStore>(store: &S, id: &DeployId) -> Option<Manifest> {
    let key = id.manifest_key();
    let bytes = store.get(&key).await.ok()??;
    Manifest::parse(&bytes, &key).ok()
}

/// Validates the files, builds the manifest and decides what to upload. Writes
/// nothing.
///
/// # Errors
/// No files, a bad or duplicate path, a file above 25 MiB, a bad origin, a
/// malformed deploy list, an id reused with other files, or KV failure.
pub async fn plan_publish<S: KvStore>(
    store: &S,
    files: Vec<PublishFile>,
    mut options: PublishOptions,
    now: u64,
) -> Result<PublishPlan, AssetsError> {
    if files.is_empty() {
        return Err(AssetsError::NoFiles);
    }
    if let Some(o) = &options.origin {
        options.origin = Some(validate_origin(o)?);
    }
    options.retention.apply(&mut crate::manifest::Retention::default())?;
    if let Activation::Canary(p) = options.activation {
        if p > 100 {
            return Err(crate::manifest::ManifestError::BadPercent(p).into());
        }
    }
    let (entries, report) = manifest_entries(&files, &options)?;
    let placeholder = DeployId::parse("x").map_err(AssetsError::Manifest)?;
    let mut manifest =
        Manifest { version: FORMAT_VERSION, id: placeholder, created: now, files: entries };
    let doc = read_doc(store).await?.unwrap_or_default();
    let explicit = options.deploy_id.clone();
    let id = explicit.clone().unwrap_or_else(|| DeployId::generate(now, &manifest.tree_hash()));
    let same_files = |m: Option<Manifest>| m.is_some_and(|m| m.files == manifest.files);
    let kind = if doc.entry(&id).is_some() {
        if !same_files(read_manifest(store, &id).await) {
            return Err(AssetsError::Conflict(id));
        }
        PlanKind::Existing
    } else if explicit.is_some() {
        PlanKind::New
    } else if let Some(current) = doc.current.clone() {
        let canary = doc.canary.as_ref().map(|c| c.id.clone());
        if same_files(read_manifest(store, &current).await) {
            manifest.id = current;
            return Ok(unchanged(manifest, options, PlanKind::Unchanged, report));
        }
        match canary {
            Some(c)
                if matches!(options.activation, Activation::Canary(_))
                    && same_files(read_manifest(store, &c).await) =>
            {
                manifest.id = c;
                return Ok(unchanged(manifest, options, PlanKind::Existing, report));
            }
            _ => PlanKind::New,
        }
    } else {
        PlanKind::New
    };
    manifest.id = id;
    if kind != PlanKind::New {
        return Ok(unchanged(manifest, options, kind, report));
    }
    let missing = missing_blobs(store, &manifest).await?;
    Ok(PublishPlan { manifest, kind, missing, options, immutable: report })
}

/// The manifest entries of `files` (validated, typed, immutable or not) and which
/// rule made each immutable.
fn manifest_entries(
    files: &[PublishFile],
    options: &PublishOptions,
) -> Result<(BTreeMap<String, FileEntry>, ImmutableReport), AssetsError> {
    let rules = Immutability::new(&options.immutable_prefixes, &options.records);
    let mut report = ImmutableReport::default();
    let mut entries = BTreeMap::new();
    for f in files {
        validate_key(&f.path)
            .map_err(|error| AssetsError::BadPath { path: f.path.clone(), error })?;
        if f.size > MAX_BLOB_BYTES {
            return Err(AssetsError::TooLarge { path: f.path.clone(), size: f.size });
        }
        let rule = rules.rule_for(&f.path);
        report.add(&rules, &f.path, rule);
        let entry = FileEntry {
            hash: f.hash,
            content_type: content_type_for(&f.path).to_owned(),
            size: f.size,
            immutable: rule.is_some(),
        };
        if entries.insert(f.path.clone(), entry).is_some() {
            return Err(AssetsError::DuplicatePath(f.path.clone()));
        }
    }
    Ok((entries, report))
}

/// The blobs of `manifest` that KV does not hold yet, one per distinct hash.
async fn missing_blobs<S: KvStore>(
    store: &S,
    manifest: &Manifest,
) -> Result<Vec<MissingBlob>, AssetsError> {
    let stored: BTreeSet<String> = store
        .list(BLOB_PREFIX)
        .await?
        .into_iter()
        .filter(|k| k.expiration.is_none())
        .map(|k| k.name)
        .collect();
    let mut missing: Vec<MissingBlob> = Vec::new();
    for (path, e) in &manifest.files {
        if !stored.contains(&e.hash.blob_key()) && !missing.iter().any(|m| m.hash == e.hash) {
            missing.push(MissingBlob { hash: e.hash, path: path.clone(), size: e.size });
        }
    }
    Ok(missing)
}

fn unchanged(
    manifest: Manifest,
    options: PublishOptions,
    kind: PlanKind,
    immutable: ImmutableReport,
) -> PublishPlan {
    PublishPlan { manifest, kind, missing: Vec::new(), options, immutable }
}

/// Checks that `bytes` are the blob the plan expects.
///
/// # Errors
/// [`AssetsError::ContentChanged`] when size or hash differ.
pub fn check_blob(blob: &MissingBlob, bytes: &[u8]) -> Result<(), AssetsError> {
    if bytes.len() as u64 != blob.size || AssetHash::of(bytes) != blob.hash {
        return Err(AssetsError::ContentChanged(blob.path.clone()));
    }
    Ok(())
}

/// Checks and writes one blob.
///
/// # Errors
/// Content changed since hashing, or KV failure.
pub async fn upload_blob<S: KvStore>(
    store: &S,
    blob: &MissingBlob,
    bytes: &[u8],
) -> Result<(), AssetsError> {
    check_blob(blob, bytes)?;
    store.put(&blob.hash.blob_key(), bytes, None).await?;
    Ok(())
}

/// Writes the manifest (new deploys), then activates the deploy in a freshly read
/// deploy list. Call after every missing blob is uploaded.
///
/// # Errors
/// KV failure, a malformed deploy list, or an activation refused.
pub async fn commit_publish<S: KvStore>(
    store: &S,
    plan: &PublishPlan,
    now: u64,
) -> Result<PublishSummary, AssetsError> {
    let m = &plan.manifest;
    let id = &m.id;
    if plan.kind == PlanKind::New {
        store.put(&id.manifest_key(), &m.to_json(), None).await?;
    }
    let before = read_doc(store).await?;
    let mut doc = before.clone().unwrap_or_default();
    plan.options.retention.apply(&mut doc.retention)?;
    if plan.kind != PlanKind::Unchanged {
        let entry = (plan.kind == PlanKind::New).then(|| DeployEntry {
            id: id.clone(),
            created: m.created,
            files: m.files.len() as u64,
            bytes: m.total_bytes(),
            origin: plan.options.origin.clone(),
        });
        doc.activate(id, entry, plan.options.activation, now)?;
    }
    let activated = before.as_ref() != Some(&doc);
    if activated {
        store.put(DEPLOYS_KEY, &doc.to_json(), None).await?;
    }
    Ok(PublishSummary {
        deploy: id.clone(),
        kind: plan.kind,
        files: m.files.len() as u64,
        new_blobs: plan.missing.len() as u64,
        bytes_sent: plan.missing_bytes(),
        activated,
    })
}

/// Plans, uploads (one `put` per blob, bytes from `read`) and commits.
///
/// # Errors
/// As [`plan_publish`], [`upload_blob`] and [`commit_publish`]; a `read` failure
/// is [`AssetsError::ReadFailed`].
pub async fn publish<S: KvStore>(
    store: &S,
    files: Vec<PublishFile>,
    mut read: impl FnMut(&MissingBlob) -> Result<Vec<u8>, String>,
    options: PublishOptions,
    now: u64,
) -> Result<PublishSummary, AssetsError> {
    let plan = plan_publish(store, files, options, now).await?;
    for blob in &plan.missing {
        let bytes = read(blob)
            .map_err(|reason| AssetsError::ReadFailed { path: blob.path.clone(), reason })?;
        upload_blob(store, blob, &bytes).await?;
    }
    commit_publish(store, &plan, now).await
}

/// Makes a retained deploy current (clearing any canary), or the canary with a
/// share; returns the new deploy list.
///
/// # Errors
/// Nothing published, unknown or expired deploy, share above 100, KV failure.
pub async fn promote<S: KvStore>(
    store: &S,
    id: &DeployId,
    how: Activation,
    now: u64,
) -> Result<DeploysDoc, AssetsError> {
    let mut doc = read_doc(store).await?.ok_or(AssetsError::NoDeploys)?;
    let before = doc.clone();
    doc.activate(id, None, how, now)?;
    if doc != before {
        store.put(DEPLOYS_KEY, &doc.to_json(), None).await?;
    }
    Ok(doc)
}
