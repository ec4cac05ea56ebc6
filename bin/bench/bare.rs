//! The HTTP floor: a bare HTTP service whose `POST /payments` reads the JSON body and makes the
//! floor's calls (`floor::Floor::one`), and nothing else: no token, no validation, no sealed
//! card, no idempotency key, no span, log line or metric. The bench runs it as a process of its
//! own (this binary, with [`MODE_VAR`] set) on the API's table and queues, and drives it in
//! alternating slices with the API at every level. What it costs over the floor's client is the
//! price of being an HTTP service at all (a second process and its runtime's wake-ups, a
//! connection's reads and writes, a body to parse, an answer to write), which no cut in the API
//! can remove; what the API costs over it is the API's own work. It also answers `POST /hook`
//! with 204 and nothing else, the receiver of the webhook POST's floor ([`post_floor`]).
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};

use super::error::BenchError;
use super::floor::Floor;
use super::levels;
use super::load::Api;
use super::procs::Role;
use super::stats::round;
use super::system::System;
use payment_platform::config::AwsArgs;

/// Set in the environment of the process the bench starts as the bare server.
pub const MODE_VAR: &str = "BENCH_SERVE_BARE";

/// Whether this process was started as the bare server.
pub fn asked() -> bool {
    std::env::var(MODE_VAR).is_ok_and(|v| v == "1")
}

#[derive(Parser)]
struct BareArgs {
    #[command(flatten)]
    aws: AwsArgs,
    #[arg(long, env = "HTTP_PORT")]
    port: u16,
}

/// Serves until killed (the bench stops it by its pid).
pub fn serve() -> Result<(), BenchError> {
    let args = BareArgs::parse();
    serve_app(args.port, async {
        let floor = Arc::new(super::run::floor_for(&args.aws).await?);
        Ok(axum::Router::new()
            .route("/payments", post(pay))
            .route("/status", get(|| async { "OK" }))
            .route("/hook", post(|_body: axum::body::Bytes| async { StatusCode::NO_CONTENT }))
            .route("/token", get(|| async { Json(json!({ "AuthenticationToken": "bare" })) }))
            .with_state(floor))
    })
}

/// Serves the router `app` makes on 127.0.0.1:`port` until killed, on the same runtime as the
/// api's `#[tokio::main]`: the roles this binary plays for the bench (`Role::mode_var`).
pub fn serve_app(
    port: u16,
    app: impl std::future::Future<Output = Result<axum::Router, BenchError>>,
) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("starting the async runtime", e))?;
    runtime.block_on(async {
        let app = app.await?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|e| BenchError::io(format!("binding port {port}"), e))?;
        axum::serve(listener, app).await.map_err(|e| BenchError::io("serving", e))
    })
}

async fn pay(State(floor): State<Arc<Floor>>, Json(_body): Json<Value>) -> (StatusCode, Json<Value>) {
    match floor.one().await {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "paymentID": uuid::Uuid::new_v4().to_string() }))),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "Error": e }))),
    }
}

/// The API against the bare server at one level: each one's accepted/s over its slices, and the
/// median of the slice-by-slice ratio.
#[derive(Debug, Clone, Serialize)]
pub struct BareLevel {
    pub concurrency: usize,
    pub api_per_sec: f64,
    pub bare_per_sec: f64,
    pub median_slice_ratio: Option<f64>,
}

/// What the API costs over an HTTP service that makes the same calls, and what that service
/// costs over the floor's client, per payment, over every level.
#[derive(Debug, Clone, Serialize)]
pub struct BareHttp {
    pub levels: Vec<BareLevel>,
    pub api_cpu_us_per_payment: Option<f64>,
    pub bare_cpu_us_per_payment: Option<f64>,
    /// The floor of a webhook delivery's POST, µs of the bench's own CPU (`post_floor`).
    pub post_cpu_us: Option<f64>,
}

