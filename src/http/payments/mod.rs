//! The payments resource (README, "API"): create, read, list and refund; capture and cancel
//! (`capture.rs`). Each handler carries
//! its OpenAPI description (`#[utoipa::path]`): every status it can answer, with the error codes
//! of each (see `error::ApiError::parts`).
mod accept;
pub(crate) mod capture;
pub(crate) mod filters;
pub mod payload;
pub(crate) mod views;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use accept::{carried, keyed, today};
use filters::PaymentListQuery;
use payload::{PaymentRequestDoc, RefundRequestDoc};
use views::{PaymentAccepted, PaymentPage, RefundAccepted};

use super::AppState;
use super::auth::Merchant;
use super::error::{ApiError, BearerErrors, ErrorEnvelope, doc};
use super::middleware::timeout::WriteStarted;
use super::openapi::TAG_PAYMENTS;
use super::request::{invalid_query, page_limit, payment_id, read_body};
use crate::wire::payment::{self as wire_payment, PaymentBody};

/// Create a payment: stored PENDING, charged asynchronously.
///
/// Answers 202 at once; poll the `Location` until `Status` is final. With an `Idempotency-Key`,
/// a replay returns the first answer byte for byte.
#[utoipa::path(post, path = "/payments", tag = TAG_PAYMENTS, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        description = "Makes a retry safe: scoped to the merchant, kept at least 48 hours. A replay returns the \
            first answer; the same key with another body is 422 `idempotency_key_reused`; while the first is in \
            flight, 409 `idempotency_key_in_flight`.")),
    request_body(content = PaymentRequestDoc, description = "The payment; every bad field is reported at once."),
    responses(
        (status = 202, description = "Accepted: stored PENDING and queued for charging.", body = PaymentAccepted,
            headers(("Location" = String, description = "`/payments/{id}`, the payment to poll."))),
        (status = 400, description = "`malformed_json`: the body is not a JSON object; \
            `invalid_idempotency_key`: not 1 to 255 printable ASCII characters.", body = ErrorEnvelope),
        (status = 409, description = "`idempotency_key_in_flight`: the first request with this key is still being \
            processed (with `Retry-After`).", body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 413, description = doc::BODY_TOO_LARGE, body = ErrorEnvelope),
        (status = 504, description = doc::OUTCOME_UNKNOWN, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names each bad field with its code (`required`, \
            `invalid_type`, `invalid_format`, `expired`, `out_of_range`, `unknown_currency`); \
            `idempotency_key_reused`: this key was used for a different request.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn create_payment(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = crate::http::request::object(&read_body(raw)?, false)?;
    let req = payload::payment_request(&map, today())?;
    let key = keyed(&state, &headers, &merchant, "POST", "/payments", &map)?;
    let services = state.services.clone();
    carried(&state, &started, async move { services.create_payment(&merchant, req, key.as_ref()).await }).await
}

/// One payment with its refunds.
///
/// Another merchant's payment is answered exactly like an unknown one.
#[utoipa::path(get, path = "/payments/{id}", tag = TAG_PAYMENTS, security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The `paymentID`.")),
    responses(
        (status = 200, description = "The payment.", body = PaymentBody,
            headers(("Retry-After" = u32, description = "Sent (`1`) while the payment or one of its refunds is not \
                final: poll again after that many seconds."))),
        (status = 400, description = "`invalid_payment_id`: the id is not a UUID.", body = ErrorEnvelope),
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn get_payment(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.services.get_payment(&merchant, payment_id(&id)?).await?;
    let mut resp = Json(wire_payment::view(&view, state.services.clock.now_ms())).into_response();
    if view.in_flight() {
        // Clients poll until the payment and its refunds are final; this paces them.
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(resp)
}

/// The merchant's payments, newest first, a page at a time, optionally filtered.
///
/// Filters: at most one of `reference`, `status` and `customer`, each with `created_gte` and
/// `created_lt` or not; every filter is served by an index, never a scan. Lists read indexes,
/// which follow a change within a moment: a payment that just moved may show under its previous
/// status briefly. `GET /payments/{id}` is always current.
#[utoipa::path(get, path = "/payments", tag = TAG_PAYMENTS, security(("bearer" = [])), params(PaymentListQuery),
    responses(
        (status = 200, description = "A page; follow `NextCursor` until it is null.", body = PaymentPage),
        (status = 400, description = "`invalid_query`: the query string cannot be read; \
            `invalid_cursor`: `cursor` is not one this API gave; `unsupported_filter`: more than one of \
            `reference`, `status` and `customer`, a combination no index serves.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `limit` with code `out_of_range`, or \
            `reference`, `status`, `customer`, `created_gte` or `created_lt` with code `invalid_format`.",
            body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn list_payments(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    query: Result<Query<PaymentListQuery>, QueryRejection>,
) -> Result<Json<PaymentPage>, ApiError> {
    let Query(q) = query.map_err(|_| invalid_query())?;
    let limit = page_limit(q.limit.as_deref())?;
    let filter = q.filter()?;
    let page = state.services.list_payments(&merchant, &filter, limit, q.cursor.as_deref()).await?;
    Ok(Json(views::page(&page.payments, page.next_cursor, state.services.clock.now_ms())))
}

/// Refund a payment, in full or in part.
///
/// Answers 202 with a PENDING refund, carried out asynchronously; it shows in the payment's
/// `Refunds`. Accepted while the payment is still PENDING or PROCESSING: carried out once it
/// settles, or FAILED (`payment_declined`, `payment_failed`) if it does not succeed. Refunds of one
/// payment never add up to more than its price, even when asked for concurrently.
#[utoipa::path(patch, path = "/payments/{id}/refund", tag = TAG_PAYMENTS, security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The `paymentID`."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        description = "As for `POST /payments`: a replay returns the first answer; the same key with another \
            body is 422 `idempotency_key_reused`; while the first is in flight, 409 `idempotency_key_in_flight`.")),
    request_body(content = RefundRequestDoc,
        description = "Optional: no body (or `{}`) refunds all that is left."),
    responses(
        (status = 202, description = "Accepted: a PENDING refund.", body = RefundAccepted,
            headers(("Location" = String, description = "`/payments/{id}`, where the refund's progress shows."))),
        (status = 400, description = "`invalid_payment_id`: the id is not a UUID; `malformed_json`: the body is \
            not a JSON object; `invalid_idempotency_key`: not 1 to 255 printable ASCII characters.",
            body = ErrorEnvelope),
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 409, description = "`refund_exceeds_remaining`: `Amount` is more than is left to refund; \
            `nothing_left_to_refund`: the payment is fully refunded (or reserved by pending refunds); \
            `payment_not_refundable`: the payment ended DECLINED or FAILED; \
            `idempotency_key_in_flight`: the first request with this key is still being processed (with \
            `Retry-After`); `too_many_refunds`: the payment has 100 refunds already; `payment_busy`: other changes of the payment kept landing first and nothing was \
            written, so sending the request again is safe.", body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Only with `idempotency_key_in_flight`."))),
        (status = 413, description = doc::BODY_TOO_LARGE, body = ErrorEnvelope),
        (status = 504, description = doc::OUTCOME_UNKNOWN, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `Amount` (`invalid_type`, \
            `out_of_range`); `idempotency_key_reused`: this key was used for a different request.",
            body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn refund(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = payment_id(&id)?;
    let map = crate::http::request::object(&read_body(raw)?, true)?;
    let (amount, metadata) = payload::refund_request(&map)?;
    let key = keyed(&state, &headers, &merchant, "PATCH", &format!("/payments/{id}/refund"), &map)?;
    let services = state.services.clone();
    carried(
        &state,
        &started,
        async move { services.request_refund(&merchant, id, amount, metadata, key.as_ref()).await },
    )
    .await
}
