//! The SQS adapter: the API enqueues jobs, the workers consume them. Queue URLs are resolved
//! by name at start (emulators and regions differ in account ids: never hard-code a URL).
pub mod message;
pub mod setup;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::aws::AwsFailure;
use crate::domain::ports::{Job, JobQueue, QueueError};
use crate::telemetry::propagation;

/// A `String` message attribute.
pub fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|_| QueueError::Permanent("request could not be built".into()))
}

/// Keeps only the error code: messages can carry queue URLs and account ids.
pub fn classify<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> QueueError {
    const PERMANENT: &[&str] = &[
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "AccessDenied",
        "InvalidParameterValue",
        "InvalidMessageContents",
    ];
    match AwsFailure::of(&err) {
        AwsFailure::Service(Some(c)) if PERMANENT.contains(&c.as_str()) => QueueError::Permanent(c),
        f @ AwsFailure::Build => QueueError::Permanent(f.reason()),
        f => QueueError::Transient(f.reason()),
    }
}

pub async fn queue_url(client: &Client, name: &str) -> Result<String, QueueError> {
    let out = client.get_queue_url().queue_name(name).send().await.map_err(classify)?;
    out.queue_url.ok_or_else(|| QueueError::Permanent("queue has no url".into()))
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
    pub async fn resolve(client: Client, aws: &crate::config::AwsArgs) -> Result<Self, QueueError> {
        let payments_url = queue_url(&client, &aws.payments_queue).await?;
        let refunds_url = queue_url(&client, &aws.refunds_queue).await?;
        let webhooks_url = queue_url(&client, &aws.webhooks_queue).await?;
        Ok(Self { client, payments_url, refunds_url, webhooks_url })
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn enqueue_after(&self, job: &Job, delay_secs: u32) -> Result<(), QueueError> {
        let url = match job {
            Job::Charge { .. } => &self.payments_url,
            Job::Refund { .. } => &self.refunds_url,
            Job::Deliver { .. } => &self.webhooks_url,
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
