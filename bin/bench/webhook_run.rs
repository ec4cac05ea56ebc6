//! The webhook run: api, payment-, refund- and webhook-worker of one build on a table and queues
//! of their own, the webhook-worker beside the payment-worker, and a receiver in this process
//! subscribed to the payments' final states. First a burst of payments measures what this system
//! delivers a second (its capacity, `capacity`); then payments are sent in an open loop at 80 %
//! of it. What one delivered event costs: its AWS requests, the webhook-worker's CPU, and how
//! long after the final state the webhook arrives.
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use payment_platform::config::AwsArgs;
use payment_platform::domain::ids::PaymentId;
use serde::Serialize;

use super::cpu::{self, CpuPhase};
use super::error::BenchError;
use super::hooks::{self, HookStats};
use super::load::{Accepted, Api};
use super::phases::{self, RunCtx};
use super::procs::Role;
use super::requests::{self, AwsPhase};
use super::stats::round;
use super::system::System;
use super::track::Tracker;
use super::webhook_floor::WebhookFloor;

pub struct WebhookRun {
    pub stats: HookStats,
    pub aws: AwsPhase,
    pub cpu: CpuPhase,
    pub payments: u64,
    pub load: WebhookLoad,
    /// The webhook-worker's floor, replayed on every event the run delivered, the capacity
    /// phase's too (this build's run only).
    pub floor: Option<WebhookFloor>,
}

/// What a run's open loop rate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateBasis {
    /// `LOAD_SHARE` of the capacity the run measured.
    OwnCapacity,
    /// This build's rate: another build, compared at the same load.
    ThisBuild,
    /// `LOAD_SHARE` of what one payment worker settled alone in the pipeline run: the capacity
    /// with the webhooks could not be measured, and this rate is likely over it.
    PipelineFallback,
}

/// How fast a run sent its payments (each one's final state is one delivered event), and what
/// the system could carry.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookLoad {
    pub sent_per_sec: f64,
    pub basis: RateBasis,
    /// Payments delivered a second at capacity (`capacity`), if it was measured.
    pub capacity_per_sec: Option<f64>,
    /// Webhooks delivered a second in the open loop, over the middle 90 % of arrivals: about
    /// `sent_per_sec` below capacity, less over it.
    pub delivered_per_sec: Option<f64>,
    /// Whether the open loop delivered at least `KEPT_UP` of the rate it sent. If not, it ran over
    /// capacity after all (the emulator's speed moves by a third between phases minutes apart),
    /// and its latencies are those of a queue that grew, not of the load it was meant to carry.
    pub kept_up: Option<bool>,
}

/// The share of the sent rate an open loop below capacity delivers at, at least.
pub const KEPT_UP: f64 = 0.9;

fn kept_up(sent_per_sec: f64, delivered_per_sec: Option<f64>) -> Option<bool> {
    delivered_per_sec.map(|d| d >= KEPT_UP * sent_per_sec)
}

/// What the figures of a run are, for the report and the comparison of two builds.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookFigures {
    /// AWS requests per delivered event that the webhooks add: everything the webhook-worker
    /// asks, and the announcements (the messages to the webhooks queue) of the API and the
    /// payment-worker; the event's own item is written with the payment's change, not counted.
    pub requests_per_event: Option<f64>,
    /// The webhook-worker's own requests per delivered event.
    pub worker_requests_per_event: Option<f64>,
    pub cpu_us_per_event: Option<f64>,
    pub delivery_p50_ms: Option<f64>,
    pub delivery_p99_ms: Option<f64>,
    pub capacity_per_sec: Option<f64>,
}

impl WebhookRun {
    pub fn figures(&self) -> WebhookFigures {
        WebhookFigures {
            requests_per_event: requests_per_event(&self.aws, self.payments),
            worker_requests_per_event: self.aws.per_unit_of(&[Role::WebhookWorker]),
            cpu_us_per_event: self.cpu.us_per_unit.get(&Role::WebhookWorker).copied(),
            delivery_p50_ms: self.stats.to_delivery_p50_ms,
            delivery_p99_ms: self.stats.to_delivery_p99_ms,
            capacity_per_sec: self.load.capacity_per_sec,
        }
    }
}

