//! The pipeline runs (POST to final) and the refund run.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::drive::{Until, drive};
use super::load::{Accepted, Api};
use super::stats::{LevelStats, round};
use super::track::{Final, Tracker, payment_key, refund_key};
use payment_platform::dynamo::keys::RepairKind;

/// A run of payments (or refunds) from request to final.
#[derive(Debug, Clone, Serialize)]
pub struct FlowStats {
    pub workers: usize,
    pub concurrency: usize,
    pub requested: usize,
    pub accepted: u64,
    /// Accepted per second while the requests were being sent.
    pub accept_per_sec: f64,
    /// The requests themselves (POST or PATCH).
    pub request: LevelStats,
    pub final_count: u64,
    pub non_final: u64,
    pub statuses: BTreeMap<String, u64>,
    /// Final per second: finals over first request sent to last record final.
    pub settled_per_sec: f64,
    /// Seconds from the first request sent to the last record final.
    pub seconds_to_all_final: f64,
    /// Request sent to record final (`UpdatedAt`), ms.
    pub to_final_p50_ms: Option<f64>,
    pub to_final_p95_ms: Option<f64>,
    pub to_final_p99_ms: Option<f64>,
    pub to_final_max_ms: Option<f64>,
}

/// The figures of a run: the request latencies, and for each accepted request its sent time and
/// the record's final state (absent if not final).
pub fn flow_stats(
    (workers, concurrency, requested): (usize, usize, usize),
    request: LevelStats,
    sent_and_final: &[(u64, Option<&Final>)],
    is_final: impl Fn(&str) -> bool,
) -> FlowStats {
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut to_final_us = Vec::new();
    let first_sent = sent_and_final.iter().map(|(s, _)| *s).min().unwrap_or(0);
    let mut last_final = first_sent;
    for (sent, fin) in sent_and_final {
        let status = fin.map_or("MISSING", |f| f.status.as_str());
        *statuses.entry(status.to_owned()).or_default() += 1;
        if let Some(f) = fin.filter(|f| is_final(&f.status)) {
            to_final_us.push(f.updated_ms.saturating_sub(*sent) * 1000);
            last_final = last_final.max(f.updated_ms);
        }
    }
    let final_count = to_final_us.len() as u64;
    let span = (last_final.saturating_sub(first_sent)) as f64 / 1000.0;
    let lat = LevelStats::new(concurrency, to_final_us, BTreeMap::new(), span);
    let accepted = sent_and_final.len() as u64;
    FlowStats {
        workers,
        concurrency,
        requested,
        accepted,
        accept_per_sec: request.per_sec,
        request,
        final_count,
        non_final: accepted - final_count,
        statuses,
        settled_per_sec: lat.per_sec,
        seconds_to_all_final: round(span, 3),
        to_final_p50_ms: lat.p50_ms,
        to_final_p95_ms: lat.p95_ms,
        to_final_p99_ms: lat.p99_ms,
        to_final_max_ms: lat.max_ms,
    }
}

pub fn payment_is_final(s: &str) -> bool {
    matches!(s, "SUCCEEDED" | "DECLINED" | "FAILED")
}

pub fn refund_is_final(s: &str) -> bool {
    matches!(s, "SUCCEEDED" | "FAILED")
}

/// What a run needs besides the API: the tracker and its limits.
#[derive(Clone, Copy)]
pub struct RunCtx<'a> {
    pub api: &'a Arc<Api>,
    pub tracker: &'a Tracker,
    pub concurrency: usize,
    pub workers: usize,
    pub timeout: Duration,
    pub poll: Duration,
}

/// POSTs `n` payments at the run's concurrency, waits until all are final, reads their final times.
/// Returns the figures and the accepted payments with their final state.
pub async fn pipeline(ctx: &RunCtx<'_>, n: usize) -> (FlowStats, Vec<(Accepted, Option<Final>)>) {
    let api = Arc::clone(ctx.api);
    let out = drive(ctx.concurrency, Until::Calls(n), move |i| {
        let api = Arc::clone(&api);
        async move { api.create(i).await }
    })
    .await;
    let request = LevelStats::new(ctx.concurrency, out.latencies(), out.error_kinds(), out.seconds());
    let accepted: Vec<Accepted> = out.successes.into_iter().map(|(_, _, a)| a).collect();
    if let Ok(false) | Err(_) = ctx.tracker.wait_all_final(RepairKind::Payment, ctx.timeout, ctx.poll).await {
        eprintln!("bench: not every payment was final within {:?}", ctx.timeout);
    }
    let keys: Vec<_> = accepted.iter().map(|a| payment_key(&a.id)).collect();
    let finals = ctx.tracker.read(&keys).await.unwrap_or_else(|e| {
        eprintln!("bench: reading the final payments failed: {e}");
        Default::default()
    });
    let joined: Vec<(Accepted, Option<Final>)> =
        accepted.into_iter().map(|a| (a.clone(), finals.get(&payment_key(&a.id)).cloned())).collect();
    let sent: Vec<(u64, Option<&Final>)> = joined.iter().map(|(a, f)| (a.sent_ms, f.as_ref())).collect();
    let stats = flow_stats((ctx.workers, ctx.concurrency, n), request, &sent, payment_is_final);
    (stats, joined)
}

