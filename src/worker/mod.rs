//! The worker runtime, shared by `payment-worker`, `refund-worker` and `webhook-worker`.
//!
//! Each worker long-polls its SQS queue and runs every message's job concurrently, up to
//! `WORKER_CONCURRENCY` at once. While a job runs, its message is hidden again every few
//! seconds (a heartbeat), so a slow bank call is never handed to a second worker. The job's
//! [`Step`](crate::app::settle::Step) decides what becomes of the message:
//!
//! | step | message |
//! |---|---|
//! | `Done` | deleted (in batches of up to 10) |
//! | `Retry` | hidden for 2^n s (n = receive count), at most 60 s; SQS's redrive policy parks it after `MAX_RECEIVE_COUNT` receives |
//! | `NotReady` | hidden for 2-5 s |
//! | `Poison`, or a body that is not a job | copied to the queue's `-dlq`, then deleted |
//!
//! Nothing else deletes a message. On shutdown the worker stops receiving, lets running jobs
//! finish for `SHUTDOWN_GRACE_SECS`, then hands the messages of those still running back to the
//! queue (visible at once) and exits. A repair loop in the same process re-enqueues records that
//! stayed non-final too long, and a small HTTP endpoint reports health and counters.
mod config;
mod consumer;
mod deleter;
mod handler;
mod health;
mod job;
pub mod policy;
mod queue;
mod repair;
mod start;
#[cfg(test)]
mod tests;

pub use config::{RuntimeSettings, WorkerConfig};
pub use consumer::{consume, receive_backoff};
pub use handler::{ChargeHandler, DeliverHandler, JobHandler, RefundHandler};
pub use health::{Outcomes, StatusBody, WorkerStats, router as health_router};
pub use queue::{MAX_BATCH, Received, SqsWorkQueue, WorkQueue};
pub use repair::{REPAIR_BATCH, RepairPass, StaleRecords, WebhookSweep, repair_loop, repair_once};
pub use start::{StartError, Worker, serve};

use crate::config::AwsArgs;

/// Which of the two workers this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerKind {
    /// Consumes the payments queue and charges the bank.
    Payment,
    /// Consumes the refunds queue and refunds at the bank.
    Refund,
    /// Consumes the webhooks queue and delivers events to merchants' endpoints.
    Webhook,
}

impl WorkerKind {
    /// Short name for logs and `GET /status`: `payment` or `refund`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Webhook => "webhook",
        }
    }

    pub fn binary(self) -> &'static str {
        match self {
            Self::Payment => "payment-worker",
            Self::Refund => "refund-worker",
            Self::Webhook => "webhook-worker",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            Self::Payment => "Consumes the payments queue, charges the bank, settles payments",
            Self::Refund => "Consumes the refunds queue, refunds at the bank, settles refunds",
            Self::Webhook => "Consumes the webhooks queue, delivers signed events to merchants' endpoints",
        }
    }

    /// Default `WORKER_HTTP_PORT`, next to the API's 4444 and the bank's 4445.
    pub fn default_port(self) -> &'static str {
        match self {
            Self::Payment => "4446",
            Self::Refund => "4447",
            Self::Webhook => "4449",
        }
    }

    /// The queue this worker consumes.
    pub fn queue(self, aws: &AwsArgs) -> &str {
        match self {
            Self::Payment => &aws.payments_queue,
            Self::Refund => &aws.refunds_queue,
            Self::Webhook => &aws.webhooks_queue,
        }
    }
}
