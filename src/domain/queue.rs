//! The queues' ports: the use cases enqueue jobs (`JobQueue`), the worker runtime receives
//! them (`WorkQueue`). SQS behind both in production (`crate::sqs`), fakes in the unit tests.
//! Every error carries a code, never a queue's message (those can name URLs and account ids).
use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use super::events::EventId;
use super::ids::{MerchantId, PaymentId, RefundId};
use super::webhooks::EndpointId;

/// A unit of work for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Charge {
        payment_id: PaymentId,
    },
    Refund {
        payment_id: PaymentId,
        refund_id: RefundId,
    },
    /// Deliver an event to the merchant's webhook endpoints.
    Deliver {
        event: EventId,
    },
    /// Give a new endpoint the events recorded around its creation that were not planned for it
    /// (`Deliverer::catch_up`): sent by the API that created it, delayed until every process
    /// knows of it.
    CatchUp {
        merchant: MerchantId,
        endpoint: EndpointId,
    },
}

impl Job {
    /// The payment the job is about (a delivered event's too).
    pub fn payment_id(&self) -> Option<PaymentId> {
        match self {
            Self::Charge { payment_id } | Self::Refund { payment_id, .. } => Some(*payment_id),
            Self::Deliver { event } => Some(event.payment_id),
            Self::CatchUp { .. } => None,
        }
    }

    pub fn refund_id(&self) -> Option<RefundId> {
        match self {
            Self::Refund { refund_id, .. } => Some(*refund_id),
            Self::Charge { .. } | Self::Deliver { .. } | Self::CatchUp { .. } => None,
        }
    }

    pub fn event_id(&self) -> Option<EventId> {
        match self {
            Self::Deliver { event } => Some(*event),
            Self::Charge { .. } | Self::Refund { .. } | Self::CatchUp { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Transient(String),
    #[error("queue error: {0}")]
    Permanent(String),
}

/// The send side: where the use cases put jobs.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        self.enqueue_after(job, 0).await
    }

    /// Enqueues `job`, received no sooner than `delay_secs` from now (SQS allows at most 900).
    async fn enqueue_after(&self, job: &Job, delay_secs: u32) -> Result<(), QueueError>;
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    /// Names this delivery: needed to delete the message or change its visibility.
    pub receipt: String,
    pub body: String,
    /// The job the body holds; `None` for a body that is not one (a poison message).
    pub job: Option<Job>,
    /// SQS's `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
    /// When the message was first sent (epoch ms), if the queue said.
    pub sent_at_ms: Option<u64>,
    /// The W3C trace context the sender attached (`traceparent`, `tracestate`).
    pub trace: HashMap<String, String>,
}

/// SQS allows at most 10 entries per batch call and 10 messages per receive.
pub const MAX_BATCH: usize = 10;

/// The receive side: one work queue and its dead-letter queue, as the worker runtime uses them.
#[async_trait]
pub trait WorkQueue: Send + Sync + 'static {
    /// Long-polls for up to `max` (1..=10) messages, each hidden for `visibility` once received.
    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> Result<Vec<Received>, QueueError>;

    /// Deletes up to 10 messages by receipt; answers how many the queue refused.
    async fn delete_batch(&self, receipts: &[String]) -> Result<usize, QueueError>;

    /// Hides a received message for `visibility` from now (zero: visible at once).
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError>;

    /// Sends `body`, unchanged, to this queue's dead-letter queue with `reason` attached.
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError>;
}
