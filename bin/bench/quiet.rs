//! The quiet run: the API's CPU per payment against an AWS that answers at once (`stub`), beside
//! the bare HTTP server's (`bare`) and the floor's client's, in alternating slices at one
//! concurrency. Against the emulator the same build's figures move by a third between runs
//! minutes apart (docs/BENCHMARK.md): the emulator works on the same 2 cores, at a speed that
//! drifts, and every wait on it wakes the measured processes differently. Here nothing works but
//! the measured process, this load generator and a stub that does almost nothing, so the
//! differences hold still from run to run: what the API costs over the bare server (its own work:
//! token, validation, sealed card, idempotency, span, log line, metrics) and what the bare server
//! costs over the floor's client (serving HTTP at all). The absolute figures are not the
//! emulator run's: each AWS call here is answered without delay, and the SDK's share of the work
//! is the same on every side.
use std::sync::Arc;

use serde::Serialize;

use super::error::BenchError;
use super::floor::Floor;
use super::load::Api;
use super::procs::Role;
use super::stats::round;
use super::system::System;
use super::{cpu, levels};

/// One side's slices: payments made, seconds and CPU over them, warm-up left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QuietSide {
    pub name: String,
    pub payments: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub cpu_us_per_payment: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuietRun {
    pub concurrency: usize,
    pub slices_per_side: usize,
    /// The floor's client, the bare server, the API, and the compared build's API when there is one.
    pub sides: Vec<QuietSide>,
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

    /// The compared build's API over the bare server.
    pub fn compared_over_bare(&self) -> Option<f64> {
        self.over(COMPARED, BARE)
    }
}

pub const FLOOR: &str = "floor's client";
pub const BARE: &str = "bare server";
pub const API: &str = "api";
pub const COMPARED: &str = "compared api";

enum Driver {
    Floor(Arc<Floor>),
    /// An HTTP side and the name of its process.
    Http(Arc<Api>, String),
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
        let per = |us: u64| round(us as f64 / self.payments as f64, 1);
        QuietSide {
            name: self.name.to_owned(),
            payments: self.payments,
            errors: self.errors,
            per_sec: if self.seconds > 0.0 { round(self.payments as f64 / self.seconds, 1) } else { 0.0 },
            cpu_us_per_payment: self.cpu_us.filter(|_| self.payments > 0).map(per),
        }
    }
}

/// Starts the quiet AWS, and against it the bare server, this build's API and, with
/// `compare_dir`, the other build's API; runs every side in rotating order, `slices` slices of
/// `slice_secs` each after a warm-up slice, at concurrency `c`; stops them all.
pub async fn measure(
    sys: &mut System,
    run_id: &str,
    compare_dir: Option<&std::path::Path>,
    (c, slices, slice_secs): (usize, usize, f64),
) -> Result<QuietRun, BenchError> {
    let mut stack = sys.stack(run_id, "quiet");
    let stub = super::bare::start_as(sys, Role::AwsStub, "quiet-aws", &stack).await?;
    stack.endpoint_url = Some(stub);
    stack.dynamodb_endpoint_url = None;
    stack.setup = false;
    let bare = super::bare::start_as(sys, Role::BareHttp, "quiet-bare", &stack).await?;
    let api = sys.start(Role::Api, "quiet-api", &stack).await?;
    let http = sys.http.clone();
    let connect = async |url: String| Api::connect(http.clone(), url).await.map(Arc::new);
    let mut sides = vec![
        Side::new(FLOOR, Driver::Floor(Arc::new(super::run::floor_for(&stack).await?))),
        Side::new(BARE, Driver::Http(connect(bare).await?, "quiet-bare".into())),
        Side::new(API, Driver::Http(connect(api).await?, "quiet-api".into())),
    ];
    if let Some(dir) = compare_dir {
        let other = sys.start_from(dir, Role::Api, "quiet-api-other", &stack).await?;
        sides.push(Side::new(COMPARED, Driver::Http(connect(other).await?, "quiet-api-other".into())));
    }
    for side in &mut sides {
        side.slice(sys, c, slice_secs, false).await;
    }
    for round in 0..slices {
        let k = sides.len();
        for i in 0..k {
            sides[(i + round) % k].slice(sys, c, slice_secs, true).await;
        }
    }
    sys.stop_all(Some(&stack)).await;
    Ok(QuietRun { concurrency: c, slices_per_side: slices, sides: sides.iter().map(Side::report).collect() })
}

/// The quiet run's table: each side's rate and CPU per payment, and the differences.
pub fn render(out: &mut String, q: &QuietRun) {
    use super::table::f;
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "\n== The quiet run: against a stub AWS that answers at once, concurrency {}, {} slices of each side in turn ==",
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
        };
        assert_eq!(run.api_over_bare(), Some(81.0));
        assert_eq!(run.bare_over_floor(), Some(60.0));
        assert_eq!(run.api_over_floor(), Some(141.0));
        assert_eq!(run.compared_over_bare(), Some(120.0));
        let without = QuietRun { sides: vec![side(FLOOR, 200.0)], ..run };
        assert_eq!(without.api_over_bare(), None);
    }
}
