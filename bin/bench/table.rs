//! The report as text tables, for stdout.
use std::fmt::Write;

use super::phases::FlowStats;
use super::procs::Role;
use super::report::Report;
use super::webhook_run::{KEPT_UP, LOAD_SHARE, RateBasis};

pub(super) fn f(v: Option<f64>, places: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.places$}"))
}

fn errors(kinds: &std::collections::BTreeMap<String, u64>) -> String {
    if kinds.is_empty() {
        return "-".into();
    }
    kinds.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(",")
}

fn flow_row(out: &mut String, label: &str, p: &FlowStats, accept_ref: Option<f64>) {
    let ratio = accept_ref.filter(|a| *a > 0.0).map(|a| p.settled_per_sec / a);
    let statuses: Vec<String> = p.statuses.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    let _ = writeln!(
        out,
        "{label:<10} {:>6} {:>8}/{:<6} {:>9.1} {:>9.1} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  {} {}",
        p.workers,
        p.accepted,
        p.requested,
        p.accept_per_sec,
        p.settled_per_sec,
        f(ratio, 2),
        f(p.request.p99_ms, 1),
        f(p.to_final_p50_ms, 0),
        f(p.to_final_p95_ms, 0),
        f(p.to_final_p99_ms, 0),
        p.non_final,
        statuses.join(","),
        errors(&p.request.error_kinds),
    );
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let s = &r.settings;
    let calls: Vec<&str> = r.floor_calls.iter().map(|c| c.split_once(':').map_or(c.as_str(), |(_, op)| op)).collect();
    let _ = writeln!(out, "\n== API: POST /payments  vs  floor: {} (same emulator, same items) ==", calls.join(" + "));
    let check = match r.floor_matches_api {
        Some(true) => "the api was counted making exactly these calls per payment",
        Some(false) => "WARNING: the api's counted calls per payment differ from the floor's (see AWS requests below)",
        None => "the api's calls were not counted (no aws_requests_total)",
    };
    let _ = writeln!(out, "{check}");
    let _ = writeln!(
        out,
        "{} s of each per level, alternating in ~{} s slices, after {} s warm-up; latency in ms; median: of the api/floor ratios of the slices side by side",
        s.duration_secs, s.slice_secs, s.warmup_secs
    );
    let threads = match s.worker_threads {
        0 => "tokio's default worker threads (this machine's cores)".to_owned(),
        1 => "1 worker thread, as infra/terraform gives its tasks of under one vCPU (BENCH_WORKER_THREADS)".to_owned(),
        n => format!("{n} worker threads (BENCH_WORKER_THREADS)"),
    };
    let _ = writeln!(out, "every service (api, workers, bare server) and the floor's client run on {threads}");
    let _ = writeln!(
        out,
        "{:>5} | {:>8} {:>7} {:>7} {:>7} {:>5} | {:>8} {:>7} {:>7} {:>7} {:>5} | {:>9} {:>9} {:>9} {:>9}",
        "conc",
        "api/s",
        "p50",
        "p95",
        "p99",
        "err",
        "floor/s",
        "p50",
        "p95",
        "p99",
        "err",
        "api/floor",
        "median",
        "added p50",
        "added p99"
    );
    for (a, fl) in r.api.iter().zip(&r.floor) {
        let c = r.comparison.iter().find(|c| c.concurrency == a.concurrency);
        let _ = writeln!(
            out,
            "{:>5} | {:>8.1} {:>7} {:>7} {:>7} {:>5} | {:>8.1} {:>7} {:>7} {:>7} {:>5} | {:>9} {:>9} {:>9} {:>9}",
            a.concurrency,
            a.per_sec,
            f(a.p50_ms, 2),
            f(a.p95_ms, 2),
            f(a.p99_ms, 2),
            a.errors,
            fl.per_sec,
            f(fl.p50_ms, 2),
            f(fl.p95_ms, 2),
            f(fl.p99_ms, 2),
            fl.errors,
            f(c.and_then(|c| c.api_vs_floor), 2),
            f(c.and_then(|c| c.median_slice_ratio), 2),
            f(c.and_then(|c| c.added_p50_ms), 2),
            f(c.and_then(|c| c.added_p99_ms), 2),
        );
        for (label, kinds) in [("api", &a.error_kinds), ("floor", &fl.error_kinds)] {
            if !kinds.is_empty() {
                let _ = writeln!(out, "      {label} errors: {}", errors(kinds));
            }
        }
    }
    event_cost(&mut out, r);
    if let Some(bare) = &r.bare_http {
        super::bare::render(&mut out, bare, &r.headline);
    }
    if let Some(quiet) = &r.quiet {
        super::quiet::render(&mut out, quiet);
    }
    cpu(&mut out, r);
    open_loop(&mut out, r);
    compare(&mut out, r);
    webhooks(&mut out, r);
    let accept_ref = r.comparison.iter().find(|c| c.concurrency == r.headline.concurrency).map(|c| c.api_per_sec);
    let _ = writeln!(
        out,
        "\n== Pipeline: POST to final (record UpdatedAt), bank latency {} ms, concurrency {} ==",
        s.bank_latency_ms, s.pipeline_concurrency
    );
    let _ = writeln!(
        out,
        "settle/accept = settled/s / API accepted/s at concurrency {} (API levels above)",
        r.headline.concurrency
    );
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>15} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  statuses errors",
        "run",
        "procs",
        "accepted",
        "accept/s",
        "settled/s",
        "ratio",
        "req p99",
        "fin p50",
        "fin p95",
        "fin p99",
        "non-final"
    );
    for p in &r.pipelines {
        flow_row(&mut out, "payments", p, accept_ref);
    }
    if let Some(rf) = &r.refunds {
        flow_row(&mut out, "refunds", rf, None);
    }
    let _ = writeln!(out, "\n== AWS requests (counted: aws_requests_total of every process, diff over the phase) ==");
    let _ = writeln!(
        out,
        "{:<26} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "phase", "unit", "units", "per unit", "api", "pay-wkr", "ref-wkr"
    );
    let role = |p: &super::requests::AwsPhase, r: Role| p.available.then(|| p.by_role.get(&r).copied().unwrap_or(0.0));
    for p in &r.aws_requests {
        let _ = writeln!(
            out,
            "{:<26} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}{}",
            p.phase,
            p.unit,
            p.units,
            f(p.per_unit, 2),
            f(role(p, Role::Api), 2),
            f(role(p, Role::PaymentWorker), 2),
            f(role(p, Role::RefundWorker), 2),
            if p.missing.is_empty() { String::new() } else { format!("  (no counter: {})", p.missing.join(", ")) }
        );
    }
    let _ = writeln!(out, "per operation:");
    for p in &r.aws_requests {
        for o in &p.operations {
            let _ = writeln!(
                out,
                "  {:<26} {:<15} {:<9} {:<20} {:>7} {:>7}",
                p.phase,
                o.role.binary(),
                o.service,
                o.operation,
                o.count,
                f(o.per_unit, 3)
            );
        }
    }
    let _ = writeln!(out, "\n== Peak memory (VmHWM from /proc/<pid>/status, read just before each process stops) ==");
    for m in &r.memory {
        let _ = writeln!(out, "  {:<22} pid {:>7} {:>7} MB", m.name, m.pid, f(m.peak_rss_mb, 1));
    }
    let _ = writeln!(out, "\n== Targets ==");
    for t in &r.headline.targets {
        let met = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "n/a",
        };
        let _ = writeln!(out, "  {:<26} {:>9} {:<8} {met}", t.name, f(t.value, 2), t.target);
    }
    let _ = writeln!(
        out,
        "  (settle_vs_accept compares the pipeline run's own rates; settled/s over the API's rate alone, \
         with no workers on the emulator: {})",
        f(r.headline.settle_vs_api_alone, 2)
    );
    out
}

