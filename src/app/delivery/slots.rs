//! Bounds on the attempts in flight, per endpoint and per merchant.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A permit of `slots`, at once if one is free, else the first to free before `deadline`.
pub(super) async fn wait_for(slots: Arc<Semaphore>, deadline: Instant) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
        return Some(permit);
    }
    // A timer already due fires only on the runtime's next turn of its clock, and a slot freed
    // before that turn would still be taken: no wait left means none at all.
    if deadline <= Instant::now() {
        return None;
    }
    tokio::time::timeout_at(deadline, slots.acquire_owned()).await.ok()?.ok()
}

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
    #[cfg(test)]
    pub(super) fn try_take(&self, key: &K) -> Option<OwnedSemaphorePermit> {
        self.semaphore(key).try_acquire_owned().ok()
    }

    /// One slot of `key`'s, waiting for one until `deadline` at most (first come, first
    /// served), or `None` if none frees by then.
    pub(super) async fn take_by(&self, key: &K, deadline: Instant) -> Option<OwnedSemaphorePermit> {
        wait_for(self.semaphore(key), deadline).await
    }

    fn semaphore(&self, key: &K) -> Arc<Semaphore> {
        let mut known = crate::util::lock(&self.known);
        if known.len() >= TRACKED_SLOTS && !known.contains_key(key) {
            // Nothing but this map holds an idle key's semaphore (a waiter holds a clone).
            known.retain(|_, s| Arc::strong_count(s) > 1);
        }
        Arc::clone(known.entry(key.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.limit))))
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

    #[tokio::test(start_paused = true)]
    async fn a_slot_freed_before_the_deadline_is_taken_and_none_after_it() {
        let slots = Arc::new(Slots::<u32>::new(1));
        let held = slots.try_take(&0).expect("a free slot");
        let soon = Instant::now() + std::time::Duration::from_millis(500);
        assert!(slots.take_by(&0, soon).await.is_none(), "none freed within the wait");
        let waiter = tokio::spawn({
            let slots = Arc::clone(&slots);
            async move { slots.take_by(&0, Instant::now() + std::time::Duration::from_secs(1)).await.is_some() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(held);
        assert!(waiter.await.unwrap(), "the slot freed while it waited");
    }
}
