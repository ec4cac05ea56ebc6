//! The write path of the payments resource: the `Idempotency-Key` bound to the request, the
//! use case carried through in a task of its own (`carry`), the 202 rendered from what was accepted.
use std::future::Future;

use super::payload;
use super::views;
use crate::app::{AppError, KeyedRequest};
use crate::domain::idempotency::{Accepted, IdempotencyKey};
use crate::domain::ids::MerchantId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::timeout::{WriteStarted, carry};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

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

/// A payment write carried through (`carry`), answered 202 from what was accepted.
pub(super) async fn carried(
    state: &AppState,
    started: &WriteStarted,
    work: impl Future<Output = Result<Accepted, AppError>> + Send + 'static,
) -> Result<Response, ApiError> {
    carry(state, started, work).await.map(|answer| accepted(&answer))
}
