//! The webhook runs' receiver: in the bench process, registered through the API for the
//! payments' final states while a webhook-worker runs beside the payment-worker. Measures how
//! long after its final state each payment's webhook arrives, and how fast they arrive.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use payment_platform::domain::events::EventId;
use payment_platform::domain::ids::PaymentId;

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
    /// When the last of them arrived, ms since the epoch.
    #[serde(skip)]
    pub last_arrival_ms: Option<u64>,
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

    /// Waits until the webhooks of `expected` distinct events of `payments` arrived, or `within`
    /// passed; then their figures. Events of other payments (a phase before, still arriving or
    /// delivered again) are left out: the `webhook-id` names the event's payment.
    pub async fn wait_and_measure(&self, payments: &HashSet<PaymentId>, expected: u64, within: Duration) -> HookStats {
        let deadline = Instant::now() + within;
        loop {
            let distinct = self.of(payments).iter().map(|(_, id, _)| id.clone()).collect::<HashSet<_>>().len() as u64;
            if distinct >= expected || Instant::now() >= deadline {
                if distinct < expected {
                    eprintln!("bench: {distinct} of {expected} webhooks arrived within {within:?}");
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = self.of(payments);
        let mut first: HashMap<&str, (u64, u64)> = HashMap::new();
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
        }
    }

    /// The requests received so far for events of `payments`, repeats included.
    fn of(&self, payments: &HashSet<PaymentId>) -> Vec<(u64, String, u64)> {
        let got = self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let ours = |id: &str| EventId::parse(id).is_some_and(|e| payments.contains(&e.payment_id));
        got.iter().filter(|(_, id, _)| ours(id)).cloned().collect()
    }

    /// Every request received so far, repeats included.
    pub fn received(&self) -> usize {
        self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
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

    async fn post(client: &reqwest::Client, url: &str, event: &EventId) {
        let body = serde_json::json!({ "data": { "UpdatedTimestamp": now_ms() } });
        let answer = client.post(url).header("webhook-id", event.to_string()).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 204);
    }

    #[tokio::test]
    async fn a_measure_counts_the_events_of_its_own_payments_and_their_repeats_once() {
        let receiver = Receiver::start().await.unwrap();
        let client = reqwest::Client::new();
        let event = |payment: PaymentId| EventId { payment_id: payment, version: 3 };
        let (before, a, b) = (PaymentId::new(), PaymentId::new(), PaymentId::new());
        // A phase before: its event, delivered again while this one runs.
        post(&client, &receiver.url, &event(before)).await;
        post(&client, &receiver.url, &event(before)).await;
        // This phase: two events, one delivered twice.
        post(&client, &receiver.url, &event(a)).await;
        post(&client, &receiver.url, &event(b)).await;
        post(&client, &receiver.url, &event(b)).await;
        let ours = HashSet::from([a, b]);
        let stats = receiver.wait_and_measure(&ours, 2, Duration::from_secs(5)).await;
        assert_eq!((stats.expected, stats.delivered, stats.duplicates), (2, 2, 1));
        assert!(stats.last_arrival_ms.is_some());
        // The phase before's events do not count for a phase of other payments.
        let none = receiver.wait_and_measure(&HashSet::from([PaymentId::new()]), 0, Duration::ZERO).await;
        assert_eq!((none.delivered, none.duplicates), (0, 0));
        let earlier = receiver.wait_and_measure(&HashSet::from([before]), 1, Duration::ZERO).await;
        assert_eq!((earlier.delivered, earlier.duplicates), (1, 1));
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
