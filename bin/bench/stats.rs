//! Percentiles and the summary of one measured level.
use std::collections::BTreeMap;

use serde::Serialize;

/// Nearest-rank percentile of ascending `sorted` (`p` in 0..=100); `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Microseconds to milliseconds, for reports.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Rounds to `places` decimals (for JSON that reads well).
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// One level (a concurrency) of the API or the floor.
#[derive(Debug, Clone, Serialize)]
pub struct LevelStats {
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Error kinds and how often (HTTP status or AWS error code).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
}

impl LevelStats {
    /// `latencies_us` of the successful calls (any order), over `seconds` of wall time.
    pub fn new(concurrency: usize, mut latencies_us: Vec<u64>, errors: BTreeMap<String, u64>, seconds: f64) -> Self {
        latencies_us.sort_unstable();
        let pct = |p| percentile(&latencies_us, p).map(|v| round(ms(v), 3));
        let ok = latencies_us.len() as u64;
        Self {
            concurrency,
            ok,
            errors: errors.values().sum(),
            seconds: round(seconds, 3),
            per_sec: if seconds > 0.0 { round(ok as f64 / seconds, 1) } else { 0.0 },
            p50_ms: pct(50.0),
            p95_ms: pct(95.0),
            p99_ms: pct(99.0),
            max_ms: latencies_us.last().map(|&v| round(ms(v), 3)),
            error_kinds: errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_level_sorts_its_samples_and_counts_rates() {
        let s = LevelStats::new(4, vec![3000, 1000, 2000, 4000], BTreeMap::from([("503".into(), 2)]), 2.0);
        assert_eq!((s.ok, s.errors, s.per_sec), (4, 2, 2.0));
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (Some(2.0), Some(4.0), Some(4.0)));
        let empty = LevelStats::new(1, vec![], BTreeMap::new(), 0.0);
        assert_eq!((empty.per_sec, empty.p50_ms), (0.0, None));
    }
}
