//! `SETUP=true` for queues: each work queue gets a dead-letter queue and a redrive policy.
//! Existing queues are left exactly as they are.
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use super::{classify, queue_url};
use crate::domain::ports::QueueError;

/// Receives before a message is parked in the DLQ. High enough that crashes and bank outages
/// do not park healthy work; the repair path picks up whatever is parked anyway.
pub const MAX_RECEIVE_COUNT: u32 = 10;
/// Seconds a received message stays hidden; workers extend it while the bank call runs.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 30;
/// Long-poll wait of a receive that does not ask for one.
pub const RECEIVE_WAIT_SECS: u32 = 20;
/// 14 days, the maximum, for dead letters.
pub const DLQ_RETENTION_SECS: u32 = 1_209_600;
/// 256 KiB, set on every queue rather than left to the default (which SQS raised to 1 MiB in
/// 2025, while Terraform's provider still writes 256 KiB): a job message is a few hundred bytes.
pub const MAX_MESSAGE_BYTES: u32 = 262_144;

pub fn dlq_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// Creates `name` and its DLQ if missing. Returns true if it created the main queue.
pub async fn ensure_queue(client: &Client, name: &str) -> Result<bool, QueueError> {
    if queue_url(client, name).await.is_ok() {
        return Ok(false);
    }
    let dlq = dlq_name(name);
    let dlq_url = match queue_url(client, &dlq).await {
        Ok(url) => url,
        Err(_) => client
            .create_queue()
            .queue_name(&dlq)
            .attributes(QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECS.to_string())
            .attributes(QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string())
            .send()
            .await
            .map_err(classify)?
            .queue_url
            .ok_or_else(|| QueueError::Permanent("queue has no url".into()))?,
    };
    let attrs = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(classify)?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .ok_or_else(|| QueueError::Permanent("dead-letter queue has no ARN".into()))?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT });
    client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY_TIMEOUT_SECS.to_string())
        .attributes(QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string())
        .attributes(QueueAttributeName::ReceiveMessageWaitTimeSeconds, RECEIVE_WAIT_SECS.to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(classify)?;
    Ok(true)
}