impl BareHttp {
    /// µs of CPU per payment the API spends over the bare server.
    pub fn api_over_bare_us(&self) -> Option<f64> {
        self.api_cpu_us_per_payment.zip(self.bare_cpu_us_per_payment).map(|(a, b)| round(a - b, 0))
    }
}

/// Starts the bare server on `stack` (the API levels' table and queues, `api` serving them) and
/// runs it against `api` at each of `levels`, each process's CPU counted over its own slices.
pub async fn measure(
    sys: &mut System,
    stack: &AwsArgs,
    (api, api_name): (&Arc<Api>, &str),
    levels: &[usize],
    sizes: (f64, f64, f64),
) -> Result<BareHttp, BenchError> {
    let url = start(sys, "bare-http", stack).await?;
    let bare = Arc::new(Api::connect(sys.http.clone(), url.clone()).await?);
    let (mut rows, mut api_ok, mut bare_ok, mut api_cpu, mut bare_cpu) = (Vec::new(), 0, 0, Some(0), Some(0));
    for &c in levels {
        eprintln!("bench: api and the bare HTTP server at concurrency {c}");
        let (api_before, bare_before) = (sys.cpu_of(api_name), sys.cpu_of("bare-http"));
        let (a, b, median) = levels::pair_with_median(
            async |secs| levels::api_slice(api, c, secs).await,
            async |secs| levels::api_slice(&bare, c, secs).await,
            c,
            sizes,
        )
        .await;
        let used = |before: Option<u64>, name| before.zip(sys.cpu_of(name)).map(|(b, a)| a.saturating_sub(b));
        // The warm-up slices are counted in CPU, so their payments are too.
        api_cpu = api_cpu.zip(used(api_before, api_name)).map(|(t, u)| t + u);
        bare_cpu = bare_cpu.zip(used(bare_before, "bare-http")).map(|(t, u)| t + u);
        api_ok += a.stats.ok + a.warm;
        bare_ok += b.stats.ok + b.warm;
        rows.push(BareLevel {
            concurrency: c,
            api_per_sec: a.stats.per_sec,
            bare_per_sec: b.stats.per_sec,
            median_slice_ratio: median,
        });
    }
    let per = |us: Option<u64>, n: u64| us.filter(|_| n > 0).map(|us| round(us as f64 / n as f64, 1));
    eprintln!("bench: the webhook POST's floor (signed POSTs to the bare server, one at a time)");
    let post_cpu_us = post_floor(&sys.http, &url, sizes.1).await;
    Ok(BareHttp {
        levels: rows,
        api_cpu_us_per_payment: per(api_cpu, api_ok),
        bare_cpu_us_per_payment: per(bare_cpu, bare_ok),
        post_cpu_us,
    })
}

/// Starts the bare server as `name` on `stack`; answers its URL.
pub async fn start(sys: &mut System, name: &str, stack: &AwsArgs) -> Result<String, BenchError> {
    sys.start_self(Role::BareHttp, name, stack).await
}

/// A webhook body of the usual size: a payment's final state as `wire::event::webhook_body`
/// renders it.
const HOOK_BODY: &str = r#"{"type":"payment.succeeded","timestamp":"2026-12-04T16:21:24.229Z","data":{"payment":{"paymentID":"3f0c2a9e-6a53-4d0e-9a51-5a1f3c2b7d10","merchantID":"test@merchant","status":"SUCCEEDED","amount":1999,"currency":"EUR","customerID":"bench-1","customerName":"Bench Customer","merchantReference":"order-000123","cardLast4":"4242","captureMethod":"automatic","capturedAmount":1999,"refundedAmount":0,"refundableAmount":1999,"bankChargeID":"ch_3f0c2a9e6a534d0e9a515a1f3c2b7d10","createdAt":"2026-12-04T16:21:24.101Z","updatedAt":"2026-12-04T16:21:24.229Z","version":3}}}"#;

