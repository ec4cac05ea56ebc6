//! The webhook-worker's use cases (`Deliverer`): deliver one event to every endpoint that wants
//! it, and sweep the due-time index for deliveries whose trigger was lost or lies beyond SQS's
//! longest delay. A merchant's redelivery, asked through the API, is `app::redelivery`.
//!
//! One round on an event: lease it (one worker at a time), plan its deliveries the first time
//! (the endpoints that want its type then), attempt every due one at once, save the outcome with
//! the attempts and the next due time, and enqueue the event again for that time when SQS can
//! carry the delay. Delivery is at least once: a worker that dies mid-round leaves the event due,
//! and the attempts it made are made again.
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;

mod catch_up;
mod slots;

pub use catch_up::CATCH_UP_DELAY_SECS;
use slots::Slots;

use super::DISCOVERY_MS;
use super::{AppError, Services, Step};
use crate::domain::events::{Event, EventId};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{ConflictKind, DeliveryClaim, Job, Outgoing, StoreError, WebhookSender};
use crate::domain::webhooks::*;
use crate::telemetry::metrics;
use crate::util::cache::ExpiringCache;

/// SQS's longest delay: a later retry waits in the due-time index for the sweep.
const MAX_QUEUE_DELAY_MS: u64 = 900_000;
/// Clocks of different hosts disagree a little: an endpoint created this much after an event
/// (by the clocks that stamped them) still gets it, so none recorded after it is missed.
const CLOCK_SKEW_MS: u64 = 5_000;
/// Merchants whose endpoints a worker remembers at most.
const REMEMBERED_MERCHANTS: usize = 10_000;
/// Rounds that may wait for a slot at once, in all: each holds one of the worker's job slots
/// (`WORKER_CONCURRENCY`, 32 by default) while it waits.
const WAITING_ROUNDS: usize = 8;
/// Claims and enqueues a sweep runs at once.
const SWEEP_PARALLELISM: usize = 16;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// One attempt's limit (the sender enforces it); a round's lease is sized from it.
    pub timeout: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after_ms: u64,
    /// Attempts in flight at once, in all, to one endpoint, and to one merchant's endpoints
    /// (so one merchant's slow receivers cannot take every slot of a worker).
    pub concurrency: usize,
    pub endpoint_concurrency: usize,
    pub merchant_concurrency: usize,
    /// How long an attempt waits for a slot before its delivery is postponed (`busy_delay_ms`):
    /// a fast receiver's slots free within it, a slow one's do not.
    pub slot_wait: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            disable_after_ms: 5 * 86_400_000,
            concurrency: 64,
            endpoint_concurrency: 4,
            merchant_concurrency: 16,
            slot_wait: Duration::from_secs(1),
        }
    }
}

/// An event's deliveries the first time they are planned: one, due at `now`, to each of
/// `endpoints` that wants its type and existed when it was recorded. An endpoint gets the events
/// recorded once it exists, not the ones before.
fn first_plan(endpoints: &[Endpoint], event: &Event, now: u64) -> Vec<Delivery> {
    let wanting = endpoints.iter().filter(|e| e.wants(event.kind) && e.created_ms <= event.at_ms + CLOCK_SKEW_MS);
    wanting.map(|e| Delivery::new(e.id, now)).collect()
}

/// The webhook worker's use cases, with the sender and the limits on attempts in flight.
pub struct Deliverer {
    pub services: Services,
    sender: Arc<dyn WebhookSender>,
    settings: DeliverySettings,
    overall: Arc<Semaphore>,
    per_endpoint: Slots<EndpointId>,
    per_merchant: Slots<MerchantId>,
    /// Places for rounds waiting for a slot (`WAITING_ROUNDS`).
    waiting: Arc<Semaphore>,
    /// Each merchant's endpoints as last read, trusted for `DISCOVERY_MS`, as the writers of
    /// events trust what they want (`app::notify`): a round does not read them again for every
    /// event. A change made through the API (a new, deleted or rotated endpoint) reaches the
    /// deliveries within that time; one this worker makes (disabling) at once.
    endpoints: ExpiringCache<MerchantId, Arc<Vec<Endpoint>>>,
}

impl Deliverer {
    pub fn new(services: Services, sender: Arc<dyn WebhookSender>, settings: DeliverySettings) -> Self {
        let overall = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let per_endpoint = Slots::new(settings.endpoint_concurrency);
        let per_merchant = Slots::new(settings.merchant_concurrency);
        let endpoints = ExpiringCache::new(REMEMBERED_MERCHANTS);
        let waiting = Arc::new(Semaphore::new(WAITING_ROUNDS));
        Self { services, sender, settings, overall, per_endpoint, per_merchant, waiting, endpoints }
    }

