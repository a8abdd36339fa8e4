//! The one storage abstraction of the core: a key-value store with optional TTLs,
//! shaped after Workers KV.
//!
//! The wasm shell implements [`KvStore`] with a KV namespace binding, the CLI with
//! `wrangler kv … [--local]`, and unit tests with [`MemoryStore`]. Invariants the
//! core relies on:
//! - `put` with `ttl: Some(s)` makes the entry disappear after about `s` seconds;
//!   implementations clamp `s` up to [`MIN_TTL`] (Workers KV refuses less).
//! - Reads may be stale (KV is eventually consistent, about 60 s worldwide); the
//!   core never assumes read-your-writes across requests.
//! - Every failure is a [`StoreError`]; implementations never panic.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

/// Workers KV refuses expiration TTLs below 60 seconds.
pub const MIN_TTL: u64 = 60;

/// A storage failure, carrying what went wrong but never a stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// Which operation failed: `get`, `put`, `delete` or `list`.
    pub op: &'static str,
    /// The key or prefix concerned (keys hold no secrets by construction).
    pub key: String,
    /// What the backend said.
    pub reason: String,
}

impl StoreError {
    /// Builds an error for `op` on `key`.
    pub fn new(op: &'static str, key: &str, reason: impl Into<String>) -> Self {
        StoreError { op, key: key.to_owned(), reason: reason.into() }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KV {} of `{}` failed: {}", self.op, self.key, self.reason)
    }
}

impl std::error::Error for StoreError {}

/// One key returned by [`KvStore::list`], with its expiry when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// The key.
    pub name: String,
    /// Unix seconds at which the entry expires, if it was written with a TTL.
    pub expiration: Option<u64>,
}

/// A key-value store (Workers KV semantics). Futures need not be `Send`: on wasm
/// everything runs on one thread.
#[allow(async_fn_in_trait)]
pub trait KvStore {
    /// Reads a value; `Ok(None)` when the key is absent (or expired).
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a value, expiring after `ttl` seconds when given (clamped to [`MIN_TTL`]).
    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError>;
    /// Deletes a key; deleting an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Lists the keys that start with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError>;
    /// Reads two keys at once; fails if either read fails. By default two
    /// concurrent [`KvStore::get`]s; a store with a bulk read answers both in one
    /// operation (Workers KV: `get([a, b], "text")`, one round trip instead of two).
    async fn get_pair(&self, keys: [&str; 2]) -> Result<[Option<Vec<u8>>; 2], StoreError> {
        let (a, b) = join(self.get(keys[0]), self.get(keys[1])).await;
        Ok([a?, b?])
    }
}

/// A borrowed store is a store (the pipeline takes its stores by value).
impl<T: KvStore + ?Sized> KvStore for &T {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        (**self).put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        (**self).list(prefix).await
    }
    async fn get_pair(&self, keys: [&str; 2]) -> Result<[Option<Vec<u8>>; 2], StoreError> {
        (**self).get_pair(keys).await
    }
}

/// Polls two futures concurrently and returns both outputs (a two-way `join`
/// without a dependency on an async runtime or the `futures` crate).
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        match (out_a.take(), out_b.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                out_a = x;
                out_b = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// Key → (value, expiration).
type Entries = std::collections::BTreeMap<String, (Vec<u8>, Option<u64>)>;

/// An in-memory [`KvStore`] for unit tests and the CLI's dry runs. Time is a field,
/// so TTL expiry is deterministic: set [`MemoryStore::now`] to move the clock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: std::cell::RefCell<Entries>,
    /// The store's clock, in Unix seconds.
    pub now: std::cell::Cell<u64>,
    /// When set, every operation fails with this reason (to test failure policies).
    pub fail: std::cell::RefCell<Option<String>>,
}

impl MemoryStore {
    /// An empty store whose clock reads `now`.
    pub fn new(now: u64) -> Self {
        MemoryStore { now: std::cell::Cell::new(now), ..Default::default() }
    }

    fn check(&self, op: &'static str, key: &str) -> Result<(), StoreError> {
        match self.fail.borrow().as_ref() {
            Some(reason) => Err(StoreError::new(op, key, reason.clone())),
            None => Ok(()),
        }
    }

    fn live(&self, expiration: Option<u64>) -> bool {
        expiration.is_none_or(|at| at > self.now.get())
    }
}

impl KvStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check("get", key)?;
        Ok(self
            .entries
            .borrow()
            .get(key)
            .filter(|(_, exp)| self.live(*exp))
            .map(|(v, _)| v.clone()))
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        self.check("put", key)?;
        let expiration = ttl.map(|t| self.now.get().saturating_add(t.max(MIN_TTL)));
        self.entries.borrow_mut().insert(key.to_owned(), (value.to_vec(), expiration));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check("delete", key)?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        self.check("list", prefix)?;
        Ok(self
            .entries
            .borrow()
            .iter()
            .filter(|(k, (_, exp))| k.starts_with(prefix) && self.live(*exp))
            .map(|(k, (_, exp))| ListedKey { name: k.clone(), expiration: *exp })
            .collect())
    }
}