/// What a webhook delivery's POST costs a plain client: the bench's own CPU per POST of a
/// webhook-sized body, signed as the webhook-worker signs (`webhook_client::sign`, HMAC-SHA256),
/// to the bare server, which answers 204 and does nothing else; one at a time, as the
/// webhook-worker sends at the webhook run's rate. The POST is work no AWS request prices: with
/// it, the webhook-worker is held to its AWS requests and its POST at the floor's prices.
async fn post_floor(http: &reqwest::Client, base: &str, secs: f64) -> Option<f64> {
    let (http, url) = (http.clone(), format!("{base}/hook"));
    let before = super::cpu::own_cpu_us()?;
    let until = super::drive::Until::Elapsed(Duration::from_secs_f64(secs));
    let out = super::drive::drive(1, until, move |i| {
        let (http, url) = (http.clone(), url.clone());
        async move { post_hook(&http, &url, &format!("evt_bench_{i}")).await }
    })
    .await;
    let used = super::cpu::own_cpu_us()?.saturating_sub(before);
    let n = out.successes.len() as u64;
    (n > 0).then(|| round(used as f64 / n as f64, 1))
}

/// One webhook delivery's POST of `HOOK_BODY` to the bare server's `url` (`/hook`), signed as
/// the webhook-worker signs (`webhook_client::sign`, HMAC-SHA256) with the event's `id`.
pub async fn post_hook(http: &reqwest::Client, url: &str, id: &str) -> Result<(), String> {
    use payment_platform::webhook_client::sign::signature_header;
    let at = super::load::now_ms() / 1000;
    let signature = signature_header(&[[7u8; 32]], id, at, HOOK_BODY);
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", signature)
        .body(HOOK_BODY)
        .send()
        .await
        .map_err(|e| format!("POST /hook: {e}"))?;
    (sent.status() == StatusCode::NO_CONTENT).then_some(()).ok_or_else(|| format!("POST /hook {}", sent.status()))
}

/// The API against the bare server: rates per level, then CPU per payment of the floor's
/// client, the bare server and the API, and the two differences.
pub fn render(out: &mut String, bare: &BareHttp, headline: &super::report::Headline) {
    use super::table::f;
    let _ = writeln!(out, "\n== API against a bare HTTP server making the same calls (alternating slices) ==");
    let _ = writeln!(out, "{:>5} | {:>8} {:>8} | {:>9} {:>9}", "conc", "api/s", "bare/s", "api/bare", "median");
    for l in &bare.levels {
        let ratio = (l.bare_per_sec > 0.0).then(|| l.api_per_sec / l.bare_per_sec);
        let _ = writeln!(
            out,
            "{:>5} | {:>8.1} {:>8.1} | {:>9} {:>9}",
            l.concurrency,
            l.api_per_sec,
            l.bare_per_sec,
            f(ratio, 2),
            f(l.median_slice_ratio, 2)
        );
    }
    let _ = writeln!(
        out,
        "CPU µs per payment: floor's client {}, bare server {} (+{} for serving HTTP at all), api {} (+{} of its own work)",
        f(headline.floor_cpu_us_per_payment, 0),
        f(bare.bare_cpu_us_per_payment, 0),
        f(headline.bare_cpu_us_over_floor, 0),
        f(bare.api_cpu_us_per_payment, 0),
        f(headline.api_cpu_us_over_bare, 0),
    );
    let _ = writeln!(
        out,
        "a webhook POST's floor (signed, to the bare server, one at a time): {} µs of the client's CPU",
        f(bare.post_cpu_us, 0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_over_the_bare_server_needs_both_figures() {
        let both = BareHttp {
            levels: vec![],
            api_cpu_us_per_payment: Some(981.4),
            bare_cpu_us_per_payment: Some(817.0),
            post_cpu_us: None,
        };
        assert_eq!(both.api_over_bare_us(), Some(164.0));
        let one = BareHttp { bare_cpu_us_per_payment: None, ..both };
        assert_eq!(one.api_over_bare_us(), None);
    }
}
