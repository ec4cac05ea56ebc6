//! Carrying a write through. A write that failed transiently (a timeout, a reset connection, a
//! 5xx) may still have been applied: the database can commit a request whose answer never
//! arrives. Every write here is conditional on the new record being absent, and its id is fresh,
//! so sending it again is safe: it either lands now or fails its condition because the first
//! attempt landed. The caller tells the two apart by reading its own record back.
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::domain::ports::{QueueError, StoreError};

/// Attempts after the first; each is bounded by the SDK's own operation timeout.
const MAX_RETRIES: usize = 4;

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(3))
        .with_max_times(MAX_RETRIES)
        .with_jitter()
}

/// Runs `write` until it succeeds or fails for a reason other than a transient one. A final
/// `Transient` means the outcome is still unknown.
pub(super) async fn store_write<F, Fut>(write: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    write
        .retry(backoff())
        .when(|e| matches!(e, StoreError::Transient(_)))
        .notify(|e, after| tracing::warn!(error = %e, ?after, "write not confirmed; sending it again"))
        .await
}

/// The same for an SQS send: a duplicate message is harmless (the workers are idempotent), a
/// lost one costs a repair pass.
pub(super) async fn enqueue<F, Fut>(send: F) -> Result<(), QueueError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), QueueError>>,
{
    send.retry(backoff()).when(|e| matches!(e, QueueError::Transient(_))).await
}
