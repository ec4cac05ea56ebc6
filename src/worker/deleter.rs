//! Deletes in batches: handlers hand over receipts, one task sends `DeleteMessageBatch` calls of
//! up to 10 receipts, at the latest `linger` after the first one waiting. Under load that is a
//! tenth of the calls (SQS bills per call); when idle it costs a few milliseconds per message.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::domain::ports::QueueError;
use crate::domain::queue::{MAX_BATCH, WorkQueue};

/// Where handlers send the receipts of messages to delete.
#[derive(Clone)]
pub struct DeleteHandle(mpsc::UnboundedSender<String>);

impl DeleteHandle {
    /// Queues a delete. If the deleter is gone (shutting down), the message simply becomes
    /// visible again later and its job, already final, is answered `Done` again.
    pub fn delete(&self, receipt: String) {
        let _ = self.0.send(receipt);
    }
}

/// Starts the deleter. It ends once every `DeleteHandle` is dropped and all it holds is sent,
/// so awaiting the `JoinHandle` after the handlers finished flushes every pending delete.
pub fn spawn<Q: WorkQueue + ?Sized>(queue: Arc<Q>, linger: Duration) -> (DeleteHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (DeleteHandle(tx), tokio::spawn(run(queue, rx, linger)))
}

async fn run<Q: WorkQueue + ?Sized>(queue: Arc<Q>, rx: mpsc::UnboundedReceiver<String>, linger: Duration) {
    // A batch goes when it is full, `linger` after its first receipt, or when the handles are gone.
    let batches = UnboundedReceiverStream::new(rx).chunks_timeout(MAX_BATCH, linger);
    tokio::pin!(batches);
    while let Some(batch) = batches.next().await {
        flush(queue.as_ref(), &batch).await;
    }
}

async fn flush<Q: WorkQueue + ?Sized>(queue: &Q, batch: &[String]) {
    let mut result = queue.delete_batch(batch).await;
    if let Err(QueueError::Transient(_)) = result {
        // One more try: a lost delete is harmless but costs a second run of the job.
        tokio::time::sleep(Duration::from_millis(200)).await;
        result = queue.delete_batch(batch).await;
    }
    match result {
        Ok(0) => {}
        Ok(refused) => tracing::warn!(refused, "some deletes were refused; those messages will come back"),
        Err(e) => tracing::warn!(error = %e, count = batch.len(), "batch delete failed; the messages will come back"),
    }
}