    /// `merchant`'s endpoints, as read at most `DISCOVERY_MS` ago.
    async fn endpoints_of(&self, merchant: &MerchantId) -> Result<Arc<Vec<Endpoint>>, StoreError> {
        let read = |now: u64| async move {
            let all = self.services.store.endpoints.endpoints(merchant).await?;
            Ok::<_, StoreError>((Arc::new(all), now + DISCOVERY_MS))
        };
        self.endpoints.get_or_load(merchant, || self.services.clock.now_ms(), read).await
    }

    /// Keys whose slots this worker tracks now: (endpoints, merchants).
    #[cfg(test)]
    pub(crate) fn tracked_slots(&self) -> (usize, usize) {
        (self.per_endpoint.tracked(), self.per_merchant.tracked())
    }

    /// A round's lease: its attempts run at once, each bounded by the wait for a slot and the
    /// timeout, with the store calls around them. A round that overruns it may be repeated by
    /// another worker: delivery is at least once.
    fn lease_ms(&self) -> u64 {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ms(self.settings.timeout).saturating_mul(3).saturating_add(ms(self.settings.slot_wait)).saturating_add(5_000)
    }

    /// One round on `event`.
    pub async fn deliver(&self, event: EventId) -> Step {
        let now = self.services.clock.now_ms();
        let claim = self.services.store.deliveries.claim_delivery(event, now, now + self.lease_ms(), false).await;
        let (found, planned, lease) = match claim {
            Ok(DeliveryClaim::Claimed { event, deliveries, lease_ms }) => (event, deliveries, lease_ms),
            // Whoever holds it finishes the round; if it dies, the sweep brings the event back.
            Ok(DeliveryClaim::Busy) | Ok(DeliveryClaim::Settled) => return Step::Done,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let endpoints = match self.endpoints_of(found.merchant_id()).await {
            Ok(e) => e,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let first_round = planned.is_none();
        let mut deliveries = planned.unwrap_or_else(|| first_plan(&endpoints, &found, now));
        let pending_before: Vec<EndpointId> =
            deliveries.iter().filter(|d| d.state == DeliveryState::Pending).map(|d| d.endpoint).collect();
        let (attempts, postponed) = self.round(&found, &endpoints, &mut deliveries).await;
        match self.services.store.deliveries.save_delivery(&found, lease, &deliveries, &attempts).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                tracing::warn!(event_id = %event, "delivery round outlived its lease; another worker took over");
                return Step::Done;
            }
            Err(e) => return Step::Retry(e.to_string()),
        }
        // Each delivery counts once, in the round that ended it.
        for d in deliveries.iter().filter(|d| d.state != DeliveryState::Pending && pending_before.contains(&d.endpoint))
        {
            metrics::webhook_delivery_ended(d.state.as_str());
        }
        // Only a round that moved a due time triggers the next one: a duplicate or early
        // message that found nothing due changes nothing, so it must not multiply itself.
        if first_round || postponed || !attempts.is_empty() {
            self.trigger_next(event, &deliveries).await;
        }
        Step::Done
    }

    /// Attempts the due deliveries at once; answers the attempts made, and whether any was
    /// postponed (its endpoint busy).
    async fn round(
        &self,
        event: &Event,
        endpoints: &[Endpoint],
        deliveries: &mut [Delivery],
    ) -> (Vec<AttemptRecord>, bool) {
        let now = self.services.clock.now_ms();
        for d in deliveries.iter_mut() {
            if !endpoints.iter().any(|e| e.id == d.endpoint && e.status == EndpointStatus::Enabled) {
                d.cancel();
            }
        }
        let due: Vec<usize> = (0..deliveries.len()).filter(|&i| deliveries[i].is_due(now)).collect();
        let tries = due.iter().map(|&i| {
            let endpoint =
                endpoints.iter().find(|e| e.id == deliveries[i].endpoint).expect("cancelled above if absent");
            self.attempt(event, endpoint)
        });
        let outcomes = futures::future::join_all(tries).await;
        let mut records = Vec::new();
        let mut postponed = false;
        let mut effects: Vec<(EndpointId, EndpointEffect)> = Vec::new();
        for (&i, outcome) in due.iter().zip(outcomes) {
            let d = &mut deliveries[i];
            match outcome {
                None => {
                    let merchant = endpoints.iter().find(|e| e.id == d.endpoint).map(|e| &e.merchant_id);
                    d.postpone(now + self.busy_delay_ms(&d.endpoint, merchant));
                    postponed = true;
                }
                Some((outcome, at_ms, latency)) => {
                    metrics::webhook_attempt(outcome.label(), latency);
                    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
                    let (effect, record) =
                        d.settle(&outcome, at_ms, latency_ms, &self.settings.schedule, rand::random());
                    tracing::info!(
                        event_id = %event.id(), endpoint = %d.endpoint, attempt = record.number,
                        outcome = outcome.label(), status = record.status_code, latency_ms, state = d.state.as_str(),
                        "webhook attempt"
                    );
                    effects.push((d.endpoint, effect));
                    records.push(record);
                }
            }
        }
        for (id, effect) in effects {
            if let Some(endpoint) = endpoints.iter().find(|e| e.id == id) {
                self.note_endpoint(endpoint.clone(), effect).await;
            }
        }
        (records, postponed)
    }

