//! How a run's headline (`report::Headline`) is made: its figures and the targets from
//! what was measured, what later measurements change in it, and its last line.
use super::cpu::CpuPhase;
use super::phases::FlowStats;
use super::procs::Role;
use super::report::{Comparison, CpuFigures, Headline, LaterRuns, Target};
use super::requests::AwsPhase;
use super::stats::round;
use super::system::MemoryRow;
// A figure with `places` decimals, or `n/a`: the tables' own rule.
use super::table::f as fixed;

fn target(name: &'static str, value: Option<f64>, target: &'static str, ok: impl Fn(f64) -> bool) -> Target {
    Target { name, value, target, met: value.map(ok) }
}

/// The headline figures and the targets from the measurements.
pub fn headline(
    concurrency: usize,
    comparison: &[Comparison],
    pipelines: &[FlowStats],
    lifecycle: (&AwsPhase, Option<&AwsPhase>),
    memory: &[MemoryRow],
    cpu: CpuFigures,
    later: LaterRuns,
) -> Headline {
    let open_loop = later.open_loop;
    let of = |phase: Option<&CpuPhase>, role| phase.and_then(|p: &CpuPhase| p.us_per_unit.get(&role).copied());
    let api_cpu = of(cpu.phases.first(), Role::Api);
    let worker_cpu = of(cpu.phases.iter().rfind(|p| p.phase.starts_with("pipeline")), Role::PaymentWorker);
    let hooks = later.webhooks.map(super::webhook_run::WebhookRun::figures);
    let webhook_cpu = hooks.as_ref().and_then(|h| h.cpu_us_per_event);
    let floor_cpu = cpu.floor_us_per_payment;
    let floor_requests = cpu.floor_requests_per_payment.unwrap_or(super::floor::calls_per_payment() as f64);
    // Each process priced at the floor level whose rate of requests is nearest its own
    // (`price`), its bank call or its POST to the receiver counted as one request more; or at
    // the mean over those levels ("averaged").
    let prices = super::price::Prices::new(comparison, cpu.client);
    let per_request = prices.mean().filter(|f| *f > 0.0);
    let charge_requests = lifecycle.0.per_unit_of(&[Role::PaymentWorker]).map(|n| n + 1.0);
    let worker_rate = pipelines.last().map(|p| p.settled_per_sec).zip(charge_requests).map(|(r, n)| r * n);
    let worker_price = worker_rate.and_then(|r| prices.at(r));
    let webhook_requests = hooks.as_ref().and_then(|h| h.worker_requests_per_event);
    let with_post = webhook_requests.map(|n| n + 1.0);
    let webhook_rate = later.webhooks.map(|w| w.load.sent_per_sec).zip(with_post).map(|(r, n)| r * n);
    let webhook_price = webhook_rate.and_then(|r| prices.at(r));
    let ratio = super::price::ratio;
    let worker_floor_ratio = ratio(worker_cpu, charge_requests, worker_price);
    let webhook_floor_ratio = ratio(webhook_cpu, webhook_requests, webhook_price);
    let webhook_post_floor_ratio = ratio(webhook_cpu, with_post, webhook_price);
    let worker_floor_ratio_averaged = ratio(worker_cpu, charge_requests, per_request);
    let webhook_post_floor_ratio_averaged = ratio(webhook_cpu, with_post, per_request);
    let webhook_floor = later.webhooks.and_then(|w| w.floor.as_ref());
    let op_floor = webhook_floor.zip(webhook_requests).map(|(f, n)| f.priced_at(n));
    let webhook_op_floor_ratio = webhook_cpu.zip(op_floor).filter(|(_, f)| *f > 0.0).map(|(c, f)| round(c / f, 2));
    let replay_cpu = webhook_floor.and_then(|f| f.replay_cpu_us_per_event);
    let webhook_replay_floor_ratio_whole =
        replay_cpu.zip(op_floor).filter(|(_, f)| *f > 0.0).map(|(c, f)| round(c / f, 2));
    // The median of the pairs of turns where there are some (`webhook_pairs`).
    let paired = webhook_floor.zip(webhook_requests).and_then(|(f, n)| f.replay_ratio(n));
    let webhook_replay_floor_ratio = paired.or(webhook_replay_floor_ratio_whole);
    let api_over_floor = api_cpu.zip(floor_cpu).map(|(a, f)| round(a - f, 1));
    let emulator = cpu.phases.first().and_then(|p| p.emulator_us_per_call);
    let api_cpu_bound_ratio = match (floor_cpu, cpu.load_us_per_payment, api_cpu, emulator) {
        // Both sides priced at the floor's requests per payment; the API's own (the create phase's
        // count) differ by a few tenths, as their batches share calls less or more.
        (Some(f), Some(l), Some(a), Some(e)) => Some(round((f + floor_requests * e) / (l + a + floor_requests * e), 2)),
        _ => None,
    };
    let cmp = comparison.iter().find(|c| c.concurrency == concurrency);
    let accept = cmp.map(|c| c.api_per_sec).filter(|a| *a > 0.0);
    let last = pipelines.last();
    let settle_vs_api_alone = last.zip(accept).map(|(p, a)| round(p.settled_per_sec / a, 3));
    let settle_vs_accept =
        last.filter(|p| p.accept_per_sec > 0.0).map(|p| round(p.settled_per_sec / p.accept_per_sec, 3));
    let (pipeline, refund) = lifecycle;
    let workers = [Role::PaymentWorker, Role::RefundWorker];
    // This build's processes: not the bank (a test double), nor another build's (compared), nor
    // the bench's own bare server or quiet AWS.
    let max_rss_mb = memory
        .iter()
        .filter(|m| {
            !matches!(m.role, Role::BankSimulator | Role::BareHttp | Role::AwsStub) && !m.name.ends_with("-other")
        })
        .filter_map(|m| m.peak_rss_mb)
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))
        .map(|v| v.ceil() as u64);
    let api_vs_floor = cmp.and_then(|c| c.api_vs_floor);
    let api_vs_floor_median_min = comparison
        .iter()
        .filter_map(|c| c.median_slice_ratio)
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.min(v))));
    let added = cmp.and_then(|c| c.added_p99_ms);
    let aws = pipeline.per_unit;
    let targets = vec![
        target("api_vs_floor", api_vs_floor, ">= 0.85", |v| v >= 0.85),
        target("api_vs_floor_median_min", api_vs_floor_median_min, ">= 0.95", |v| v >= 0.95),
        target("api_added_p99_ms", added, "< 2", |v| v < 2.0),
        target("settle_vs_accept", settle_vs_accept, ">= 0.9", |v| v >= 0.9),
        target("aws_requests_per_payment", aws, "<= 5", |v| v <= 5.0),
        target("max_rss_mb", max_rss_mb.map(|v| v as f64), "< 50", |v| v < 50.0),
        target("api_cpu_us_over_floor", api_over_floor, "<= 100", |v| v <= 100.0),
        target("worker_cpu_us_per_payment", worker_cpu, "<= 300", |v| v <= 300.0),
        target("open_loop_settle_ratio", open_loop.and_then(|o| o.settle_ratio), ">= 0.98", |v| v >= 0.98),
        target("webhook_requests_per_event", hooks.as_ref().and_then(|h| h.requests_per_event), "<= 4", |v| v <= 4.0),
        target("webhook_delivery_p99_ms", hooks.as_ref().and_then(|h| h.delivery_p99_ms), "<= 2000", |v| v <= 2000.0),
        target("webhook_replay_floor_ratio", webhook_replay_floor_ratio, "<= 1.2", |v| v <= 1.2),
        target("worker_floor_ratio", worker_floor_ratio, "<= 1.2", |v| v <= 1.2),
    ];
    Headline {
        concurrency,
        api_vs_floor,
        api_vs_floor_median_min,
        api_added_p99_ms: added,
        settle_vs_accept,
        settle_vs_api_alone,
        settle_workers: last.map(|p| p.workers),
        aws_requests_per_payment: aws,
        aws_create_per_payment: pipeline.per_unit_of(&[Role::Api]),
        aws_charge_per_payment: pipeline.per_unit_of(&workers),
        aws_refund_per_refund: refund.and_then(|r| r.per_unit),
        max_rss_mb,
        api_cpu_us_per_payment: api_cpu,
        floor_cpu_us_per_payment: floor_cpu,
        load_cpu_us_per_payment: cpu.load_us_per_payment,
        api_cpu_bound_ratio,
        worker_cpu_us_per_payment: worker_cpu,
        webhook_p50_ms: hooks.as_ref().and_then(|h| h.delivery_p50_ms),
        webhook_p99_ms: hooks.as_ref().and_then(|h| h.delivery_p99_ms),
        webhook_aws_requests_per_delivered: hooks.as_ref().and_then(|h| h.worker_requests_per_event),
        webhook_run_aws_requests_per_delivered: later.webhooks.and_then(|w| w.aws.per_unit),
        webhook_cpu_us_per_delivered: webhook_cpu,
        webhook_requests_per_event: hooks.as_ref().and_then(|h| h.requests_per_event),
        webhook_cpu_us_per_event: webhook_cpu,
        webhook_delivery_p99_ms: hooks.as_ref().and_then(|h| h.delivery_p99_ms),
        floor_cpu_us_per_request: per_request,
        worker_floor_ratio,
        worker_floor_ratio_phase: worker_floor_ratio,
        worker_requests_per_payment: charge_requests,
        worker_floor_ratio_averaged,
        worker_price_us_per_request: worker_price.map(|p| round(p, 1)),
        webhook_price_us_per_request: webhook_price.map(|p| round(p, 1)),
        webhook_floor_ratio,
        webhook_post_floor_ratio,
        webhook_post_floor_ratio_averaged,
        webhook_post_floor_us: None,
        webhook_measured_post_floor_ratio: None,
        webhook_op_floor_us_per_event: op_floor.map(|f| round(f, 1)),
        webhook_op_floor_ratio,
        webhook_replay_cpu_us_per_event: replay_cpu,
        webhook_replay_floor_ratio,
        webhook_replay_floor_ratio_whole,
        open_loop_settle_ratio: open_loop.and_then(|o| o.settle_ratio),
        open_loop_p50_ms: open_loop.and_then(|o| o.flow.to_final_p50_ms),
        open_loop_p99_ms: open_loop.and_then(|o| o.flow.to_final_p99_ms),
        emulator_cpu_us_per_call: cpu
            .phases
            .iter()
            .rfind(|p| p.phase.starts_with("pipeline"))
            .and_then(|p| p.emulator_us_per_call),
        api_cpu_us_over_bare: None,
        bare_cpu_us_over_floor: None,
        quiet_api_cpu_us_over_bare: None,
        quiet_bare_cpu_us_over_floor: None,
        quiet_api_cpu_us_over_floor: None,
        quiet_api_cpu_over_floor_share: None,
        targets,
    }
}