/// The floor's calls with the payment's event item and without it, alternating in one run.
fn event_cost(out: &mut String, r: &Report) {
    if r.event_cost.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n== What the event costs: the floor's transaction with and without the event item ==");
    let _ = writeln!(
        out,
        "{:>5} | {:>8} {:>7} {:>7} | {:>8} {:>7} {:>7} | {:>9} {:>9}",
        "conc", "with/s", "p50", "p99", "without/s", "p50", "p99", "rate", "added p50"
    );
    for (with, without) in &r.event_cost {
        let ratio = (without.per_sec > 0.0).then(|| with.per_sec / without.per_sec);
        let added = with.p50_ms.zip(without.p50_ms).map(|(a, b)| a - b);
        let _ = writeln!(
            out,
            "{:>5} | {:>8.1} {:>7} {:>7} | {:>8.1} {:>7} {:>7} | {:>9} {:>9}",
            with.concurrency,
            with.per_sec,
            f(with.p50_ms, 2),
            f(with.p99_ms, 2),
            without.per_sec,
            f(without.p50_ms, 2),
            f(without.p99_ms, 2),
            f(ratio, 2),
            f(added, 2),
        );
    }
}

/// This build against another, in the same run.
fn compare(out: &mut String, r: &Report) {
    let Some(c) = &r.compare else { return };
    let _ = writeln!(
        out,
        "\n== This build against {} (same run, alternating; concurrency {}) ==",
        c.other.build, c.concurrency
    );
    let _ = writeln!(
        out,
        "{:<8} {:>10} {:>9} {:>14} {:>16} {:>12} {:>14} {:>14} {:>12}",
        "build",
        "api/s",
        "p50 ms",
        "api µs/pay",
        "pay-wkr µs/pay",
        "hook req/ev",
        "hook µs/ev",
        "hook p99 ms",
        "hook cap/s"
    );
    for s in [&c.this, &c.other] {
        let name = if s.build == "this" { "this" } else { "other" };
        let hooks = s.webhooks.as_ref();
        let _ = writeln!(
            out,
            "{:<8} {:>10.1} {:>9} {:>14} {:>16} {:>12} {:>14} {:>14} {:>12}",
            name,
            s.api_per_sec,
            f(s.api_p50_ms, 2),
            f(s.api_cpu_us_per_payment, 0),
            f(s.worker_cpu_us_per_payment, 0),
            f(hooks.and_then(|h| h.requests_per_event), 2),
            f(hooks.and_then(|h| h.cpu_us_per_event), 0),
            f(hooks.and_then(|h| h.delivery_p99_ms), 0),
            f(hooks.and_then(|h| h.capacity_per_sec), 1),
        );
    }
}

