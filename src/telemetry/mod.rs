//! Logs, traces and metrics, set up once by each binary's `main`.
//!
//! - Logs: `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` prints one JSON object per
//!   line for log shippers. Every line inside a request or job carries its span's fields
//!   (`trace_id`, `payment_id`, `refund_id`), never card data.
//! - Traces: every span of this crate has a W3C trace id, which travels from the API into SQS
//!   and on to the bank ([`propagation`]). When `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, spans go through OpenTelemetry and are
//!   exported over OTLP/HTTP; otherwise the ids alone are kept (`ids`).
//! - Metrics: a Prometheus recorder; each binary serves [`metrics::render`] at `GET /metrics`.
pub mod aws;
mod ids;
pub mod metrics;
pub mod propagation;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// The variables read outside the command line parser, for every binary's `--help`.
pub const ENV_HELP: &str = "Also read by every binary:\n  \
    RUST_LOG                     log filter [default: info]\n  \
    LOG_FORMAT                   `json` for one JSON object per line [default: text]\n  \
    OTEL_EXPORTER_OTLP_ENDPOINT  export traces over OTLP/HTTP (with the other standard OTEL_* variables); unset: no export\n  \
    TOKIO_WORKER_THREADS         the async runtime's worker threads [default: the cores this process sees]";

/// Flushes the spans still buffered when dropped: keep it alive until `main` returns.
#[must_use = "dropping the guard at once would stop trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // Nothing useful can be done with an export error this late; the spans are lost either way.
        if let Some(provider) = &self.provider {
            let _ = provider.shutdown();
        }
    }
}

/// Whether spans leave the process: the standard OpenTelemetry variables decide.
fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The tracer provider that exports spans over OTLP, or `None` when none is configured (or it
/// cannot be built): then spans keep their ids alone ([`ids`]).
fn exporting_provider(service: &'static str) -> Option<SdkTracerProvider> {
    if !otlp_configured() {
        return None;
    }
    match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => {
            let resource = Resource::builder().with_service_name(service).build();
            Some(SdkTracerProvider::builder().with_resource(resource).with_batch_exporter(exporter).build())
        }
        Err(e) => {
            eprintln!("OTLP exporter could not be built ({e}); spans are not exported");
            None
        }
    }
}

/// Installs the global log subscriber, the span ids (exported through OpenTelemetry, or kept
/// alone), the W3C propagator, and the
/// Prometheus recorder (every metric labelled `service=<service>`).
pub fn init(service: &'static str) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = exporting_provider(service);
    // Our own spans are traced whatever `RUST_LOG` says, or a quiet log level would break the
    // trace; the SDKs' internal spans are not.
    let traced = Targets::new().with_target("payment_platform", Level::INFO).with_default(Level::WARN);
    // Spans are entered on every poll of a request's or job's future: neither busy/idle times nor
    // an OpenTelemetry context made current on entry are worth a clock read and a thread-local
    // swap each time (`propagation` reads a span's context from the span itself). Thread ids and
    // names say nothing of a task that moves between a runtime's threads.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_threads(false)
            .with_filter(traced.clone())
    });
    // Without an exporter the spans' ids are all anything reads: `ids` keeps those alone.
    let ids = provider.is_none().then(|| ids::TraceIds::default().with_filter(traced));
    let logged = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(otel).with(ids);
    if json {
        // `json_subscriber` writes the lines `tracing_subscriber`'s JSON format writes, but keeps
        // each span's fields serialized once, where that format parses them again for every
        // line and every field recorded later (docs/BENCHMARK.md). `spans` lists every open span
        // with its fields, innermost last; a `span` object would only repeat that last entry.
        let layer = json_subscriber::fmt::layer().flatten_event(true).with_current_span(false);
        registry.with(layer.with_filter(logged())).init();
    } else {
        registry.with(fmt::layer().with_target(false).with_filter(logged())).init();
    }
    metrics::install(service);
    Telemetry { provider }
}

/// The route pattern a request matched (`/payments/{id}`), or `unmatched`: never the raw path,
/// so ids stay out of span fields and metric labels.
pub fn matched_route<B>(req: &axum::http::Request<B>) -> &str {
    route_label(req.extensions().get())
}

/// The label of a matched route pattern, or `unmatched` for none (see [`matched_route`]).
pub fn route_label(matched: Option<&axum::extract::MatchedPath>) -> &str {
    matched.map_or("unmatched", axum::extract::MatchedPath::as_str)
}

/// The method as a metric label: one of the nine standard methods, or `OTHER`.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The span of one request to the public API: it always starts a trace of its own. A client's
/// `traceparent` is kept as a link, not continued: a public client must not choose the trace
/// (and its sampling decision) that goes on through the workers into the bank call.
pub fn public_request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let span = new_request_span(req);
    propagation::link_trace(&span, &propagation::Headers(req.headers()));
    span
}

/// The span of one HTTP request from a trusted caller (the bank simulator, called by the
/// workers): it continues the caller's trace when the request carries `traceparent`, and starts
/// one otherwise. `payment_id` and `refund_id` are filled in by the handlers once known.
pub fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let span = new_request_span(req);
    propagation::continue_trace(&span, &propagation::Headers(req.headers()));
    span
}

fn new_request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let route = matched_route(req);
    tracing::info_span!(
        "request",
        method = method_label(req.method()),
        route,
        payment_id = tracing::field::Empty,
        refund_id = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::config::{ApiConfig, BankWorkerConfig, WebhookWorkerConfig};

    #[test]
    fn every_binary_lists_the_variables_read_outside_its_parser_in_help() {
        for mut command in [ApiConfig::command(), BankWorkerConfig::command(), WebhookWorkerConfig::command()] {
            let help = command.render_long_help().to_string();
            for var in ["RUST_LOG", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT", "TOKIO_WORKER_THREADS"] {
                assert!(help.contains(var), "{} --help does not name {var}", command.get_name());
            }
        }
    }
}
