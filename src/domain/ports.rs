//! The ports: what the use cases need from storage (one trait per role), the queue and the
//! card vault.
//! Adapters classify their failures so callers can tell "retry" from "give up".
use std::sync::Arc;

use async_trait::async_trait;

use super::card::{CardDetails, SealedCard};
use super::change::Change;
use super::events::{Event, EventId, EventPage};
use super::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyRecord};
use super::ids::{MerchantId, PaymentId, RefundId};
use super::inquiry::Attempts;
use super::payment::{Payment, PaymentView};
use super::webhooks::{AttemptOutcome, AttemptRecord, Delivery, Endpoint, EndpointId};

// The queues' ports live beside the message they carry; every port is named from here.
pub use super::queue::{Job, JobQueue, MAX_BATCH, QueueError, Received, WorkQueue};

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
    /// The payment moved on since it was read (another change landed first): read it again.
    #[error("the record changed since it was read")]
    Changed,
    /// A condition failed, and the store did not say which (some emulators omit the reasons).
    #[error("record is not in a state that allows this")]
    WrongState,
}

/// One page of a merchant's payments, newest first.
#[derive(Debug, Clone)]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    /// Opaque: pass back to get the next page.
    pub next_cursor: Option<String>,
}

/// Payments and their refunds: one item collection per payment, changed only by `commit`.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Writes `change` in one write: the payment, the refund it names and its event, and with a
    /// claim the key's claim too; all of it or nothing. It lands only while the payment is at
    /// `change.read_version()` (absent, for a creation). Conflicts, in the order they are
    /// checked: `IdempotencyKeyTaken`, then `AlreadyExists` (a new payment or refund whose id is
    /// taken), then `Changed` (the payment moved on: read it again and decide anew).
    async fn commit(&self, change: &Change, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError>;

    /// A payment and its refunds (oldest first), read consistently.
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError>;

    /// Notes that the charge (or the refund `refund`) is about to be sent to the bank again at
    /// `attempts.last_ms`, before it is sent, and holds the record in the repair index; the
    /// first attempt's time is kept, or set to `attempts.first_ms` on a record that has none
    /// (written before attempts were noted). Not a change of the payment: no event, no new
    /// version, and no later `commit` moves it back. `Conflict(WrongState)` when the record is
    /// final or unknown.
    async fn record_attempt(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        attempts: Attempts,
    ) -> Result<(), StoreError>;

    /// The merchant's payments that `filter` matches, newest first, each filter served by an
    /// index (never a scan); `InvalidCursor` for a cursor this store did not give. Index reads are
    /// eventually consistent: a payment that just changed status may show under its old one
    /// for a moment.
    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &crate::domain::search::PaymentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError>;
}

/// The event log, written by `Payments::commit`.
#[async_trait]
pub trait Events: Send + Sync {
    /// A payment's events, oldest first (its audit trail).
    async fn payment_events(&self, id: PaymentId, limit: u32, cursor: Option<&str>) -> Result<EventPage, StoreError>;

    /// A merchant's events that `filter` matches, newest first; never another merchant's,
    /// whatever payment the filter names.
    async fn merchant_events(
        &self,
        merchant: &MerchantId,
        filter: &crate::domain::search::EventFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError>;

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError>;
}

/// Idempotency keys: claims written with the record they create (see `Payments::commit`).
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

    /// Moves a non-final record to the back of the index: a worker that picks up a record
    /// already PROCESSING holds it so, without changing it. No effect on a final record.
    async fn hold(&self, payment: PaymentId, refund: Option<RefundId>, now_ms: u64) -> Result<(), StoreError>;
}

/// The merchants known to the platform.
#[async_trait]
pub trait Merchants: Send + Sync {
    /// Whether `merchant` is registered and not disabled.
    async fn merchant_exists(&self, merchant: &MerchantId) -> Result<bool, StoreError>;
}

/// A merchant's webhook endpoints (at most `webhooks::MAX_ENDPOINTS` each, so always read whole).
#[async_trait]
pub trait WebhookEndpoints: Send + Sync {
    /// Stores a new endpoint; `Conflict(AlreadyExists)` when its id is taken.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;

    /// Stores `endpoint` as revision `endpoint.revision + 1`, only while the stored one is at
    /// `endpoint.revision`: `Conflict(Changed)` otherwise, `NotFound` once it is deleted.
    async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;

    /// The merchant's endpoints, oldest first.
    async fn endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, StoreError>;

    /// Whether there was one to delete.
    async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<bool, StoreError>;
}

/// What a claim on an event's deliveries found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// Ours until `lease_ms`: the event and its deliveries (`None`: not planned yet).
    Claimed { event: Box<Event>, deliveries: Option<Vec<Delivery>>, lease_ms: u64 },
    /// Another worker holds it until its lease ends.
    Busy,
    /// Nothing outstanding: every delivery ended, or the event is unknown.
    Settled,
}

/// A page of a merchant's events, each with its deliveries as planned (`Deliveries::planned_events`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedPage {
    pub events: Vec<PlannedEvent>,
    pub next_cursor: Option<String>,
}

/// An event as far as its deliveries go: which, of what type, when, and its plan (`None`: never
/// planned). Not its data: a page of them is read whole and kept small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub id: EventId,
    pub kind: crate::domain::events::EventType,
    pub at_ms: u64,
    pub deliveries: Option<Vec<Delivery>>,
}