/// POSTs `n` payments open loop: the i-th is sent at `i / rate` seconds, whether or not the
/// ones before it were answered (as customers arrive), then waits until all are final. Below
/// the system's capacity the payments settle as fast as they arrive; above it they queue up.
pub async fn open_loop(ctx: &RunCtx<'_>, rate: f64, n: usize) -> (OpenLoop, Vec<Accepted>) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tokio::time::sleep_until(start + period * u32::try_from(i).unwrap_or(u32::MAX)).await;
        let api = Arc::clone(ctx.api);
        tasks.spawn(async move {
            let t0 = std::time::Instant::now();
            (api.create(i).await, u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX))
        });
    }
    let (mut accepted, mut latencies, mut errors) = (Vec::new(), Vec::new(), BTreeMap::new());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((Ok(a), us)) => {
                accepted.push(a);
                latencies.push(us);
            }
            Ok((Err(kind), _)) => *errors.entry(kind).or_insert(0u64) += 1,
            Err(_) => *errors.entry("task".to_owned()).or_insert(0u64) += 1,
        }
    }
    let sending = start.elapsed().as_secs_f64();
    let request = LevelStats::new(0, latencies, errors, sending);
    if let Ok(false) | Err(_) = ctx.tracker.wait_all_final(RepairKind::Payment, ctx.timeout, ctx.poll).await {
        eprintln!("bench: not every open-loop payment was final within {:?}", ctx.timeout);
    }
    let keys: Vec<_> = accepted.iter().map(|a| payment_key(&a.id)).collect();
    let finals = ctx.tracker.read(&keys).await.unwrap_or_default();
    let sent: Vec<(u64, Option<&Final>)> =
        accepted.iter().zip(&keys).map(|(a, k)| (a.sent_ms, finals.get(k))).collect();
    let final_times: Vec<u64> =
        sent.iter().filter_map(|(_, f)| f.filter(|f| payment_is_final(&f.status)).map(|f| f.updated_ms)).collect();
    let sent_times: Vec<u64> = sent.iter().map(|(s, _)| *s).collect();
    // Payments still not final when the wait ended count against the ratio: a stuck backlog
    // must not vanish from it because only the final ones have times.
    let settled_share = final_times.len() as f64 / sent_times.len().max(1) as f64;
    let ratio = |rate: fn(&[u64]) -> Option<f64>| {
        rate(&final_times).zip(rate(&sent_times)).map(|(s, a)| round(s / a * settled_share, 3))
    };
    let run = OpenLoop {
        rate: round(rate, 1),
        flow: flow_stats((ctx.workers, 0, n), request, &sent, payment_is_final),
        settle_ratio: ratio(fitted_rate),
        settle_ratio_first_to_last: ratio(span_rate),
    };
    (run, accepted)
}

/// An open-loop run: its arrival rate, its flow, and settled/s over accepted/s.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoop {
    /// Payments sent per second.
    pub rate: f64,
    pub flow: FlowStats,
    /// Each rate fitted to all its times ([`fitted_rate`]): one slow payment at either end
    /// moves it by its share of the run, not by its whole delay.
    pub settle_ratio: Option<f64>,
    /// Each rate over its span, first to last ([`span_rate`]): the last payment's latency minus
    /// the first's counts against it whole.
    pub settle_ratio_first_to_last: Option<f64>,
}

/// Events per second over the span from the first to the last of `times` (ms).
fn span_rate(times: &[u64]) -> Option<f64> {
    let (first, last) = (times.iter().min()?, times.iter().max()?);
    (last > first && times.len() > 1).then(|| (times.len() - 1) as f64 * 1000.0 / (last - first) as f64)
}

