//! W3C trace context across process boundaries: the API puts it on each SQS message, the worker
//! continues the trace from there and hands it to the bank in HTTP headers. One trace then covers
//! a payment from `POST /payments` to its final state.
use std::collections::HashMap;

use axum::http::HeaderMap;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The fields that travel: `traceparent` and, when there is one, `tracestate`.
pub type Carrier = HashMap<String, String>;

/// The trace context of `span`, ready to travel. Empty when tracing is not set up (the test
/// harness, tools), so callers need no special case.
pub fn inject(span: &Span) -> Carrier {
    let cx = span.context();
    let mut carrier = Carrier::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier
}

/// Makes `span` a child of the trace that `carrier` names (if it names a valid one) and records
/// the trace id in the span's `trace_id` field, so every log line inside it shows the id.
/// Call it before `span` is first entered: a started span cannot change its parent.
pub fn continue_trace(span: &Span, carrier: &dyn Extractor) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    if parent.span().span_context().is_valid() {
        // Fails only without the OpenTelemetry layer, where there is no trace to continue.
        let _ = span.set_parent(parent);
    }
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
    }
}

/// Starts `span`'s own trace, linked to the one `carrier` names (if valid), and records the
/// trace id like `continue_trace`. Call it before `span` is first entered.
pub fn link_trace(span: &Span, carrier: &dyn Extractor) {
    let theirs = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    let linked = theirs.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
    }
}

/// The trace of the current span, for the events a request or a job records.
pub struct SpanTraces;

impl crate::domain::ports::Traces for SpanTraces {
    fn current_trace_id(&self) -> Option<String> {
        let cx = Span::current().context();
        let ids = cx.span().span_context().clone();
        ids.is_valid().then(|| ids.trace_id().to_string())
    }
}

/// Reads trace context from HTTP headers (axum's and reqwest's `HeaderMap` are the same type).
pub struct Headers<'a>(pub &'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::prelude::*;

    use super::*;

    #[test]
    fn a_span_continues_the_incoming_trace_and_hands_it_on() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "test");
        let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
        tracing::subscriber::with_default(subscriber, || {
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let mut headers = HeaderMap::new();
            headers.insert("traceparent", incoming.parse().unwrap());
            let span = tracing::info_span!("job", trace_id = tracing::field::Empty);
            continue_trace(&span, &Headers(&headers));
            let out = inject(&span);
            let traceparent = out.get("traceparent").expect("traceparent injected");
            assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
            assert!(!traceparent.contains("00f067aa0ba902b7"), "the span is a child, not the parent itself");
        });
    }

    #[test]
    fn without_tracing_nothing_is_injected() {
        let span = tracing::info_span!("job");
        assert!(inject(&span).is_empty());
    }
}
