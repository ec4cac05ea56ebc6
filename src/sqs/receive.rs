//! The receive side: one worker's queue and its dead-letter queue, behind the runtime's
//! `WorkQueue` port.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

use super::setup::dlq_name;
use super::{classify, queue_url, string_attribute};
use crate::domain::queue::{MAX_BATCH, QueueError, Received, WorkQueue};

/// The message attributes that carry trace context.
pub const TRACE_ATTRIBUTES: [&str; 2] = ["traceparent", "tracestate"];

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
                job: m.body.as_deref().and_then(super::message::decode),
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
