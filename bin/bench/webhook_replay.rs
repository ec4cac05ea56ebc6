//! The webhook-worker on the floor's terms: in turns with the floor (`webhook_pairs`), a fresh
//! webhook-worker of this build delivers the same events again, announced at the same pace, on
//! the same quiet machine (the run's other services stopped), to the run's receiver. The floor
//! replays on a quiet machine, where every request pays a whole wake-up; the worker in the run
//! shared a busy one. Side by side on the same terms, the two differ only by the worker's own work.
//!
//! Each event item is put back as an announced event looks before its first round: in the
//! due-time index (due in an hour, so no sweep takes it first) and without deliveries, so the
//! worker plans, leases, POSTs and saves as it did in the run.
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use payment_platform::config::AwsArgs;
use payment_platform::domain::queue::Job;
use payment_platform::dynamo::keys::{webhook_due_pk, webhook_due_sk};
use payment_platform::dynamo::{DELIVERIES, LEASE};
use payment_platform::sqs::{BatchSender, job_entry, queue_url};

use super::error::BenchError;
use super::hooks::Receiver;
use super::procs::Role;
use super::stats::round;
use super::system::System;
use super::webhook_floor::Delivered;

/// The webhook-worker's side of the webhook pairs (`webhook_pairs`): a fresh worker of this
/// build on a webhooks queue of its own (its SETUP creates it): the run's queue may still hold
/// the endpoint's catch-up, delayed, which would plan again the events put back.
pub struct ReplaySide {
    name: &'static str,
    stack: AwsArgs,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    sender: BatchSender,
}

impl ReplaySide {
    pub async fn start(sys: &mut System, stack: &AwsArgs) -> Result<Self, BenchError> {
        let clients = payment_platform::aws::clients(stack).await;
        let stack = AwsArgs { webhooks_queue: format!("{}-replay", stack.webhooks_queue), ..stack.clone() };
        let name = "webhook-worker-replay";
        sys.start(Role::WebhookWorker, name, &stack).await?;
        let queue = match queue_url(&clients.sqs, &stack.webhooks_queue).await {
            Ok(queue) => queue,
            Err(e) => {
                sys.stop_one(Role::WebhookWorker, &stack).await;
                return Err(BenchError::Unexpected(format!("the replay's queue: {e}")));
            }
        };
        let sender = BatchSender::spawn(clients.sqs.clone(), queue.clone());
        Ok(Self { name, stack, dynamodb: clients.dynamodb, sqs: clients.sqs, queue, sender })
    }

    /// Stops the worker and deletes the queue its SETUP made.
    pub async fn stop(self, sys: &mut System) {
        sys.stop_one(Role::WebhookWorker, &self.stack).await;
        let _ = self.sqs.delete_queue().queue_url(&self.queue).send().await;
    }

    /// One turn: `events` put back as they were before their first round, then announced at
    /// `pace` a second; the worker's CPU per event until the receiver has them all.
    pub async fn turn(
        &self,
        sys: &System,
        events: &[Delivered],
        receiver: &Receiver,
        pace: f64,
    ) -> Result<f64, BenchError> {
        if events.is_empty() || pace <= 0.0 {
            return Err(BenchError::Unexpected("no delivered event to replay".into()));
        }
        let later = super::load::now_ms() + 3_600_000;
        for d in events {
            let id = d.event.to_string();
            self.dynamodb
                .update_item()
                .table_name(&self.stack.table)
                .set_key(Some(d.key.clone()))
                .update_expression(format!("SET GSI2PK = :p, GSI2SK = :due REMOVE {DELIVERIES}, {LEASE}"))
                .expression_attribute_values(":p", AttributeValue::S(webhook_due_pk(&id)))
                .expression_attribute_values(":due", AttributeValue::S(webhook_due_sk(later, later, &id)))
                .send()
                .await
                .map_err(|e| BenchError::Unexpected(format!("putting an event back: {e}")))?;
        }
        let (before, received) = (sys.cpu_of(self.name), receiver.received());
        let start = Instant::now();
        for (i, d) in events.iter().enumerate() {
            tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / pace)).into()).await;
            let entry =
                job_entry(&Job::Deliver { event: d.event }, 0).map_err(|e| BenchError::Unexpected(e.to_string()))?;
            self.sender.send(entry).await.map_err(|e| BenchError::Unexpected(format!("announcing: {e}")))?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while receiver.received() < received + events.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = receiver.received() - received;
        // Its last saves and deletes follow the last POST by a few milliseconds.
        tokio::time::sleep(super::run::SETTLE_PAUSE).await;
        let used = before.zip(sys.cpu_of(self.name)).map(|(b, a)| a.saturating_sub(b));
        if got < events.len() {
            return Err(BenchError::Unexpected(format!("{got} of {} events delivered again in time", events.len())));
        }
        let used = used.ok_or_else(|| BenchError::Unexpected("the worker's CPU is unreadable".into()))?;
        Ok(round(used as f64 / events.len() as f64, 1))
    }
}