/// The open-loop run: payments arriving at a fixed rate below the measured capacity.
fn open_loop(out: &mut String, r: &Report) {
    let Some(o) = &r.open_loop else { return };
    let _ =
        writeln!(out, "\n== Open loop: payments sent at a fixed rate, 80 % of the last pipeline run's settled/s ==");
    let _ = writeln!(
        out,
        "{} payments at {:.1}/s: accepted {} (POST p50 {} ms, p99 {} ms), final {}; settled/s over accepted/s {} \
         (fitted; first to last {}); POST to final p50 {} ms, p99 {} ms, max {} ms",
        o.flow.requested,
        o.rate,
        o.flow.accepted,
        f(o.flow.request.p50_ms, 1),
        f(o.flow.request.p99_ms, 1),
        o.flow.final_count,
        f(o.settle_ratio, 3),
        f(o.settle_ratio_first_to_last, 3),
        f(o.flow.to_final_p50_ms, 0),
        f(o.flow.to_final_p99_ms, 0),
        f(o.flow.to_final_max_ms, 0),
    );
}

/// The webhook run: delivery after the final state, and what a delivered event costs.
fn webhooks(out: &mut String, r: &Report) {
    let Some(h) = &r.webhooks else { return };
    let load = r.webhook_load.as_ref();
    let sent = f(load.map(|l| l.sent_per_sec), 1);
    let basis = match load.map(|l| l.basis) {
        Some(RateBasis::OwnCapacity) => {
            format!(
                "{} % of the {}/s this system delivers",
                LOAD_SHARE * 100.0,
                f(load.and_then(|l| l.capacity_per_sec), 1)
            )
        }
        Some(RateBasis::PipelineFallback) => format!(
            "{} % of what one payment worker settled alone: the capacity with webhooks was not measured, and this is \
             likely over it",
            LOAD_SHARE * 100.0
        ),
        Some(RateBasis::ThisBuild) | None => "as given".to_owned(),
    };
    let _ = writeln!(
        out,
        "\n== Webhooks: each payment's final state delivered to a receiver, 1 webhook-worker beside 1 payment worker \
         (open loop at {sent} payments/s, {basis}; delivered at {}/s) ==",
        f(load.and_then(|l| l.delivered_per_sec), 1),
    );
    if load.and_then(|l| l.kept_up) == Some(false) {
        let _ = writeln!(
            out,
            "OVER CAPACITY: the open loop delivered under {} % of the rate it sent (the emulator slower than in the \
             capacity phase); its latencies are those of a growing queue, not of {} % of capacity",
            KEPT_UP * 100.0,
            LOAD_SHARE * 100.0
        );
    }
    let _ = writeln!(
        out,
        "delivered {} of {} (duplicates {}); final state to delivery p50 {} ms, p99 {} ms, max {} ms",
        h.delivered,
        h.expected,
        h.duplicates,
        f(h.to_delivery_p50_ms, 0),
        f(h.to_delivery_p99_ms, 0),
        f(h.to_delivery_max_ms, 0)
    );
    let _ = writeln!(
        out,
        "AWS requests per delivered event: what the webhooks add {} (the webhook-worker {}, and the announcements), \
         the whole run {}; webhook-worker CPU {} µs, {} times what its requests cost the floor's client ({} µs each at \
         its rate), {} times with its POST to the receiver priced as one more ({} at the price averaged over the levels)",
        f(r.headline.webhook_requests_per_event, 2),
        f(r.headline.webhook_aws_requests_per_delivered, 2),
        f(r.headline.webhook_run_aws_requests_per_delivered, 2),
        f(r.headline.webhook_cpu_us_per_delivered, 0),
        f(r.headline.webhook_floor_ratio, 2),
        f(r.headline.webhook_price_us_per_request, 0),
        f(r.headline.webhook_post_floor_ratio, 2),
        f(r.headline.webhook_post_floor_ratio_averaged, 2),
    );
    if let Some(floor) = &r.webhook_floor {
        let _ = writeln!(
            out,
            "The webhook-worker's floor (a plain client making its requests as it makes them, and its POST, on the run's \
             {} events at its rate, {} a receive): {} µs and {} AWS requests per event, {} µs priced at the webhook-worker's \
             requests; the webhook-worker {} times that in the run, and {} times (replaying the same events at the same pace \
             on the same quiet machine: {} µs per event)",
            floor.events,
            floor.per_receive,
            floor.cpu_us_per_event,
            floor.requests_per_event,
            f(r.headline.webhook_op_floor_us_per_event, 0),
            f(r.headline.webhook_op_floor_ratio, 2),
            f(r.headline.webhook_replay_floor_ratio_whole, 2),
            f(r.headline.webhook_replay_cpu_us_per_event, 0),
        );
        let requests = r.headline.webhook_aws_requests_per_delivered.unwrap_or(floor.requests_per_event);
        let pairs: Vec<String> = floor
            .pairs
            .iter()
            .map(|p| format!("{:.0} / {:.0}", p.replay_cpu_us_per_event, p.floor_priced_at(requests)))
            .collect();
        let _ = writeln!(
            out,
            "in turns on shares of the events, webhook-worker / floor µs per event (priced at the webhook-worker's \
             requests): {}; the median of the pairs' ratios, the target: {} ({} over all the events at once)",
            pairs.join(", "),
            f(r.headline.webhook_replay_floor_ratio, 2),
            f(r.headline.webhook_replay_floor_ratio_whole, 2),
        );
    }
}

