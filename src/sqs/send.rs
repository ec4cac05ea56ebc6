//! The send side: jobs to the queue of the worker that runs them, with the sender's trace, in
//! batches when many are sent at once (`batch.rs`).
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::batch::BatchSender;
use super::{message, queue_url, string_attribute};
use crate::domain::queue::{Job, JobQueue, QueueError};
use crate::telemetry::propagation;

/// The three queues' names (`PAYMENTS_QUEUE`, `REFUNDS_QUEUE`, `WEBHOOKS_QUEUE`).
#[derive(Debug, Clone, Copy)]
pub struct QueueNames<'a> {
    pub payments: &'a str,
    pub refunds: &'a str,
    pub webhooks: &'a str,
}

/// Sends charge jobs to the payments queue, refund jobs to the refunds queue and deliveries to
/// the webhooks queue.
#[derive(Clone)]
pub struct SqsJobQueue {
    payments: BatchSender,
    refunds: BatchSender,
    webhooks: BatchSender,
}

/// SQS's longest `DelaySeconds`.
pub const MAX_DELAY_SECS: u32 = 900;

impl SqsJobQueue {
    /// Resolves the queues' URLs and starts a sender for each (on the current tokio runtime).
    pub async fn resolve(client: Client, names: QueueNames<'_>) -> Result<Self, QueueError> {
        let sender = |url| BatchSender::spawn(client.clone(), url);
        let payments = sender(queue_url(&client, names.payments).await?);
        let refunds = sender(queue_url(&client, names.refunds).await?);
        let webhooks = sender(queue_url(&client, names.webhooks).await?);
        Ok(Self { payments, refunds, webhooks })
    }
}

/// The message of `job`, received no sooner than `delay_secs` from now, with the current span's
/// trace beside its body; its id is the batch's to give (`BatchSender::send`).
pub fn job_entry(job: &Job, delay_secs: u32) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let mut entry = SendMessageBatchRequestEntry::builder().id("0").message_body(message::encode(job));
    if delay_secs > 0 {
        entry = entry.delay_seconds(i32::try_from(delay_secs.min(MAX_DELAY_SECS)).unwrap_or(0));
    }
    // The trace travels beside the body, so the worker's span joins the request's trace.
    for (name, value) in propagation::inject(&tracing::Span::current()) {
        entry = entry.message_attributes(name, string_attribute(&value)?);
    }
    entry.build().map_err(|_| QueueError::Permanent("request could not be built".into()))
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn enqueue_after(&self, job: &Job, delay_secs: u32) -> Result<(), QueueError> {
        let sender = match job {
            Job::Charge { .. } => &self.payments,
            Job::Refund { .. } => &self.refunds,
            Job::Deliver { .. } | Job::CatchUp { .. } => &self.webhooks,
        };
        sender.send(job_entry(job, delay_secs)?).await
    }
}