    /// How long a delivery whose endpoint (or the worker) has no free slot waits: about twice as
    /// long as the slots it lacked are known to be held (`Slots::estimate_busy`), from 1 s to one
    /// attempt's timeout, plus as much again of jitter to spread the events that wait; without
    /// an estimate, one to two timeouts.
    /// - The last attempts to end, the endpoint's and its merchant's, held theirs for
    ///   milliseconds: the rounds ran out of their wait in a burst or on a stalled machine, and
    ///   the event comes back in 1-2 s, not the 15-30 s that were the tail of the bench's
    ///   webhook latency.
    /// - A slow receiver's held theirs for seconds: one to two of those, at most two timeouts.
    /// - None has ended yet (the first burst to an endpoint): twice as long as its attempts have
    ///   been in flight, for the first few postponements. A fast receiver's first burst comes back
    ///   in 1-2 s; a slow one's waits longer each time it finds its slots still held, so it costs a
    ///   few rounds, not one every second, and the rest of its backlog waits one to two timeouts.
    fn busy_delay_ms(&self, endpoint: &EndpointId, merchant: Option<&MerchantId>) -> u64 {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let timeout = ms(self.settings.timeout).max(1_000);
        let held =
            self.per_endpoint.estimate_busy(endpoint).zip(merchant.and_then(|m| self.per_merchant.estimate_busy(m)));
        let base = held.map_or(timeout, |(e, m)| ms(e.max(m)).saturating_mul(2).clamp(1_000, timeout));
        base + rand::random_range(0..base)
    }

    /// One signed POST, or `None` when the endpoint's slots, its merchant's, or the worker's
    /// stay taken for `slot_wait`: a burst of events to a fast receiver waits the few
    /// milliseconds its slots take to free, where postponing them would cost 15-30 s and three
    /// more requests each. As many rounds as an endpoint (or merchant) has slots may wait for
    /// one, and `WAITING_ROUNDS` in all (`slots::wait_for`); the others are postponed at once,
    /// unless its receiver is quick (`Slots::take_by`): then every round waits its turn.
    /// So a slow receiver still holds at most its own slots and a few waiting rounds, a
    /// merchant's receivers at most the merchant's (the other merchants keep the rest), and a
    /// round's length is bounded by the wait and one attempt's timeout (inside its lease).
    async fn attempt(&self, event: &Event, endpoint: &Endpoint) -> Option<(AttemptOutcome, u64, Duration)> {
        let deadline = tokio::time::Instant::now() + self.settings.slot_wait;
        let slot = self.per_endpoint.take_by(&endpoint.id, &self.waiting, deadline).await?;
        let merchant_slot = self.per_merchant.take_by(&endpoint.merchant_id, &self.waiting, deadline).await?;
        let _overall = slots::wait_for(Arc::clone(&self.overall), &[&self.waiting], deadline).await?;
        let at_ms = self.services.clock.now_ms();
        let secrets: Vec<String> = endpoint
            .signing_secrets(at_ms)
            .filter_map(|s| self.services.secrets.open_secret(&s.sealed, &endpoint.id.to_string()).ok())
            .collect();
        if secrets.is_empty() {
            // A failed attempt, on the schedule: retrying at once would not open it either.
            tracing::error!(endpoint = %endpoint.id, "no signing secret of this endpoint opens; is a key missing from WEBHOOK_SECRET_OLD_KEYS?");
            return Some((AttemptOutcome::Unsignable, at_ms, Duration::ZERO));
        }
        let started = Instant::now();
        let out = Outgoing { url: endpoint.url.as_str(), event, secrets: &secrets, timestamp_s: at_ms / 1000 };
        let outcome = self.sender.send(&out).await;
        let held = started.elapsed();
        // Noted before the slots free, so the round that takes one next reads this end.
        self.per_endpoint.note_held(&endpoint.id, held);
        self.per_merchant.note_held(&endpoint.merchant_id, held);
        drop((slot, merchant_slot));
        Some((outcome, at_ms, held))
    }

