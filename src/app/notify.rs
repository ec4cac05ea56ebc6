//! Whether a change's event goes to the webhooks at all. A merchant with no enabled endpoint
//! pays nothing for them: its events are not put in the due-time index and not announced. Each
//! process learns whether a merchant has endpoints from the store and remembers it for
//! `DISCOVERY_MS`, so an endpoint gets every event recorded from that long after its creation
//! on (and, from the process that created it, at once); an event recorded in between goes to it
//! only if its writer already knew.
use std::convert::Infallible;

use super::Services;
use crate::domain::ids::MerchantId;
use crate::domain::webhooks::EndpointStatus;
use crate::util::cache::ExpiringCache;

/// How long a process trusts what it learnt about a merchant's endpoints.
pub const DISCOVERY_MS: u64 = 5_000;
/// Merchants remembered at most.
const REMEMBERED: usize = 10_000;

/// After a failed look-up, "it has" (the safe answer) is trusted this long, so the requests that
/// waited for that look-up, and those right behind them, do not each try again at once.
const FAILED_ANSWER_MS: u64 = 1_000;

/// Per process: whether each merchant has an enabled endpoint, trusted until a time, looked up
/// by one request per merchant at a time (`util::cache`). Beside it, the other thing a process
/// keeps per merchant for its webhooks: what is left of its redelivery budget.
pub struct EndpointPresence {
    known: ExpiringCache<MerchantId, bool>,
    pub(crate) redeliveries: super::redelivery::RedeliveryBudget,
}

impl Default for EndpointPresence {
    fn default() -> Self {
        Self { known: ExpiringCache::new(REMEMBERED), redeliveries: Default::default() }
    }
}

impl EndpointPresence {
    /// Remembers what `m`'s endpoints were found to be at `now_ms`.
    pub(crate) fn set(&self, m: &MerchantId, has: bool, now_ms: u64) {
        self.known.insert(m.clone(), has, now_ms, now_ms + DISCOVERY_MS);
    }

    /// Merchants being looked up now.
    #[cfg(test)]
    pub(crate) fn lookups_under_way(&self) -> usize {
        self.known.lookups_under_way()
    }
}

impl Services {
    /// Whether `merchant`'s events go to the webhooks. When the store cannot say, they do: the
    /// webhook worker then finds no endpoint and drops the event from the index.
    pub(crate) async fn notifies(&self, merchant: &MerchantId) -> bool {
        let look_up = |now: u64| async move {
            Ok::<_, Infallible>(match self.store.endpoints.endpoints(merchant).await {
                Ok(all) => (all.iter().any(|e| e.status == EndpointStatus::Enabled), now + DISCOVERY_MS),
                Err(e) => {
                    tracing::warn!(error = %e, "could not tell whether the merchant has webhook endpoints; assuming it has");
                    (true, now + FAILED_ANSWER_MS)
                }
            })
        };
        let found = self.presence.known.get_or_load(merchant, || self.clock.now_ms(), look_up).await;
        found.unwrap_or_else(|never| match never {})
    }
}
