//! What wraps every request of the public listener, outermost first: the request's span (a
//! `TraceLayer` in `router`), then [`public`]: metrics (`observe`), security headers
//! (`headers`), header and body size limits (`size`), the timeout that knows whether a write
//! started (`timeout`). Rate limits apply per merchant once its token is verified
//! (`auth::rate`).
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

pub mod headers;
pub mod observe;
pub mod size;
pub mod timeout;

/// The four steps in one layer, in the order they wrap the handler. One `from_fn` layer rather
/// than one per step: each such layer clones the rest of the stack below it and boxes a future
/// of its own, on every request.
pub async fn public(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let observed = observe::Observed::start(&req);
    let docs = headers::is_docs(req.uri().path());
    let refused = headers::refusal(&state, docs).or_else(|| size::refusal(&state, req.headers()));
    let resp = match refused {
        Some(refusal) => refusal.into_response(),
        None => timeout::bounded(&state, req, next).await,
    };
    let resp = headers::secure(&state, docs, resp);
    observed.finish(resp.status());
    resp
}
