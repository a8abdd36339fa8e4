//! The per-isolate cache of the deploy list and parsed manifests.
//!
//! Staleness, by design:
//! - The deploy list is re-read once it is older than the cache TTL (default 5 s),
//!   so a `promote` reaches an isolate within TTL + KV propagation (up to about
//!   60 s worldwide).
//! - Manifests are immutable (one id, one tree), so a parsed manifest is kept
//!   without expiry while its deploy is listed. A manifest that is missing or
//!   malformed is remembered as failed for one TTL, then read again.
//! - When a fresh deploy list is malformed or cannot be read, the previous good
//!   one keeps serving and the problem is logged.
//! - A miss on an asset path re-reads the list at once ([`AssetCache::reread_after_miss`]),
//!   at most once per second per isolate, so a deploy published after the last read
//!   is served as soon as `publish` returns (issue #14), while 404 probes cost at
//!   most one KV read a second.
//!
//! The cache uses `RefCell` and `Rc` (one thread per isolate): the wasm shell keeps
//! one in a `thread_local!` as `Rc<AssetCache>`. Borrows never span an `await`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::manifest::{DeployId, DeploysDoc, Manifest, DEPLOYS_KEY};
use crate::store::{KvStore, StoreError};

/// Manifests kept at most; beyond this, unlisted ones and then the oldest go.
const MAX_MANIFESTS: usize = 32;

/// Cached deploy list and manifests for one isolate. See the module docs.
#[derive(Debug)]
pub struct AssetCache {
    ttl: u64,
    inner: RefCell<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    doc: Option<DocSlot>,
    manifests: BTreeMap<DeployId, Slot>,
    /// The second of the last re-read after a miss.
    reread_at: Option<u64>,
}

#[derive(Debug)]
struct DocSlot {
    fetched: u64,
    doc: Option<Rc<DeploysDoc>>,
}

#[derive(Debug)]
enum Slot {
    Ready(Rc<Manifest>),
    Failed(u64),
}

impl AssetCache {
    /// A cache whose deploy list lives `ttl_secs` seconds (0: read on every call).
    pub fn new(ttl_secs: u64) -> Self {
        AssetCache { ttl: ttl_secs, inner: RefCell::new(Inner::default()) }
    }

    fn fresh(&self, fetched: u64, now: u64) -> bool {
        self.ttl > 0 && now < fetched.saturating_add(self.ttl)
    }

    /// The deploy list (`None`: nothing published yet).
    ///
    /// # Errors
    /// Only when KV fails and no earlier list is cached.
    pub(crate) async fn deploys<S: KvStore>(
        &self,
        store: &S,
        now: u64,
        log: &mut Vec<String>,
    ) -> Result<Option<Rc<DeploysDoc>>, StoreError> {
        if let Some(slot) = self.inner.borrow().doc.as_ref() {
            if self.fresh(slot.fetched, now) {
                return Ok(slot.doc.clone());
            }
        }
        self.read_deploys(store, now, log).await
    }

    /// After a miss: the deploy list read again now, when no re-read happened in
    /// this second and the list changed (`None` otherwise, and with a TTL of 0,
    /// where every request reads it anyway). A normal read earlier in the same
    /// second does not count: a publish may have finished since.
    pub(crate) async fn reread_after_miss<S: KvStore>(
        &self,
        store: &S,
        now: u64,
        log: &mut Vec<String>,
    ) -> Option<Rc<DeploysDoc>> {
        {
            let mut inner = self.inner.borrow_mut();
            if self.ttl == 0 || inner.reread_at == Some(now) {
                return None;
            }
            inner.reread_at = Some(now);
        }
        log.push("assets: not found; read the deploy list again".to_owned());
        let before = self.inner.borrow().doc.as_ref().and_then(|s| s.doc.clone());
        let after = self.read_deploys(store, now, log).await.ok()??;
        let changed = before.as_deref() != Some(&*after);
        changed.then_some(after)
    }

    async fn read_deploys<S: KvStore>(
        &self,
        store: &S,
        now: u64,
        log: &mut Vec<String>,
    ) -> Result<Option<Rc<DeploysDoc>>, StoreError> {
        let previous = self.inner.borrow().doc.as_ref().and_then(|s| s.doc.clone());
        let doc = match store.get(DEPLOYS_KEY).await {
            Ok(None) => None,
            Ok(Some(bytes)) => match DeploysDoc::parse(&bytes) {
                Ok(doc) => Some(Rc::new(doc)),
                Err(e) => {
                    log.push(format!("assets: {e}; keeping the previous deploy list"));
                    previous
                }
            },
            Err(e) => {
                if previous.is_none() {
                    return Err(e);
                }
                log.push(format!("assets: {e}; keeping the previous deploy list"));
                previous
            }
        };
        let mut inner = self.inner.borrow_mut();
        if let Some(d) = &doc {
            evict(&mut inner.manifests, d);
        }
        inner.doc = Some(DocSlot { fetched: now, doc: doc.clone() });
        Ok(doc)
    }

