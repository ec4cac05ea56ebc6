//! The quiet run: the API's CPU per payment against an AWS that answers in 5 ms (`stub`), beside
//! the bare HTTP server's (`bare`) and the floor's client's, in alternating slices at one
//! concurrency. Against the emulator the same build's figures move by a third between runs
//! minutes apart (docs/BENCHMARK.md): the emulator works on the same 2 cores, at a speed that
//! drifts, and every wait on it wakes the measured processes differently. Here nothing works but
//! the measured process, this load generator and a stub that does almost nothing, so the
//! differences hold still from run to run: what the API costs over the bare server (its own work:
//! token, validation, sealed card, idempotency, span, log line, metrics) and what the bare server
//! costs over the floor's client (serving HTTP at all). The absolute figures are not the
//! emulator run's: each AWS call here is answered in 5 ms by a stub that does almost nothing, and
//! the SDK's share of the work is the same on every side.
use std::sync::Arc;

use serde::Serialize;

use super::args::BenchArgs;
use super::error::BenchError;
use super::floor::Floor;
use super::load::Api;
use super::procs::Role;
use super::stats::round;
use super::system::{Snapshot, System};
use super::{cpu, levels, requests};
use payment_platform::config::AwsArgs;

/// One side's slices: payments made, seconds and CPU over them, warm-up left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QuietSide {
    pub name: String,
    pub payments: u64,
    pub errors: u64,
    pub per_sec: f64,
    /// `None` when more than 1 % of its requests failed: a failed request's CPU would be spread
    /// over the payments that succeeded.
    pub cpu_us_per_payment: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuietRun {
    pub concurrency: usize,
    pub slices_per_side: usize,
    /// The floor's client, the bare server, the API, and the compared build's API when there is one.
    pub sides: Vec<QuietSide>,
    /// The API made exactly the floor's calls per payment (`floor::CALLS`), by its own count.
    pub api_matches_floor: Option<bool>,
}

impl QuietRun {
    fn side(&self, name: &str) -> Option<f64> {
        self.sides.iter().find(|s| s.name == name).and_then(|s| s.cpu_us_per_payment)
    }

    fn over(&self, a: &str, b: &str) -> Option<f64> {
        self.side(a).zip(self.side(b)).map(|(a, b)| round(a - b, 0))
    }

    /// The API's own work, µs of CPU per payment.
    pub fn api_over_bare(&self) -> Option<f64> {
        self.over(API, BARE)
    }

    /// Serving HTTP at all, µs of CPU per payment.
    pub fn bare_over_floor(&self) -> Option<f64> {
        self.over(BARE, FLOOR)
    }

    pub fn api_over_floor(&self) -> Option<f64> {
        self.over(API, FLOOR)
    }

    /// The API's CPU over the floor's client as a share of the floor's client's own: the same
    /// target as `api_over_floor` in a form a machine's speed, or a slow phase of it, cancels
    /// out of (docs/BENCHMARK.md, "The twentieth session").
    pub fn api_over_floor_share(&self) -> Option<f64> {
        let (api, floor) = self.side(API).zip(self.side(FLOOR))?;
        (floor > 0.0).then(|| round((api - floor) / floor, 2))
    }

    /// The compared build's API over the bare server.
    pub fn compared_over_bare(&self) -> Option<f64> {
        self.over(COMPARED, BARE)
    }

    /// The last line of `BENCH_QUIET_ONLY`: the differences, `-` where one is not measured.
    pub fn last_line(&self) -> String {
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v}"));
        format!(
            "quiet_api_cpu_us_over_bare={} quiet_bare_cpu_us_over_floor={} quiet_api_cpu_us_over_floor={} quiet_compared_cpu_us_over_bare={} \
             quiet_api_cpu_over_floor_share={}",
            f(self.api_over_bare()),
            f(self.bare_over_floor()),
            f(self.api_over_floor()),
            f(self.compared_over_bare()),
            f(self.api_over_floor_share()),
        )
    }
}

pub const FLOOR: &str = "floor's client";
pub const BARE: &str = "bare server";
pub const API: &str = "api";
pub const COMPARED: &str = "compared api";

/// The process names of the quiet run.
const STUB_PROC: &str = "quiet-aws";
const BARE_PROC: &str = "quiet-bare";
const API_PROC: &str = "quiet-api";
/// Ends in `-other`, as every process of the compared build does (left out of this build's memory).
const COMPARED_PROC: &str = "quiet-api-other";

enum Driver {
    Floor(Arc<Floor>),
    /// An HTTP side and the name of its process.
    Http(Arc<Api>, &'static str),
}

struct Side {
    name: &'static str,
    driver: Driver,
    payments: u64,
    errors: u64,
    seconds: f64,
    cpu_us: Option<u64>,
}

impl Side {
    fn new(name: &'static str, driver: Driver) -> Self {
        Self { name, driver, payments: 0, errors: 0, seconds: 0.0, cpu_us: Some(0) }
    }

