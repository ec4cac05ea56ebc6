//! Whether a change's event goes to the webhooks at all. A merchant with no enabled endpoint
//! pays nothing for them: its events are not put in the due-time index and not announced. Each
//! process learns whether a merchant has endpoints from the store and remembers it for
//! `DISCOVERY_MS`, so an endpoint gets every event recorded from that long after its creation
//! on (and, from the process that created it, at once); an event recorded in between goes to it
//! only if its writer already knew.
use std::collections::HashMap;
use std::sync::Mutex;

use super::Services;
use crate::domain::ids::MerchantId;
use crate::domain::webhooks::EndpointStatus;
use crate::util::lock;
use crate::util::single_flight::SingleFlight;

/// How long a process trusts what it learnt about a merchant's endpoints.
pub const DISCOVERY_MS: u64 = 5_000;
/// Merchants remembered before the oldest answers are forgotten.
const REMEMBERED: usize = 10_000;

/// After a failed look-up, "it has" (the safe answer) is trusted this long, so the requests that
/// waited for that look-up, and those right behind them, do not each try again at once.
const FAILED_ANSWER_MS: u64 = 1_000;

/// Per process: merchant → (has an enabled endpoint, until when that is trusted), and the
/// look-ups under way. A merchant's look-up is made by one request at a time: when a busy
/// merchant's answer expires, the requests that find it so wait for one read instead of each
/// making its own. Another merchant's look-up never waits for it. Beside it, the other thing a
/// process keeps per merchant for its webhooks: what is left of its redelivery budget.
#[derive(Default)]
pub struct EndpointPresence {
    known: Mutex<HashMap<MerchantId, (bool, u64)>>,
    lookups: SingleFlight<MerchantId>,
    pub(crate) redeliveries: super::redelivery::RedeliveryBudget,
}

impl EndpointPresence {
    fn get(&self, m: &MerchantId, now_ms: u64) -> Option<bool> {
        let known = lock(&self.known);
        known.get(m).filter(|(_, until)| now_ms < *until).map(|(has, _)| *has)
    }

    /// Remembers what `m`'s endpoints were found to be at `now_ms`.
    pub(crate) fn set(&self, m: &MerchantId, has: bool, now_ms: u64) {
        self.trust(m, has, now_ms, now_ms + DISCOVERY_MS);
    }

    fn trust(&self, m: &MerchantId, has: bool, now_ms: u64, until_ms: u64) {
        let mut known = lock(&self.known);
        if known.len() >= REMEMBERED {
            known.retain(|_, (_, until)| now_ms < *until);
        }
        known.insert(m.clone(), (has, until_ms));
    }

    /// Merchants being looked up now.
    #[cfg(test)]
    pub(crate) fn lookups_under_way(&self) -> usize {
        self.lookups.under_way()
    }
}

impl Services {
    /// Whether `merchant`'s events go to the webhooks. When the store cannot say, they do: the
    /// webhook worker then finds no endpoint and drops the event from the index.
    pub(crate) async fn notifies(&self, merchant: &MerchantId) -> bool {
        let now = self.clock.now_ms();
        if let Some(has) = self.presence.get(merchant, now) {
            return has;
        }
        let _one_at_a_time = self.presence.lookups.turn(merchant).await;
        self.look_up(merchant).await
    }

    async fn look_up(&self, merchant: &MerchantId) -> bool {
        // Another request may have read it while this one waited.
        let now = self.clock.now_ms();
        if let Some(has) = self.presence.get(merchant, now) {
            return has;
        }
        match self.store.endpoints.endpoints(merchant).await {
            Ok(all) => {
                let has = all.iter().any(|e| e.status == EndpointStatus::Enabled);
                self.presence.set(merchant, has, now);
                has
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not tell whether the merchant has webhook endpoints; assuming it has");
                self.presence.trust(merchant, true, now, now + FAILED_ANSWER_MS);
                true
            }
        }
    }
}
