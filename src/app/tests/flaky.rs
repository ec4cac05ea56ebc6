//! A store whose writes fail the way a stalled database does: applied but unconfirmed, or not
//! applied at all, a given number of times.
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use crate::domain::idempotency::IdempotencyClaim;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::payment::{NewPayment, NewRefund, Payment, PaymentOutcome, PaymentView, Refund, RefundOutcome};
use crate::domain::ports::{PaymentPage, Payments, Refunds, StoreError, Stores};
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
    /// The next `times` inserts fail with `fault`.
    pub fn install(world: &mut World, fault: Fault, times: u32) {
        let flaky = Arc::new(Flaky { inner: Arc::clone(&world.store), fault, left: AtomicU32::new(times) });
        let all = Stores::all(Arc::clone(&world.store));
        world.services.store = Stores { payments: flaky.clone(), refunds: flaky, ..all };
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
    async fn insert_payment(&self, p: &NewPayment, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        match self.trip() {
            Some(Fault::AppliedButLost) => self.inner.insert_payment(p, claim).await.and(Err(lost())),
            Some(Fault::NotApplied) => Err(lost()),
            None => self.inner.insert_payment(p, claim).await,
        }
    }
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        self.inner.get_payment(id).await
    }
    async fn list_payments(&self, m: &MerchantId, limit: u32, cursor: Option<&str>) -> Result<PaymentPage, StoreError> {
        self.inner.list_payments(m, limit, cursor).await
    }
    async fn start_payment(&self, id: PaymentId, now_ms: u64) -> Result<Payment, StoreError> {
        self.inner.start_payment(id, now_ms).await
    }
    async fn settle_payment(&self, id: PaymentId, o: &PaymentOutcome, now_ms: u64) -> Result<Payment, StoreError> {
        self.inner.settle_payment(id, o, now_ms).await
    }
}

#[async_trait]
impl Refunds for Flaky {
    async fn insert_refund(&self, r: &NewRefund, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        match self.trip() {
            Some(Fault::AppliedButLost) => self.inner.insert_refund(r, claim).await.and(Err(lost())),
            Some(Fault::NotApplied) => Err(lost()),
            None => self.inner.insert_refund(r, claim).await,
        }
    }
    async fn start_refund(&self, p: PaymentId, id: RefundId, now_ms: u64) -> Result<Refund, StoreError> {
        self.inner.start_refund(p, id, now_ms).await
    }
    async fn settle_refund(&self, r: &Refund, o: &RefundOutcome, now_ms: u64) -> Result<(), StoreError> {
        self.inner.settle_refund(r, o, now_ms).await
    }
}
