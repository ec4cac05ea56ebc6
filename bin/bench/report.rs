//! The report: everything measured, and its headline (made by `headline`).
use serde::Serialize;

use super::cpu::CpuPhase;
use super::phases::FlowStats;
use super::requests::AwsPhase;
use super::stats::{LevelStats, round};
use super::system::MemoryRow;

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub concurrency: Vec<usize>,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub slice_secs: f64,
    pub pipeline_payments: usize,
    pub pipeline_concurrency: usize,
    pub workers: Vec<usize>,
    pub refunds: usize,
    pub bank_latency_ms: u64,
    /// Each service's `TOKIO_WORKER_THREADS` (0: tokio's default, this machine's cores).
    pub worker_threads: usize,
    /// Pairs of turns of the payment worker and the floor's client (`worker_pairs`), and the
    /// payments of each pipeline turn.
    pub worker_pairs: usize,
    pub worker_pair_payments: usize,
    /// Worker variables inherited from the bench's environment (else the workers' defaults).
    pub worker_env: std::collections::BTreeMap<String, String>,
}

/// The API against the floor at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub concurrency: usize,
    pub api_per_sec: f64,
    pub floor_per_sec: f64,
    pub api_vs_floor: Option<f64>,
    /// The median over the level's rounds of the API's rate in a slice over the floor's beside it.
    pub median_slice_ratio: Option<f64>,
    pub api_p99_ms: Option<f64>,
    pub floor_p99_ms: Option<f64>,
    /// API p50 minus floor p50 (robust to the emulator's pauses, which decide the p99s).
    pub added_p50_ms: Option<f64>,
    /// API p99 minus floor p99.
    pub added_p99_ms: Option<f64>,
}

impl Comparison {
    pub fn new(api: &LevelStats, floor: &LevelStats) -> Self {
        Self {
            concurrency: api.concurrency,
            api_per_sec: api.per_sec,
            floor_per_sec: floor.per_sec,
            api_vs_floor: (floor.per_sec > 0.0).then(|| round(api.per_sec / floor.per_sec, 3)),
            median_slice_ratio: None,
            api_p99_ms: api.p99_ms,
            floor_p99_ms: floor.p99_ms,
            added_p50_ms: api.p50_ms.zip(floor.p50_ms).map(|(a, f)| round(a - f, 3)),
            added_p99_ms: api.p99_ms.zip(floor.p99_ms).map(|(a, f)| round(a - f, 3)),
        }
    }
}

