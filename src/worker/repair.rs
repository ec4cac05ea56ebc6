//! The repair path, as a loop inside each worker: every few seconds, records of this worker's
//! kind that stayed non-final too long (a lost SQS send, a dead-lettered message, a crash) are
//! claimed and enqueued again. Claims are conditional writes, so any number of worker replicas
//! may run the loop at once and each stale record is re-enqueued by one of them.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use super::WorkerKind;
use super::health::WorkerStats;
use crate::app::deliver::Webhooks;
use crate::app::settle::Stale;
use crate::app::{AppError, Services};

/// Records claimed per pass; the rest wait for the next pass.
pub const REPAIR_BATCH: u32 = 100;

/// One pass: re-enqueues this kind's records untouched for longer than `after`. Answers how many.
pub async fn repair_once(services: &Services, kind: WorkerKind, after: Duration) -> Result<usize, AppError> {
    let age_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
    let stale = match kind {
        WorkerKind::Payment => Stale::Payments,
        WorkerKind::Refund => Stale::Refunds,
        WorkerKind::Webhook => return Ok(0),
    };
    services.repair(stale, age_ms, REPAIR_BATCH).await
}

/// One pass of a worker's repair loop; answers how many items it re-enqueued.
#[async_trait]
pub trait RepairPass: Send + Sync {
    async fn pass(&self) -> Result<usize, AppError>;
}

/// The payment and refund workers' pass: their kind's stale records.
pub struct StaleRecords {
    pub services: Services,
    pub kind: WorkerKind,
    pub after: Duration,
}

#[async_trait]
impl RepairPass for StaleRecords {
    async fn pass(&self) -> Result<usize, AppError> {
        repair_once(&self.services, self.kind, self.after).await
    }
}

/// The webhook worker's pass: events due for delivery more than `grace` ago.
pub struct WebhookSweep {
    pub webhooks: Arc<Webhooks>,
    pub grace: Duration,
}

#[async_trait]
impl RepairPass for WebhookSweep {
    async fn pass(&self) -> Result<usize, AppError> {
        self.webhooks.sweep(self.grace, REPAIR_BATCH).await
    }
}

/// Runs a pass every `every` until `shutdown` completes. A failed pass is logged and the next
/// one tries again; a pass under way when shutdown comes is finished first, so no claim is
/// left without its enqueue.
pub async fn repair_loop(
    pass: Arc<dyn RepairPass>,
    kind: WorkerKind,
    every: Duration,
    stats: Arc<WorkerStats>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        match pass.pass().await {
            Ok(0) => tracing::debug!(worker = kind.name(), "repair pass: nothing stale"),
            Ok(n) => {
                stats.repaired.fetch_add(n as u64, Ordering::Relaxed);
                crate::telemetry::metrics::repair_stale(kind.name(), n);
                tracing::info!(worker = kind.name(), repaired = n, "repair pass re-enqueued stale records");
            }
            Err(e) => tracing::warn!(worker = kind.name(), error = %e, "repair pass failed"),
        }
        stats.repair_passes.fetch_add(1, Ordering::Relaxed);
    }
    tracing::info!(worker = kind.name(), "repair loop stopped");
}
