//! The use cases. Each takes validated domain input, talks to the ports, and answers with a
//! typed result or an `AppError` that the HTTP layer maps to one response.
mod bank_calls;
pub use bank_calls::BankPolicy;
pub mod captures;
mod carry;
mod changes;
pub mod delivery;
pub mod endpoints;
pub mod events;
mod notify;
pub use notify::{DISCOVERY_MS, EndpointPresence};
mod idempotency;
pub use idempotency::KeyedRequest;
pub mod jobs;
pub mod payments;
pub mod redelivery;
pub mod refunds;
pub mod settle;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::domain::events::{Actor, Cause};
use crate::domain::ports::{CardVault, Clock, JobQueue, QueueError, SecretVault, StoreError, Stores, Traces};
use crate::domain::status::PaymentStatus;

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Final state stored (now or earlier): delete the message.
    Done,
    /// Not possible yet: a refund whose payment is still in flight. Its message is let go; the
    /// payment's settlement enqueues it again, so a long wait never walks it into the DLQ.
    NotReady,
    /// A transient failure (bank outcome unknown, storage throttled): try again later, same key.
    Retry(String),
    /// The message names nothing we know: park it in the dead-letter queue.
    Poison(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInFlight,
    #[error("the payment ended {0} and cannot be refunded")]
    NotRefundable(PaymentStatus),
    #[error("nothing is left to refund on this payment")]
    NothingLeftToRefund,
    #[error("the payment has {0} refunds, as many as a payment may have")]
    TooManyRefunds(usize),
    #[error("the refund exceeds what is left to refund ({left})")]
    RefundExceedsRemaining { left: u64 },
    #[error("the pagination cursor is not valid")]
    InvalidCursor,
    /// Not a manual-capture payment that is AUTHORIZED and open to captures (not canceling, not
    /// closed by a final capture).
    #[error("the payment is {0} and cannot be captured")]
    NotCapturable(PaymentStatus),
    #[error("the authorization has expired; nothing more can be captured")]
    AuthorizationExpired,
    #[error("the capture exceeds what is left to capture ({left})")]
    CaptureExceedsCapturable { left: u64 },
    #[error("the payment has {0} captures, as many as a payment may have")]
    TooManyCaptures(usize),
    /// Automatic, final, or with a capture in flight.
    #[error("the payment cannot be canceled now")]
    NotCancelable,
    #[error("event not found")]
    EventNotFound,
    #[error("a merchant may have at most {0} webhook endpoints")]
    TooManyEndpoints(usize),
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    /// The merchant asked for more redeliveries than this process allows it; nothing was changed.
    #[error("too many redeliveries for this merchant; retry after the time given")]
    RedeliveriesLimited { retry_after_secs: u64 },
    /// Another delivery round of the event is under way; nothing was changed.
    #[error("a delivery of this event is under way; try again in a few seconds")]
    DeliveryBusy,
    /// Other changes of the payment kept landing first; nothing of this request was written.
    #[error("the payment is being changed by other requests")]
    Contended,
    /// A write was sent but never confirmed (timeouts, a stalled database), so whether it took
    /// effect is unknown. Unlike `Unavailable`, this must not invite a blind retry.
    #[error("the outcome of the write is unknown")]
    OutcomeUnknown,
    /// Nothing was written; trying again later is safe.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::InvalidCursor => Self::InvalidCursor,
            StoreError::Transient(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for AppError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Transient(m) => Self::Unavailable(m),
            QueueError::Permanent(m) => Self::Internal(m),
        }
    }
}

impl AppError {
    /// For a read made after a write that may have landed: a failed read cannot tell whether
    /// it did, so it must not be reported as "nothing happened, retry".
    pub(crate) fn after_write(self) -> Self {
        match self {
            Self::Unavailable(_) => Self::OutcomeUnknown,
            other => other,
        }
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::util::now_ms()
    }
}

/// No trace: for tools and tests that record none.
pub struct NoTraces;

impl Traces for NoTraces {
    fn current_trace_id(&self) -> Option<String> {
        None
    }
}

impl Services {
    /// The cause of the changes the work in hand makes: `actor`, in the current trace.
    pub(crate) fn cause(&self, actor: Actor) -> Cause {
        Cause::new(actor, self.traces.current_trace_id())
    }

    /// Tells the webhook worker that `event` was recorded. Best effort: the event is in the
    /// due-time index from its write on, so a lost send only delays it until the sweep.
    pub(crate) async fn announce(&self, change: &crate::domain::change::Change) {
        if !change.notify {
            return;
        }
        let event = change.event.id();
        if let Err(e) = self.queue.enqueue(&crate::domain::ports::Job::Deliver { event }).await {
            tracing::warn!(event_id = %event, error = %e, "event not announced; the webhook sweep will find it");
        }
    }

    /// Whether `merchant` is registered (token issuance names only known merchants).
    pub async fn is_merchant(&self, merchant: &crate::domain::ids::MerchantId) -> Result<bool, AppError> {
        Ok(self.store.merchants.merchant_exists(merchant).await?)
    }
}

/// What every use case needs: the ports, shared.
#[derive(Clone)]
pub struct Services {
    pub store: Stores,
    pub queue: Arc<dyn JobQueue>,
    /// Seals (API) or opens (payment-worker) card data; `vault::NoKey` in every other process.
    pub cards: Arc<dyn CardVault>,
    /// Seals (API) or opens (webhook-worker) webhook signing secrets; `vault::NoKey` elsewhere.
    pub secrets: Arc<dyn SecretVault>,
    pub clock: Arc<dyn Clock>,
    pub traces: Arc<dyn Traces>,
    /// How the workers deal with the bank (unused by the API).
    pub bank_policy: BankPolicy,
    /// What this process knows of which merchants have webhook endpoints (`app::notify`).
    pub presence: Arc<EndpointPresence>,
}
