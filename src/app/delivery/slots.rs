//! Bounds on the attempts in flight, per endpoint and per merchant, and on the rounds that wait
//! for one of their slots.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A permit of `slots`, at once if one is free, else the first to free before `deadline`. Only
/// a round that gets a place in each of `places` waits; without one it gets `None` at once: a
/// waiting round holds one of the worker's job slots, so a hung receiver's events, each coming
/// back every 15-30 s, must not each hold one for the whole wait.
pub(super) async fn wait_for(
    slots: Arc<Semaphore>,
    places: &[&Arc<Semaphore>],
    deadline: Instant,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
        return Some(permit);
    }
    // A timer already due fires only on the runtime's next turn of its clock, and a slot freed
    // before that turn would still be taken: no wait left means none at all.
    if deadline <= Instant::now() {
        return None;
    }
    let mut held = Vec::with_capacity(places.len());
    for place in places {
        held.push(Arc::clone(place).try_acquire_owned().ok()?);
    }
    tokio::time::timeout_at(deadline, slots.acquire_owned()).await.ok()?.ok()
}

/// Endpoints, and merchants, whose slots a worker keeps track of before it forgets idle ones.
const TRACKED_SLOTS: usize = 4_096;

/// Postponements per key estimated before any attempt ended (`Slots::estimate_busy`): enough for
/// the stragglers of a first burst to a fast receiver (3 of 150 in the bench's), few enough that
/// a slow one costs at most this many rounds more than it did before the estimates.
const EARLY_ESTIMATES: u32 = 16;

/// How long an attempt may hold a slot, and how long any slot may have been held now, for its
/// receiver to count as quick (`Pen::quick`): its slots free many times over within a round's
/// wait.
const QUICK_HOLD: Duration = Duration::from_millis(100);

/// A key's slots, and as many places to wait for one. Read and written under `Slots::known`'s
/// lock only.
struct Pen {
    slots: Arc<Semaphore>,
    places: Arc<Semaphore>,
    /// The last attempt to end: how long it held its slot (to the millisecond), and when it gave
    /// it back. `None` before any did.
    last_end: Option<(Duration, Instant)>,
    /// The slots held now (`Held`): a ticket each, and when it was taken.
    holders: Vec<(u64, Instant)>,
    next_ticket: u64,
    /// When the slots were first asked for (since the key was last forgotten).
    asked_at: Instant,
    /// Estimates made from `asked_at` (`Slots::estimate_busy`).
    early_estimates: u32,
}

impl Pen {
    /// Nothing but the map holds an idle key's semaphores: a permit, or a waiter, holds a clone.
    fn idle(&self) -> bool {
        Arc::strong_count(&self.slots) == 1 && Arc::strong_count(&self.places) == 1
    }

    /// Its receiver answers quickly and still does: the last attempt held its slot `QUICK_HOLD`
    /// at most, and one ended less than `QUICK_HOLD` ago or no slot has been held longer. So a
    /// burst after a lull (nothing ended lately, no slot held) waits its turn too, while a hung
    /// receiver, or rounds holding its slots while they wait for their merchant's or the
    /// worker's, stop it being quick within `QUICK_HOLD`.
    fn quick(&self) -> bool {
        let answering = |at: Instant| {
            at.elapsed() <= QUICK_HOLD || self.holders.iter().all(|(_, since)| since.elapsed() <= QUICK_HOLD)
        };
        self.last_end.is_some_and(|(held, at)| held <= QUICK_HOLD && answering(at))
    }
}

/// `limit` slots per key, and `limit` places to wait for one, made when first asked for; the
/// idle keys are forgotten once `TRACKED_SLOTS` are known, so memory stays bounded.
pub(super) struct Slots<K> {
    limit: usize,
    known: Mutex<HashMap<K, Pen>>,
}