/// The bench's own CPU per payment at one level: as the floor's client, and as the API's load
/// generator. A plain SDK client's price per request depends on how many calls share a wake-up.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCpu {
    pub concurrency: usize,
    pub floor_us_per_payment: Option<f64>,
    /// The AWS requests behind each floor payment at this level (`floor::Floor::requests`).
    pub floor_requests_per_payment: Option<f64>,
    pub load_us_per_payment: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: &'static str,
    pub value: Option<f64>,
    pub target: &'static str,
    /// `None`: not measured (n/a).
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub concurrency: usize,
    pub api_vs_floor: Option<f64>,
    /// The lowest, over the levels, of the median slice-by-slice ratio.
    pub api_vs_floor_median_min: Option<f64>,
    pub api_added_p99_ms: Option<f64>,
    /// Settled/s over accepted/s of the same pipeline run: do the workers keep up with what the
    /// API accepts while both share the emulator?
    pub settle_vs_accept: Option<f64>,
    /// Settled/s over the API's accept rate measured alone (no workers using the emulator).
    /// With the emulator saturated this is bounded by create calls / lifecycle calls.
    pub settle_vs_api_alone: Option<f64>,
    /// With how many processes of each worker the settle figure was measured.
    pub settle_workers: Option<usize>,
    pub aws_requests_per_payment: Option<f64>,
    pub aws_create_per_payment: Option<f64>,
    pub aws_charge_per_payment: Option<f64>,
    pub aws_refund_per_refund: Option<f64>,
    /// Max over the api and worker processes (the bank simulator is a test double, listed apart).
    pub max_rss_mb: Option<u64>,
    /// The API's CPU per accepted payment (its levels against the floor), µs.
    pub api_cpu_us_per_payment: Option<f64>,
    /// The bench's own CPU per floor payment: the same SDK calls made by a plain client, µs.
    pub floor_cpu_us_per_payment: Option<f64>,
    /// The bench's own CPU per API payment (its HTTP client, the load generator), µs.
    pub load_cpu_us_per_payment: Option<f64>,
    /// Where the CPU is the limit (2 cores shared by the emulator, the bench and the API), the
    /// most of the floor's rate the API can reach: a floor payment's CPU on this machine (the
    /// floor's client and the emulator's two calls) over an API payment's (the load generator,
    /// the API, and the same two calls).
    pub api_cpu_bound_ratio: Option<f64>,
    /// The payment workers' CPU per settled payment (the last pipeline run), µs.
    pub worker_cpu_us_per_payment: Option<f64>,
    /// A payment's final state to its webhook's arrival in the webhook run's open loop, ms.
    pub webhook_p50_ms: Option<f64>,
    pub webhook_p99_ms: Option<f64>,
    /// The webhook-worker's AWS requests per delivered event (it also handles the events of the
    /// types not subscribed: three events per payment, one delivered).
    pub webhook_aws_requests_per_delivered: Option<f64>,
    /// Every process's AWS requests of the webhook run per delivered event, the lifecycle included.
    pub webhook_run_aws_requests_per_delivered: Option<f64>,
    /// The webhook-worker's CPU per delivered event, µs.
    pub webhook_cpu_us_per_delivered: Option<f64>,
    /// What the webhooks add per delivered event: the webhook-worker's requests and the
    /// announcements (`webhook_run::WebhookFigures`).
    pub webhook_requests_per_event: Option<f64>,
    pub webhook_cpu_us_per_event: Option<f64>,
    /// A payment's final state to its webhook, in the open loop at 80 % of what one payment
    /// worker with the webhook-worker beside it delivers (`webhook_run::capacity`), ms.
    pub webhook_delivery_p99_ms: Option<f64>,
    /// The floor client's CPU per AWS request, µs: what one request costs a plain SDK client (the
    /// mean over the levels where its sends went alone, `price::Prices::mean`).
    pub floor_cpu_us_per_request: Option<f64>,
    /// The payment worker's CPU per settled payment over what its AWS requests and its bank
    /// call (priced as one request) cost the floor's client: the median over pairs of turns a
    /// few seconds apart (`worker_pairs`), or without them `worker_floor_ratio_phase`.
    pub worker_floor_ratio: Option<f64>,
    /// The same for the last pipeline run as a whole, at the floor level whose rate of requests
    /// is nearest the worker's (`price`), measured minutes before it.
    pub worker_floor_ratio_phase: Option<f64>,
    /// The payment worker's AWS requests per payment in the pipeline runs, its bank call counted
    /// as one more: what its CPU is priced against.
    pub worker_requests_per_payment: Option<f64>,
    /// The same, at the price averaged over every level (how earlier runs priced it).
    pub worker_floor_ratio_averaged: Option<f64>,
    /// The prices per request used for the payment worker and the webhook-worker, µs.
    pub worker_price_us_per_request: Option<f64>,
    pub webhook_price_us_per_request: Option<f64>,
    /// The webhook-worker's CPU per delivered event over what its AWS requests cost the floor's
    /// client.
    pub webhook_floor_ratio: Option<f64>,
    /// The same with its POST to the receiver priced as one request, as the payment worker's
    /// bank call is in `worker_floor_ratio`.
    pub webhook_post_floor_ratio: Option<f64>,
    pub webhook_post_floor_ratio_averaged: Option<f64>,
    /// What the POST costs a plain client (`bare::post_floor`), µs, and the webhook-worker's CPU
    /// over its AWS requests at the floor's price plus that: the POST measured, not priced as a
    /// request.
    pub webhook_post_floor_us: Option<f64>,
    pub webhook_measured_post_floor_ratio: Option<f64>,
    /// The webhook-worker's floor measured as a whole (`webhook_floor`): a plain client making
    /// its requests, each as it makes them, and its POST, on the run's events at the run's rate,
    /// µs per event (requests it did not make priced at its mean per operation); and the
    /// webhook-worker's CPU over it: the target.
    pub webhook_op_floor_us_per_event: Option<f64>,
    pub webhook_op_floor_ratio: Option<f64>,
    /// A fresh webhook-worker delivering the same events again on the floor's terms (the same
    /// pace, a quiet machine: `webhook_replay`), µs per event, and that over the floor: the
    /// target, as the one comparison made on equal terms; the median over the pairs of turns the
    /// two took on shares of the events (`webhook_pairs`).
    pub webhook_replay_cpu_us_per_event: Option<f64>,
    pub webhook_replay_floor_ratio: Option<f64>,
    /// The same over all the events at once: every turn's CPU together over every floor turn's.
    pub webhook_replay_floor_ratio_whole: Option<f64>,
    /// Settled/s over accepted/s of the open-loop run (each over its own span).
    pub open_loop_settle_ratio: Option<f64>,
    /// POST to final in the open-loop run, ms.
    pub open_loop_p50_ms: Option<f64>,
    pub open_loop_p99_ms: Option<f64>,
    /// The emulator's CPU per AWS call in the last pipeline run, µs (`EMULATOR_PID` unset: n/a).
    pub emulator_cpu_us_per_call: Option<f64>,
    /// The API's CPU per payment over the bare HTTP server's (`bare`): the API's own work, µs.
    pub api_cpu_us_over_bare: Option<f64>,
    /// The bare HTTP server's CPU per payment over the floor's client: the price of serving
    /// HTTP at all, which no cut in the API removes, µs.
    pub bare_cpu_us_over_floor: Option<f64>,
    /// The same two in the quiet run (`quiet`: against a stub AWS, where they hold still), and the
    /// API over the floor's client there.
    pub quiet_api_cpu_us_over_bare: Option<f64>,
    pub quiet_bare_cpu_us_over_floor: Option<f64>,
    pub quiet_api_cpu_us_over_floor: Option<f64>,
    /// `quiet_api_cpu_us_over_floor` over the floor's client's own CPU per payment.
    pub quiet_api_cpu_over_floor_share: Option<f64>,
    pub targets: Vec<Target>,
}

