//! Two builds in one run (`BENCH_COMPARE_BIN_DIR`): this run's binaries against another build's
//! (an earlier commit, another SDK version), on one table and queues, in alternating slices, so
//! the emulator's mood of the day is the same for both. It measures the API's accepted/s and
//! CPU per accepted payment, and the payment worker's CPU per settled payment; the webhook run
//! of each build (`webhook_run`) is added to it.
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::error::BenchError;
use super::load::Api;
use super::phases::{self, RunCtx};
use super::procs::Role;
use super::stats::round;
use super::system::System;
use super::track::Tracker;
use super::webhook_run::WebhookRun;

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `this` (the run's own binaries) or the other build's folder.
    pub build: String,
    pub api_per_sec: f64,
    pub api_p50_ms: Option<f64>,
    pub api_cpu_us_per_payment: Option<f64>,
    pub worker_cpu_us_per_payment: Option<f64>,
    /// The webhook run of this build (`webhook_run`), each build on a stack of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<super::webhook_run::WebhookFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub concurrency: usize,
    pub this: Side,
    pub other: Side,
}

/// CPU µs of the process `name` over `f`.
async fn cpu_of<T>(sys: &System, name: &str, f: impl Future<Output = T>) -> (T, Option<u64>) {
    let before = sys.cpu_of(name);
    let out = f.await;
    (out, before.zip(sys.cpu_of(name)).map(|(b, a)| a.saturating_sub(b)))
}

fn per(us: Option<u64>, n: u64) -> Option<f64> {
    us.filter(|_| n > 0).map(|us| round(us as f64 / n as f64, 1))
}

impl Comparison {
    /// With the webhook runs of both builds.
    pub fn with_webhooks(mut self, this: Option<&WebhookRun>, other: Option<&WebhookRun>) -> Self {
        self.this.webhooks = this.map(WebhookRun::figures);
        self.other.webhooks = other.map(WebhookRun::figures);
        self
    }
}

pub async fn run(
    sys: &mut System,
    other_dir: &Path,
    run_id: &str,
    (c, duration, slice): (usize, f64, f64),
    ctx: (usize, RunCtx<'_>),
) -> Result<Comparison, BenchError> {
    let (payments, ctx) = ctx;
    let stack = sys.stack(run_id, "cmp");
    let this_api = Arc::new(Api::connect(sys.http.clone(), sys.start(Role::Api, "api-this", &stack).await?).await?);
    let other_api = Arc::new(
        Api::connect(sys.http.clone(), sys.start_from(other_dir, Role::Api, "api-other", &stack).await?).await?,
    );
    // Alternating slices, no warm-up (the levels before warmed the emulator); each API's CPU over
    // the whole comparison is its own work, since it is idle while the other runs.
    let (this_cpu, other_cpu) = (sys.cpu_of("api-this"), sys.cpu_of("api-other"));
    let (a, b) = super::levels::pair(
        async |secs| super::levels::api_slice(&this_api, c, secs).await,
        async |secs| super::levels::api_slice(&other_api, c, secs).await,
        c,
        (0.0, duration, slice),
    )
    .await;
    let used = |before: Option<u64>, name| before.zip(sys.cpu_of(name)).map(|(b, a)| a.saturating_sub(b));
    let (this_api_cpu, other_api_cpu) = (used(this_cpu, "api-this"), used(other_cpu, "api-other"));

    sys.stop_all(Some(&stack)).await;

    // The payment worker of each build, one after the other, on the same pipeline, on a table
    // and queues of their own (the payments above were never charged: no backlog here).
    let stack = sys.stack(run_id, "cmpw");
    let api = Arc::new(Api::connect(sys.http.clone(), sys.start(Role::Api, "api-cmpw", &stack).await?).await?);
    let tracker = Tracker::new(payment_platform::aws::clients(&stack).await.dynamodb, stack.table.clone());
    let ctx = RunCtx { api: &api, tracker: &tracker, workers: 1, ..ctx };
    sys.start(Role::RefundWorker, "refund-worker-cmp", &stack).await?;
    sys.start(Role::PaymentWorker, "payment-worker-this", &stack).await?;
    let (run, this_worker) = cpu_of(sys, "payment-worker-this", phases::pipeline(&ctx, payments)).await;
    let this_settled = run.0.final_count;
    sys.stop_one(Role::PaymentWorker, &stack).await;
    sys.start_from(other_dir, Role::PaymentWorker, "payment-worker-other", &stack).await?;
    let (run, other_worker) = cpu_of(sys, "payment-worker-other", phases::pipeline(&ctx, payments)).await;
    let other_settled = run.0.final_count;
    sys.stop_all(Some(&stack)).await;
    Ok(Comparison {
        concurrency: c,
        this: Side {
            build: "this".into(),
            api_per_sec: a.per_sec,
            api_p50_ms: a.p50_ms,
            api_cpu_us_per_payment: per(this_api_cpu, a.ok),
            worker_cpu_us_per_payment: per(this_worker, this_settled),
            webhooks: None,
        },
        other: Side {
            build: other_dir.display().to_string(),
            api_per_sec: b.per_sec,
            api_p50_ms: b.p50_ms,
            api_cpu_us_per_payment: per(other_api_cpu, b.ok),
            worker_cpu_us_per_payment: per(other_worker, other_settled),
            webhooks: None,
        },
    })
}
