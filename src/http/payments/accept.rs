//! The write path of the payments resource: the `Idempotency-Key` bound to the request, the
//! use case carried through even if the request is dropped, the 202 rendered from what was
//! accepted.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::Instrument;

use super::payload;
use super::views;
use crate::app::{AppError, KeyedRequest};
use crate::domain::idempotency::{Accepted, IdempotencyKey};
use crate::domain::ids::MerchantId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::timeout::WriteStarted;

/// The `Idempotency-Key` header, if sent, bound to the merchant and the request's keyed
/// fingerprint.
pub(super) fn keyed(
    state: &AppState,
    headers: &HeaderMap,
    merchant: &MerchantId,
    method: &str,
    path: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<KeyedRequest>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else { return Ok(None) };
    let invalid = || {
        ApiError::BadRequest(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        )
    };
    let key = IdempotencyKey::parse(merchant.clone(), raw.to_str().map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (request_hash, mut also_matches) =
        state.fingerprints.fingerprints(&payload::canonical_request(method, path, map));
    also_matches.push(payload::legacy_request_hash(method, path, map));
    Ok(Some(KeyedRequest { key, request_hash, also_matches }))
}

pub(super) fn today() -> (u16, u8) {
    let now = time::OffsetDateTime::now_utc();
    (now.year() as u16, u8::from(now.month()))
}

/// The 202 of a write. Rendered from what was accepted, so a replay of a stored answer gets
/// the same bytes as the first request did.
fn accepted(answer: &Accepted) -> Response {
    let (payment, body) = views::accepted(answer);
    let headers =
        [(header::CONTENT_TYPE, "application/json".to_owned()), (header::LOCATION, format!("/payments/{payment}"))];
    (StatusCode::ACCEPTED, headers, body).into_response()
}

/// Runs a use case that writes so that the request's timeout (or a client that hangs up) cannot
/// cut it between its write and its enqueue: once started, it is carried through. The timeout's
/// answer then says the outcome is unknown (see `middleware::timeout`).
pub(super) async fn carried(
    state: &AppState,
    started: &WriteStarted,
    work: impl Future<Output = Result<Accepted, AppError>> + Send + 'static,
) -> Result<Response, ApiError> {
    started.mark();
    match Carried::new(&state.writes, work).await {
        Ok(answer) => Ok(accepted(&answer?)),
        // The work panicked mid-way: its write may have landed, so the outcome is unknown.
        Err(Panicked) => {
            tracing::error!("the request's write panicked before answering");
            Err(AppError::OutcomeUnknown.into())
        }
    }
}

/// The work panicked.
#[derive(Debug)]
struct Panicked;

/// A write polled in place, by the request's own task, while the request lives; if the request
/// is dropped first (its client left, or the timeout fired), the rest of the write is handed to
/// a task of its own on `writes`. A task for every write would cost a spawn and the wake-ups of
/// a second task per payment for the rare request that does not wait for its answer.
///
/// While polled in place it holds a token of `writes`, so the API's shutdown, which waits for
/// `writes`, waits for it as it does for a handed-off one.
struct Carried<F: Future + Send + 'static> {
    /// `None` once finished.
    work: Option<Pin<Box<F>>>,
    writes: TaskTracker,
    _token: TaskTrackerToken,
    /// The request's span, which the handed-off rest runs in.
    span: tracing::Span,
}

impl<F: Future + Send + 'static> Carried<F>
where
    F::Output: Send,
{
    fn new(writes: &TaskTracker, work: F) -> Self {
        Self {
            work: Some(Box::pin(work)),
            writes: writes.clone(),
            _token: writes.token(),
            span: tracing::Span::current(),
        }
    }
}

impl<F: Future + Send + 'static> Future for Carried<F>
where
    F::Output: Send,
{
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else { panic!("`Carried` polled after it finished") };
        // A panic is caught here, as a task's would have been: the answer must still say that
        // the outcome is unknown. The panicked future is dropped, never polled again.
        match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(done)) => {
                self.work = None;
                Poll::Ready(Ok(done))
            }
            Err(_) => {
                self.work = None;
                Poll::Ready(Err(Panicked))
            }
        }
    }
}

impl<F: Future + Send + 'static> Drop for Carried<F> {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else { return };
        // Dropped by a runtime that is going away (no handle): nothing can run the rest, which
        // the repair path then finishes, as for a write still unconfirmed at shutdown.
        if tokio::runtime::Handle::try_current().is_ok() {
            let span = std::mem::replace(&mut self.span, tracing::Span::none());
            self.writes.spawn(async move {
                work.instrument(span).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tokio_util::task::TaskTracker;

    use super::{Carried, Panicked};

    #[tokio::test]
    async fn a_write_waited_for_answers_in_place() {
        let writes = TaskTracker::new();
        let answer = Carried::new(&writes, async { 7 }).await;
        assert!(matches!(answer, Ok(7)));
        writes.close();
        assert!(writes.is_empty(), "nothing left running");
    }

    #[tokio::test]
    async fn a_write_whose_request_is_dropped_is_carried_through_and_waited_for() {
        let writes = TaskTracker::new();
        let (go, wait) = oneshot::channel::<()>();
        let landed = Arc::new(AtomicBool::new(false));
        let done = landed.clone();
        let mut carried = Box::pin(Carried::new(&writes, async move {
            wait.await.unwrap();
            done.store(true, Ordering::SeqCst);
        }));
        // Polled once, in place: it waits on the database (here, `go`).
        assert!(futures::poll!(carried.as_mut()).is_pending());
        assert_eq!(writes.len(), 1, "shutdown waits for a write in place");
        drop(carried);
        assert_eq!(writes.len(), 1, "and for the rest of it once handed off");
        go.send(()).unwrap();
        writes.close();
        tokio::time::timeout(Duration::from_secs(10), writes.wait()).await.expect("the rest ran");
        assert!(landed.load(Ordering::SeqCst), "the write was carried through");
    }

    #[tokio::test]
    async fn a_write_that_panics_answers_outcome_unknown() {
        let writes = TaskTracker::new();
        let answer = Carried::new(&writes, async { panic!("mid-write") }).await;
        assert!(matches!(answer, Err::<(), _>(Panicked)));
        writes.close();
        assert!(writes.is_empty());
    }
}
