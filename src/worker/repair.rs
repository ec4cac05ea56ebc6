//! The repair path, as a loop inside each worker: every few seconds, what this worker's jobs
//! left non-final too long (a lost SQS send, a dead-lettered message, a crash) is claimed and
//! enqueued again (`Jobs::repair`). Claims are conditional writes, so any number of worker
//! replicas may run the loop at once and each stale record is re-enqueued by one of them.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::health::WorkerStats;
use crate::app::jobs::Jobs;

/// Runs a pass every `every` until `shutdown` completes. A failed pass is logged and the next
/// one tries again; a pass under way when shutdown comes is finished first, so no claim is
/// left without its enqueue.
pub async fn repair_loop(
    jobs: Arc<dyn Jobs>,
    every: Duration,
    stats: Arc<WorkerStats>,
    shutdown: impl Future<Output = ()>,
) {
    let worker = jobs.name();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        match jobs.repair().await {
            Ok(0) => tracing::debug!(worker, "repair pass: nothing stale"),
            Ok(n) => {
                stats.repaired.fetch_add(n as u64, Ordering::Relaxed);
                crate::telemetry::metrics::repair_stale(worker, n);
                tracing::info!(worker, repaired = n, "repair pass re-enqueued stale records");
            }
            Err(e) => tracing::warn!(worker, error = %e, "repair pass failed"),
        }
        stats.repair_passes.fetch_add(1, Ordering::Relaxed);
    }
    tracing::info!(worker, "repair loop stopped");
}
