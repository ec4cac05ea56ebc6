//! The webhook run: a receiver in the bench process, registered through the API for the
//! payments' final states, while a pipeline runs with a webhook-worker. Measures how long after
//! its final state each payment's webhook arrives, at the pipeline's rate.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::error::BenchError;
use super::load::now_ms;
use super::stats::percentile;

/// The final states a payment ends in: what the receiver subscribes to.
pub const FINAL_TYPES: [&str; 3] = ["payment.succeeded", "payment.declined", "payment.failed"];

#[derive(Debug, Clone, Serialize)]
pub struct HookStats {
    /// Final payments of the run, each of which must be delivered.
    pub expected: u64,
    /// Distinct events received (each verified to be one of them).
    pub delivered: u64,
    /// Deliveries received more than once (at least once: a retry after a lost answer).
    pub duplicates: u64,
    /// From the final state (the event's time) to the webhook's arrival, ms.
    pub to_delivery_p50_ms: Option<f64>,
    pub to_delivery_p99_ms: Option<f64>,
    pub to_delivery_max_ms: Option<f64>,
    /// Deliveries a second over the middle 90 % of arrivals (stragglers left out): the pace the
    /// webhook-worker actually delivered at, which the payments' settling, not the send rate, set.
    pub delivered_per_sec: Option<f64>,
    /// When the last of them arrived (ms since the epoch).
    #[serde(skip)]
    pub last_arrival_ms: Option<u64>,
    /// Payments sent a second in the run, and what the system settled and delivered a second
    /// with the webhook-worker beside the payment-worker, measured first (`webhook_run`).
    pub sent_per_sec: Option<f64>,
    pub capacity_per_sec: Option<f64>,
}

/// (arrival ms, event id, event ms) of each request.
type Got = Arc<Mutex<Vec<(u64, String, u64)>>>;

/// A receiver on 127.0.0.1 that answers 204 at once and notes when each webhook arrived.
pub struct Receiver {
    pub url: String,
    got: Got,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(State(got): State<Got>, headers: axum::http::HeaderMap, body: Bytes) -> StatusCode {
    let arrived = now_ms();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let event_ms = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["data"]["UpdatedTimestamp"].as_u64())
        .unwrap_or(arrived);
    got.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((arrived, id, event_ms));
    StatusCode::NO_CONTENT
}

impl Receiver {
    pub async fn start() -> Result<Self, BenchError> {
        let got: Got = Arc::default();
        let app = axum::Router::new().fallback(receive).with_state(Arc::clone(&got));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| BenchError::io("binding the webhook receiver", e))?;
        let addr = listener.local_addr().map_err(|e| BenchError::io("the receiver's address", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self { url: format!("http://{addr}/hooks"), got, stop: Some(stop) })
    }

    /// Waits until `expected` distinct events that happened at `since_ms` or later arrived, or
    /// `within` passed; then their figures (earlier events, of a run before, are left out).
    pub async fn wait_and_measure(&self, expected: u64, within: Duration, since_ms: u64) -> HookStats {
        let deadline = Instant::now() + within;
        loop {
            let distinct = self.distinct(since_ms);
            if distinct >= expected || Instant::now() >= deadline {
                if distinct < expected {
                    eprintln!("bench: {distinct} of {expected} webhooks arrived within {within:?}");
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got: Vec<_> = self
            .got
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, _, event_ms)| *event_ms >= since_ms)
            .cloned()
            .collect();
        let mut first: std::collections::HashMap<&str, (u64, u64)> = std::collections::HashMap::new();
        for (arrived, id, event_ms) in &got {
            first.entry(id.as_str()).or_insert((*arrived, *event_ms));
        }
        let mut lat: Vec<u64> = first.values().map(|(a, e)| a.saturating_sub(*e)).collect();
        lat.sort_unstable();
        let mut arrivals: Vec<u64> = first.values().map(|(a, _)| *a).collect();
        arrivals.sort_unstable();
        HookStats {
            expected,
            delivered: first.len() as u64,
            duplicates: (got.len() - first.len()) as u64,
            to_delivery_p50_ms: percentile(&lat, 50.0).map(|v| v as f64),
            to_delivery_p99_ms: percentile(&lat, 99.0).map(|v| v as f64),
            to_delivery_max_ms: lat.last().map(|v| *v as f64),
            delivered_per_sec: middle_rate(&arrivals),
            last_arrival_ms: arrivals.last().copied(),
            sent_per_sec: None,
            capacity_per_sec: None,
        }
    }

    /// Every request received so far, repeats included.
    pub fn received(&self) -> usize {
        self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn distinct(&self, since_ms: u64) -> u64 {
        let got = self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        got.iter()
            .filter(|(_, _, event_ms)| *event_ms >= since_ms)
            .map(|(_, id, _)| id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len() as u64
    }
}

/// Arrivals a second between the 5th and the 95th percentile of sorted arrival times (ms).
fn middle_rate(sorted_ms: &[u64]) -> Option<f64> {
    let (lo, hi) = (sorted_ms.len() / 20, sorted_ms.len() * 19 / 20);
    let span_ms = sorted_ms.get(hi.checked_sub(1)?)?.checked_sub(*sorted_ms.get(lo)?)?;
    (span_ms > 0 && hi - 1 > lo).then(|| (hi - 1 - lo) as f64 * 1000.0 / span_ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(client: &reqwest::Client, url: &str, id: &str, event_ms: u64) {
        let body = serde_json::json!({ "data": { "UpdatedTimestamp": event_ms } });
        let answer = client.post(url).header("webhook-id", id).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 204);
    }

    #[tokio::test]
    async fn a_measure_counts_the_events_of_its_own_run_and_their_repeats_once() {
        let receiver = Receiver::start().await.unwrap();
        let client = reqwest::Client::new();
        let now = now_ms();
        // A run before: an event and its repeat, arriving late.
        post(&client, &receiver.url, "msg_old", now - 60_000).await;
        post(&client, &receiver.url, "msg_old", now - 60_000).await;
        // This run: two events, one delivered twice.
        post(&client, &receiver.url, "msg_a", now + 1).await;
        post(&client, &receiver.url, "msg_b", now + 2).await;
        post(&client, &receiver.url, "msg_b", now + 2).await;
        let stats = receiver.wait_and_measure(2, Duration::from_secs(5), now).await;
        assert_eq!((stats.expected, stats.delivered, stats.duplicates), (2, 2, 1));
        assert!(stats.last_arrival_ms.is_some_and(|t| t >= now));
        // Nothing of this run yet: the old run's events do not satisfy the wait.
        let later = receiver.wait_and_measure(1, Duration::from_millis(200), now_ms() + 60_000).await;
        assert_eq!((later.delivered, later.duplicates, later.last_arrival_ms), (0, 0, None));
    }

    #[test]
    fn the_rate_leaves_the_first_and_last_twentieths_out() {
        // 100 arrivals 10 ms apart, and a straggler 30 s later: 100 a second.
        let mut arrivals: Vec<u64> = (0..100).map(|i| i * 10).collect();
        arrivals.push(30_000);
        let rate = middle_rate(&arrivals).unwrap();
        assert!((rate - 100.0).abs() < 1e-9, "{rate}");
        assert_eq!(middle_rate(&[5]), None);
        assert_eq!(middle_rate(&[]), None);
    }
}
