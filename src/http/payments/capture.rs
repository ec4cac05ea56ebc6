//! Capture and cancel of a manual-capture payment (`CaptureMethod: manual`), both written like a
//! refund: an optional `Idempotency-Key`, the use case carried through, a 202.
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::accept::{carried, keyed};
use super::payload::{self, CaptureRequestDoc};
use super::views::{CancelAccepted, CaptureAccepted};
use crate::http::AppState;
use crate::http::auth::Merchant;
use crate::http::error::{ApiError, BearerErrors, ErrorEnvelope, doc};
use crate::http::middleware::timeout::WriteStarted;
use crate::http::openapi::TAG_PAYMENTS;
use crate::http::request::{object, payment_id, read_body};

/// Capture (part of) an authorized payment.
///
/// Answers 202 with a PENDING capture, carried out by the payment-worker; it shows in the
/// payment's `Captures`. Captures may be partial and several, until one with `FinalCapture`
/// (the default): the bank then releases the rest. Captures never add up to more than the
/// authorization, even when asked for concurrently.
#[utoipa::path(post, path = "/payments/{id}/capture", tag = TAG_PAYMENTS, security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The `paymentID`."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        description = "As for `POST /payments`.")),
    request_body(content = CaptureRequestDoc, description = "Optional: no body captures all that is left, final."),
    responses(
        (status = 202, description = "Accepted: a PENDING capture.", body = CaptureAccepted,
            headers(("Location" = String, description = "`/payments/{id}`, where the capture's progress shows."))),
        (status = 400, description = "`invalid_payment_id`, `malformed_json`, `invalid_idempotency_key`.",
            body = ErrorEnvelope),
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 409, description = "`not_capturable`: not a manual-capture payment that is AUTHORIZED (or it is \\
            being canceled, or a final capture was asked); `authorization_expired`: past `AuthorizationExpiresAt`; \\
            `capture_exceeds_capturable`: more than `CapturableAmount`; `too_many_captures`: 50 already; \\
            `idempotency_key_in_flight`; `payment_busy`.", body = ErrorEnvelope),
        (status = 413, description = doc::BODY_TOO_LARGE, body = ErrorEnvelope),
        (status = 504, description = doc::OUTCOME_UNKNOWN, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `Amount`, `FinalCapture` or `Metadata`; \\
            `idempotency_key_reused`.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn capture(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = payment_id(&id)?;
    let map = object(&read_body(raw)?, true)?;
    let (ask, metadata) = payload::capture_request(&map)?;
    let key = keyed(&state, &headers, &merchant, "POST", &format!("/payments/{id}/capture"), &map)?;
    let services = state.services.clone();
    carried(&state, &started, async move { services.request_capture(&merchant, id, ask, metadata, key.as_ref()).await })
        .await
}

/// Cancel a manual-capture payment.
///
/// Answers 202; the payment-worker releases what is not captured and the payment ends
/// `CANCELED` (or `SUCCEEDED` for what was captured before). Allowed while `PENDING`,
/// `PROCESSING` (carried out once authorized) or `AUTHORIZED` with no capture in flight; asked
/// again while under way, the same answer; once final, 409 (a replay of the first request's
/// `Idempotency-Key` still returns its answer). It takes no body.
#[utoipa::path(post, path = "/payments/{id}/cancel", tag = TAG_PAYMENTS, security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The `paymentID`."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        description = "As for `POST /payments`.")),
    responses(
        (status = 202, description = "Accepted: the cancel is carried out by the payment-worker.", body = CancelAccepted,
            headers(("Location" = String, description = "`/payments/{id}`, to poll until it is final."))),
        (status = 400, description = "`invalid_payment_id`, `invalid_idempotency_key`.", body = ErrorEnvelope),
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 409, description = "`not_cancelable`: an automatic payment, a final one, or a capture in flight; \\
            `idempotency_key_in_flight`; `payment_busy`.", body = ErrorEnvelope),
        (status = 504, description = doc::OUTCOME_UNKNOWN, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: the body is not empty (`unknown_field`); \\
            `idempotency_key_reused`.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = payment_id(&id)?;
    // It takes no body: the key is bound to the method and path alone.
    let key = keyed(&state, &headers, &merchant, "POST", &format!("/payments/{id}/cancel"), &Default::default())?;
    let services = state.services.clone();
    carried(&state, &started, async move { services.request_cancel(&merchant, id, key.as_ref()).await }).await
}
