//! Sends in batches without waiting for one. Each queue has a task that takes the messages
//! callers hand it and sends them with `SendMessageBatch`, normally at most `IN_FLIGHT` calls
//! at a time. A message that finds a call free goes at once, alone; messages that arrive while
//! every call is out go together, up to ten, as soon as one comes back. So a quiet API pays
//! nothing for it, and a busy one sends a fraction of a request per message (SQS bills per
//! request, and every request costs the sender CPU). Each caller still gets its own message's
//! answer: a batch call can accept some entries and refuse others.
//!
//! A message never waits more than `MAX_WAIT` for a call to come back: past it, it goes in a
//! call over the limit. Calls that stall (a slow SQS, up to the SDK's operation timeout) then
//! hold up the queue's other messages by `MAX_WAIT` at most, never by the stall itself.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{classify, is_permanent};
use crate::domain::queue::{MAX_BATCH, QueueError};

/// Calls out at once per queue, normally. One would batch the most but make a message wait for
/// a whole call whenever another is out; two let a message go at once unless the queue is busy.
const IN_FLIGHT: usize = 2;

/// The longest a message waits for a call to come back before it goes over the limit.
const MAX_WAIT: Duration = Duration::from_millis(20);

struct Pending {
    entry: SendMessageBatchRequestEntry,
    answer: oneshot::Sender<Result<(), QueueError>>,
}

/// The sending side of one queue. Cloning shares the task; it ends when the last clone is dropped
/// and what it holds is sent.
#[derive(Clone)]
pub struct BatchSender {
    tx: mpsc::UnboundedSender<Pending>,
    calls: Arc<AtomicU64>,
}

impl BatchSender {
    /// Starts the queue's task (on the current tokio runtime).
    pub fn spawn(client: Client, queue_url: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let calls = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(client, queue_url, rx, calls.clone()));
        Self { tx, calls }
    }

    /// Sends `entry` (its id is set here) and waits for SQS's answer on it.
    pub async fn send(&self, entry: SendMessageBatchRequestEntry) -> Result<(), QueueError> {
        let stopped = || QueueError::Transient("the queue's sender has stopped".into());
        let (answer, answered) = oneshot::channel();
        self.tx.send(Pending { entry, answer }).map_err(|_| stopped())?;
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// `SendMessageBatch` calls made so far (the bench's floor counts its own requests by it).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

async fn run(client: Client, url: String, mut rx: mpsc::UnboundedReceiver<Pending>, calls: Arc<AtomicU64>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    // Ends when every `BatchSender` is dropped and all they handed over is sent.
    while let Some(first) = rx.recv().await {
        // A free call, or `MAX_WAIT` gone by: whatever piled up meanwhile goes in this call.
        let slot = tokio::time::timeout(MAX_WAIT, Arc::clone(&slots).acquire_owned()).await.ok().and_then(Result::ok);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        calls.fetch_add(1, Ordering::Relaxed);
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            send_batch(&client, &url, batch).await;
            drop(slot);
        });
    }
}

/// One `SendMessageBatch`; each caller is told how its own entry fared.
async fn send_batch(client: &Client, url: &str, batch: Vec<Pending>) {
    let (entries, answers): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            // Ids only need to be distinct within the call.
            p.entry.id = i.to_string();
            (p.entry, p.answer)
        })
        .unzip();
    match client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await {
        Ok(out) => {
            let mut failed: HashMap<&str, QueueError> = out
                .failed()
                .iter()
                .map(|f| {
                    // The same rule as a whole call's (`sqs::classify`): sending a message again
                    // is harmless, so only a refusal known to repeat is given up on.
                    let code = f.code().to_owned();
                    let permanent = f.sender_fault() && is_permanent(&code);
                    (f.id(), if permanent { QueueError::Permanent(code) } else { QueueError::Transient(code) })
                })
                .collect();
            let sent: Vec<&str> = out.successful().iter().map(|s| s.id()).collect();
            for (i, answer) in answers.into_iter().enumerate() {
                let id = i.to_string();
                let result = match failed.remove(id.as_str()) {
                    Some(e) => Err(e),
                    None if sent.contains(&id.as_str()) => Ok(()),
                    // Neither: the outcome is unknown, and a message sent twice is harmless.
                    None => Err(QueueError::Transient("no answer for the message".into())),
                };
                let _ = answer.send(result);
            }
        }
        Err(e) => {
            let e = classify(e);
            for answer in answers {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
