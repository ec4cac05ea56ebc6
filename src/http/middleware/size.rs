//! Refusals that need no handler, answered before authentication with the error envelope:
//! oversized headers (431) and a declared body over `MAX_BODY_BYTES` (413, at once, instead of
//! waiting for a body that will be refused anyway).
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;

use crate::http::AppState;
use crate::http::error::ApiError;

/// Header fields per request; more is 431 `headers_too_large`.
pub const MAX_HEADERS: usize = 100;

/// The refusal `headers` earn, if any (the caller answers it without running the handler).
pub fn refusal(state: &AppState, headers: &HeaderMap) -> Option<ApiError> {
    // Counted as on the wire: `name: value\r\n`.
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADERS || bytes > state.settings.max_header_bytes {
        return Some(ApiError::HeadersTooLarge);
    }
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.settings.max_body_bytes as u64) {
        return Some(ApiError::BodyTooLarge);
    }
    None
}
