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

/// Sends charge jobs to the payments queue and refund jobs to the refunds queue.
#[derive(Clone)]
pub struct SqsJobQueue {
    client: Client,
    payments_url: String,
    refunds_url: String,
}

impl SqsJobQueue {
    pub fn new(client: Client, payments_url: String, refunds_url: String) -> Self {
        Self { client, payments_url, refunds_url }
    }

    pub async fn resolve(client: Client, payments: &str, refunds: &str) -> Result<Self, QueueError> {
        let payments_url = queue_url(&client, payments).await?;
        let refunds_url = queue_url(&client, refunds).await?;
        Ok(Self::new(client, payments_url, refunds_url))
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        let url = match job {
            Job::Charge { .. } => &self.payments_url,
            Job::Refund { .. } => &self.refunds_url,
        };
        let mut send = self.client.send_message().queue_url(url).message_body(message::encode(job));
        // The trace travels beside the body, so the worker's span joins the request's trace.
        for (name, value) in propagation::inject(&tracing::Span::current()) {
            send = send.message_attributes(name, string_attribute(&value)?);
        }
        send.send().await.map(|_| ()).map_err(classify)
    }
}
