//! The Prometheus metrics, all named here so operators (docs/OPERATIONS.md), dashboards and the
//! benchmark have one list to read. Recording goes through the `metrics` facade: before
//! [`install`] (tests, tools) every call is a no-op.
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// API requests, by `method`, `route` (the matched pattern, never a raw path) and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Messages handled to an outcome: `done`, `retry`, `not_ready`, `dead_lettered`.
pub const MESSAGES: &str = "worker_messages_total";
pub const IN_FLIGHT: &str = "worker_messages_in_flight";
/// Age of the oldest message in the latest receive (0 when it brought none).
pub const OLDEST_AGE: &str = "worker_oldest_message_age_seconds";
/// Bank calls by `operation` (`charge`, `refund`, `authorization`, `capture`, `void`, and each but `void`
/// with `_inquiry`) and `outcome`.
pub const BANK_DURATION: &str = "bank_request_duration_seconds";
pub const BANK_RETRIES: &str = "bank_retries_total";
/// Status inquiries after an unknown outcome, by what they found.
pub const BANK_INQUIRIES: &str = "bank_inquiries_total";
/// Requests left unresolved because the bank could not be asked past the key's window.
pub const BANK_UNRESOLVED: &str = "bank_unresolved_total";
/// Non-final records older than `REPAIR_AFTER_SECS` that the repair path found and re-enqueued.
pub const REPAIR_STALE: &str = "repair_stale_records_total";
/// Open connections of the API's listeners, by `listener` (`public`, `admin`; bounded by
/// `MAX_CONNECTIONS` each).
pub const HTTP_CONNECTIONS_OPEN: &str = "http_connections_open";
/// Connections closed for overstaying a timeout, by `reason` (`header_read`, `idle`).
pub const HTTP_CONNECTIONS_TIMED_OUT: &str = "http_connections_timed_out_total";
/// Every request sent to AWS (attempts, so retries count), by `aws_service` and `operation`.
pub const AWS_REQUESTS: &str = "aws_requests_total";
/// Items DynamoDB read (its `ScannedCount`) for the payments lists, by `index`: what a filtered
/// page costs in read units, beside the items it answers with.
pub const LIST_ITEMS_READ: &str = "list_items_read_total";
/// Pages of the payments lists served, by `index`.
pub const LIST_PAGES: &str = "list_pages_total";

/// Webhook delivery attempts by `outcome` (`2xx`, `4xx`, `5xx`, `other_status`, `timeout`,
/// `unreachable`, `blocked`, `unsignable`).
pub const WEBHOOK_ATTEMPTS: &str = "webhook_attempts_total";
pub const WEBHOOK_ATTEMPT_DURATION: &str = "webhook_attempt_duration_seconds";
/// Deliveries that ended, by `state` (`delivered`, `failed`, `cancelled`).
pub const WEBHOOK_DELIVERIES: &str = "webhook_deliveries_total";
/// Age of the oldest event with a delivery outstanding, as the latest sweep saw it (0: none).
pub const WEBHOOK_OLDEST_UNDELIVERED: &str = "webhook_oldest_undelivered_age_seconds";
/// How far past its due time the most overdue outstanding delivery is (0: none is late): the
/// worker's own backlog, unaffected by retries that are waiting on purpose.
pub const WEBHOOK_LATENESS: &str = "webhook_delivery_lateness_seconds";
/// Endpoints disabled, by `reason` (`gone`, `failing`).
pub const WEBHOOK_ENDPOINTS_DISABLED: &str = "webhook_endpoints_disabled_total";

/// Latency buckets, 1 ms to 30 s: bank calls with retries can take seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often the histograms' samples are folded into their buckets. The recorder keeps every
/// sample recorded since the last fold, 8 bytes or more each; a scrape folds them too, but an
/// API that nobody scrapes grew without bound: 25 MB in 40 s of the bench's `GET /status`.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder; every series gets `service=<service>`. A second call (or a
/// recorder installed by someone else) leaves the first one in place.
pub fn install(service: &'static str) {
    let built = PrometheusBuilder::new()
        .add_global_label("service", service)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .and_then(PrometheusBuilder::install_recorder);
    match built {
        Ok(handle) => {
            // `install_recorder` leaves the upkeep to its caller (only `install`, which also
            // starts an exporter of its own, schedules it); a thread, so it runs whether or not
            // the caller has an async runtime.
            let upkeep = handle.clone();
            if let Err(e) = every(UPKEEP_EVERY, move || upkeep.run_upkeep()) {
                eprintln!("metrics upkeep not started: {e}");
            }
            let _ = HANDLE.set(handle);
        }
        Err(e) => eprintln!("metrics recorder not installed: {e}"),
    }
}