/// Two stores for one namespace: a fast, eventually consistent one (Workers KV) and
/// an optional strongly consistent one (a Durable Object).
///
/// Writes go to the strong store first, then the fast one, so a revocation is never
/// missing from the store that strong reads consult. Reads go to the strong store
/// when [`Tiered::strong_reads`] is set (the configured strong path prefixes), else
/// to the fast one. Listing reads the fast store.
#[derive(Debug)]
pub struct Tiered<A, B> {
    /// The eventually consistent store.
    pub fast: A,
    /// The strongly consistent store, when configured.
    pub strong: Option<B>,
    /// Whether reads of this request go to the strong store.
    pub strong_reads: bool,
}

impl<A: KvStore, B: KvStore> KvStore for Tiered<A, B> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match (&self.strong, self.strong_reads) {
            (Some(strong), true) => strong.get(key).await,
            _ => self.fast.get(key).await,
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        if let Some(strong) = &self.strong {
            strong.put(key, value, ttl).await?;
        }
        self.fast.put(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if let Some(strong) = &self.strong {
            strong.delete(key).await?;
        }
        self.fast.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        self.fast.list(prefix).await
    }

    async fn get_pair(&self, keys: [&str; 2]) -> Result<[Option<Vec<u8>>; 2], StoreError> {
        match (&self.strong, self.strong_reads) {
            (Some(strong), true) => strong.get_pair(keys).await,
            _ => self.fast.get_pair(keys).await,
        }
    }
}

/// Drives a future that never waits on I/O (all [`MemoryStore`] futures) to completion.
/// For tests and the CLI; returns `None` if the future is not immediately ready.
pub fn block_on_ready<F: std::future::Future>(fut: F) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn memory_store_honours_ttl_prefix_and_failure() {
        let store = MemoryStore::new(1_000);
        block_on_ready(store.put("a:1", b"x", Some(5))).unwrap().unwrap();
        block_on_ready(store.put("a:2", b"y", None)).unwrap().unwrap();
        block_on_ready(store.put("b:1", b"z", None)).unwrap().unwrap();
        assert_eq!(block_on_ready(store.get("a:1")).unwrap().unwrap(), Some(b"x".to_vec()));
        let listed = block_on_ready(store.list("a:")).unwrap().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].expiration, Some(1_000 + MIN_TTL), "TTL below 60 s is clamped");
        store.now.set(1_000 + MIN_TTL);
        assert_eq!(block_on_ready(store.get("a:1")).unwrap().unwrap(), None);
        *store.fail.borrow_mut() = Some("binding missing".into());
        let err = block_on_ready(store.get("a:2")).unwrap().unwrap_err();
        assert_eq!(err.to_string(), "KV get of `a:2` failed: binding missing");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn tiered_writes_both_and_reads_the_chosen_one() {
        let t = Tiered {
            fast: MemoryStore::new(0),
            strong: Some(MemoryStore::new(0)),
            strong_reads: true,
        };
        block_on_ready(t.put("k", b"v", None)).unwrap().unwrap();
        assert!(block_on_ready(t.fast.get("k")).unwrap().unwrap().is_some());
        block_on_ready(t.fast.delete("k")).unwrap().unwrap();
        assert_eq!(
            block_on_ready(t.get("k")).unwrap().unwrap(),
            Some(b"v".to_vec()),
            "strong read"
        );
        assert_eq!(
            block_on_ready(t.get_pair(["absent", "k"])).unwrap().unwrap(),
            [None, Some(b"v".to_vec())],
            "strong pair read"
        );
        let t = Tiered { strong_reads: false, ..t };
        assert_eq!(block_on_ready(t.get("k")).unwrap().unwrap(), None, "fast read");
        assert_eq!(block_on_ready(t.get_pair(["k", "k"])).unwrap().unwrap(), [None, None]);
        *t.fast.fail.borrow_mut() = Some("down".into());
        assert!(
            block_on_ready(t.get_pair(["k", "x"])).unwrap().is_err(),
            "a failed read fails the pair"
        );
        *t.fast.fail.borrow_mut() = None;
        *t.strong.as_ref().unwrap().fail.borrow_mut() = Some("down".into());
        assert!(
            block_on_ready(t.put("x", b"1", None)).unwrap().is_err(),
            "strong write failure surfaces"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn join_waits_for_both() {
        let mut polled = 0;
        let slow = std::future::poll_fn(|cx| {
            polled += 1;
            if polled < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(7)
            }
        });
        let fut = join(async { 1 }, slow);
        let mut fut = std::pin::pin!(fut);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready((1, 7)));
    }
}
