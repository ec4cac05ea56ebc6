//! What every answer of the public API carries for its own safety, and the documentation gate.
//!
//! - `Cache-Control: no-store`: answers show tokens, signing secrets and payments; no shared or
//!   browser cache may keep them.
//! - `X-Content-Type-Options: nosniff`: a JSON answer is never run as a script or page.
//! - `Strict-Transport-Security` outside development mode: the load balancer serves the API over
//!   TLS only (infra/terraform), and browsers remember it.
//! - With `API_DOCS` off, `/openapi.json` and `/docs` are unknown routes (404).
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS};
use axum::response::Response;

use crate::http::AppState;
use crate::http::error::ApiError;

const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

/// A request for the documentation: `/openapi.json` and `/docs` with the Swagger UI's files.
pub fn is_docs(path: &str) -> bool {
    matches!(path, "/openapi.json" | "/docs") || path.starts_with("/docs/")
}

/// The refusal a documentation request earns with `API_DOCS` off: an unknown route.
pub fn refusal(state: &AppState, docs: bool) -> Option<ApiError> {
    (docs && !state.settings.api_docs).then_some(ApiError::RouteNotFound)
}

/// Adds the headers every answer carries.
pub fn secure(state: &AppState, docs: bool, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    // The Swagger UI's own files may be cached; nothing else.
    if !docs {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !state.settings.development {
        h.insert(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    resp
}