/// Runs `task` every `period` on a thread of its own (`metrics-upkeep`), for the process's life.
fn every(period: Duration, mut task: impl FnMut() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(period);
            task();
        }
    })?;
    Ok(())
}

/// The Prometheus text exposition of every metric so far (empty before [`install`]).
pub fn render() -> String {
    HANDLE.get().map_or_else(String::new, |h| {
        h.run_upkeep();
        h.render()
    })
}

/// `GET /metrics`, for the API's router and the workers' health router alike.
pub async fn endpoint() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render())
}

/// One (method, route, status) of [`http_request`], its two series kept as [`AWS_COUNTERS`] are.
struct HttpSeries {
    method: &'static str,
    route: String,
    status: u16,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

static HTTP_SERIES: RwLock<Vec<HttpSeries>> = RwLock::new(Vec::new());

/// Counted on every API request. The labels come from closed sets (`http::middleware::observe`),
/// so the series kept are as many as the routes, methods and statuses seen.
pub fn http_request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    let make = || {
        let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
        let (requests, duration) = (counter!(HTTP_REQUESTS, &labels), histogram!(HTTP_DURATION, &labels));
        HttpSeries { method, route: route.to_owned(), status, requests, duration }
    };
    let same = |s: &HttpSeries| s.status == status && s.method == method && s.route == route;
    with_kept(&HTTP_SERIES, same, make, |s| {
        s.requests.increment(1);
        s.duration.record(elapsed.as_secs_f64());
    });
}

pub fn connections_open(listener: &'static str, now: u64) {
    gauge!(HTTP_CONNECTIONS_OPEN, "listener" => listener).set(now as f64);
}

pub fn connection_timed_out(listener: &'static str, reason: &'static str) {
    counter!(HTTP_CONNECTIONS_TIMED_OUT, "listener" => listener, "reason" => reason).increment(1);
}

pub fn message_handled(outcome: &'static str) {
    counter!(MESSAGES, "outcome" => outcome).increment(1);
}

pub fn in_flight(now: u64) {
    gauge!(IN_FLIGHT).set(now as f64);
}

pub fn oldest_message_age(age: Duration) {
    gauge!(OLDEST_AGE).set(age.as_secs_f64());
}

pub fn bank_call(operation: &'static str, outcome: &'static str, elapsed: Duration) {
    histogram!(BANK_DURATION, "operation" => operation, "outcome" => outcome).record(elapsed.as_secs_f64());
}

pub fn bank_retry(operation: &'static str) {
    counter!(BANK_RETRIES, "operation" => operation).increment(1);
}

pub fn bank_inquiry(operation: &'static str, found: &'static str) {
    counter!(BANK_INQUIRIES, "operation" => operation, "found" => found).increment(1);
}

pub fn bank_unresolved(operation: &'static str) {
    counter!(BANK_UNRESOLVED, "operation" => operation).increment(1);
}

pub fn list_page(index: &'static str, items_read: u64) {
    counter!(LIST_PAGES, "index" => index).increment(1);
    counter!(LIST_ITEMS_READ, "index" => index).increment(items_read);
}

pub fn repair_stale(kind: &'static str, found: usize) {
    counter!(REPAIR_STALE, "kind" => kind).increment(found as u64);
}

pub fn webhook_attempt(outcome: &'static str, elapsed: Duration) {
    counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    histogram!(WEBHOOK_ATTEMPT_DURATION, "outcome" => outcome).record(elapsed.as_secs_f64());
}

pub fn webhook_delivery_ended(state: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "state" => state).increment(1);
}

pub fn webhook_oldest_undelivered(age: Duration, lateness: Duration) {
    gauge!(WEBHOOK_OLDEST_UNDELIVERED).set(age.as_secs_f64());
    gauge!(WEBHOOK_LATENESS).set(lateness.as_secs_f64());
}

pub fn webhook_endpoint_disabled(reason: &str) {
    counter!(WEBHOOK_ENDPOINTS_DISABLED, "reason" => reason.to_owned()).increment(1);
}

/// Counted on every AWS request, so its counters are kept once made: each is a short scan of
/// the (service, operation) pairs seen, where `counter!` with owned labels allocated both and
/// looked the series up in the recorder's registry each time.
static AWS_COUNTERS: RwLock<Vec<(String, String, metrics::Counter)>> = RwLock::new(Vec::new());

