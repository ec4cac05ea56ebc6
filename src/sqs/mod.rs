//! The SQS adapter, both sides of the queue ports (`domain::queue`): the API and the workers
//! enqueue jobs (`send.rs`, batched by `batch.rs`), each worker receives from its own queue (`receive.rs`). Queue URLs
//! are resolved by name at start (emulators and regions differ in account ids: never hard-code
//! a URL).
mod batch;
pub mod message;
mod receive;
mod send;
pub mod setup;

pub use batch::BatchSender;
pub use receive::{SqsWorkQueue, TRACE_ATTRIBUTES};
pub use send::{MAX_DELAY_SECS, QueueNames, SqsJobQueue, job_entry};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::aws::AwsFailure;
use crate::domain::queue::QueueError;

/// A `String` message attribute.
pub fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|_| QueueError::Permanent("request could not be built".into()))
}

/// SQS error codes that sending again would get again.
const PERMANENT: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "AccessDenied",
    "InvalidParameterValue",
    "InvalidMessageContents",
    // A batch this adapter built wrongly: sending it again would fail the same way.
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "AWS.SimpleQueueService.BatchRequestTooLong",
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "AWS.SimpleQueueService.EmptyBatchRequest",
    "AWS.SimpleQueueService.InvalidBatchEntryId",
];

fn is_permanent(code: &str) -> bool {
    PERMANENT.contains(&code)
}

/// Keeps only the error code: messages can carry queue URLs and account ids.
pub fn classify<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> QueueError {
    match AwsFailure::of(&err) {
        AwsFailure::Service(Some(c)) if is_permanent(&c) => QueueError::Permanent(c),
        f @ AwsFailure::Build => QueueError::Permanent(f.reason()),
        f => QueueError::Transient(f.reason()),
    }
}

pub async fn queue_url(client: &Client, name: &str) -> Result<String, QueueError> {
    let out = client.get_queue_url().queue_name(name).send().await.map_err(classify)?;
    out.queue_url.ok_or_else(|| QueueError::Permanent("queue has no url".into()))
}