impl<K: std::hash::Hash + Eq + Clone> Slots<K> {
    pub(super) fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), known: Mutex::default() }
    }

    /// One slot of `key`'s, or `None` when all are taken: never waits.
    #[cfg(test)]
    pub(super) fn try_take(&self, key: &K) -> Option<Held<'_, K>> {
        let permit = self.pen(key).0.try_acquire_owned().ok()?;
        Some(self.held(key, permit))
    }

    /// `permit`, one of `key`'s slots, noted as held from now until it is dropped.
    fn held(&self, key: &K, permit: OwnedSemaphorePermit) -> Held<'_, K> {
        let mut known = crate::util::lock(&self.known);
        let ticket = known.get_mut(key).map(|pen| {
            pen.next_ticket = pen.next_ticket.wrapping_add(1);
            pen.holders.push((pen.next_ticket, Instant::now()));
            pen.next_ticket
        });
        Held { slots: self, key: key.clone(), ticket, _permit: permit }
    }

    /// One slot of `key`'s, waiting for one until `deadline` at most (first come, first
    /// served) if a place to wait is free, both `key`'s and one of `anywhere`; else, or if no
    /// slot frees by then, `None`. While `key`'s receiver is quick (`Pen::quick`), every round
    /// waits, place or none: a burst of 20 events to a receiver answering in 5 ms had 12 of
    /// them postponed by 2-3 s, where waiting cost them milliseconds.
    pub(super) async fn take_by(&self, key: &K, anywhere: &Arc<Semaphore>, deadline: Instant) -> Option<Held<'_, K>> {
        let (slots, places, quick) = self.pen(key);
        let places: &[&Arc<Semaphore>] = if quick { &[] } else { &[&places, anywhere] };
        let permit = wait_for(slots, places, deadline).await?;
        Some(self.held(key, permit))
    }

    /// `key`'s slots and places (made if new), and whether its receiver is quick.
    fn pen(&self, key: &K) -> (Arc<Semaphore>, Arc<Semaphore>, bool) {
        let mut known = crate::util::lock(&self.known);
        if known.len() >= TRACKED_SLOTS && !known.contains_key(key) {
            known.retain(|_, pen| !pen.idle());
        }
        let pen = known.entry(key.clone()).or_insert_with(|| Pen {
            slots: Arc::new(Semaphore::new(self.limit)),
            places: Arc::new(Semaphore::new(self.limit)),
            last_end: None,
            holders: Vec::new(),
            next_ticket: 0,
            asked_at: Instant::now(),
            early_estimates: 0,
        });
        (Arc::clone(&pen.slots), Arc::clone(&pen.places), pen.quick())
    }

    /// Notes how long an attempt held one of `key`'s slots, now that it has ended.
    pub(super) fn note_held(&self, key: &K, held: Duration) {
        let held = Duration::from_millis(u64::try_from(held.as_millis()).unwrap_or(u64::MAX));
        if let Some(pen) = crate::util::lock(&self.known).get_mut(key) {
            pen.last_end = Some((held, Instant::now()));
        }
    }

    /// How long `key`'s slots are known to be held: as long as the last attempt to end held one.
    /// Before any ended, as long as they have been asked for (the attempts in flight have run that
    /// long at most, and none has ended yet), for the first `EARLY_ESTIMATES` asks only: a hung
    /// receiver's backlog, met by a worker that has just started, must not come back every few
    /// seconds, event by event, until its first attempt times out. `None` for a key not known,
    /// or once those estimates are used up.
    pub(super) fn estimate_busy(&self, key: &K) -> Option<Duration> {
        let mut known = crate::util::lock(&self.known);
        let pen = known.get_mut(key)?;
        if let Some((held, _)) = pen.last_end {
            return Some(held);
        }
        let early = pen.early_estimates < EARLY_ESTIMATES;
        pen.early_estimates = pen.early_estimates.saturating_add(1);
        early.then(|| pen.asked_at.elapsed())
    }

    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        crate::util::lock(&self.known).len()
    }
}

/// One of a key's slots, held until dropped (the attempt's end, or its task's cancellation): the
/// key's `Pen` knows since when (`Pen::quick`). The permit frees after the note is taken off, so
/// the pen, in use until then, cannot be forgotten and made anew meanwhile.
pub(super) struct Held<'a, K: std::hash::Hash + Eq + Clone> {
    slots: &'a Slots<K>,
    key: K,
    ticket: Option<u64>,
    _permit: OwnedSemaphorePermit,
}

