//! The request timeout, which knows whether a write has started.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::http::error::ApiError;

/// Set by a handler just before it starts a write (see `payments::accept::carried`): from then on a
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
pub async fn timeout(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = WriteStarted::default();
    req.extensions_mut().insert(started.clone());
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) if started.is_set() => ApiError::App(crate::app::AppError::OutcomeUnknown).into_response(),
        Err(_) => ApiError::Timeout.into_response(),
    }
}
