//! One small cache for the answers a process remembers for a while: whether a merchant is
//! registered (`http::auth::KnownMerchants`), whether it has webhook endpoints
//! (`app::EndpointPresence`), which tokens verified lately (`http::auth::verified`).
//!
//! Each entry carries the time (ms since the epoch, by the caller's clock) until which it is
//! trusted. The cache holds at most `cap` entries: when full, it drops the expired ones (at most
//! once a second, so a flood of new keys does not make every request walk it), and if it is still
//! full the new answer is not remembered (the next request looks it up again). A look-up through
//! `get_or_load` is made by one request per key at a time (`SingleFlight`): when a busy key's
//! answer expires, the requests that find it so wait for one read instead of each making its own.
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use super::lock;
use super::single_flight::SingleFlight;

/// A full cache is swept of expired entries at most this often.
const SWEEP_EVERY_MS: u64 = 1_000;

pub struct ExpiringCache<K, V> {
    cap: usize,
    entries: Mutex<Entries<K, V>>,
    lookups: SingleFlight<K>,
}

struct Entries<K, V> {
    /// Key -> the answer and the time it stops being trusted.
    map: HashMap<K, (V, u64)>,
    swept_at_ms: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> ExpiringCache<K, V> {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            entries: Mutex::new(Entries { map: HashMap::new(), swept_at_ms: 0 }),
            lookups: SingleFlight::default(),
        }
    }

    /// `key`'s answer if it is still trusted at `now_ms`.
    pub fn get(&self, key: &K, now_ms: u64) -> Option<V> {
        lock(&self.entries).map.get(key).filter(|(_, until)| now_ms < *until).map(|(v, _)| v.clone())
    }

    /// Remembers `value` for `key` until `until_ms`; answers whether it was kept (not when the
    /// cache is full of answers still trusted, nor when `until_ms` has passed already).
    pub fn insert(&self, key: K, value: V, now_ms: u64, until_ms: u64) -> bool {
        if until_ms <= now_ms {
            return false;
        }
        let mut entries = lock(&self.entries);
        if entries.map.len() >= self.cap && !entries.map.contains_key(&key) {
            if now_ms.saturating_sub(entries.swept_at_ms) >= SWEEP_EVERY_MS {
                entries.swept_at_ms = now_ms;
                entries.map.retain(|_, (_, until)| now_ms < *until);
            }
            if entries.map.len() >= self.cap {
                return false;
            }
        }
        entries.map.insert(key, (value, until_ms));
        true
    }

    /// `key`'s answer: the cached one, else what `load` finds (an answer and until when it is
    /// trusted), looked up by one caller at a time. `now_ms` is read again after waiting for
    /// another caller's look-up. A failed look-up is not remembered.
    pub async fn get_or_load<E, F>(
        &self,
        key: &K,
        now_ms: impl Fn() -> u64,
        load: impl FnOnce(u64) -> F,
    ) -> Result<V, E>
    where
        F: Future<Output = Result<(V, u64), E>>,
    {
        if let Some(v) = self.get(key, now_ms()) {
            return Ok(v);
        }
        let _one_at_a_time = self.lookups.turn(key).await;
        // The caller before this one in line may have just read it.
        let now = now_ms();
        if let Some(v) = self.get(key, now) {
            return Ok(v);
        }
        let (value, until) = load(now).await?;
        self.insert(key.clone(), value.clone(), now, until);
        Ok(value)
    }

    /// Forgets `key`'s answer: the next caller looks it up.
    pub fn remove(&self, key: &K) {
        lock(&self.entries).map.remove(key);
    }

    /// Entries held now, trusted or not.
    pub fn len(&self) -> usize {
        lock(&self.entries).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys being looked up now.
    pub fn lookups_under_way(&self) -> usize {
        self.lookups.under_way()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn an_answer_is_trusted_until_its_time_and_a_full_cache_drops_expired_ones_first() {
        let cache = ExpiringCache::new(2);
        assert!(cache.insert("a", 1, 1_000, 2_000));
        assert_eq!((cache.get(&"a", 1_999), cache.get(&"a", 2_000)), (Some(1), None));
        assert!(!cache.insert("old", 0, 1_000, 1_000), "already expired: not kept");
        assert!(cache.insert("b", 2, 1_000, 5_000));
        assert!(!cache.insert("c", 3, 1_500, 5_000), "full of trusted answers: not kept");
        assert!(cache.insert("b", 4, 1_500, 5_000), "a key held is updated, full or not");
        assert!(cache.insert("c", 3, 2_500, 5_000), "the expired one made room");
        assert_eq!((cache.get(&"c", 2_500), cache.get(&"b", 2_500), cache.len()), (Some(3), Some(4), 2));
    }

    #[tokio::test]
    async fn callers_that_find_an_answer_missing_at_once_wait_for_one_look_up() {
        let cache = Arc::new(ExpiringCache::<&str, u32>::new(10));
        let reads = Arc::new(AtomicUsize::new(0));
        let callers = (0..20).map(|_| {
            let (cache, reads) = (Arc::clone(&cache), Arc::clone(&reads));
            tokio::spawn(async move {
                cache
                    .get_or_load(
                        &"m",
                        || 1_000,
                        |now| async move {
                            reads.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok::<_, ()>((7, now + 1_000))
                        },
                    )
                    .await
            })
        });
        for caller in futures::future::join_all(callers).await {
            assert_eq!(caller.unwrap(), Ok(7));
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for all twenty");
        assert_eq!(cache.lookups_under_way(), 0, "no lock left behind");
        let failed = cache.get_or_load(&"n", || 1_000, |_| async { Err::<(u32, u64), _>("down") }).await;
        assert_eq!((failed, cache.get(&"n", 1_000)), (Err("down"), None), "a failure is not remembered");
    }
}