    /// The CPU so far of whoever does this side's work: this process for the floor's client.
    fn cpu(&self, sys: &System) -> Option<u64> {
        match &self.driver {
            Driver::Floor(_) => cpu::own_cpu_us(),
            Driver::Http(_, proc_name) => sys.cpu_of(proc_name),
        }
    }

    /// One slice of `secs` at concurrency `c`; counted unless it is the warm-up.
    async fn slice(&mut self, sys: &System, c: usize, secs: f64, counted: bool) {
        let before = self.cpu(sys);
        let out = match &self.driver {
            Driver::Floor(floor) => levels::floor_slice(floor, c, secs).await,
            Driver::Http(api, _) => levels::api_slice(api, c, secs).await,
        };
        if !counted {
            return;
        }
        let used = before.zip(self.cpu(sys)).map(|(b, a)| a.saturating_sub(b));
        self.cpu_us = self.cpu_us.zip(used).map(|(t, u)| t + u);
        self.payments += out.successes.len() as u64;
        self.errors += out.errors.values().sum::<u64>();
        self.seconds += out.seconds();
    }

    fn report(&self) -> QuietSide {
        let cpu_us_per_payment = per_payment(self.cpu_us, self.payments, self.errors);
        if cpu_us_per_payment.is_none() {
            eprintln!(
                "bench: the quiet run's {}: {} errors for {} payments, its CPU not reported",
                self.name, self.errors, self.payments
            );
        }
        QuietSide {
            name: self.name.to_owned(),
            payments: self.payments,
            errors: self.errors,
            per_sec: if self.seconds > 0.0 { round(self.payments as f64 / self.seconds, 1) } else { 0.0 },
            cpu_us_per_payment,
        }
    }
}

/// µs of CPU per payment, unless more than 1 % of the requests failed (or none succeeded).
fn per_payment(cpu_us: Option<u64>, payments: u64, errors: u64) -> Option<f64> {
    let clean = payments > 0 && errors * 100 <= payments;
    cpu_us.filter(|_| clean).map(|us| round(us as f64 / payments as f64, 1))
}

/// The quiet run, if `BENCH_QUIET_SECS` asks for one, or `None` (with a warning) when it could
/// not be measured; every process it started is stopped either way, so a failure costs this
/// figure only.
pub async fn maybe_measure(sys: &mut System, args: &BenchArgs, run_id: &str) -> Option<QuietRun> {
    if args.quiet_secs <= 0.0 {
        return None;
    }
    measure_stopped(sys, args, run_id)
        .await
        .inspect_err(|e| eprintln!("bench: the quiet run was not measured: {e}"))
        .ok()
}

/// The quiet run, every process it started stopped whether it was measured or not.
pub async fn measure_stopped(sys: &mut System, args: &BenchArgs, run_id: &str) -> Result<QuietRun, BenchError> {
    eprintln!(
        "bench: the quiet run (floor, bare server and api against a stub AWS) at concurrency {}",
        args.quiet_concurrency
    );
    let slices = levels::slices(args.quiet_secs, args.slice_secs);
    let sizes = (usize::from(args.quiet_concurrency), slices, args.quiet_secs / slices as f64);
    let mut stack = sys.stack(run_id, "quiet");
    let measured = measure(sys, &mut stack, args.compare_bin_dir.as_deref(), sizes).await;
    sys.stop_all(Some(&stack)).await;
    measured
}

/// Starts the quiet AWS, and against it the bare server, this build's API and, with
/// `compare_dir`, the other build's API (left out, with a warning, if it cannot start); runs a
/// warm-up slice of each, then `slices` rounds of one slice of each side, in an order that
/// turns and reverses from round to round, at concurrency `c`.
async fn measure(
    sys: &mut System,
    stack: &mut AwsArgs,
    compare_dir: Option<&std::path::Path>,
    (c, slices, slice_secs): (usize, usize, f64),
) -> Result<QuietRun, BenchError> {
    stack.endpoint_url = Some(sys.start_self(Role::AwsStub, STUB_PROC, stack).await?);
    stack.dynamodb_endpoint_url = None;
    stack.setup = false;
    let bare = sys.start_self(Role::BareHttp, BARE_PROC, stack).await?;
    let api = sys.start(Role::Api, API_PROC, stack).await?;
    let http = sys.http.clone();
    let connect = async |url: String| Api::connect(http.clone(), url).await.map(Arc::new);
    let mut sides = vec![
        Side::new(FLOOR, Driver::Floor(Arc::new(super::run::floor_for(stack).await?))),
        Side::new(BARE, Driver::Http(connect(bare).await?, BARE_PROC)),
        Side::new(API, Driver::Http(connect(api).await?, API_PROC)),
    ];
    if let Some(dir) = compare_dir {
        match sys.start_from(dir, Role::Api, COMPARED_PROC, stack).await {
            Ok(url) => sides.push(Side::new(COMPARED, Driver::Http(connect(url).await?, COMPARED_PROC))),
            Err(e) => eprintln!("bench: the compared build's api left out of the quiet run: {e}"),
        }
    }
    for side in &mut sides {
        side.slice(sys, c, slice_secs, false).await;
    }
    let only_api = |snap: Snapshot| -> Snapshot { snap.into_iter().filter(|(name, _, _)| name == API_PROC).collect() };
    let before = only_api(sys.snapshot(stack).await);
    for round in 0..slices {
        for i in order(sides.len(), round) {
            sides[i].slice(sys, c, slice_secs, true).await;
        }
    }
    let api_payments = sides.iter().find(|s| s.name == API).map_or(0, |s| s.payments);
    let calls = requests::phase("quiet run", "payment", api_payments, &before, &only_api(sys.snapshot(stack).await));
    Ok(QuietRun {
        concurrency: c,
        slices_per_side: slices,
        sides: sides.iter().map(Side::report).collect(),
        api_matches_floor: requests::api_matches(&calls, super::floor::CALLS),
    })
}

/// The sides' order in round `round` of `n` sides: turned by one each round, and reversed every
/// other one, so that no side always follows the same one.
fn order(n: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// The quiet run's table: each side's rate and CPU per payment, and the differences.
pub fn render(out: &mut String, q: &QuietRun) {
    use super::table::f;
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "\n== The quiet run: against a stub AWS that answers in 5 ms, concurrency {}, {} slices of each side in turn ==",
        q.concurrency, q.slices_per_side
    );
    let _ =
        writeln!(out, "{:>16} | {:>9} {:>7} {:>6} | {:>16}", "side", "payments", "per s", "errors", "CPU µs/payment");
    for side in &q.sides {
        let _ = writeln!(
            out,
            "{:>16} | {:>9} {:>7.1} {:>6} | {:>16}",
            side.name,
            side.payments,
            side.per_sec,
            side.errors,
            f(side.cpu_us_per_payment, 0)
        );
    }
    let _ = writeln!(
        out,
        "serving HTTP at all (bare over floor's client) {} µs; the api's own work (api over bare) {} µs{}; api over floor's client {} µs",
        f(q.bare_over_floor(), 0),
        f(q.api_over_bare(), 0),
        q.compared_over_bare().map_or_else(String::new, |v| format!(" (the compared build's {v:.0})")),
        f(q.api_over_floor(), 0),
    );
    if q.api_matches_floor == Some(false) {
        let _ =
            writeln!(out, "WARNING: the api's counted calls per payment differ from the floor's (src/bench/floor.rs)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(name: &str, cpu: f64) -> QuietSide {
        QuietSide { name: name.into(), payments: 10, cpu_us_per_payment: Some(cpu), ..Default::default() }
    }

    #[test]
    fn the_differences_are_taken_side_by_side() {
        let run = QuietRun {
            concurrency: 16,
            slices_per_side: 3,
            sides: vec![side(FLOOR, 200.4), side(BARE, 260.0), side(API, 341.2), side(COMPARED, 380.0)],
            api_matches_floor: Some(true),
        };
        assert_eq!(run.api_over_bare(), Some(81.0));
        assert_eq!(run.bare_over_floor(), Some(60.0));
        assert_eq!(run.api_over_floor(), Some(141.0));
        assert_eq!(run.compared_over_bare(), Some(120.0));
        // 141 over 200.4.
        assert_eq!(run.api_over_floor_share(), Some(0.7));
        assert_eq!(
            run.last_line(),
            "quiet_api_cpu_us_over_bare=81 quiet_bare_cpu_us_over_floor=60 quiet_api_cpu_us_over_floor=141 quiet_compared_cpu_us_over_bare=120 \
             quiet_api_cpu_over_floor_share=0.7"
        );
        let without = QuietRun { sides: vec![side(FLOOR, 200.0)], ..run };
        assert_eq!(without.api_over_bare(), None);
        assert!(without.last_line().starts_with("quiet_api_cpu_us_over_bare=- "), "{}", without.last_line());
    }

    #[test]
    fn every_side_leads_and_follows_each_other_side_in_turn() {
        let rounds: Vec<Vec<usize>> = (0..6).map(|r| order(3, r)).collect();
        // Every order of three sides, once each in six rounds.
        let every = [[0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 2, 0], [1, 0, 2]];
        assert_eq!(rounds, every);
        for r in &rounds {
            let mut sorted = r.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2], "each side once a round");
        }
    }

    #[test]
    fn a_side_with_failed_requests_reports_no_cpu() {
        assert_eq!(per_payment(Some(300_000), 1000, 10), Some(300.0), "1 % failed");
        assert_eq!(per_payment(Some(300_000), 1000, 11), None, "over 1 %");
        assert_eq!(per_payment(Some(0), 0, 0), None, "nothing made");
        assert_eq!(per_payment(None, 1000, 0), None, "no CPU read");
    }
}