/// Events per second as the least-squares slope of the sorted `times` (ms) against their rank:
/// every event weighs in, so a queue that grows shows (the times spread out more and more), while
/// one late event at the end moves the rate by little.
fn fitted_rate(times: &[u64]) -> Option<f64> {
    if times.len() < 3 {
        return None;
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = sorted.iter().map(|t| *t as f64).sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for (i, t) in sorted.iter().enumerate() {
        let dx = i as f64 - mean_x;
        cov += dx * (*t as f64 - mean_y);
        var += dx * dx;
    }
    let ms_per_event = cov / var;
    (ms_per_event > 0.0).then(|| 1000.0 / ms_per_event)
}

/// Refunds each of `payments` in full at the run's concurrency and waits until all are final.
pub async fn refunds(ctx: &RunCtx<'_>, payments: Vec<String>) -> FlowStats {
    let n = payments.len();
    let api = Arc::clone(ctx.api);
    let payments = Arc::new(payments);
    let out = drive(ctx.concurrency, Until::Calls(n), move |i| {
        let (api, payments) = (Arc::clone(&api), Arc::clone(&payments));
        async move { api.refund(&payments[i]).await }
    })
    .await;
    let request = LevelStats::new(ctx.concurrency, out.latencies(), out.error_kinds(), out.seconds());
    if let Ok(false) | Err(_) = ctx.tracker.wait_all_final(RepairKind::Refund, ctx.timeout, ctx.poll).await {
        eprintln!("bench: not every refund was final within {:?}", ctx.timeout);
    }
    let keys: Vec<_> = out.successes.iter().map(|(_, _, r)| refund_key(&r.payment_id, &r.refund_id)).collect();
    let finals = ctx.tracker.read(&keys).await.unwrap_or_default();
    let sent: Vec<(u64, Option<&Final>)> =
        out.successes.iter().zip(&keys).map(|((_, _, r), k)| (r.sent_ms, finals.get(k))).collect();
    flow_stats((ctx.workers, ctx.concurrency, n), request, &sent, refund_is_final)
}

/// Manual capture, the whole lifecycle: `n` payments authorized, then each captured whole, at
/// the run's concurrency, waiting for each stage in the table (not through the API, so the
/// waiting costs the services nothing). Answers how many ended SUCCEEDED.
pub async fn manual_capture(ctx: &RunCtx<'_>, n: usize) -> usize {
    let api = Arc::clone(ctx.api);
    let out = drive(ctx.concurrency, Until::Calls(n), move |i| {
        let api = Arc::clone(&api);
        async move { api.create_manual(i).await }
    })
    .await;
    let ids: Arc<Vec<String>> = Arc::new(out.successes.into_iter().map(|(_, _, a)| a.id).collect());
    let authorized = reach(ctx, &ids, "AUTHORIZED").await;
    let api = Arc::clone(ctx.api);
    let to_capture = Arc::clone(&ids);
    drive(ctx.concurrency, Until::Calls(authorized), move |i| {
        let (api, ids) = (Arc::clone(&api), Arc::clone(&to_capture));
        async move { api.capture(&ids[i]).await }
    })
    .await;
    reach(ctx, &ids, "SUCCEEDED").await
}

/// Polls the table until every one of `ids` has `status` (or the run's timeout); how many have.
async fn reach(ctx: &RunCtx<'_>, ids: &[String], status: &str) -> usize {
    let keys: Vec<_> = ids.iter().map(|id| payment_key(id)).collect();
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    loop {
        let read = ctx.tracker.read(&keys).await.unwrap_or_default();
        let there = read.values().filter(|f| f.status == status).count();
        if there == ids.len() || tokio::time::Instant::now() >= deadline {
            if there < ids.len() {
                eprintln!("bench: {there} of {} payments {status} within {:?}", ids.len(), ctx.timeout);
            }
            return there;
        }
        tokio::time::sleep(ctx.poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_figures_come_from_sent_and_final_times() {
        let f = |status: &str, ms| Final { status: status.into(), updated_ms: ms };
        let (a, b, c) = (f("SUCCEEDED", 1_100), f("DECLINED", 1_300), f("PROCESSING", 1_200));
        let rows = [(1_000, Some(&a)), (1_000, Some(&b)), (1_100, Some(&c)), (1_200, None)];
        let request = LevelStats::new(4, vec![1000; 4], BTreeMap::new(), 1.0);
        let s = flow_stats((1, 4, 4), request, &rows, payment_is_final);
        assert_eq!((s.final_count, s.non_final), (2, 2));
        assert_eq!(s.statuses["MISSING"], 1);
        assert_eq!(s.seconds_to_all_final, 0.3);
        assert_eq!((s.to_final_p50_ms, s.to_final_max_ms), (Some(100.0), Some(300.0)));
        assert!((s.settled_per_sec - 6.7).abs() < 0.01);
    }

    #[test]
    fn a_fitted_rate_sees_a_growing_queue_but_not_one_late_payment() {
        let steady: Vec<u64> = (0..1000).map(|i| i * 25).collect();
        assert!((fitted_rate(&steady).unwrap() - 40.0).abs() < 1e-6);
        assert!((span_rate(&steady).unwrap() - 40.0).abs() < 1e-6);
        // The last one 1.6 s late: first-to-last loses 6 %, the fit 0.2 % or less.
        let mut late = steady.clone();
        late[999] += 1_600;
        assert!(span_rate(&late).unwrap() / 40.0 < 0.95);
        assert!(fitted_rate(&late).unwrap() / 40.0 > 0.998);
        // Settling at 36/s while payments arrive at 40/s: both see it.
        let behind: Vec<u64> = (0..1000).map(|i| i * 1000 / 36).collect();
        assert!((fitted_rate(&behind).unwrap() - 36.0).abs() < 0.1);
        assert!((span_rate(&behind).unwrap() - 36.0).abs() < 0.1);
        assert_eq!(fitted_rate(&[5, 5, 5]), None);
    }
}