    /// The parsed manifest of `id`, or `None` (logged) when it is missing, malformed,
    /// names another deploy or cannot be read.
    pub(crate) async fn manifest<S: KvStore>(
        &self,
        store: &S,
        id: &DeployId,
        now: u64,
        log: &mut Vec<String>,
    ) -> Option<Rc<Manifest>> {
        match self.inner.borrow().manifests.get(id) {
            Some(Slot::Ready(m)) => return Some(m.clone()),
            Some(Slot::Failed(at)) if self.fresh(*at, now) => return None,
            _ => {}
        }
        let key = id.manifest_key();
        let result = match store.get(&key).await {
            Ok(Some(bytes)) => match Manifest::parse(&bytes, &key) {
                Ok(m) if &m.id == id => Ok(m),
                Ok(m) => Err(format!("`{key}` names deploy `{}`", m.id)),
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Err(format!("`{key}` is missing")),
            Err(e) => Err(e.to_string()),
        };
        let mut inner = self.inner.borrow_mut();
        match result {
            Ok(m) => {
                let m = Rc::new(m);
                if inner.manifests.len() >= MAX_MANIFESTS {
                    let oldest = inner.manifests.keys().next().cloned();
                    if let Some(k) = oldest {
                        inner.manifests.remove(&k);
                    }
                }
                inner.manifests.insert(id.clone(), Slot::Ready(m.clone()));
                Some(m)
            }
            Err(reason) => {
                log.push(format!("assets: deploy `{id}` is unusable: {reason}; falling back"));
                inner.manifests.insert(id.clone(), Slot::Failed(now));
                None
            }
        }
    }
}

fn evict(manifests: &mut BTreeMap<DeployId, Slot>, doc: &DeploysDoc) {
    manifests.retain(|id, _| doc.entry(id).is_some());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Activation, DeployEntry};
    use crate::store::{block_on_ready, MemoryStore};

    fn id(s: &str) -> DeployId {
        DeployId::parse(s).unwrap()
    }

    fn put_doc(store: &MemoryStore, current: &str) {
        let mut doc = DeploysDoc::default();
        for name in ["a", "b"] {
            let e = DeployEntry { id: id(name), created: 1, files: 0, bytes: 0, origin: None };
            doc.activate(&id(name), Some(e), Activation::Current, 1).unwrap();
        }
        doc.activate(&id(current), None, Activation::Current, 1).unwrap();
        block_on_ready(store.put(DEPLOYS_KEY, &doc.to_json(), None)).unwrap().unwrap();
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn deploy_list_is_cached_for_ttl_and_bad_updates_keep_the_old_one() {
        let store = MemoryStore::new(0);
        let cache = AssetCache::new(5);
        let mut log = Vec::new();
        put_doc(&store, "a");
        let get = |now, log: &mut Vec<String>| {
            block_on_ready(cache.deploys(&store, now, log)).unwrap().unwrap().unwrap()
        };
        assert_eq!(get(100, &mut log).current, Some(id("a")));
        put_doc(&store, "b");
        assert_eq!(get(104, &mut log).current, Some(id("a")), "within TTL");
        assert_eq!(get(105, &mut log).current, Some(id("b")), "after TTL");
        block_on_ready(store.put(DEPLOYS_KEY, b"{not json", None)).unwrap().unwrap();
        assert_eq!(get(200, &mut log).current, Some(id("b")));
        assert!(log.iter().any(|l| l.contains("`deploys` is malformed")), "{log:?}");
        *store.fail.borrow_mut() = Some("down".into());
        assert_eq!(get(300, &mut log).current, Some(id("b")));
        let cold = AssetCache::new(5);
        assert!(block_on_ready(cold.deploys(&store, 300, &mut log)).unwrap().is_err());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn manifest_failures_are_retried_after_ttl_and_wrong_ids_refused() {
        let store = MemoryStore::new(0);
        let cache = AssetCache::new(5);
        let mut log = Vec::new();
        let m = Manifest { version: 1, id: id("b"), created: 1, files: BTreeMap::new() };
        block_on_ready(store.put("manifest:a", &m.to_json(), None)).unwrap().unwrap();
        let got = block_on_ready(cache.manifest(&store, &id("a"), 10, &mut log)).unwrap();
        assert!(got.is_none());
        assert!(log.last().unwrap().contains("names deploy `b`"), "{log:?}");
        let m = Manifest { id: id("a"), ..m };
        block_on_ready(store.put("manifest:a", &m.to_json(), None)).unwrap().unwrap();
        assert!(block_on_ready(cache.manifest(&store, &id("a"), 12, &mut log)).unwrap().is_none());
        assert!(block_on_ready(cache.manifest(&store, &id("a"), 15, &mut log)).unwrap().is_some());
        // Cached without expiry once good, even if KV fails later.
        *store.fail.borrow_mut() = Some("down".into());
        assert!(block_on_ready(cache.manifest(&store, &id("a"), 9_999, &mut log))
            .unwrap()
            .is_some());
    }
}