    /// Records what an attempt says about its endpoint (as this round read it): a 410 or days of
    /// failures disable it. Most attempts change nothing, and cost nothing; the endpoint is read
    /// again only when another writer changed it first.
    async fn note_endpoint(&self, mut endpoint: Endpoint, effect: EndpointEffect) {
        let (merchant, id) = (endpoint.merchant_id.clone(), endpoint.id);
        for round in 0..3 {
            if round > 0 {
                let Ok(all) = self.services.store.endpoints.endpoints(&merchant).await else { return };
                let Some(fresh) = all.into_iter().find(|e| e.id == id) else { return };
                endpoint = fresh;
            }
            let now = self.services.clock.now_ms();
            if !endpoint.apply(effect, now, self.settings.disable_after_ms) {
                return;
            }
            match self.services.store.endpoints.update_endpoint(&endpoint).await {
                Ok(()) => {
                    self.endpoints.remove(&merchant);
                    if let Some(reason) =
                        endpoint.disabled_reason.as_deref().filter(|_| endpoint.status == EndpointStatus::Disabled)
                    {
                        metrics::webhook_endpoint_disabled(reason);
                        tracing::warn!(endpoint = %id, reason, "webhook endpoint disabled");
                    }
                    return;
                }
                Err(StoreError::Conflict(ConflictKind::Changed)) => continue,
                Err(e) => {
                    tracing::warn!(endpoint = %id, error = %e, "could not record the endpoint's health");
                    return;
                }
            }
        }
    }

    /// Enqueues the event for its next due delivery, if SQS can hold it that long; otherwise,
    /// or if the send fails, the sweep finds it in the due-time index.
    async fn trigger_next(&self, event: EventId, deliveries: &[Delivery]) {
        let Some(due) = next_due(deliveries) else { return };
        let wait = due.saturating_sub(self.services.clock.now_ms());
        if wait > MAX_QUEUE_DELAY_MS {
            return;
        }
        let delay_secs = u32::try_from(wait.div_ceil(1000)).unwrap_or(u32::MAX);
        if let Err(e) = self.services.queue.enqueue_after(&Job::Deliver { event }, delay_secs).await {
            tracing::warn!(event_id = %event, error = %e, "could not enqueue the next delivery; the sweep will");
        }
    }

    /// One sweep: enqueues events due more than `grace` ago (their trigger lost, or their delay
    /// longer than SQS holds) and reports the oldest outstanding event's age. Answers how many.
    pub async fn sweep(&self, grace: Duration, limit: u32) -> Result<usize, AppError> {
        let now = self.services.clock.now_ms();
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        let outstanding = self.services.store.deliveries.outstanding(limit).await?;
        let oldest = outstanding.iter().map(|d| d.at_ms).min().map_or(0, |at| now.saturating_sub(at));
        let late = outstanding.iter().map(|d| d.due_ms).min().map_or(0, |due| now.saturating_sub(due));
        metrics::webhook_oldest_undelivered(Duration::from_millis(oldest), Duration::from_millis(late));
        if !outstanding.is_empty() {
            // The alarms read these from the log (infra/terraform/alarms.tf, webhook_backlog).
            tracing::info!(
                outstanding = outstanding.len(),
                oldest_undelivered_secs = oldest / 1000,
                delivery_lateness_secs = late / 1000,
                "webhook sweep"
            );
        }
        let stale = outstanding.into_iter().filter(|d| d.due_ms + grace_ms < now);
        let claimed = futures::stream::iter(stale)
            .map(|due| async move {
                // Due again as much later as it is late now (at most an hour later): an event
                // whose message is only slow in a lagging queue is sent again every two grace
                // periods at most, not on every pass.
                let again = now + now.saturating_sub(due.due_ms).min(3_600_000);
                if !self.services.store.deliveries.claim_due(due, now - grace_ms, again).await? {
                    return Ok::<_, AppError>(0);
                }
                self.services.queue.enqueue(&Job::Deliver { event: due.event }).await?;
                Ok(1)
            })
            .buffer_unordered(SWEEP_PARALLELISM)
            .collect::<Vec<_>>()
            .await;
        claimed.into_iter().sum()
    }
}
