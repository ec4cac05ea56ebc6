//! A store whose writes fail the way a stalled database does: applied but unconfirmed, or not
//! applied at all, a given number of times.
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use crate::domain::change::Change;
use crate::domain::idempotency::IdempotencyClaim;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::payment::PaymentView;
use crate::domain::ports::{PaymentPage, Payments, StoreError, Stores, WebhookEndpoints};
use crate::domain::webhooks::{Endpoint, EndpointId};
use crate::testing::{MemoryStore, World};

#[derive(Clone, Copy)]
pub enum Fault {
    /// The write lands, but its answer is lost (a timeout after the commit).
    AppliedButLost,
    /// The write never reaches the table.
    NotApplied,
}

pub struct Flaky {
    inner: Arc<MemoryStore>,
    fault: Fault,
    left: AtomicU32,
}

impl Flaky {
    /// The next `times` writes fail with `fault`.
    pub fn install(world: &mut World, fault: Fault, times: u32) {
        let flaky = Arc::new(Flaky { inner: Arc::clone(&world.store), fault, left: AtomicU32::new(times) });
        let all = Stores::all(Arc::clone(&world.store));
        world.services.store = Stores { payments: flaky, ..all };
    }

    /// The same for the webhook endpoints' creates.
    pub fn install_endpoints(world: &mut World, fault: Fault, times: u32) {
        let flaky = Arc::new(Flaky { inner: Arc::clone(&world.store), fault, left: AtomicU32::new(times) });
        let all = Stores::all(Arc::clone(&world.store));
        world.services.store = Stores { endpoints: flaky, ..all };
    }

    /// Whether this call fails, and if so whether it first applies the write.
    fn trip(&self) -> Option<Fault> {
        self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).ok().map(|_| self.fault)
    }
}

fn lost() -> StoreError {
    StoreError::Transient("timeout".into())
}

#[async_trait]
impl Payments for Flaky {
    async fn commit(&self, c: &Change, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        match self.trip() {
            Some(Fault::AppliedButLost) => self.inner.commit(c, claim).await.and(Err(lost())),
            Some(Fault::NotApplied) => Err(lost()),
            None => self.inner.commit(c, claim).await,
        }
    }
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        self.inner.get_payment(id).await
    }
    async fn record_attempt(&self, p: PaymentId, r: Option<RefundId>, a: Attempts) -> Result<(), StoreError> {
        self.inner.record_attempt(p, r, a).await
    }
    async fn list_payments(
        &self,
        m: &MerchantId,
        filter: &crate::domain::search::PaymentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError> {
        self.inner.list_payments(m, filter, limit, cursor).await
    }
}

#[async_trait]
impl WebhookEndpoints for Flaky {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        match self.trip() {
            Some(Fault::AppliedButLost) => self.inner.create_endpoint(endpoint).await.and(Err(lost())),
            Some(Fault::NotApplied) => Err(lost()),
            None => self.inner.create_endpoint(endpoint).await,
        }
    }
    async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.inner.update_endpoint(endpoint).await
    }
    async fn endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, StoreError> {
        self.inner.endpoints(merchant).await
    }
    async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        self.inner.delete_endpoint(merchant, id).await
    }
}
