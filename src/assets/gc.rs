//! Garbage collection of deploys, manifests and blobs.
//!
//! [`plan_gc`] reads everything and deletes nothing; [`apply_gc`] carries a plan
//! out in the only safe order: the pruned deploy list first (so no reader is sent
//! to a deploy being removed), then the manifests of dropped deploys, then blobs.
//!
//! Rules:
//! - Retention ([`DeploysDoc::retained`]) decides which deploys stay; the current
//!   and the canary deploy always stay.
//! - A blob is kept when any kept manifest references it: those of retained
//!   deploys, and unlisted ("orphan") manifests younger than the retention age,
//!   which may belong to a publish in progress.
//! - If a retained deploy's manifest is missing or malformed, nothing is deleted:
//!   its references are unknown.
//! - Keys under `manifest:` or `blob:` that do not follow the naming scheme are
//!   reported and left alone.

use std::collections::BTreeSet;

use crate::assets::AssetsError;
use crate::manifest::{
    AssetHash, DeployId, DeploysDoc, Manifest, RetentionUpdate, BLOB_PREFIX, DEPLOYS_KEY,
    MANIFEST_PREFIX,
};
use crate::store::KvStore;

const DAY: u64 = 86_400;

/// What [`apply_gc`] will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcPlan {
    /// The pruned deploy list to write first; `None` when it does not change.
    pub doc: Option<DeploysDoc>,
    /// Deploys kept, newest first.
    pub kept_deploys: Vec<DeployId>,
    /// Deploys removed from the list.
    pub dropped_deploys: Vec<DeployId>,
    /// Manifest keys to delete (dropped deploys and old orphans).
    pub drop_manifests: Vec<String>,
    /// Blob keys to delete.
    pub drop_blobs: Vec<String>,
    /// Number of blobs kept.
    pub kept_blobs: usize,
    /// Keys under our prefixes that follow no scheme; left alone.
    pub foreign_keys: Vec<String>,
}

impl GcPlan {
    /// True when the plan deletes or rewrites nothing.
    pub fn is_empty(&self) -> bool {
        self.doc.is_none() && self.drop_manifests.is_empty() && self.drop_blobs.is_empty()
    }
}

/// Works out what to delete at `now`; `retention` changes the stored settings
/// (written with the pruned list).
///
/// # Errors
/// KV failure, a malformed deploy list, `keep_last` 0, or a retained deploy whose
/// manifest is unusable ([`AssetsError::BrokenRetained`]).
pub async fn plan_gc<S: KvStore>(
    store: &S,
    retention: RetentionUpdate,
    now: u64,
) -> Result<GcPlan, AssetsError> {
    let stored = match store.get(DEPLOYS_KEY).await? {
        Some(bytes) => Some(DeploysDoc::parse(&bytes)?),
        None => None,
    };
    let mut doc = stored.clone().unwrap_or_default();
    retention.apply(&mut doc.retention)?;
    let kept: Vec<DeployId> = doc.retained(now).iter().map(|d| d.id.clone()).collect();
    let dropped: Vec<DeployId> =
        doc.deploys.iter().filter(|d| !kept.contains(&d.id)).map(|d| d.id.clone()).collect();
    let mut referenced: BTreeSet<AssetHash> = BTreeSet::new();
    for id in &kept {
        let key = id.manifest_key();
        let m = match store.get(&key).await? {
            None => Err("it is missing".to_owned()),
            Some(bytes) => Manifest::parse(&bytes, &key).map_err(|e| e.to_string()),
        };
        match m {
            Ok(m) if &m.id == id => referenced.extend(m.files.values().map(|e| e.hash)),
            Ok(m) => {
                return Err(AssetsError::BrokenRetained {
                    id: id.clone(),
                    reason: format!("it names `{}`", m.id),
                })
            }
            Err(reason) => return Err(AssetsError::BrokenRetained { id: id.clone(), reason }),
        }
    }
    let mut plan = GcPlan {
        kept_deploys: kept.clone(),
        dropped_deploys: dropped.clone(),
        ..GcPlan::default()
    };
    let max_age = u64::from(doc.retention.keep_days).saturating_mul(DAY);
    for listed in store.list(MANIFEST_PREFIX).await? {
        let key = listed.name;
        let Some(id) = key.strip_prefix(MANIFEST_PREFIX).and_then(|s| DeployId::parse(s).ok())
        else {
            plan.foreign_keys.push(key);
            continue;
        };
        if kept.contains(&id) {
            continue;
        }
        if dropped.contains(&id) {
            plan.drop_manifests.push(key);
            continue;
        }
        let young = match store.get(&key).await? {
            Some(bytes) => Manifest::parse(&bytes, &key)
                .ok()
                .filter(|m| now.saturating_sub(m.created) < max_age),
            None => None,
        };
        match young {
            Some(m) => referenced.extend(m.files.values().map(|e| e.hash)),
            None => plan.drop_manifests.push(key),
        }
    }
    for listed in store.list(BLOB_PREFIX).await? {
        match listed.name.strip_prefix(BLOB_PREFIX).and_then(AssetHash::from_hex) {
            None => plan.foreign_keys.push(listed.name),
            Some(h) if referenced.contains(&h) => plan.kept_blobs += 1,
            Some(_) => plan.drop_blobs.push(listed.name),
        }
    }
    doc.deploys.retain(|d| kept.contains(&d.id));
    if stored.as_ref() != Some(&doc) && (stored.is_some() || !doc.deploys.is_empty()) {
        plan.doc = Some(doc);
    }
    Ok(plan)
}

/// Carries out a plan: deploy list, then manifests, then blobs, one `delete` each.
/// A caller using bulk deletes must keep that order.
///
/// # Errors
/// The first KV failure; what was deleted before it stays deleted, and running
/// `gc` again finishes the job.
pub async fn apply_gc<S: KvStore>(store: &S, plan: &GcPlan) -> Result<(), AssetsError> {
    if let Some(doc) = &plan.doc {
        store.put(DEPLOYS_KEY, &doc.to_json(), None).await?;
    }
    for key in plan.drop_manifests.iter().chain(&plan.drop_blobs) {
        store.delete(key).await?;
    }
    Ok(())
}
