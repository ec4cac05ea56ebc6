//! One look-up per key at a time. When a cached answer that many requests share expires (a
//! merchant's registration, whether it has webhook endpoints), the requests that find it so at
//! once should wait for one read, not each make their own: the first takes the key's lock and
//! reads, the others wait for the lock and then find the answer cached. Another key's look-up
//! never waits for this one.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::lock;

pub struct SingleFlight<K> {
    locks: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for SingleFlight<K> {
    fn default() -> Self {
        Self { locks: Mutex::default() }
    }
}

/// Held while this request looks `key` up; the others for the same key wait in `lock`.
pub struct Turn<'a, K: Eq + Hash> {
    flight: &'a SingleFlight<K>,
    key: &'a K,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> SingleFlight<K> {
    /// Waits until no other request is looking `key` up; look it up (after checking the cache
    /// again: the one before may have just filled it) while the returned turn is alive.
    pub async fn turn<'a>(&'a self, key: &'a K) -> Turn<'a, K> {
        let lock = Arc::clone(lock(&self.locks).entry(key.clone()).or_default());
        // Dropped while waiting (its request gone), `turn` still forgets the lock, below.
        let mut turn = Turn { flight: self, key, lock, held: None };
        turn.held = Some(Arc::clone(&turn.lock).lock_owned().await);
        turn
    }

    /// Keys with a look-up under way or waited for.
    pub fn under_way(&self) -> usize {
        lock(&self.locks).len()
    }
}

impl<K: Eq + Hash> Drop for Turn<'_, K> {
    /// Forgets the key's lock once no other request holds or waits for it (the map's reference
    /// and this one are the last two, and nobody can take another while the map is locked).
    fn drop(&mut self) {
        // The guard holds a reference of its own: released first, so the count below is exact.
        self.held.take();
        let mut locks = lock(&self.flight.locks);
        if Arc::strong_count(&self.lock) <= 2 {
            locks.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_request_per_key_looks_up_the_others_find_its_answer() {
        let flight = Arc::new(SingleFlight::<String>::default());
        let cache = Arc::new(Mutex::new(None::<u32>));
        let reads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (flight, cache, reads) = (Arc::clone(&flight), Arc::clone(&cache), Arc::clone(&reads));
                tokio::spawn(async move {
                    let key = "m".to_owned();
                    let _turn = flight.turn(&key).await;
                    if let Some(v) = *cache.lock().unwrap() {
                        return v;
                    }
                    reads.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    *cache.lock().unwrap() = Some(7);
                    7
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(flight.under_way(), 0, "no lock left behind");
    }

    #[tokio::test]
    async fn a_request_gone_while_waiting_leaves_nothing_behind() {
        let flight = SingleFlight::<u8>::default();
        let first = flight.turn(&1).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(10), flight.turn(&1)).await;
        assert!(waiting.is_err(), "the second waits for the first");
        let other = tokio::time::timeout(std::time::Duration::from_millis(10), flight.turn(&2)).await;
        assert!(other.is_ok(), "another key does not wait");
        drop(other);
        drop(first);
        assert_eq!(flight.under_way(), 0);
    }
}