/// An event with deliveries outstanding, in the due-time index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueEvent {
    pub event: EventId,
    /// When its next attempt is due.
    pub due_ms: u64,
    /// When the event happened.
    pub at_ms: u64,
}

/// The delivery of events to webhook endpoints. Every event enters the due-time index in the
/// write that records it (`Payments::commit`) and leaves it when no delivery is outstanding;
/// the index, not the queue, is the truth about what is left to deliver.
#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Takes the event's deliveries until `lease_ms`, if no other lease is live at `now_ms` and
    /// the event is in the index (with `reopen`, also when it is not: a redelivery puts it back).
    async fn claim_delivery(
        &self,
        event: EventId,
        now_ms: u64,
        lease_ms: u64,
        reopen: bool,
    ) -> Result<DeliveryClaim, StoreError>;

    /// Ends a claim: stores the deliveries and the attempts made, moves the event to its next
    /// due time (out of the index when none is pending) and releases the lease.
    /// `Conflict(Changed)` when the lease `lease_ms` is no longer ours (nothing written).
    async fn save_delivery(
        &self,
        event: &Event,
        lease_ms: u64,
        deliveries: &[Delivery],
        attempts: &[AttemptRecord],
    ) -> Result<(), StoreError>;

    /// The attempts at delivering the event, oldest first (at most the first 1000).
    async fn attempts(&self, event: EventId) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Events with deliveries outstanding, earliest due first; at most `limit` per shard.
    async fn outstanding(&self, limit: u32) -> Result<Vec<DueEvent>, StoreError>;

    /// `merchant`'s events (of `kind`, or all) recorded in `[from_ms, until_ms)`, newest first, a
    /// page at a time, each with its deliveries as planned (`None`: never planned), as the
    /// merchant's feed shows them.
    /// The feed may lag the events by a moment: an event may be missing from it for that moment,
    /// and a plan read there may have grown since (never lost an endpoint that still exists).
    async fn planned_events(
        &self,
        merchant: &MerchantId,
        kind: Option<crate::domain::events::EventType>,
        range_ms: (u64, u64),
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PlannedPage, StoreError>;

    /// Marks an event due before `older_than_ms` as picked up by the sweep: due again at
    /// `again_ms`, should that pick-up be lost too. Only one of several racing sweeps gets `true`.
    async fn claim_due(&self, due: DueEvent, older_than_ms: u64, again_ms: u64) -> Result<bool, StoreError>;
}

/// One signed POST of an event to an endpoint. No `Debug`: it holds the signing secrets.
#[derive(Clone)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub event: &'a Event,
    /// The signing secrets (`whsec_...`), newest first: one signature each.
    pub secrets: &'a [String],
    /// Unix seconds of this attempt (`webhook-timestamp`).
    pub timestamp_s: u64,
}

/// Sends webhooks; the adapter builds the body and signs it.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// One attempt, bounded by the adapter's timeout; never follows a redirect.
    async fn send(&self, out: &Outgoing<'_>) -> AttemptOutcome;
}

/// Every storage port, one adapter behind each (DynamoDB in production, memory in tests).
#[derive(Clone)]
pub struct Stores {
    pub payments: Arc<dyn Payments>,
    pub events: Arc<dyn Events>,
    pub keys: Arc<dyn IdempotencyKeys>,
    pub repair: Arc<dyn RepairIndex>,
    pub merchants: Arc<dyn Merchants>,
    pub endpoints: Arc<dyn WebhookEndpoints>,
    pub deliveries: Arc<dyn Deliveries>,
}

impl Stores {
    /// All ports served by one adapter.
    pub fn all<S>(store: Arc<S>) -> Self
    where
        S: Payments + Events + IdempotencyKeys + RepairIndex + Merchants + WebhookEndpoints + Deliveries + 'static,
    {
        Self {
            payments: store.clone(),
            events: store.clone(),
            keys: store.clone(),
            repair: store.clone(),
            merchants: store.clone(),
            endpoints: store.clone(),
            deliveries: store,
        }
    }
}

/// Sealed data could not be sealed or opened: a wrong or missing key, or tampering. A process
/// holds only the keys its work needs, so this is also what it gets for anything else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealed data could not be sealed or opened with this process's keys")]
pub struct VaultError;

/// Authenticated encryption of card data, bound to the payment it belongs to. The API seals,
/// only the payment-worker opens; other processes hold no card key at all.
pub trait CardVault: Send + Sync {
    fn seal(&self, card: &CardDetails, payment: PaymentId) -> Result<SealedCard, VaultError>;
    fn open(&self, sealed: &SealedCard, payment: PaymentId) -> Result<CardDetails, VaultError>;
}

/// Authenticated encryption of webhook signing secrets, bound to their endpoint, under a key
/// of their own: the API seals, the webhook-worker opens.
pub trait SecretVault: Send + Sync {
    fn seal_secret(&self, secret: &str, owner: &str) -> Result<String, VaultError>;
    fn open_secret(&self, sealed: &str, owner: &str) -> Result<String, VaultError>;
}

/// Wall-clock time, as a port so tests can pin it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The trace the work in hand belongs to, recorded on the events it causes.
pub trait Traces: Send + Sync {
    fn current_trace_id(&self) -> Option<String>;
}
