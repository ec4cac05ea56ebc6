//! Redelivery, asked for through the API: an event's attempts, and delivering it again to every
//! endpoint, within a per-merchant budget.
use std::collections::HashMap;
use std::sync::Mutex;

use super::{AppError, Services};
use crate::domain::events::EventId;
use crate::domain::ids::MerchantId;
use crate::domain::ports::{DeliveryClaim, Job};
use crate::domain::webhooks::{AttemptRecord, Delivery, DeliveryState};

/// Redeliveries one merchant may ask of one API process at once...
pub const REDELIVERY_BURST: u64 = 20;
/// ...and how often one more is allowed after that: 20 a minute.
pub const REDELIVERY_EVERY_MS: u64 = 3_000;
/// Merchants whose redelivery budget a process remembers before it forgets the full ones.
const REMEMBERED_BUDGETS: usize = 10_000;

/// Per process: each merchant's budget of redeliveries, a token bucket of `REDELIVERY_BURST`
/// refilled one per `REDELIVERY_EVERY_MS` (kept as the time the bucket is full again, GCRA). Per
/// API replica, like the API's rate limits: with N replicas a merchant gets up to N times as many.
/// A shared (store-backed) budget would cost a conditional write on every ask for little more:
/// what it bounds is the fan-out one merchant makes the webhook workers do, which each worker
/// bounds again by `WEBHOOK_MERCHANT_CONCURRENCY`.
#[derive(Default)]
pub struct RedeliveryBudget {
    full_at: Mutex<HashMap<MerchantId, u64>>,
}

impl RedeliveryBudget {
    /// Takes one redelivery of `merchant`'s at `now_ms`; `Err(ms to wait)` when none is left.
    fn take(&self, merchant: &MerchantId, now_ms: u64) -> Result<(), u64> {
        let mut full_at = crate::util::lock(&self.full_at);
        if full_at.len() >= REMEMBERED_BUDGETS && !full_at.contains_key(merchant) {
            full_at.retain(|_, at| *at > now_ms);
        }
        let at = full_at.entry(merchant.clone()).or_insert(now_ms);
        let from = (*at).max(now_ms);
        let spent = from - now_ms;
        let allowed = (REDELIVERY_BURST - 1) * REDELIVERY_EVERY_MS;
        if spent > allowed {
            return Err(spent - allowed);
        }
        *at = from + REDELIVERY_EVERY_MS;
        Ok(())
    }
}

/// Redelivery, asked for through the API.
impl Services {
    /// The event's attempts, oldest first; another merchant's event is `EventNotFound`.
    pub async fn delivery_attempts(&self, merchant: &MerchantId, id: EventId) -> Result<Vec<AttemptRecord>, AppError> {
        self.get_event(merchant, id).await?;
        Ok(self.store.deliveries.attempts(id).await?)
    }

    /// Delivers the event again now to every endpoint that wants it, from the start of the
    /// schedule; answers to how many endpoints. A merchant asks at most `REDELIVERY_BURST` at
    /// once and one per `REDELIVERY_EVERY_MS` after that, per process (`RedeliveryBudget`).
    pub async fn redeliver(&self, merchant: &MerchantId, id: EventId) -> Result<usize, AppError> {
        self.get_event(merchant, id).await?;
        if let Err(wait_ms) = self.presence.redeliveries.take(merchant, self.clock.now_ms()) {
            return Err(AppError::RedeliveriesLimited { retry_after_secs: wait_ms.div_ceil(1000).max(1) });
        }
        let mut delays = super::changes::contention();
        loop {
            let now = self.clock.now_ms();
            match self.store.deliveries.claim_delivery(id, now, now + 10_000, true).await? {
                DeliveryClaim::Claimed { event, deliveries, lease_ms } => {
                    let endpoints = self.store.endpoints.endpoints(merchant).await?;
                    let mut deliveries = deliveries.unwrap_or_default();
                    // Asked again before the last ask was carried out: nothing more to send.
                    let waiting = |d: &Delivery| d.state == DeliveryState::Pending && d.tries == 0;
                    let already = !deliveries.is_empty() && deliveries.iter().all(waiting);
                    for e in endpoints.iter().filter(|e| e.wants(event.kind) && !already) {
                        match deliveries.iter_mut().find(|d| d.endpoint == e.id) {
                            Some(d) => d.replan(now),
                            None => deliveries.push(Delivery::new(e.id, now)),
                        }
                    }
                    // Deliveries to endpoints since deleted would only grow the event item.
                    deliveries.retain(|d| endpoints.iter().any(|e| e.id == d.endpoint));
                    let wanted = deliveries.iter().filter(|d| d.state == DeliveryState::Pending).count();
                    self.store.deliveries.save_delivery(&event, lease_ms, &deliveries, &[]).await?;
                    if let Err(e) = self.queue.enqueue(&Job::Deliver { event: id }).await {
                        tracing::warn!(event_id = %id, error = %e, "could not enqueue the redelivery; the sweep will");
                    }
                    return Ok(wanted);
                }
                DeliveryClaim::Settled => return Err(AppError::EventNotFound),
                DeliveryClaim::Busy => match delays.next() {
                    Some(d) => tokio::time::sleep(d).await,
                    None => return Err(AppError::DeliveryBusy),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchants_redelivery_budget_refills_one_at_a_time() {
        let budget = RedeliveryBudget::default();
        let (m, other) = (MerchantId::parse("a@m").unwrap(), MerchantId::parse("b@m").unwrap());
        for _ in 0..REDELIVERY_BURST {
            budget.take(&m, 1_000).unwrap();
        }
        assert_eq!(budget.take(&m, 1_000), Err(REDELIVERY_EVERY_MS));
        assert_eq!(budget.take(&m, 2_000), Err(REDELIVERY_EVERY_MS - 1_000));
        assert!(budget.take(&other, 1_000).is_ok(), "per merchant");
        budget.take(&m, 1_000 + REDELIVERY_EVERY_MS).unwrap();
        assert!(budget.take(&m, 1_000 + REDELIVERY_EVERY_MS).is_err());
        // A minute later the bucket is full again.
        for _ in 0..REDELIVERY_BURST {
            budget.take(&m, 200_000).unwrap();
        }
    }
}