/// CPU per unit, per phase and role, from /proc (user + system), beside the floor's client.
fn cpu(out: &mut String, r: &Report) {
    if r.cpu.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n== CPU per unit (µs of user + system time, /proc/<pid>/stat, over each phase) ==");
    let _ = writeln!(
        out,
        "{:<28} {:>16} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "phase", "unit", "api", "pay-wkr", "ref-wkr", "hook-wkr", "emulator", "emu/call"
    );
    for p in &r.cpu {
        let of = |role| f(p.us_per_unit.get(&role).copied(), 0);
        let _ = writeln!(
            out,
            "{:<28} {:>16} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9}",
            p.phase,
            p.unit,
            of(super::procs::Role::Api),
            of(super::procs::Role::PaymentWorker),
            of(super::procs::Role::RefundWorker),
            of(super::procs::Role::WebhookWorker),
            of(super::procs::Role::Emulator),
            f(p.emulator_us_per_call, 0)
        );
    }
    let h = &r.headline;
    let _ = writeln!(
        out,
        "floor client (the bench's own CPU over the floor's slices): {} µs per payment; load generator (its own \
         CPU over the api's slices): {} µs per payment",
        f(h.floor_cpu_us_per_payment, 0),
        f(h.load_cpu_us_per_payment, 0)
    );
    let levels: Vec<String> = r
        .client_cpu
        .iter()
        .map(|c| format!("{}: {} / {}", c.concurrency, f(c.floor_us_per_payment, 0), f(c.load_us_per_payment, 0)))
        .collect();
    let _ = writeln!(out, "by concurrency, floor client / load generator µs per payment: {}", levels.join(", "));
    let _ = writeln!(
        out,
        "payment worker: {} µs per settled payment, {} times what its requests and bank call cost the floor's client \
         at its rate ({} µs each; {} at the price averaged over the levels, {} µs)",
        f(h.worker_cpu_us_per_payment, 0),
        f(h.worker_floor_ratio_phase, 2),
        f(h.worker_price_us_per_request, 0),
        f(h.worker_floor_ratio_averaged, 2),
        f(h.floor_cpu_us_per_request, 0),
    );
    if !r.worker_pairs.is_empty() {
        let pairs: Vec<String> = r
            .worker_pairs
            .iter()
            .map(|p| format!("{:.0} / {:.0}", p.worker_us_per_payment, p.floor_us_per_request))
            .collect();
        let _ = writeln!(
            out,
            "payment worker and floor's client in turns, µs per payment / µs per request: {}; the median of the \
             pairs' ratios at {} requests per payment: {}",
            pairs.join(", "),
            f(h.worker_requests_per_payment, 2),
            f(h.worker_floor_ratio, 2),
        );
    }
    let _ = writeln!(
        out,
        "where the 2 cores are the limit, the api can reach at most {} of the floor's rate (a floor payment's CPU \
         on this machine over an api payment's, the emulator's calls included)",
        f(h.api_cpu_bound_ratio, 2)
    );
}
