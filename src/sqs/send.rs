//! The send side: jobs to the queue of the worker that runs them, with the sender's trace.
use async_trait::async_trait;
use aws_sdk_sqs::Client;

use super::{classify, message, queue_url, string_attribute};
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
    client: Client,
    payments_url: String,
    refunds_url: String,
    webhooks_url: String,
}

/// SQS's longest `DelaySeconds`.
pub const MAX_DELAY_SECS: u32 = 900;

impl SqsJobQueue {
    pub async fn resolve(client: Client, names: QueueNames<'_>) -> Result<Self, QueueError> {
        let payments_url = queue_url(&client, names.payments).await?;
        let refunds_url = queue_url(&client, names.refunds).await?;
        let webhooks_url = queue_url(&client, names.webhooks).await?;
        Ok(Self { client, payments_url, refunds_url, webhooks_url })
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn enqueue_after(&self, job: &Job, delay_secs: u32) -> Result<(), QueueError> {
        let url = match job {
            Job::Charge { .. } => &self.payments_url,
            Job::Refund { .. } => &self.refunds_url,
            Job::Deliver { .. } | Job::CatchUp { .. } => &self.webhooks_url,
        };
        let mut send = self.client.send_message().queue_url(url).message_body(message::encode(job));
        if delay_secs > 0 {
            send = send.delay_seconds(i32::try_from(delay_secs.min(MAX_DELAY_SECS)).unwrap_or(0));
        }
        // The trace travels beside the body, so the worker's span joins the request's trace.
        for (name, value) in propagation::inject(&tracing::Span::current()) {
            send = send.message_attributes(name, string_attribute(&value)?);
        }
        send.send().await.map(|_| ()).map_err(classify)
    }
}
