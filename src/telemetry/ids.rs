//! Trace ids for a process that exports no spans: every span of this crate gets a W3C trace id
//! and span id (its parent's trace id, or a fresh one), and nothing else is kept. Installed by
//! [`super::init`] in place of the OpenTelemetry layer when no OTLP endpoint is set.
//!
//! Why not the OpenTelemetry layer without an exporter: it builds, starts and ends a full span
//! (attributes, links, a lock, an SDK span) for every request only to throw it away, about
//! 25 µs of the API's CPU per payment in the bench's quiet run; this layer costs two random
//! numbers and one extension.
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::span::{Attributes, Id};
use tracing::{Span, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// A span's place in its trace, kept in the span's extensions.
#[derive(Clone, Debug)]
struct Ids {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: TraceState,
}

impl Ids {
    fn span_context(&self) -> SpanContext {
        SpanContext::new(self.trace_id, self.span_id, self.flags, false, self.state.clone())
    }
}

/// The layer: see the module's documentation.
#[derive(Default)]
pub struct TraceIds {
    ids: RandomIdGenerator,
}

impl<S> Layer<S> for TraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // `parent` skips the spans this layer's filter leaves out (other crates'), so `None` is
        // a span with no ancestor of this crate: it starts a trace of its own.
        let inherited = span.parent().and_then(|p| p.extensions().get::<Ids>().cloned());
        let ids = match inherited {
            Some(parent) => Ids { span_id: self.ids.new_span_id(), ..parent },
            // A root is marked sampled, as the SDK's default sampler marks it: a downstream
            // process that does export keeps recording the trace. (`OTEL_TRACES_SAMPLER` is an
            // exporting process's choice; this one records nothing to sample.)
            None => Ids {
                trace_id: self.ids.new_trace_id(),
                span_id: self.ids.new_span_id(),
                flags: TraceFlags::SAMPLED,
                state: TraceState::NONE,
            },
        };
        span.extensions_mut().insert(ids);
    }
}

/// Runs `f` on the span data of `span` in the registry, or answers `None` without one (no
/// subscriber, or not this crate's `Registry`).
fn with_data<T>(
    span: &Span,
    f: impl FnOnce(tracing_subscriber::registry::SpanRef<'_, Registry>) -> Option<T>,
) -> Option<T> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        f(registry.span(id)?)
    })
    .flatten()
}

/// `span`'s trace context, if this layer gave it one (not when the span is disabled, or the
/// process runs the OpenTelemetry layer instead).
pub(super) fn span_context(span: &Span) -> Option<SpanContext> {
    with_data(span, |data| data.extensions().get::<Ids>().map(Ids::span_context))
}

/// Makes `span` part of `parent`'s trace; `false` when this layer gave it no ids. Its children
/// created afterwards inherit the trace; call it before any is.
pub(super) fn adopt(span: &Span, parent: &SpanContext) -> bool {
    with_data(span, |data| {
        let mut extensions = data.extensions_mut();
        let ids = extensions.get_mut::<Ids>()?;
        ids.trace_id = parent.trace_id();
        ids.flags = parent.trace_flags();
        ids.state = parent.trace_state().clone();
        Some(())
    })
    .is_some()
}

/// Whether this layer gave `span` its ids (so there is no OpenTelemetry span to link).
pub(super) fn has_ids(span: &Span) -> bool {
    with_data(span, |data| data.extensions().get::<Ids>().map(|_| ())).is_some()
}
