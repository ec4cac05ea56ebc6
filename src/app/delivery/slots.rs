//! Bounds on the attempts in flight, per endpoint and per merchant.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// Endpoints, and merchants, whose slots a worker keeps track of before it forgets idle ones.
const TRACKED_SLOTS: usize = 4_096;

/// A semaphore of `limit` slots per key, made when first asked for; the idle ones (no attempt
/// holds a slot) are forgotten once `TRACKED_SLOTS` keys are known, so memory stays bounded.
pub(super) struct Slots<K> {
    limit: usize,
    known: Mutex<HashMap<K, Arc<Semaphore>>>,
}

impl<K: std::hash::Hash + Eq + Clone> Slots<K> {
    pub(super) fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), known: Mutex::default() }
    }

    /// One slot of `key`'s, or `None` when all are taken: never waits.
    pub(super) fn try_take(&self, key: &K) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let slots = {
            let mut known = crate::util::lock(&self.known);
            if known.len() >= TRACKED_SLOTS && !known.contains_key(key) {
                // Nothing but this map holds an idle key's semaphore.
                known.retain(|_, s| Arc::strong_count(s) > 1);
            }
            Arc::clone(known.entry(key.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.limit))))
        };
        slots.try_acquire_owned().ok()
    }

    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        crate::util::lock(&self.known).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_slots_are_forgotten_and_busy_ones_kept() {
        let slots = Slots::<u32>::new(1);
        let held = slots.try_take(&0).expect("a free slot");
        assert!(slots.try_take(&0).is_none(), "at its bound");
        for key in 1..=u32::try_from(TRACKED_SLOTS).unwrap() * 2 {
            drop(slots.try_take(&key).expect("a free slot"));
        }
        assert!(slots.tracked() <= TRACKED_SLOTS, "bounded: {}", slots.tracked());
        assert!(slots.try_take(&0).is_none(), "a key with a slot in use is not forgotten");
        drop(held);
        assert!(slots.try_take(&0).is_some());
    }
}
