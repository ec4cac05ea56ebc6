//! Traces and metrics of the real processes: one W3C trace id from `POST /payments` through the
//! SQS message and the payment worker to the bank, in the logs and in what is exported over OTLP;
//! and the Prometheus endpoints of the API and the workers.
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

use crate::support::app::{card_request, eventually};
use crate::support::metrics::{sample, scrape};
use crate::support::system::System;

const SETTLE: Duration = Duration::from_secs(60);

/// Every OTLP/HTTP export body a process sent, as received.
type Exports = Arc<Mutex<Vec<Bytes>>>;

/// A stand-in OpenTelemetry collector: accepts OTLP/HTTP trace exports and keeps their bodies.
async fn collector() -> (String, Exports) {
    let exports = Exports::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(seen): State<Exports>, body: Bytes| async move {
                seen.lock().unwrap().push(body);
                // An empty ExportTraceServiceResponse: everything accepted.
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }),
        )
        .with_state(Arc::clone(&exports));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, exports)
}

/// The `trace_id` of every JSON log line of `path` that `pick` selects.
fn trace_ids(path: &Path, pick: impl Fn(&Value) -> bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok());
    lines
        .filter(|line| pick(line))
        .filter_map(|line| {
            let spans = line["spans"].as_array().cloned().unwrap_or_default();
            spans.iter().find_map(|s| s["trace_id"].as_str().map(str::to_owned))
        })
        .collect()
}

fn says(line: &Value, message: &str) -> bool {
    line["message"].as_str() == Some(message)
}

