//! The API against the floor at one concurrency. Both run in alternating slices (floor, api,
//! api, floor, ...) rather than one after the other, so both meet the emulator's pauses (Python
//! garbage collection, MiniStack's TTL reaper that walks every item each minute) alike.
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::drive::{Outcome, Until, drive};
use super::floor::Floor;
use super::load::Api;
use super::stats::LevelStats;

/// Samples of one side, gathered over its slices.
#[derive(Default)]
struct Gathered {
    latencies: Vec<u64>,
    errors: BTreeMap<String, u64>,
    seconds: f64,
    calls: u64,
    /// The bench process's own CPU over these slices, µs.
    own_cpu_us: u64,
    /// Each slice's rate, in order.
    rates: Vec<f64>,
}

impl Gathered {
    fn add_cpu(&mut self, before: Option<u64>) {
        if let (Some(b), Some(a)) = (before, super::cpu::own_cpu_us()) {
            self.own_cpu_us += a.saturating_sub(b);
        }
    }

    fn add<T>(&mut self, out: Outcome<T>) {
        self.latencies.extend(out.latencies());
        for (k, n) in out.error_kinds() {
            *self.errors.entry(k).or_default() += n;
        }
        self.seconds += out.seconds();
        self.calls += out.successes.len() as u64;
        if out.seconds() > 0.0 {
            self.rates.push(out.successes.len() as f64 / out.seconds());
        }
    }

    fn stats(self, c: usize) -> LevelStats {
        LevelStats::new(c, self.latencies, self.errors, self.seconds)
    }
}

pub(super) fn api_slice(api: &Arc<Api>, c: usize, secs: f64) -> impl Future<Output = Outcome<()>> + use<> {
    let api = Arc::clone(api);
    drive(c, Until::Elapsed(Duration::from_secs_f64(secs)), move |i| {
        let api = Arc::clone(&api);
        async move { api.create(i).await.map(|_| ()) }
    })
}

pub(super) fn floor_slice(floor: &Arc<Floor>, c: usize, secs: f64) -> impl Future<Output = Outcome<()>> + use<> {
    let floor = Arc::clone(floor);
    drive(c, Until::Elapsed(Duration::from_secs_f64(secs)), move |_| {
        let floor = Arc::clone(&floor);
        async move { floor.one().await }
    })
}

/// How many slices of about `slice` seconds make `duration` (at least one).
pub fn slices(duration: f64, slice: f64) -> usize {
    if slice <= 0.0 || duration <= slice { 1 } else { (duration / slice).round().max(1.0) as usize }
}

/// What one level measured: the API's figures, the floor's, every payment the API accepted
/// (warm-up included), and the bench's own CPU over each side's slices: the floor's client
/// cost, and the API's load generator's (its HTTP client).
pub struct Level {
    pub api: LevelStats,
    pub floor: LevelStats,
    pub accepted: u64,
    pub floor_calls: u64,
    pub floor_client_cpu_us: u64,
    /// The AWS requests the floor made per payment, warm-up included (its charge jobs share
    /// `SendMessageBatch` calls when many go at once).
    pub floor_requests_per_payment: Option<f64>,
    pub api_calls: u64,
    pub api_client_cpu_us: u64,
    /// The median over the rounds of the API's rate in a slice over the floor's in the slice
    /// beside it: an emulator's pause costs one round, not the level.
    pub median_ratio: Option<f64>,
}

/// The median of `a[i] / b[i]` over the rounds where both ran.
pub fn median_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let mut ratios: Vec<f64> = a.iter().zip(b).filter(|(_, b)| **b > 0.0).map(|(a, b)| a / b).collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    let median = if ratios.len() % 2 == 1 { ratios[mid] } else { (ratios[mid - 1] + ratios[mid]) / 2.0 };
    Some(super::stats::round(median, 3))
}

