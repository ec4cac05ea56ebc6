//! The request timeout, which knows whether a write has started, and `carry`, which starts one.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tracing::Instrument;

use crate::app::AppError;
use crate::http::AppState;
use crate::http::error::ApiError;

/// Set by a handler just before it starts a write (see `carry`): from then on a
/// timeout must not say "retry", since the write may take effect.
#[derive(Clone, Default)]
pub struct WriteStarted(Arc<AtomicBool>);

impl WriteStarted {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Bounds every request; a slow dependency answers with the envelope instead of hanging: 503
/// `timeout` (retry later) while nothing was written, 504 `outcome_unknown` once a write started.
/// The write itself is not cut short: it runs in a task of its own and is carried through.
pub async fn bounded(state: &AppState, mut req: Request, next: Next) -> Response {
    let started = WriteStarted::default();
    req.extensions_mut().insert(started.clone());
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) if started.is_set() => ApiError::App(AppError::OutcomeUnknown).into_response(),
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Runs a use case that writes in a task of its own, so that the request's timeout (or a client
/// that hangs up) cannot cut it between its write and what must follow it: a payment's enqueue,
/// a new webhook endpoint's catch-up. Once started, it is carried through, and the timeout's
/// answer says the outcome is unknown rather than "retry". `AppState::writes` tracks the task, so
/// shutdown waits for it too.
pub async fn carry<T: Send + 'static>(
    state: &AppState,
    started: &WriteStarted,
    work: impl Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, ApiError> {
    started.mark();
    let task = state.writes.spawn(work.instrument(tracing::Span::current()));
    match task.await {
        Ok(done) => Ok(done?),
        // The task died mid-way (a panic): its write may have landed, so the outcome is unknown.
        Err(e) => {
            tracing::error!(error = %e, "the request's task ended before answering");
            Err(AppError::OutcomeUnknown.into())
        }
    }
}
