//! The queue operations the runtime needs, as a trait: SQS in production, an in-memory fake in
//! the unit tests. Every error is a `QueueError` that carries an AWS error code, never a message
//! (messages can carry queue URLs and account ids).
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

use crate::domain::ports::QueueError;
use crate::sqs::{classify, queue_url, setup::dlq_name, string_attribute};
use crate::telemetry::propagation::Carrier;

/// The message attributes that carry trace context.
const TRACE_ATTRIBUTES: [&str; 2] = ["traceparent", "tracestate"];

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    /// Names this delivery: needed to delete the message or change its visibility.
    pub receipt: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
    /// When the message was first sent (epoch ms), if SQS said.
    pub sent_at_ms: Option<u64>,
    /// The W3C trace context the sender attached (`traceparent`, `tracestate`).
    pub trace: Carrier,
}

/// SQS allows at most 10 entries per batch call and 10 messages per receive.
pub const MAX_BATCH: usize = 10;

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

/// One SQS work queue and its dead-letter queue, both resolved by name at start.
#[derive(Clone)]
pub struct SqsWorkQueue {
    client: Client,
    url: String,
    dlq_url: String,
    source: String,
}

impl SqsWorkQueue {
    /// Resolves `name` and `name-dlq` (what `SETUP` creates); fails if either is missing, so a
    /// worker never starts without somewhere to put poison messages.
    pub async fn resolve(client: Client, name: &str) -> Result<Self, QueueError> {
        let url = queue_url(&client, name).await?;
        let dlq_url = queue_url(&client, &dlq_name(name)).await?;
        Ok(Self { client, url, dlq_url, source: name.to_owned() })
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        // The shared client bounds every call to a few seconds; a long poll needs its wait
        // time on top, or every empty poll would end as a timeout.
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(wait + Duration::from_secs(5))
            .operation_timeout(wait + Duration::from_secs(10))
            .build();
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(secs(wait))
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .set_message_attribute_names(Some(TRACE_ATTRIBUTES.map(String::from).to_vec()))
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(classify)?;
        let messages = out.messages.unwrap_or_default().into_iter().filter_map(|m| {
            let system = |name| m.attributes().and_then(|a| a.get(&name));
            let receive_count =
                system(MessageSystemAttributeName::ApproximateReceiveCount).and_then(|c| c.parse().ok()).unwrap_or(1);
            let sent_at_ms = system(MessageSystemAttributeName::SentTimestamp).and_then(|t| t.parse().ok());
            let trace = m
                .message_attributes()
                .into_iter()
                .flatten()
                .filter(|(name, _)| TRACE_ATTRIBUTES.contains(&name.as_str()))
                .filter_map(|(name, v)| Some((name.clone(), v.string_value()?.to_owned())))
                .collect();
            Some(Received {
                message_id: m.message_id?,
                receipt: m.receipt_handle?,
                body: m.body.unwrap_or_default(),
                receive_count,
                sent_at_ms,
                trace,
            })
        });
        Ok(messages.collect())
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<usize, QueueError> {
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(r).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| QueueError::Permanent("request could not be built".into()))?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(classify)?;
        for failed in out.failed() {
            tracing::warn!(code = failed.code(), "delete refused; the message will be received again");
        }
        Ok(out.failed().len())
    }

    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(visibility))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        // SQS refuses an empty body; a placeholder keeps the record that something came in.
        let body = if body.is_empty() { "(empty)" } else { body };
        self.client
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body)
            .message_attributes("PoisonReason", string_attribute(reason)?)
            .message_attributes("SourceQueue", string_attribute(&self.source)?)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
