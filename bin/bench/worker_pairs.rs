//! The payment worker against its floor, side by side in time. The whole-phase figure
//! (`worker_floor_ratio_phase`) divides the last pipeline run's CPU by a price the floor's client
//! paid minutes earlier. On this machine a process's CPU per unit of work drifts by a fifth or
//! more within minutes, every process the same way though not by the same factor (in one run,
//! the api's CPU per payment read 535 and 370 µs, and the payment worker's 1,115 and 900, in two
//! pipeline runs of the same configuration a minute apart), so a ratio of figures taken minutes
//! apart carries that drift. Pairing takes the minutes out, not the difference in conditions:
//! the floor's turn runs with the other services idle, the worker's on a busy machine.
//!
//! Here the two sides take turns, as the API's levels alternate with the floor's: a pipeline run
//! of a few hundred payments with the workers as the last pipeline run left them, then the
//! floor's client one payment at a time (the level where each of its requests is a call of its
//! own, `price::Prices`), then the other way round. Each pair gives the worker's CPU per payment
//! and the floor's CPU per request measured a few seconds apart; the report prices the one at
//! the other and takes the median over the pairs (`report::Headline::with_worker_pairs`).
use std::sync::Arc;

use serde::Serialize;

use super::cpu;
use super::floor::Floor;
use super::levels;
use super::phases::{self, RunCtx};
use super::procs::Role;
use super::system::System;
use payment_platform::config::AwsArgs;

/// Seconds of each floor turn: at one payment at a time, several hundred payments, so its CPU is
/// tens of clock ticks (`cpu`), as the worker's turn is.
const FLOOR_SECS: f64 = 3.0;

/// One pair of turns.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// The payment workers' CPU per accepted payment of the pipeline turn, µs (all processes).
    pub worker_us_per_payment: f64,
    /// The floor's client's CPU per AWS request of its turn, µs.
    pub floor_us_per_request: f64,
}

/// `pairs` pairs of turns, each pipeline turn `payments` payments; pairs where either side
/// measured nothing are left out.
pub async fn measure(
    sys: &System,
    stack: &AwsArgs,
    ctx: &RunCtx<'_>,
    floor: &Arc<Floor>,
    pairs: usize,
    payments: usize,
) -> Vec<Pair> {
    let mut out = Vec::new();
    for turn in 0..pairs {
        let (worker, floor_price) = if turn % 2 == 0 {
            let w = worker_turn(sys, stack, ctx, payments).await;
            (w, floor_turn(floor).await)
        } else {
            let f = floor_turn(floor).await;
            (worker_turn(sys, stack, ctx, payments).await, f)
        };
        if let (Some(worker_us_per_payment), Some(floor_us_per_request)) = (worker, floor_price) {
            out.push(Pair { worker_us_per_payment, floor_us_per_request });
        }
    }
    out
}

/// A pipeline run of `n` payments: the payment workers' CPU per accepted payment.
async fn worker_turn(sys: &System, stack: &AwsArgs, ctx: &RunCtx<'_>, n: usize) -> Option<f64> {
    let before = sys.cpu(stack);
    let (stats, _) = phases::pipeline(ctx, n).await;
    // What the last jobs do after the payment is final (their deletes) is theirs too.
    tokio::time::sleep(super::run::SETTLE_PAUSE).await;
    let phase = cpu::phase("worker turn", "payment", stats.accepted, &before, &sys.cpu(stack));
    phase.us_per_unit.get(&Role::PaymentWorker).copied().filter(|us| *us > 0.0)
}

/// The floor's client one payment at a time for `FLOOR_SECS`: its CPU per AWS request.
async fn floor_turn(floor: &Arc<Floor>) -> Option<f64> {
    let (requests, cpu_before) = (floor.requests(), cpu::own_cpu_us()?);
    let out = levels::floor_slice(floor, 1, FLOOR_SECS).await;
    let used = cpu::own_cpu_us()?.saturating_sub(cpu_before);
    let made = floor.requests().saturating_sub(requests);
    // A turn with failed calls would price the failures, not the floor's work: left out.
    if !out.errors.is_empty() {
        eprintln!("warning: a floor turn of the worker pairs had failed calls: {:?}", out.errors);
        return None;
    }
    (made > 0 && used > 0).then(|| super::stats::round(used as f64 / made as f64, 1))
}

/// The median of `worker / (requests × floor)` over the pairs: the payment worker's CPU per
/// payment over what `requests` requests per payment cost the floor's client beside it.
pub fn median_ratio(pairs: &[Pair], requests: f64) -> Option<f64> {
    let worker: Vec<f64> = pairs.iter().map(|p| p.worker_us_per_payment).collect();
    let priced: Vec<f64> = pairs.iter().map(|p| p.floor_us_per_request * requests).collect();
    (requests > 0.0).then(|| levels::median_ratio(&worker, &priced)).flatten().map(|r| super::stats::round(r, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(worker: f64, floor: f64) -> Pair {
        Pair { worker_us_per_payment: worker, floor_us_per_request: floor }
    }

    #[test]
    fn the_ratio_is_the_median_of_the_pairs() {
        // 4 requests per payment: 800 / (4 × 200) = 1.0, 1,100 / (4 × 250) = 1.1, 1,200 / (4 × 200) = 1.5.
        let pairs = [pair(800.0, 200.0), pair(1_200.0, 200.0), pair(1_100.0, 250.0)];
        assert_eq!(median_ratio(&pairs, 4.0), Some(1.1));
        assert_eq!(median_ratio(&pairs[..2], 4.0), Some(1.25));
        assert_eq!(median_ratio(&[], 4.0), None);
        assert_eq!(median_ratio(&pairs, 0.0), None);
    }
}