/// The webhook-worker's requests and the announcements, per delivered event. Every send of the
/// payment-worker is an announcement, and so are the API's sends beyond one per payment (its
/// charge job); a send is a `SendMessage` (a build from before batching) or a `SendMessageBatch`,
/// so announcements that share a call count once. Batched, the API's charge jobs take fewer calls
/// than payments and its announcements cannot be told apart from them (the count has no queue
/// label): they are left out, none in this run (its endpoint wants final states only, which the
/// workers announce).
fn requests_per_event(phase: &AwsPhase, payments: u64) -> Option<f64> {
    if phase.units == 0 || !phase.available {
        return None;
    }
    let count = |role: Role, op: Option<&str>| -> f64 {
        phase
            .operations
            .iter()
            .filter(|o| o.role == role && op.is_none_or(|op| o.operation.starts_with(op)))
            .map(|o| o.count)
            .sum()
    };
    let announced = count(Role::PaymentWorker, Some("SendMessage"))
        + (count(Role::Api, Some("SendMessage")) - payments as f64).max(0.0);
    Some(round((count(Role::WebhookWorker, None) + announced) / phase.units as f64, 2))
}

/// How fast a webhook run sends its payments.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// `LOAD_SHARE` of the capacity the run measures; of `pipeline` (what one payment worker
    /// settled alone) if it cannot.
    Measured { pipeline: f64 },
    /// This rate (another build, compared at this build's load). Its capacity is measured all the
    /// same, and its open loop starts as warm as this build's.
    At(f64),
}

/// The share of its capacity a webhook run's open loop sends at.
pub const LOAD_SHARE: f64 = 0.8;

/// What the system delivers a second with the webhook-worker beside the payment-worker. The
/// pipeline runs measure a capacity without the webhooks, whose requests (two to three an event,
/// and the announcements) go to the same emulator: 80 % of that is more than this system carries,
/// and an open loop over capacity has no p99 to speak of, only a queue that grows. `n` payments
/// are sent 64 at a time as in the pipeline runs, and the capacity is how many were delivered a
/// second from the first send to the last webhook: all of their work, the API's included, over
/// the time it took. (Their rate over the middle 90 % of arrivals is higher, and was tried: it
/// leaves out the API's part, done at the start while the backlog forms, and an open loop at
/// 80 % of it was over capacity.) `None` unless every payment was accepted, final and delivered.
async fn capacity(ctx: &RunCtx<'_>, receiver: &hooks::Receiver, n: usize) -> Option<f64> {
    let (stats, joined) = phases::pipeline(ctx, n).await;
    let payments = ids(joined.iter().map(|(a, _)| a));
    let hooks = receiver.wait_and_measure(&payments, stats.final_count, ctx.timeout).await;
    let complete = stats.accepted == n as u64 && stats.final_count == stats.accepted && hooks.delivered == n as u64;
    if !complete {
        eprintln!(
            "warning: the webhook run's capacity was not measured: {} of {n} payments accepted, {} final, {} delivered",
            stats.accepted, stats.final_count, hooks.delivered
        );
        return None;
    }
    let first = joined.iter().map(|(a, _)| a.sent_ms).min()?;
    let span_ms = hooks.last_arrival_ms?.checked_sub(first).filter(|ms| *ms > 0)?;
    Some(round(hooks.delivered as f64 * 1000.0 / span_ms as f64, 1))
}

fn ids<'a>(accepted: impl Iterator<Item = &'a Accepted>) -> HashSet<PaymentId> {
    accepted.filter_map(|a| PaymentId::parse(&a.id).ok()).collect()
}

