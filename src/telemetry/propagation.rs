//! W3C trace context across process boundaries: the API puts it on each SQS message, the worker
//! continues the trace from there and hands it to the bank in HTTP headers. One trace then covers
//! a payment from `POST /payments` to its final state.
use std::collections::HashMap;

use axum::http::HeaderMap;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The fields that travel: `traceparent` and, when there is one, `tracestate`.
pub type Carrier = HashMap<String, String>;

/// The trace context of `span`, ready to travel. Empty when tracing is not set up (the test
/// harness, tools), so callers need no special case.
pub fn inject(span: &Span) -> Carrier {
    let mut carrier = Carrier::new();
    let ids = span_context(span);
    if ids.is_valid() {
        let cx = opentelemetry::Context::new().with_remote_span_context(ids);
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    }
    carrier
}

/// `span`'s trace and span ids, from whichever layer gave them ([`super::ids`] or the
/// OpenTelemetry layer); invalid without either.
fn span_context(span: &Span) -> SpanContext {
    super::ids::span_context(span).unwrap_or_else(|| span.context().span().span_context().clone())
}

/// Records the span's trace id in its `trace_id` field, for every log line inside it.
fn record_trace_id(span: &Span) {
    let ids = span_context(span);
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
    }
}

/// Makes `span` a child of the trace that `carrier` names (if it names a valid one) and records
/// the trace id in the span's `trace_id` field, so every log line inside it shows the id.
/// Call it before `span` is first entered: a started span cannot change its parent.
pub fn continue_trace(span: &Span, carrier: &dyn Extractor) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    let theirs = parent.span().span_context().clone();
    if theirs.is_valid() && !super::ids::adopt(span, &theirs) {
        // Fails only without either layer, where there is no trace to continue.
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}

/// Starts `span`'s own trace, linked to the one `carrier` names (if valid), and records the
/// trace id like `continue_trace`. Call it before `span` is first entered.
pub fn link_trace(span: &Span, carrier: &dyn Extractor) {
    // Most public requests carry no `traceparent`, and without one the propagator `init`
    // installs finds nothing: its extraction (a copy of the current context) is skipped.
    if carrier.get("traceparent").is_some() {
        let theirs = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
        let linked = theirs.span().span_context().clone();
        // A link is only kept by a span that is exported.
        if linked.is_valid() && !super::ids::has_ids(span) {
            span.add_link(linked);
        }
    }
    record_trace_id(span);
}

/// The trace of the current span, for the events a request or a job records.
pub struct SpanTraces;

impl crate::domain::ports::Traces for SpanTraces {
    fn current_trace_id(&self) -> Option<String> {
        let ids = span_context(&Span::current());
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
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::prelude::*;

    use super::*;
    use crate::domain::ports::Traces as _;

    /// Runs `test` under each way a process keeps its spans' ids: the OpenTelemetry layer (when
    /// it exports) and `ids::TraceIds` (when it does not). Both must behave alike.
    fn on_both(test: impl Fn()) {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let exported =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(exported, &test);
        let ids_only = tracing_subscriber::registry().with(super::super::ids::TraceIds::default());
        tracing::subscriber::with_default(ids_only, &test);
    }

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn incoming() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", INCOMING.parse().unwrap());
        headers
    }

    /// The trace id and span id of the `traceparent` that `span` hands on.
    fn handed_on(span: &Span) -> (String, String) {
        let out = inject(span);
        let traceparent = out.get("traceparent").expect("traceparent injected");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!((parts.len(), parts[0], parts[3]), (4, "00", "01"), "{traceparent}");
        (parts[1].to_owned(), parts[2].to_owned())
    }

    #[test]
    fn a_span_continues_the_incoming_trace_and_hands_it_on() {
        on_both(|| {
            let span = tracing::info_span!("job", trace_id = tracing::field::Empty);
            continue_trace(&span, &Headers(&incoming()));
            let (trace, id) = handed_on(&span);
            assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(id, "00f067aa0ba902b7", "the span is a child, not the parent itself");
            let current = span.in_scope(|| SpanTraces.current_trace_id());
            assert_eq!(current.as_deref(), Some(trace.as_str()), "events record the same trace");
        });
    }

    #[test]
    fn a_child_span_stays_in_its_parents_trace() {
        on_both(|| {
            let span = tracing::info_span!("job", trace_id = tracing::field::Empty);
            continue_trace(&span, &Headers(&incoming()));
            let (trace, parent_id) = handed_on(&span);
            let (child_trace, child_id) = span.in_scope(|| handed_on(&tracing::info_span!("bank_call")));
            assert_eq!(child_trace, trace);
            assert_ne!(child_id, parent_id);
        });
    }

    #[test]
    fn a_public_request_starts_a_trace_of_its_own() {
        on_both(|| {
            let first = tracing::info_span!("request", trace_id = tracing::field::Empty);
            link_trace(&first, &Headers(&incoming()));
            let second = tracing::info_span!("request", trace_id = tracing::field::Empty);
            link_trace(&second, &Headers(&HeaderMap::new()));
            let (a, b) = (handed_on(&first).0, handed_on(&second).0);
            assert_ne!(a, "4bf92f3577b34da6a3ce929d0e0e4736", "a client does not choose the trace");
            assert_ne!(a, b, "each request has its own trace");
            assert_ne!(a, "0".repeat(32));
        });
    }

    #[test]
    fn without_tracing_nothing_is_injected() {
        let span = tracing::info_span!("job");
        assert!(inject(&span).is_empty());
        assert_eq!(SpanTraces.current_trace_id(), None);
    }
}
