//! Test helpers: a store that records operations, tree publishing, requests.

use std::cell::RefCell;

use crate::assets::{publish, PublishFile, PublishOptions, PublishSummary};
use crate::http::{Headers, RequestHead};
use crate::manifest::AssetHash;
use crate::store::{block_on_ready, KvStore, ListedKey, MemoryStore, StoreError};

/// A [`MemoryStore`] that records `op key` for every operation.
#[derive(Debug, Default)]
pub struct Recording {
    pub inner: MemoryStore,
    pub ops: RefCell<Vec<String>>,
}

impl Recording {
    pub fn new(now: u64) -> Self {
        Recording { inner: MemoryStore::new(now), ops: RefCell::default() }
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.ops.borrow_mut())
    }
    pub fn writes(&self) -> Vec<String> {
        self.take()
            .into_iter()
            .filter(|o| o.starts_with("put ") || o.starts_with("delete "))
            .collect()
    }
    pub fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        block_on_ready(self.inner.get(key)).unwrap().unwrap()
    }
    pub fn raw_put(&self, key: &str, value: &[u8]) {
        block_on_ready(self.inner.put(key, value, None)).unwrap().unwrap();
    }
}

impl KvStore for Recording {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.ops.borrow_mut().push(format!("get {key}"));
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        self.ops.borrow_mut().push(format!("put {key}"));
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.ops.borrow_mut().push(format!("delete {key}"));
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        self.ops.borrow_mut().push(format!("list {prefix}"));
        self.inner.list(prefix).await
    }
}

/// Publishes `(path, content)` pairs.
pub fn publish_tree(
    store: &Recording,
    files: &[(&str, &[u8])],
    options: PublishOptions,
    now: u64,
) -> PublishSummary {
    try_publish(store, files, options, now).unwrap()
}

pub fn try_publish(
    store: &Recording,
    files: &[(&str, &[u8])],
    options: PublishOptions,
    now: u64,
) -> Result<PublishSummary, crate::assets::AssetsError> {
    let list: Vec<PublishFile> = files
        .iter()
        .map(|(p, c)| PublishFile {
            path: (*p).to_owned(),
            hash: AssetHash::of(c),
            size: c.len() as u64,
        })
        .collect();
    let read = |b: &crate::assets::MissingBlob| {
        files
            .iter()
            .find(|(p, _)| *p == b.path)
            .map(|(_, c)| c.to_vec())
            .ok_or_else(|| "no such file".to_owned())
    };
    block_on_ready(publish(store, list, read, options, now)).unwrap()
}

/// A request head from a method, path-and-query and headers.
pub fn req(method: &str, url: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead::new(method, url, headers.iter().copied().collect::<Headers>())
}