/// The CPU figures of a run: per phase and role, and the floor client's.
pub struct CpuFigures<'a> {
    pub phases: &'a [CpuPhase],
    pub floor_us_per_payment: Option<f64>,
    /// The AWS requests behind each floor payment, over every level.
    pub floor_requests_per_payment: Option<f64>,
    /// The bench's own CPU per API payment over the API's slices: its HTTP client.
    pub load_us_per_payment: Option<f64>,
    /// The same two per level.
    pub client: &'a [ClientCpu],
}

/// The runs after the pipelines: the open loop, and the webhook run with its AWS phase.
pub struct LaterRuns<'a> {
    pub open_loop: Option<&'a super::phases::OpenLoop>,
    pub webhooks: Option<&'a super::webhook_run::WebhookRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub api: Vec<LevelStats>,
    pub floor: Vec<LevelStats>,
    /// The floor with its event item and without, per concurrency: what the event log costs.
    pub event_cost: Vec<(LevelStats, LevelStats)>,
    pub comparison: Vec<Comparison>,
    /// The bench's own CPU per payment at each level, on each side.
    pub client_cpu: Vec<ClientCpu>,
    /// The floor's calls, and whether the api was counted making exactly those per payment.
    pub floor_calls: Vec<String>,
    pub floor_matches_api: Option<bool>,
    pub pipelines: Vec<FlowStats>,
    pub refunds: Option<FlowStats>,
    pub webhooks: Option<super::hooks::HookStats>,
    /// How fast the webhook run sent, on what basis, and what the system could carry.
    pub webhook_load: Option<super::webhook_run::WebhookLoad>,
    /// The webhook-worker's floor, replayed on the webhook run's events (`webhook_floor`).
    pub webhook_floor: Option<super::webhook_floor::WebhookFloor>,
    pub open_loop: Option<super::phases::OpenLoop>,
    /// This build against another (`BENCH_COMPARE_BIN_DIR`), in the same run.
    pub compare: Option<super::compare::Comparison>,
    /// The API against a bare HTTP service making the same calls (`bare`), at every level.
    pub bare_http: Option<super::bare::BareHttp>,
    pub quiet: Option<super::quiet::QuietRun>,
    pub aws_requests: Vec<AwsPhase>,
    /// CPU per unit, per phase and role.
    pub cpu: Vec<CpuPhase>,
    /// The payment worker and the floor's client in alternating turns (`worker_pairs`).
    pub worker_pairs: Vec<super::worker_pairs::Pair>,
    pub memory: Vec<MemoryRow>,
    pub headline: Headline,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_divides_rates_and_subtracts_p99() {
        let api = LevelStats::new(64, vec![4_000, 5_000], Default::default(), 1.0);
        let floor = LevelStats::new(64, vec![1_000, 2_000, 3_000, 4_000], Default::default(), 1.0);
        let c = Comparison::new(&api, &floor);
        assert_eq!((c.api_vs_floor, c.added_p99_ms), (Some(0.5), Some(1.0)));
    }
}
