//! Sends in batches without waiting for one. Each queue has a task that takes the messages
//! callers hand it and sends them with `SendMessageBatch`, at most `IN_FLIGHT` calls at a time.
//! A message that finds a call free goes at once, alone; messages that arrive while every call
//! is out go together, up to ten, as soon as one comes back. So a quiet API pays nothing for
//! it, and a busy one sends a fraction of a request per message (SQS bills per request, and
//! every request costs the sender CPU). Each caller still gets its own message's answer: a
//! batch call can accept some entries and refuse others.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::classify;
use crate::domain::queue::{MAX_BATCH, QueueError};

/// Calls out at once per queue. One would batch the most but make a message wait for a whole
/// call whenever another is out; two let a message go at once unless the queue is busy.
const IN_FLIGHT: usize = 2;

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
    loop {
        // A free call first, then the messages: whatever piled up while every call was out
        // goes in the next one.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let Some(first) = rx.recv().await else { return };
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
                    let code = f.code().to_owned();
                    (f.id(), if f.sender_fault() { QueueError::Permanent(code) } else { QueueError::Transient(code) })
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
mod tests {
    //! The limit on calls out, against a stand-in for SQS that holds every call 50 ms and
    //! counts how many it holds at once (the emulator answers too fast to show it:
    //! `tests/integration/queue_batching.rs` shows the rest against it).
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use axum::Json;
    use axum::extract::State;
    use serde_json::{Value, json};

    use super::*;

    #[derive(Default)]
    struct Held {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    async fn send_message_batch(State(held): State<Arc<Held>>, body: axum::body::Bytes) -> Json<Value> {
        let now = held.now.fetch_add(1, Ordering::SeqCst) + 1;
        held.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.now.fetch_sub(1, Ordering::SeqCst);
        let request: Value = serde_json::from_slice(&body).unwrap();
        let ids = request["Entries"].as_array().unwrap().iter().map(|e| e["Id"].clone());
        let sent: Vec<Value> = ids.map(|id| json!({"Id": id, "MessageId": "m", "MD5OfMessageBody": "0"})).collect();
        Json(json!({"Successful": sent, "Failed": []}))
    }

    #[tokio::test]
    async fn no_more_calls_are_out_than_the_limit_and_what_waits_goes_together() {
        let held = Arc::new(Held::default());
        let app = axum::Router::new().fallback(send_message_batch).with_state(held.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new("a", "b", None, None, "test"))
            .endpoint_url(&url)
            .build();
        let sender = BatchSender::spawn(Client::from_conf(config), format!("{url}/000000000000/q"));

        // 20 messages, one every 2 ms: the first two find a call free, the other 18 come while
        // both are held and go ten to a call. Without the limit: 20 calls, up to 17 at once.
        let mut sends = Vec::new();
        for i in 0..20 {
            let sender = sender.clone();
            let entry = SendMessageBatchRequestEntry::builder().id("0").message_body(format!("m{i}")).build().unwrap();
            sends.push(tokio::spawn(async move { sender.send(entry).await }));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for send in futures::future::join_all(sends).await {
            assert_eq!(send.unwrap(), Ok(()));
        }
        assert_eq!(held.most.load(Ordering::SeqCst), IN_FLIGHT, "calls held at once");
        assert!(sender.calls() <= 5, "{} calls for 20 messages", sender.calls());
    }
}