impl<K: std::hash::Hash + Eq + Clone> Drop for Held<'_, K> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        if let Some(pen) = crate::util::lock(&self.slots.known).get_mut(&self.key) {
            pen.holders.retain(|(t, _)| *t != ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_any_attempt_ends_only_the_first_asks_are_estimated() {
        let slots = Slots::<u32>::new(1);
        assert_eq!(slots.estimate_busy(&0), None, "a key not known");
        let _held = slots.try_take(&0).expect("a free slot");
        for _ in 0..EARLY_ESTIMATES {
            assert!(slots.estimate_busy(&0).is_some());
        }
        assert_eq!(slots.estimate_busy(&0), None, "used up: the caller falls back to a timeout");
        slots.note_held(&0, Duration::from_millis(7));
        assert_eq!(slots.estimate_busy(&0), Some(Duration::from_millis(7)), "an attempt ended: known");
    }

    /// `n` rounds for key 0 at once, each with a second to get a slot and none of `places`:
    /// each that gets one holds it for an attempt answered in 5 ms. `Some` for a round that made
    /// its attempt, `None` for one postponed.
    fn quick_rounds(
        slots: &Arc<Slots<u32>>,
        places: &Arc<Semaphore>,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<Option<()>>> {
        (0..n)
            .map(|_| {
                let (slots, places) = (Arc::clone(slots), Arc::clone(places));
                tokio::spawn(async move {
                    let slot = slots.take_by(&0, &places, Instant::now() + Duration::from_secs(1)).await?;
                    slots.note_held(&0, Duration::from_millis(5));
                    drop(slot);
                    Some(())
                })
            })
            .collect()
    }

    /// Paused time: the clock moves only when every task is idle.
    #[tokio::test(start_paused = true)]
    async fn rounds_for_a_quick_receiver_wait_without_a_place_until_it_stops_answering() {
        let slots = Arc::new(Slots::<u32>::new(1));
        let no_places = Arc::new(Semaphore::new(0));
        let held = slots.try_take(&0).expect("a free slot");
        slots.note_held(&0, Duration::from_millis(5));
        // One attempt answering in 5 ms just ended; three rounds come at once, with no place
        // to wait anywhere: each waits its turn and makes its attempt.
        let rounds = quick_rounds(&slots, &no_places, 3);
        tokio::task::yield_now().await;
        drop(held);
        for round in rounds {
            assert_eq!(round.await.unwrap(), Some(()), "waited for the slot, not postponed");
        }
        // Its receiver hangs: an attempt holds the slot, and nothing ends for longer than QUICK_HOLD.
        let _hung = slots.try_take(&0).expect("a free slot");
        tokio::time::advance(QUICK_HOLD + Duration::from_millis(1)).await;
        let started = Instant::now();
        assert!(slots.take_by(&0, &no_places, started + Duration::from_secs(1)).await.is_none());
        assert_eq!(Instant::now(), started, "no longer quick: no place, no wait");
    }

    /// The bench's stragglers: after a lull, a receive brought more rounds for one endpoint than
    /// its slots and places, and with no attempt ended lately the rest were postponed by 2 s.
    #[tokio::test(start_paused = true)]
    async fn a_burst_after_a_lull_waits_its_turn_while_the_attempts_in_flight_are_young() {
        let slots = Arc::new(Slots::<u32>::new(1));
        let no_places = Arc::new(Semaphore::new(0));
        drop(slots.try_take(&0).expect("a free slot"));
        slots.note_held(&0, Duration::from_millis(5));
        tokio::time::advance(Duration::from_secs(1)).await;
        // The burst's first round takes the slot; three more find no slot and no place.
        let first = slots.try_take(&0).expect("a free slot");
        let rounds = quick_rounds(&slots, &no_places, 3);
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(5)).await;
        slots.note_held(&0, Duration::from_millis(5));
        drop(first);
        for round in rounds {
            assert_eq!(round.await.unwrap(), Some(()), "waited its turn, not postponed");
        }
        // Every slot given back takes its note off: none is left to age.
        assert!(crate::util::lock(&slots.known)[&0].holders.is_empty());
    }

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
        let anywhere = Arc::new(Semaphore::new(8));
        let soon = Instant::now() + std::time::Duration::from_millis(500);
        assert!(slots.take_by(&0, &anywhere, soon).await.is_none(), "none freed within the wait");
        let waiter = tokio::spawn({
            let (slots, anywhere) = (Arc::clone(&slots), Arc::clone(&anywhere));
            async move {
                let deadline = Instant::now() + std::time::Duration::from_secs(1);
                slots.take_by(&0, &anywhere, deadline).await.is_some()
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // The one place to wait for key 0 is taken: another round does not wait, at all.
        let started = Instant::now();
        assert!(slots.take_by(&0, &anywhere, started + std::time::Duration::from_secs(1)).await.is_none());
        assert_eq!(Instant::now(), started, "no place to wait: none at once");
        drop(held);
        assert!(waiter.await.unwrap(), "the slot freed while it waited");
    }

    #[tokio::test(start_paused = true)]
    async fn rounds_wait_only_while_the_worker_has_places_for_them() {
        let slots = Slots::<u32>::new(1);
        let anywhere = Arc::new(Semaphore::new(0));
        let _held = slots.try_take(&0).expect("a free slot");
        let started = Instant::now();
        assert!(slots.take_by(&0, &anywhere, started + std::time::Duration::from_secs(1)).await.is_none());
        assert_eq!(Instant::now(), started, "no place in the worker: none at once");
    }
}
