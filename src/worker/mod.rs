//! The worker runtime, shared by `payment-worker`, `refund-worker` and `webhook-worker`, which
//! differ only in their `app::jobs::Jobs` (what a message's job is, what the repair loop does)
//! and their queue.
//!
//! Each worker long-polls its SQS queue (`domain::queue::WorkQueue`) and runs every message's
//! job concurrently, up to `WORKER_CONCURRENCY` at once. While a job runs, its message is hidden
//! again every few seconds (a heartbeat), so a slow bank call is never handed to a second
//! worker. The job's [`Step`](crate::app::Step) decides what becomes of the message:
//!
//! | step | message |
//! |---|---|
//! | `Done` | deleted (in batches of up to 10) |
//! | `Retry` | hidden for 2^n s (n = receive count), at most 60 s; SQS's redrive policy parks it after `MAX_RECEIVE_COUNT` receives |
//! | `NotReady` | deleted: the payment's settlement enqueues the refund again |
//! | `Poison`, or a body that is not a job | copied to the queue's `-dlq`, then deleted |
//!
//! Nothing else deletes a message. On shutdown the worker stops receiving, lets running jobs
//! finish for `SHUTDOWN_GRACE_SECS`, then hands the messages of those still running back to the
//! queue (visible at once) and exits. A repair loop in the same process re-enqueues records that
//! stayed non-final too long, and a small HTTP endpoint reports health and counters.
mod consumer;
mod deleter;
mod health;
mod job;
pub mod policy;
mod repair;
mod settings;
mod start;
#[cfg(test)]
mod tests;

pub use consumer::{consume, receive_backoff};
pub use health::{Outcomes, StatusBody, WorkerStats, router as health_router};
pub use repair::repair_loop;
pub use settings::RuntimeSettings;
pub use start::{RunError, Worker};