/// One run of `n` payments with the binaries of `from` (this build's without), named `tag`.
pub async fn run(
    sys: &mut System,
    from: Option<&Path>,
    stack: &AwsArgs,
    tag: &str,
    (load, n): (Load, usize),
    ctx: RunCtx<'_>,
) -> Result<WebhookRun, BenchError> {
    let start = async |sys: &mut System, role: Role, name: String| match from {
        Some(dir) => sys.start_from(dir, role, &name, stack).await,
        None => sys.start(role, &name, stack).await,
    };
    let api_url = start(sys, Role::Api, format!("api-{tag}")).await?;
    let api = Arc::new(Api::connect(sys.http.clone(), api_url).await?);
    start(sys, Role::PaymentWorker, format!("payment-worker-{tag}")).await?;
    start(sys, Role::RefundWorker, format!("refund-worker-{tag}")).await?;
    start(sys, Role::WebhookWorker, format!("webhook-worker-{tag}")).await?;
    let receiver = hooks::Receiver::start().await?;
    api.register_endpoint(&receiver.url, &hooks::FINAL_TYPES).await?;
    let tracker = Tracker::new(payment_platform::aws::clients(stack).await.dynamodb, stack.table.clone());
    let ctx = RunCtx { api: &api, tracker: &tracker, workers: 1, ..ctx };
    let m = (n / 2).max(100);
    eprintln!("bench: webhooks ({tag}), capacity: {m} payments, 1 process of each worker");
    let capacity = capacity(&ctx, &receiver, m).await;
    let (rate, basis) = match (load, capacity) {
        (Load::At(rate), _) => (rate, RateBasis::ThisBuild),
        (Load::Measured { .. }, Some(c)) => (LOAD_SHARE * c, RateBasis::OwnCapacity),
        (Load::Measured { pipeline }, None) => {
            eprintln!(
                "warning: the webhook run sends at {} % of what one payment worker settled alone, likely over capacity",
                LOAD_SHARE * 100.0
            );
            (LOAD_SHARE * pipeline, RateBasis::PipelineFallback)
        }
    };
    eprintln!("bench: webhooks ({tag}), {n} payments at {rate:.1}/s, 1 process of each worker");
    // The capacity phase's last saves and deletes follow its last webhook by a few milliseconds.
    tokio::time::sleep(super::run::SETTLE_PAUSE).await;
    let (before, cpu_before) = (sys.snapshot(stack).await, sys.cpu(stack));
    let (run, accepted) = phases::open_loop(&ctx, rate, n).await;
    let stats = receiver.wait_and_measure(&ids(accepted.iter()), run.flow.final_count, ctx.timeout).await;
    let delivered_per_sec = stats.delivered_per_sec.map(|r| round(r, 1));
    let kept_up = kept_up(rate, delivered_per_sec);
    let load =
        WebhookLoad { sent_per_sec: round(rate, 1), basis, capacity_per_sec: capacity, delivered_per_sec, kept_up };
    tokio::time::sleep(super::run::SETTLE_PAUSE).await;
    let name = format!("webhooks ({tag}, open loop)");
    let aws = requests::phase(&name, "delivered event", stats.delivered, &before, &sys.snapshot(stack).await);
    let cpu = cpu::phase(&name, "delivered event", stats.delivered, &cpu_before, &sys.cpu(stack)).with_calls(aws.total);
    sys.stop_all(Some(stack)).await;
    let floor = match from {
        None => {
            // As many messages a receive as the webhook-worker's receives carried.
            let receives = aws
                .operations
                .iter()
                .filter(|o| o.role == Role::WebhookWorker && o.operation == "ReceiveMessage")
                .map(|o| o.count)
                .sum::<f64>();
            let per_receive = if receives > 0.0 { (stats.delivered as f64 / receives).round() as usize } else { 10 };
            // At the pace the webhook-worker delivered, which the payments' settling set.
            let pace = stats.delivered_per_sec.unwrap_or(rate);
            super::webhook_pairs::measure(sys, stack, &receiver, pace, per_receive).await
        }
        Some(_) => None,
    };
    Ok(WebhookRun { stats, aws, cpu, payments: run.flow.accepted, load, floor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::OpRow;

    fn op(role: Role, operation: &str, count: f64) -> OpRow {
        OpRow { role, service: "sqs".into(), operation: operation.into(), count, per_unit: None }
    }

    #[test]
    fn an_open_loop_that_delivered_well_under_its_rate_did_not_keep_up() {
        assert_eq!(kept_up(45.4, Some(34.9)), Some(false), "the full-size run of 2026-12-04 22:55");
        assert_eq!(kept_up(27.5, Some(27.1)), Some(true));
        assert_eq!(kept_up(45.6, Some(49.2)), Some(true), "arrivals bunched after a stall");
        assert_eq!(kept_up(30.0, None), None);
    }

    #[test]
    fn the_webhooks_requests_are_the_worker_s_and_the_announcements() {
        let phase = AwsPhase {
            phase: "w".into(),
            unit: "delivered event",
            units: 100,
            available: true,
            missing: vec![],
            total: None,
            per_unit: None,
            by_role: Default::default(),
            operations: vec![
                op(Role::Api, "SendMessage", 100.0),
                op(Role::Api, "TransactWriteItems", 100.0),
                op(Role::PaymentWorker, "SendMessage", 100.0),
                op(Role::PaymentWorker, "TransactWriteItems", 200.0),
                op(Role::WebhookWorker, "UpdateItem", 100.0),
                op(Role::WebhookWorker, "TransactWriteItems", 100.0),
                op(Role::WebhookWorker, "ReceiveMessage", 20.0),
            ],
        };
        assert_eq!(requests_per_event(&phase, 100), Some(3.2), "1 announcement + 2.2 of the worker");

        // Batched: the API's 40 calls carried its 100 charge jobs; the payment worker's
        // 100 announcements went in 30 calls.
        let batched = AwsPhase {
            operations: vec![
                op(Role::Api, "SendMessageBatch", 40.0),
                op(Role::PaymentWorker, "SendMessageBatch", 30.0),
                op(Role::WebhookWorker, "UpdateItem", 100.0),
                op(Role::WebhookWorker, "TransactWriteItems", 100.0),
            ],
            ..phase
        };
        assert_eq!(requests_per_event(&batched, 100), Some(2.3), "0.3 of announcements + 2 of the worker");
    }
}