pub fn aws_request(service: &str, operation: &str) {
    let make = || {
        let labels = [("aws_service", service.to_ascii_lowercase()), ("operation", operation.to_owned())];
        (service.to_owned(), operation.to_owned(), counter!(AWS_REQUESTS, &labels))
    };
    let same = |(s, o, _): &(String, String, metrics::Counter)| s == service && o == operation;
    with_kept(&AWS_COUNTERS, same, make, |(_, _, counter)| counter.increment(1));
}

/// Applies `apply` to the handles in `kept` that are `same`, made (by `make`) and kept the first
/// time. Only once the recorder is installed: a handle taken before would stay a no-op. (Kept
/// handles stay right because the recorder never drops a series: `install` sets no idle
/// timeout.)
fn with_kept<T>(kept: &RwLock<Vec<T>>, same: impl Fn(&T) -> bool, make: impl FnOnce() -> T, apply: impl FnOnce(&T)) {
    if HANDLE.get().is_none() {
        return apply(&make());
    }
    if let Some(found) = kept.read().unwrap_or_else(|e| e.into_inner()).iter().find(|t| same(t)) {
        return apply(found);
    }
    let mut all = kept.write().unwrap_or_else(|e| e.into_inner());
    // Another request may have made it between the two locks.
    if let Some(found) = all.iter().find(|t| same(t)) {
        return apply(found);
    }
    let made = make();
    apply(&made);
    all.push(made);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// The counters kept per (service, operation) count as `counter!` did: each pair its own
    /// series, the service's name in lower case. (Installs this test process's recorder.)
    #[test]
    fn aws_requests_are_counted_per_service_and_operation() {
        super::install("unit");
        for _ in 0..3 {
            super::aws_request("DynamoDB", "Query");
        }
        super::aws_request("SQS", "ReceiveMessage");
        super::aws_request("DynamoDB", "GetItem");
        let text = super::render();
        let count = |service: &str, op: &str| {
            let line = text.lines().find(|l| {
                l.starts_with(super::AWS_REQUESTS)
                    && l.contains(&format!("aws_service=\"{service}\""))
                    && l.contains(&format!("operation=\"{op}\""))
            });
            line.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse::<f64>().ok())
        };
        assert_eq!(count("dynamodb", "Query"), Some(3.0), "{text}");
        assert_eq!(count("sqs", "ReceiveMessage"), Some(1.0), "{text}");
        assert_eq!(count("dynamodb", "GetItem"), Some(1.0), "{text}");
        assert_eq!(count("sqs", "Query"), None, "{text}");
    }

    /// The series kept per (method, route, status) count and time each request as `counter!`
    /// and `histogram!` did: each triple its own series. (Installs this test process's recorder.)
    #[test]
    fn http_requests_are_counted_per_method_route_and_status() {
        super::install("unit");
        let ms = Duration::from_millis(3);
        for _ in 0..2 {
            super::http_request("POST", "/payments", 202, ms);
        }
        super::http_request("POST", "/payments", 422, ms);
        super::http_request("GET", "/payments/{id}", 202, ms);
        let text = super::render();
        let value = |metric: &str, method: &str, route: &str, status: &str| {
            let labels = [format!("method=\"{method}\""), format!("route=\"{route}\""), format!("status=\"{status}\"")];
            let line = text.lines().find(|l| l.starts_with(metric) && labels.iter().all(|x| l.contains(x.as_str())));
            line.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse::<f64>().ok())
        };
        assert_eq!(value(super::HTTP_REQUESTS, "POST", "/payments", "202"), Some(2.0), "{text}");
        assert_eq!(value(super::HTTP_REQUESTS, "POST", "/payments", "422"), Some(1.0), "{text}");
        assert_eq!(value(super::HTTP_REQUESTS, "GET", "/payments/{id}", "202"), Some(1.0), "{text}");
        assert_eq!(value(super::HTTP_REQUESTS, "GET", "/payments", "202"), None, "{text}");
        let count = format!("{}_count", super::HTTP_DURATION);
        assert_eq!(value(&count, "POST", "/payments", "202"), Some(2.0), "{text}");
    }

    #[test]
    fn the_upkeep_runs_again_and_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        super::every(Duration::from_millis(5), move || {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while runs.load(Ordering::Relaxed) < 3 {
            assert!(Instant::now() < deadline, "ran {} times in 10 s", runs.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
