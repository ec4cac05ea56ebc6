//! Whether a change's event goes to the webhooks at all. An event of a type none of the
//! merchant's enabled endpoints wants (every event, for a merchant with none) costs nothing: it
//! is not put in the due-time index and not announced. Each process learns what a merchant's
//! endpoints want from the store and remembers it for `DISCOVERY_MS`, so an event recorded in
//! an endpoint's first seconds goes to it only if its writer already knew (the process that
//! created it knows at once); the others of those seconds are given to it by its catch-up
//! (`Deliverer::catch_up`), once every process knows it.
use std::convert::Infallible;

use super::Services;
use crate::domain::ids::MerchantId;
use crate::domain::webhooks::Wanted;
use crate::util::cache::ExpiringCache;

/// How long a process trusts what it learnt about a merchant's endpoints.
pub const DISCOVERY_MS: u64 = 5_000;
/// Merchants remembered at most.
const REMEMBERED: usize = 10_000;

/// After a failed look-up, "it wants everything" (the safe answer) is trusted this long, so the requests that
/// waited for that look-up, and those right behind them, do not each try again at once.
const FAILED_ANSWER_MS: u64 = 1_000;

/// Per process: what each merchant's enabled endpoints want, trusted until a time, looked up
/// by one request per merchant at a time (`util::cache`). Beside it, the other thing a process
/// keeps per merchant for its webhooks: what is left of its redelivery budget.
pub struct EndpointPresence {
    known: ExpiringCache<MerchantId, Wanted>,
    pub(crate) redeliveries: super::redelivery::RedeliveryBudget,
}

impl Default for EndpointPresence {
    fn default() -> Self {
        Self { known: ExpiringCache::new(REMEMBERED), redeliveries: Default::default() }
    }
}

impl EndpointPresence {
    /// Remembers what `m`'s endpoints were found to want at `now_ms`.
    pub(crate) fn set(&self, m: &MerchantId, wanted: Wanted, now_ms: u64) {
        self.known.insert(m.clone(), wanted, now_ms, now_ms + DISCOVERY_MS);
    }

    /// Merchants being looked up now.
    #[cfg(test)]
    pub(crate) fn lookups_under_way(&self) -> usize {
        self.known.lookups_under_way()
    }
}

impl Services {
    /// Which of `merchant`'s events go to the webhooks (`Change::notify` is whether this one
    /// does). When the store cannot say, all do: the webhook worker then finds no endpoint that
    /// wants one and drops it from the index.
    pub(crate) async fn webhooks_want(&self, merchant: &MerchantId) -> Wanted {
        let look_up = |now: u64| async move {
            Ok::<_, Infallible>(match self.store.endpoints.endpoints(merchant).await {
                Ok(all) => (Wanted::of(&all), now + DISCOVERY_MS),
                Err(e) => {
                    tracing::warn!(error = %e, "could not tell what the merchant's webhook endpoints want; assuming everything");
                    (Wanted::ALL, now + FAILED_ANSWER_MS)
                }
            })
        };
        let found = self.presence.known.get_or_load(merchant, || self.clock.now_ms(), look_up).await;
        found.unwrap_or_else(|never| match never {})
    }
}