impl Headline {
    /// With the pairs of turns of the payment worker and the floor's client (`worker_pairs`):
    /// `worker_floor_ratio` and its target become their median; none leave it the last pipeline
    /// run's.
    pub fn with_worker_pairs(mut self, pairs: &[super::worker_pairs::Pair]) -> Self {
        let paired = self.worker_requests_per_payment.and_then(|n| super::worker_pairs::median_ratio(pairs, n));
        if paired.is_some() {
            self.worker_floor_ratio = paired;
            if let Some(t) = self.targets.iter_mut().find(|t| t.name == "worker_floor_ratio") {
                *t = target("worker_floor_ratio", paired, "<= 1.2", |v| v <= 1.2);
            }
        }
        self
    }

    /// With the quiet run (`quiet`), and its targets, measured where the figures hold still: the
    /// API at most 100 µs of CPU per payment over the floor's client (issue 27's target, which
    /// `api_cpu_us_over_floor` measures against the emulator, where it moves by a third between
    /// runs), and its own work at most 100 µs over an HTTP service making its calls. Beside them
    /// the first in the form no machine's speed moves: at most two thirds of the floor's client's
    /// own CPU, 100 µs over the 150 the floor's client cost where the target was set.
    pub fn with_quiet(mut self, quiet: Option<&super::quiet::QuietRun>) -> Self {
        self.quiet_api_cpu_us_over_bare = quiet.and_then(super::quiet::QuietRun::api_over_bare);
        self.quiet_bare_cpu_us_over_floor = quiet.and_then(super::quiet::QuietRun::bare_over_floor);
        self.quiet_api_cpu_us_over_floor = quiet.and_then(super::quiet::QuietRun::api_over_floor);
        self.quiet_api_cpu_over_floor_share = quiet.and_then(super::quiet::QuietRun::api_over_floor_share);
        let (own, all) = (self.quiet_api_cpu_us_over_bare, self.quiet_api_cpu_us_over_floor);
        self.targets.push(target("quiet_api_cpu_us_over_floor", all, "<= 100", |v| v <= 100.0));
        let share = self.quiet_api_cpu_over_floor_share;
        self.targets.push(target("quiet_api_cpu_over_floor_share", share, "<= 0.67", |v| v <= 0.67));
        self.targets.push(target("quiet_api_cpu_us_over_bare", own, "<= 100", |v| v <= 100.0));
        self
    }

