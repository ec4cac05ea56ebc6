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

/// How long a process trusts what it learnt about a merchant's endpoints.
pub const DISCOVERY_MS: u64 = 5_000;
/// Merchants remembered before the oldest answers are forgotten.
const REMEMBERED: usize = 10_000;

/// Look-ups of merchants whose answers expired are serialised by these locks (a merchant's by
/// the hash of its id), so that when a busy merchant's answer expires, the requests that find it
/// so wait for one read instead of each making its own.
const LOOKUP_STRIPES: usize = 64;

/// Per process: merchant → (has an enabled endpoint, when that was read).
pub struct EndpointPresence {
    known: Mutex<HashMap<MerchantId, (bool, u64)>>,
    lookups: Vec<tokio::sync::Mutex<()>>,
}

impl Default for EndpointPresence {
    fn default() -> Self {
        Self { known: Mutex::default(), lookups: (0..LOOKUP_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect() }
    }
}

impl EndpointPresence {
    fn get(&self, m: &MerchantId, now_ms: u64) -> Option<bool> {
        let known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.get(m).filter(|(_, at)| now_ms.saturating_sub(*at) < DISCOVERY_MS).map(|(has, _)| *has)
    }

    fn lookup_lock(&self, m: &MerchantId) -> &tokio::sync::Mutex<()> {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(m, &mut h);
        let stripe = usize::try_from(std::hash::Hasher::finish(&h) % LOOKUP_STRIPES as u64).unwrap_or(0);
        &self.lookups[stripe]
    }

    pub(crate) fn set(&self, m: &MerchantId, has: bool, now_ms: u64) {
        let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= REMEMBERED {
            known.retain(|_, (_, at)| now_ms.saturating_sub(*at) < DISCOVERY_MS);
        }
        known.insert(m.clone(), (has, now_ms));
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
        let _one_read = self.presence.lookup_lock(merchant).lock().await;
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
                true
            }
        }
    }
}
