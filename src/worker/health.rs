//! Counters and the worker's HTTP surface: `GET /status` (these counters as JSON) and
//! `GET /metrics` (Prometheus, see `telemetry::metrics`).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::telemetry::metrics;

/// What the runtime has done since start.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Messages whose handler is running now.
    pub in_flight: AtomicU64,
    pub received: AtomicU64,
    /// Outcomes, one per handled message.
    pub done: AtomicU64,
    pub retried: AtomicU64,
    pub not_ready: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Messages still running at the shutdown deadline, handed back to the queue.
    pub released: AtomicU64,
    pub receive_errors: AtomicU64,
    /// Stale records the repair loop re-enqueued.
    pub repaired: AtomicU64,
    /// Repair passes completed (successful or not): shows the loop is alive.
    pub repair_passes: AtomicU64,
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl WorkerStats {
    /// Messages handled to an outcome (done, retried, not ready or dead-lettered).
    pub fn processed(&self) -> u64 {
        load(&self.done) + load(&self.retried) + load(&self.not_ready) + load(&self.dead_lettered)
    }

    pub fn status(&self, worker: &'static str) -> StatusBody {
        StatusBody {
            status: "OK",
            worker,
            in_flight: load(&self.in_flight),
            processed: self.processed(),
            received: load(&self.received),
            outcomes: Outcomes {
                done: load(&self.done),
                retry: load(&self.retried),
                not_ready: load(&self.not_ready),
                dead_lettered: load(&self.dead_lettered),
            },
            receive_errors: load(&self.receive_errors),
            repaired: load(&self.repaired),
            repair_passes: load(&self.repair_passes),
        }
    }
}

/// Counts a job as in flight for as long as it exists, however it ends (panic and abort too).
pub(crate) struct InFlight(Arc<WorkerStats>);

impl InFlight {
    pub(crate) fn enter(stats: &Arc<WorkerStats>) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::in_flight(now);
        Self(Arc::clone(stats))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::in_flight(now);
    }
}

/// `GET /status`: `{"Status":"OK","Worker":"payment","InFlight":0,"Processed":0,...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusBody {
    pub status: &'static str,
    pub worker: &'static str,
    pub in_flight: u64,
    pub processed: u64,
    pub received: u64,
    pub outcomes: Outcomes,
    pub receive_errors: u64,
    pub repaired: u64,
    pub repair_passes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Outcomes {
    pub done: u64,
    pub retry: u64,
    pub not_ready: u64,
    pub dead_lettered: u64,
}

#[derive(Clone)]
struct HealthState {
    worker: &'static str,
    stats: Arc<WorkerStats>,
}

/// The worker's own small HTTP surface; it answers as long as the process runs, including
/// while it drains at shutdown.
pub fn router(worker: &'static str, stats: Arc<WorkerStats>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics::endpoint))
        .with_state(HealthState { worker, stats })
}

async fn status(State(state): State<HealthState>) -> Json<StatusBody> {
    Json(state.stats.status(state.worker))
}