/// A span field of the line's spans (`payment_id`, `idempotency_key`, ...).
fn span_field(line: &Value, field: &str) -> Option<String> {
    let spans = line["spans"].as_array()?;
    spans.iter().find_map(|s| s[field].as_str().map(str::to_owned))
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Waits until the collector got, from the service named `service`, a span of `trace`.
async fn exported(exports: &Exports, service: &str, trace: &str) {
    let trace_bytes = hex_to_bytes(trace);
    eventually(Duration::from_secs(20), &format!("{service} to export a span of trace {trace}"), || async {
        let seen = exports.lock().unwrap();
        let hit = seen.iter().any(|b| contains(b, service.as_bytes()) && contains(b, &trace_bytes));
        hit.then_some(())
    })
    .await;
}

/// The one trace id that the API's, the payment-worker's and the bank's log lines about payment
/// `id` share (asserted), never a client's.
fn one_trace_in_the_logs(sys: &System, id: &str) -> String {
    let key = format!("charge-{id}");
    let of_payment = |l: &Value| span_field(l, "payment_id").as_deref() == Some(id);
    let api = trace_ids(&sys.api.log, |l| says(l, "payment accepted") && of_payment(l));
    let worker = trace_ids(&sys.payment_worker.log, |l| says(l, "payment settled") && of_payment(l));
    let bank = trace_ids(&sys.bank.log_path, |l| says(l, "applied") && l["key"].as_str() == Some(key.as_str()));
    assert_eq!(api.len(), 1, "one API log line for {id}: {api:?}");
    let trace = api[0].clone();
    assert_eq!(trace.len(), 32, "a W3C trace id: {trace}");
    assert!(!worker.is_empty() && worker.iter().all(|t| *t == trace), "worker {worker:?} vs api {trace}");
    assert!(!bank.is_empty() && bank.iter().all(|t| *t == trace), "bank {bank:?} vs api {trace}");
    trace
}

/// Without an OTLP endpoint the services keep their spans' ids alone (`telemetry::ids`), not
/// OpenTelemetry's spans: the trace id must travel just the same.
#[tokio::test]
async fn without_an_exporter_one_trace_id_still_covers_the_api_the_worker_and_the_bank() {
    // Empty, so an exporter in the test run's own environment cannot switch the path tested.
    let env = [("LOG_FORMAT", "json"), ("OTEL_EXPORTER_OTLP_ENDPOINT", ""), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")];
    let sys = System::start("trace-ids", &env, &env).await;
    let (linked, started) = two_settled_payments(&sys).await;
    let traces: Vec<String> = [&linked, &started].iter().map(|id| one_trace_in_the_logs(&sys, id)).collect();
    assert_ne!(traces[0], CLIENT_TRACE, "a public client's trace is never continued");
    assert_ne!(traces[0], traces[1], "each payment has a trace of its own");
}

/// The trace a public client names in its `traceparent`.
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Two payments, settled: the first sent with a client's `traceparent` (`CLIENT_TRACE`), the
/// second with none, so the API starts its trace.
async fn two_settled_payments(sys: &System) -> (String, String) {
    let resp = sys
        .app
        .authed(sys.app.http.post(format!("{}/payments", sys.app.url)))
        .header("traceparent", format!("00-{CLIENT_TRACE}-00f067aa0ba902b7-01"))
        .json(&card_request("4242424242424242", 1200))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let linked: Value = resp.json().await.unwrap();
    let linked = linked["paymentID"].as_str().unwrap().to_owned();
    let started = sys.app.create_ok(&card_request("4242424242424242", 1300)).await;
    for id in [&linked, &started] {
        assert_eq!(sys.settled(id, SETTLE).await["Status"], "SUCCEEDED");
    }
    (linked, started)
}

#[tokio::test]
async fn one_trace_id_covers_the_api_the_worker_and_the_bank() {
    let (otlp, exports) = collector().await;
    let env =
        [("LOG_FORMAT", "json"), ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let sys = System::start("trace", &env, &env).await;
    // A public client's trace is not continued: the API starts its own, linked to the client's.
    let (continued, started) = two_settled_payments(&sys).await;

    for id in [&continued, &started] {
        let trace = &one_trace_in_the_logs(&sys, id);
        assert_ne!(trace, CLIENT_TRACE, "a public client's trace is never continued into the workers and the bank");
        if *id == continued {
            // The link: the API's exported span names the client's trace.
            exported(&exports, "api", CLIENT_TRACE).await;
        }
        for service in ["api", "payment-worker", "bank-simulator"] {
            exported(&exports, service, trace).await;
        }
    }
}

#[tokio::test]
async fn the_api_and_the_workers_expose_prometheus_metrics() {
    let sys = System::start("metrics", &[], &[("WORKER_WAIT_SECS", "1")]).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 700)).await;
    assert_eq!(sys.settled(&id, SETTLE).await["Status"], "SUCCEEDED");
    let refund = sys.app.refund(&id, None, None).await;
    assert_eq!(refund.status(), 202);
    sys.settled(&id, SETTLE).await;
    // With a key, the payment, its key's claim and the answer are one transaction.
    let keyed = sys.app.create(&card_request("4000000000000002", 800), Some("metrics-key-1")).await;
    assert_eq!(keyed.status(), 202);
    let keyed: Value = keyed.json().await.unwrap();
    assert_eq!(sys.settled(keyed["paymentID"].as_str().unwrap(), SETTLE).await["Status"], "DECLINED");

    let api = scrape(sys.api.admin_port).await;
    let created = ["route=\"/payments\"", "method=\"POST\"", "status=\"202\"", "service=\"api\""];
    assert_eq!(sample(&api, "http_requests_total", &created), Some(2.0), "{api}");
    let latency = ["route=\"/payments/{id}\"", "status=\"200\""];
    assert!(sample(&api, "http_request_duration_seconds_count", &latency).unwrap_or(0.0) >= 1.0, "{api}");
    // Counted per request sent: each payment (with or without a key) and the refund is one
    // transaction with its event, followed by one send (a `SendMessageBatch` of one message, as
    // nothing else was being sent at the time: `sqs::BatchSender`); nothing is written twice.
    let aws = |service: &str, operation: &str| {
        let labels = [format!("aws_service=\"{service}\""), format!("operation=\"{operation}\"")];
        sample(&api, "aws_requests_total", &[&labels[0], &labels[1], "service=\"api\""])
    };
    assert_eq!(aws("dynamodb", "PutItem"), None, "{api}");
    assert_eq!(aws("dynamodb", "TransactWriteItems"), Some(3.0), "{api}");
    assert_eq!(aws("dynamodb", "UpdateItem"), None, "{api}");
    assert_eq!(aws("sqs", "SendMessageBatch"), Some(3.0), "{api}");
    assert_eq!(aws("sqs", "SendMessage"), None, "{api}");

    // The payment worker charged two payments, the refund worker refunded one.
    for (port, operation, jobs) in [(sys.payment_worker.port, "charge", 2.0), (sys.refund_worker.port, "refund", 1.0)] {
        // The final status is written before the message is deleted and counted: poll.
        let text = eventually(Duration::from_secs(10), "the jobs to be counted", || async {
            let text = scrape(port).await;
            (sample(&text, "worker_messages_total", &["outcome=\"done\""]) == Some(jobs)).then_some(text)
        })
        .await;
        let op = format!("operation=\"{operation}\"");
        let calls = sample(&text, "bank_request_duration_seconds_count", &[&op, "outcome=\"answered\""]);
        assert_eq!(calls, Some(jobs), "{text}");
        assert_eq!(sample(&text, "worker_messages_in_flight", &[]), Some(0.0), "{text}");
        assert!(sample(&text, "worker_oldest_message_age_seconds", &[]).is_some(), "{text}");
        let receives = ["aws_service=\"sqs\"", "operation=\"ReceiveMessage\""];
        assert!(sample(&text, "aws_requests_total", &receives).unwrap_or(0.0) >= 1.0, "{text}");
    }
}