/// `warmup` seconds of each unmeasured, then `duration` seconds of each measured, in slices.
pub async fn compare(api: &Arc<Api>, floor: &Arc<Floor>, c: usize, sizes: (f64, f64, f64)) -> Level {
    let requests = std::sync::atomic::AtomicU64::new(0);
    let counted = async |secs| {
        let before = floor.requests();
        let out = floor_slice(floor, c, secs).await;
        requests.fetch_add(floor.requests() - before, std::sync::atomic::Ordering::Relaxed);
        out
    };
    let (a, f, (warm, floor_warm)) = alternate(|secs| api_slice(api, c, secs), counted, sizes).await;
    let floor_payments = f.calls + floor_warm;
    let floor_requests_per_payment =
        (floor_payments > 0).then(|| super::stats::round(requests.into_inner() as f64 / floor_payments as f64, 3));
    let (floor_calls, floor_client_cpu_us) = (f.calls, f.own_cpu_us);
    let (api_calls, api_client_cpu_us) = (a.calls, a.own_cpu_us);
    let median_ratio = median_ratio(&a.rates, &f.rates);
    Level {
        accepted: warm + a.calls,
        api: a.stats(c),
        floor: f.stats(c),
        floor_calls,
        floor_client_cpu_us,
        floor_requests_per_payment,
        api_calls,
        api_client_cpu_us,
        median_ratio,
    }
}

/// Two kinds of calls at concurrency `c` in alternating slices, as `compare` runs the API and
/// the floor: (first, second).
pub async fn pair(
    first: impl AsyncFn(f64) -> Outcome<()>,
    second: impl AsyncFn(f64) -> Outcome<()>,
    c: usize,
    sizes: (f64, f64, f64),
) -> (LevelStats, LevelStats) {
    let (a, b, _) = alternate(first, second, sizes).await;
    (a.stats(c), b.stats(c))
}

/// One side of `pair_with_median`: its measured slices, and the calls of its warm-up.
pub struct Side {
    pub stats: LevelStats,
    pub warm: u64,
}

/// `pair`, with each side's warm-up calls (for a process's CPU, which counts them too) and the
/// median of the first's rate over the second's, slice by slice.
pub async fn pair_with_median(
    first: impl AsyncFn(f64) -> Outcome<()>,
    second: impl AsyncFn(f64) -> Outcome<()>,
    c: usize,
    sizes: (f64, f64, f64),
) -> (Side, Side, Option<f64>) {
    let (a, b, (warm_a, warm_b)) = alternate(first, second, sizes).await;
    let median = median_ratio(&a.rates, &b.rates);
    (Side { stats: a.stats(c), warm: warm_a }, Side { stats: b.stats(c), warm: warm_b }, median)
}

/// Runs one slice (a future does nothing until awaited), adding what it did and the bench's own
/// CPU over it to `g`.
async fn measured(g: &mut Gathered, slice: impl Future<Output = Outcome<()>>) {
    let cpu = super::cpu::own_cpu_us();
    g.add(slice.await);
    g.add_cpu(cpu);
}

/// Runs `a` and `b` in alternating slices after a warm-up of each; returns what each did
/// (measured slices only) and how many calls each made while warming up.
async fn alternate(
    a: impl AsyncFn(f64) -> Outcome<()>,
    b: impl AsyncFn(f64) -> Outcome<()>,
    (warmup, duration, slice): (f64, f64, f64),
) -> (Gathered, Gathered, (u64, u64)) {
    let mut warm = (0, 0);
    if warmup > 0.0 {
        warm.1 = b(warmup).await.successes.len() as u64;
        warm.0 = a(warmup).await.successes.len() as u64;
    }
    let n = slices(duration, slice);
    let each = duration / n as f64;
    let (mut ga, mut gb) = (Gathered::default(), Gathered::default());
    for round in 0..n {
        if round % 2 == 0 {
            measured(&mut gb, b(each)).await;
            measured(&mut ga, a(each)).await;
        } else {
            measured(&mut ga, a(each)).await;
            measured(&mut gb, b(each)).await;
        }
    }
    (ga, gb, warm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_duration() {
        assert_eq!(slices(10.0, 2.0), 5);
        assert_eq!(slices(3.0, 2.0), 2);
        assert_eq!(slices(1.0, 2.0), 1);
        assert_eq!(slices(10.0, 0.0), 1);
    }

    #[test]
    fn the_median_ratio_pairs_slices_and_ignores_one_paused_round() {
        assert_eq!(median_ratio(&[90.0, 10.0, 95.0], &[100.0, 100.0, 100.0]), Some(0.9));
        assert_eq!(median_ratio(&[90.0, 100.0], &[100.0, 100.0]), Some(0.95));
        assert_eq!(median_ratio(&[1.0], &[0.0]), None);
    }
}
