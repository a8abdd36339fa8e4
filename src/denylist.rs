//! Revocation: which sessions and tokens must no longer be honoured, kept in a KV
//! namespace (binding `DENYLIST`) behind the core's [`KvStore`] trait.
//!
//! Layout (two independent keys, read concurrently, so a check costs one KV round
//! trip of latency):
//! - `sid:<sid>` → `{"at": <unix s>, "reason": "..."}`: one session (logout, rotate,
//!   admin). TTL = the session's remaining absolute lifetime (at least KV's 60 s
//!   minimum): once the seal would have expired anyway the entry is useless.
//! - `user:<sub>` → `{"nbf": <unix s>}`: "sign out everywhere". Every session and
//!   bearer token of `sub` authenticated at or before `nbf` is revoked. A login in
//!   the same second as the revocation is revoked too (fail safe: whole seconds).
//!   TTL = the longest session lifetime plus the clock-skew leeway, after which no
//!   session authenticated before `nbf` can still be alive.
//!
//! So the list prunes itself: nothing outlives the tokens it denies.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::store::{KvStore, StoreError, MIN_TTL};

/// Prefix of per-session entries.
pub const SID_PREFIX: &str = "sid:";
/// Prefix of per-user entries.
pub const USER_PREFIX: &str = "user:";

/// The KV key of a session entry.
pub fn sid_key(sid: &str) -> String {
    format!("{SID_PREFIX}{sid}")
}

/// The KV key of a user entry.
pub fn user_key(sub: &str) -> String {
    format!("{USER_PREFIX}{sub}")
}

/// Why a credential is no longer honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Its session id was revoked (logout, rotation, admin).
    Session,
    /// Its user signed out everywhere after it was authenticated.
    User,
}

impl fmt::Display for Revoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Revoked::Session => "session revoked",
            Revoked::User => "user signed out everywhere",
        })
    }
}

/// The stored value of a session entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SidEntry {
    /// When it was revoked (Unix s).
    pub at: u64,
    /// Why: `logout`, `rotate`, `revoke`, `admin`.
    pub reason: String,
}

/// The stored value of a user entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserEntry {
    /// Sessions authenticated at or before this time (Unix s) are revoked.
    pub nbf: u64,
}

/// Checks a credential: `Ok(None)` when it is still good.
///
/// Both keys are read at once ([`KvStore::get_pair`]: one bulk read on Workers KV).
/// An unreadable user entry (written by something else) is treated as revoking
/// everything of that user: fail safe.
///
/// # Errors
/// A [`StoreError`] when either read fails; the caller applies the fail mode.
pub async fn check(
    store: &impl KvStore,
    sid: &str,
    sub: &str,
    auth_time: u64,
) -> Result<Option<Revoked>, StoreError> {
    let [sid_hit, user_hit] = store.get_pair([&sid_key(sid), &user_key(sub)]).await?;
    if sid_hit.is_some() {
        return Ok(Some(Revoked::Session));
    }
    if let Some(raw) = user_hit {
        let revoked = match serde_json::from_slice::<UserEntry>(&raw) {
            Ok(entry) => auth_time <= entry.nbf,
            Err(_) => true,
        };
        if revoked {
            return Ok(Some(Revoked::User));
        }
    }
    Ok(None)
}

/// The TTL of a session entry: the seal's remaining absolute lifetime.
pub fn sid_ttl(exp: u64, now: u64, leeway: u64) -> u64 {
    exp.saturating_add(leeway).saturating_sub(now).max(MIN_TTL)
}

/// Denylists one session until it would have expired.
///
/// # Errors
/// The store's failure; the caller must not report the logout as complete.
pub async fn revoke_session(
    store: &impl KvStore,
    sid: &str,
    exp: u64,
    now: u64,
    leeway: u64,
    reason: &str,
) -> Result<(), StoreError> {
    let entry = SidEntry { at: now, reason: reason.to_owned() };
    let value = serde_json::to_vec(&entry).unwrap_or_default();
    store.put(&sid_key(sid), &value, Some(sid_ttl(exp, now, leeway))).await
}

/// Revokes every session and token of `sub` authenticated at or before `now`.
///
/// # Errors
/// The store's failure.
pub async fn revoke_user(
    store: &impl KvStore,
    sub: &str,
    now: u64,
    longest_lifetime: u64,
    leeway: u64,
) -> Result<(), StoreError> {
    let value = serde_json::to_vec(&UserEntry { nbf: now }).unwrap_or_default();
    let ttl = longest_lifetime.saturating_add(leeway).max(MIN_TTL);
    store.put(&user_key(sub), &value, Some(ttl)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{block_on_ready, MemoryStore};

    fn run<F: std::future::Future>(f: F) -> F::Output {
        block_on_ready(f).expect("memory store futures are ready at once")
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn session_revocation_expires_with_the_session() {
        let store = MemoryStore::new(1_000);
        assert_eq!(run(check(&store, "s1", "alice", 900)).unwrap(), None);
        run(revoke_session(&store, "s1", 5_000, 1_000, 60, "logout")).unwrap();
        assert_eq!(run(check(&store, "s1", "alice", 900)).unwrap(), Some(Revoked::Session));
        assert_eq!(run(check(&store, "s2", "alice", 900)).unwrap(), None, "other sessions live");
        let listed = run(store.list(SID_PREFIX)).unwrap();
        assert_eq!(listed[0].expiration, Some(5_060), "TTL = remaining lifetime + leeway");
        store.now.set(5_060);
        assert_eq!(run(check(&store, "s1", "alice", 900)).unwrap(), None, "entry pruned itself");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn user_revocation_covers_earlier_logins_only() {
        let store = MemoryStore::new(2_000);
        run(revoke_user(&store, "alice", 2_000, 604_800, 60)).unwrap();
        assert_eq!(run(check(&store, "a", "alice", 1_999)).unwrap(), Some(Revoked::User));
        assert_eq!(run(check(&store, "b", "alice", 2_000)).unwrap(), Some(Revoked::User));
        assert_eq!(run(check(&store, "c", "alice", 2_001)).unwrap(), None);
        assert_eq!(run(check(&store, "d", "bob", 1_000)).unwrap(), None);
        let listed = run(store.list(USER_PREFIX)).unwrap();
        assert_eq!(listed[0].expiration, Some(2_000 + 604_800 + 60));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn failures_and_garbage_are_not_silently_ignored() {
        let store = MemoryStore::new(10);
        run(store.put(&user_key("eve"), b"not json", None)).unwrap();
        assert_eq!(run(check(&store, "x", "eve", 50)).unwrap(), Some(Revoked::User));
        *store.fail.borrow_mut() = Some("KV unavailable".into());
        assert!(run(check(&store, "x", "bob", 50)).is_err());
        assert!(run(revoke_session(&store, "x", 100, 10, 0, "logout")).is_err());
        assert_eq!(sid_ttl(20, 10, 0), MIN_TTL, "KV minimum TTL respected");
    }
}