    /// With the API against the bare HTTP server (`bare`), and the target that measures the
    /// API's own work: at most 100 µs of CPU per payment over an HTTP service making its calls.
    pub fn with_bare(mut self, bare: Option<&super::bare::BareHttp>) -> Self {
        self.api_cpu_us_over_bare = bare.and_then(super::bare::BareHttp::api_over_bare_us);
        self.bare_cpu_us_over_floor = bare
            .and_then(|b| b.bare_cpu_us_per_payment)
            .zip(self.floor_cpu_us_per_payment)
            .map(|(b, f)| round(b - f, 0));
        self.targets.push(target("api_cpu_us_over_bare", self.api_cpu_us_over_bare, "<= 100", |v| v <= 100.0));
        self.webhook_post_floor_us = bare.and_then(|b| b.post_cpu_us);
        let aws = self.webhook_aws_requests_per_delivered.zip(self.webhook_price_us_per_request).map(|(n, p)| n * p);
        self.webhook_measured_post_floor_ratio = match (self.webhook_cpu_us_per_event, aws, self.webhook_post_floor_us)
        {
            (Some(cpu), Some(aws), Some(post)) if aws + post > 0.0 => Some(round(cpu / (aws + post), 2)),
            _ => None,
        };
        self
    }
}

impl Headline {
    /// The run's last line: `api_vs_floor=R settle_vs_accept=R aws_requests_per_payment=N
    /// max_rss_mb=N api_cpu_us_per_payment=N floor_cpu_us_per_payment=N worker_cpu_us_per_payment=N
    /// open_loop_settle_ratio=R webhook_p50_ms=N webhook_p99_ms=N webhook_aws_requests_per_delivered=N
    /// webhook_cpu_us_per_delivered=N emulator_cpu_us_per_call=N`.
    pub fn last_line(&self) -> String {
        format!(
            "api_vs_floor={} settle_vs_accept={} aws_requests_per_payment={} max_rss_mb={} \
             api_cpu_us_per_payment={} floor_cpu_us_per_payment={} worker_cpu_us_per_payment={} \
             open_loop_settle_ratio={} webhook_p50_ms={} webhook_p99_ms={} \
             webhook_aws_requests_per_delivered={} webhook_cpu_us_per_delivered={} emulator_cpu_us_per_call={} \
             webhook_requests_per_event={} webhook_cpu_us_per_event={} webhook_delivery_p99_ms={} \
             worker_floor_ratio={} worker_floor_ratio_phase={} webhook_floor_ratio={} webhook_post_floor_ratio={} api_cpu_bound_ratio={} \
             api_vs_floor_median_min={} api_cpu_us_over_bare={} bare_cpu_us_over_floor={} \
             webhook_measured_post_floor_ratio={} webhook_op_floor_ratio={} webhook_replay_floor_ratio={} \
             webhook_replay_floor_ratio_whole={} \
             quiet_api_cpu_us_over_bare={} quiet_bare_cpu_us_over_floor={} quiet_api_cpu_us_over_floor={} \
             quiet_api_cpu_over_floor_share={}",
            fixed(self.api_vs_floor, 2),
            fixed(self.settle_vs_accept, 2),
            fixed(self.aws_requests_per_payment, 1),
            self.max_rss_mb.map_or_else(|| "n/a".to_owned(), |v| v.to_string()),
            fixed(self.api_cpu_us_per_payment, 0),
            fixed(self.floor_cpu_us_per_payment, 0),
            fixed(self.worker_cpu_us_per_payment, 0),
            fixed(self.open_loop_settle_ratio, 2),
            fixed(self.webhook_p50_ms, 0),
            fixed(self.webhook_p99_ms, 0),
            fixed(self.webhook_aws_requests_per_delivered, 1),
            fixed(self.webhook_cpu_us_per_delivered, 0),
            fixed(self.emulator_cpu_us_per_call, 0),
            fixed(self.webhook_requests_per_event, 2),
            fixed(self.webhook_cpu_us_per_event, 0),
            fixed(self.webhook_delivery_p99_ms, 0),
            fixed(self.worker_floor_ratio, 2),
            fixed(self.worker_floor_ratio_phase, 2),
            fixed(self.webhook_floor_ratio, 2),
            fixed(self.webhook_post_floor_ratio, 2),
            fixed(self.api_cpu_bound_ratio, 2),
            fixed(self.api_vs_floor_median_min, 2),
            fixed(self.api_cpu_us_over_bare, 0),
            fixed(self.bare_cpu_us_over_floor, 0),
            fixed(self.webhook_measured_post_floor_ratio, 2),
            fixed(self.webhook_op_floor_ratio, 2),
            fixed(self.webhook_replay_floor_ratio, 2),
            fixed(self.webhook_replay_floor_ratio_whole, 2),
            fixed(self.quiet_api_cpu_us_over_bare, 0),
            fixed(self.quiet_bare_cpu_us_over_floor, 0),
            fixed(self.quiet_api_cpu_us_over_floor, 0),
            fixed(self.quiet_api_cpu_over_floor_share, 2),
        )
    }
}

#[cfg(test)]
#[path = "headline_tests.rs"]
mod tests;
