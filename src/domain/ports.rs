//! The ports: what the use cases need from storage (one trait per role), the queue and the
//! card vault.
//! Adapters classify their failures so callers can tell "retry" from "give up".
use std::sync::Arc;

use async_trait::async_trait;

use super::card::{CardDetails, SealedCard};
use super::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyRecord};
use super::ids::{MerchantId, PaymentId, RefundId};
use super::payment::{NewPayment, NewRefund, Payment, PaymentOutcome, PaymentView, Refund, RefundOutcome};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A conditional write lost: the record is not in the state the write required.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    #[error("storage unavailable: {0}")]
    Transient(String),
    #[error("storage error: {0}")]
    Permanent(String),
    #[error("the pagination cursor is not valid")]
    InvalidCursor,
}

/// Which condition a write failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConflictKind {
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    #[error("record already exists")]
    AlreadyExists,
    #[error("record is not in a state that allows this")]
    WrongState,
    #[error("not enough left to refund")]
    InsufficientRefundable,
}

/// One page of a merchant's payments, newest first.
#[derive(Debug, Clone)]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    /// Opaque: pass back to get the next page.
    pub next_cursor: Option<String>,
}

/// Payments: the records the API creates and the payment worker moves to a final state.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Writes a PENDING payment, and the key's claim in the same transaction when given.
    /// `Conflict(IdempotencyKeyTaken)` when the key is claimed, `Conflict(AlreadyExists)` when
    /// the payment exists (the claim is checked first).
    async fn insert_payment(&self, p: &NewPayment, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError>;

    /// A payment and its refunds (oldest first), read consistently.
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError>;

    /// The merchant's payments, newest first; `InvalidCursor` for a cursor this store did not give.
    async fn list_payments(
        &self,
        merchant: &MerchantId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError>;

    /// PENDING or PROCESSING -> PROCESSING (touching its repair timestamp); returns the payment.
    /// `Conflict(WrongState)` when final or unknown.
    async fn start_payment(&self, id: PaymentId, now_ms: u64) -> Result<Payment, StoreError>;

    /// PENDING or PROCESSING -> the outcome's state, erasing the sealed card and leaving the
    /// repair index. `Conflict(WrongState)` when already final or unknown.
    async fn settle_payment(&self, id: PaymentId, outcome: &PaymentOutcome, now_ms: u64)
    -> Result<Payment, StoreError>;
}

/// Refunds, always under their payment.
#[async_trait]
pub trait Refunds: Send + Sync {
    /// Writes a PENDING refund and reserves its amount on the payment, atomically; fails with
    /// `InsufficientRefundable` when the payment has less left than asked, is another merchant's,
    /// unknown, or ended without succeeding. With a claim, the key is checked first
    /// (`IdempotencyKeyTaken`); an existing refund id is `AlreadyExists`.
    async fn insert_refund(&self, r: &NewRefund, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError>;

    /// PENDING or PROCESSING -> PROCESSING. `Conflict(WrongState)` when final or unknown.
    async fn start_refund(&self, payment: PaymentId, id: RefundId, now_ms: u64) -> Result<Refund, StoreError>;

    /// Final state for a refund; a success adds to the payment's refunded sum, a failure gives
    /// the reserved amount back, in the same transaction. `Conflict(WrongState)` when final.
    async fn settle_refund(&self, refund: &Refund, outcome: &RefundOutcome, now_ms: u64) -> Result<(), StoreError>;
}

/// Idempotency keys: claims written with the record they create (see `Payments`, `Refunds`).
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    async fn get_idempotency(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Takes over a claim whose holder stopped before finishing (`locked_until_ms` passed); only
    /// the first of racing takers succeeds, the others get `Conflict`.
    async fn renew_idempotency(
        &self,
        key: &IdempotencyKey,
        seen_locked_until_ms: u64,
        locked_until_ms: u64,
    ) -> Result<(), StoreError>;

    async fn complete_idempotency(&self, key: &IdempotencyKey, response: &Accepted) -> Result<(), StoreError>;
}

/// The repair index: non-final records by last touch.
#[async_trait]
pub trait RepairIndex: Send + Sync {
    /// Non-final records not touched since `older_than_ms`.
    async fn stale_payments(&self, older_than_ms: u64, limit: u32) -> Result<Vec<PaymentId>, StoreError>;
    async fn stale_refunds(&self, older_than_ms: u64, limit: u32) -> Result<Vec<(PaymentId, RefundId)>, StoreError>;

    /// Marks a stale record as picked up by the repair path at `now_ms`, if it is still stale
    /// (older than `older_than_ms`). Only one of several racing repairers gets `true`.
    async fn claim_stale(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        older_than_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError>;
}

/// The merchants known to the platform.
#[async_trait]
pub trait Merchants: Send + Sync {
    /// Whether `merchant` is registered and not disabled.
    async fn merchant_exists(&self, merchant: &MerchantId) -> Result<bool, StoreError>;
}

/// Every storage port, one adapter behind each (DynamoDB in production, memory in tests).
#[derive(Clone)]
pub struct Stores {
    pub payments: Arc<dyn Payments>,
    pub refunds: Arc<dyn Refunds>,
    pub keys: Arc<dyn IdempotencyKeys>,
    pub repair: Arc<dyn RepairIndex>,
    pub merchants: Arc<dyn Merchants>,
}

impl Stores {
    /// All ports served by one adapter.
    pub fn all<S>(store: Arc<S>) -> Self
    where
        S: Payments + Refunds + IdempotencyKeys + RepairIndex + Merchants + 'static,
    {
        Self {
            payments: store.clone(),
            refunds: store.clone(),
            keys: store.clone(),
            repair: store.clone(),
            merchants: store,
        }
    }
}

/// A unit of work for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Charge { payment_id: PaymentId },
    Refund { payment_id: PaymentId, refund_id: RefundId },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Transient(String),
    #[error("queue error: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("card data could not be opened")]
pub struct VaultError;

/// Authenticated encryption of card data, bound to the payment it belongs to.
pub trait CardVault: Send + Sync {
    fn seal(&self, card: &CardDetails, payment: PaymentId) -> SealedCard;
    fn open(&self, sealed: &SealedCard, payment: PaymentId) -> Result<CardDetails, VaultError>;
}

/// Wall-clock time, as a port so tests can pin it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}
