//! The handlers of the API's routes (README, "API"). Each carries its OpenAPI description (`#[utoipa::path]`):
//! every status it can answer, with the error codes of each (see `error::ApiError::parts`).
use std::future::Future;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::auth::Merchant;
use super::error::{ApiError, ErrorEnvelope, FieldError, RateLimitedDoc, ServerErrors, Unauthorized, doc};
use super::filters::PaymentListQuery;
use super::openapi::{TAG_AUTH, TAG_PAYMENTS, TAG_SERVICE};
use super::payload::{PaymentRequestDoc, RefundRequestDoc};
use super::scopes::Scopes;
use super::views::{PaymentAccepted, PaymentBody, PaymentPage, RefundAccepted, StatusBody, TokenBody};
use super::{AppState, WriteStarted};
use super::{payload, views};
use tracing::Instrument;

use crate::app::{AppError, KeyedRequest};
use crate::domain::idempotency::{Accepted, IdempotencyKey};
use crate::domain::ids::{MerchantId, PaymentId};

/// Liveness: the API process answers (it checks no dependency).
#[utoipa::path(get, path = "/status", tag = TAG_SERVICE,
    responses(
        (status = 200, description = "The API is up.", body = StatusBody),
        (status = 503, description = doc::TIMEOUT, body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
pub async fn status() -> Json<StatusBody> {
    Json(views::status())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Another seeded merchant to issue the token for (default: `MERCHANT_ID`).
    #[param(example = "other@merchant")]
    merchant: Option<String>,
    /// The scopes the token grants, space-separated (default: all of `payments.read`,
    /// `payments.write` and `webhooks.manage`).
    #[param(example = "payments.read")]
    scope: Option<String>,
}

/// A bearer token (development token issuance).
///
/// For `MERCHANT_ID`, or with `?merchant=` for another seeded merchant. Switched off in
/// production (`TOKEN_ISSUANCE=false`). No authentication.
#[utoipa::path(get, path = "/token", tag = TAG_AUTH, params(TokenQuery),
    responses(
        (status = 200, description = "A token valid for `TOKEN_TTL_SECS`.", body = TokenBody),
        (status = 400, description = "`invalid_query`: the query string cannot be read.", body = ErrorEnvelope),
        (status = 404, description = "`token_issuance_disabled`: token issuance is switched off.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `merchant` with code `unknown_merchant`, \
            or `scope` with code `unknown_scope`.",
            body = ErrorEnvelope),
        ServerErrors,
    ))]
pub async fn token(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Json<TokenBody>, ApiError> {
    let super::auth::Verifier::Hs256(issuer) = &state.auth.verifier else {
        return Err(ApiError::TokenIssuanceDisabled);
    };
    if !state.settings.token_issuance {
        return Err(ApiError::TokenIssuanceDisabled);
    }
    let Query(q) = query.map_err(|_| invalid_query())?;
    let merchant = match q.merchant {
        None => state.settings.default_merchant.clone(),
        Some(m) => {
            let m = MerchantId::parse(&m).map_err(|_| unknown_merchant())?;
            if !state.services.is_merchant(&m).await? {
                return Err(unknown_merchant());
            }
            m
        }
    };
    let scopes = match q.scope.as_deref().map(str::trim) {
        None | Some("") => Scopes::ALL,
        Some(claim) => {
            let scopes = Scopes::parse(claim);
            if scopes.claim().split(' ').count() != claim.split_ascii_whitespace().count() || scopes == Scopes::NONE {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "scope",
                    "unknown_scope",
                    "must name payments.read, payments.write or webhooks.manage, space-separated",
                )]));
            }
            scopes
        }
    };
    let issued = issuer.issue(&merchant, scopes, state.services.clock.now_ms());
    Ok(Json(views::token(issued.token, issued.expires_at_ms, merchant.to_string())))
}

fn unknown_merchant() -> ApiError {
    ApiError::Validation(vec![FieldError::new("merchant", "unknown_merchant", "is not a known merchant")])
}

pub(super) fn read_body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::MalformedJson("the body could not be read".into()),
    })
}

/// The payment id of the path; the request's span names it from here on.
pub(super) fn payment_id(raw: &str) -> Result<PaymentId, ApiError> {
    let id = PaymentId::parse(raw)
        .map_err(|_| ApiError::BadRequest("invalid_payment_id", "the payment id must be a UUID".into()))?;
    tracing::Span::current().record("payment_id", tracing::field::display(id));
    Ok(id)
}

/// The `Idempotency-Key` header, if sent, bound to the merchant and the request's keyed
/// fingerprint.
fn keyed(
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

fn today() -> (u16, u8) {
    let now = time::OffsetDateTime::now_utc();
    (now.year() as u16, u8::from(now.month()))
}

/// The 202 of a write. Rendered from what was accepted, so a replay of a stored answer gets
/// the same bytes as the first request did.
fn accepted(answer: &Accepted) -> Response {
    let (location, body) = match answer {
        Accepted::Payment { payment_id } => {
            (payment_id, json!({ "paymentID": payment_id.to_string(), "Status": "PENDING" }))
        }
        Accepted::Refund { refund_id, payment_id, amount, currency } => (
            payment_id,
            json!({
                "RefundID": refund_id.to_string(),
                "PaymentID": payment_id.to_string(),
                "Amount": amount.get(),
                "Currency": currency.as_str(),
                "Status": "PENDING",
            }),
        ),
    };
    let headers =
        [(header::CONTENT_TYPE, "application/json".to_owned()), (header::LOCATION, format!("/payments/{location}"))];
    (StatusCode::ACCEPTED, headers, body.to_string()).into_response()
}

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
        Unauthorized,
        RateLimitedDoc,
        (status = 409, description = "`idempotency_key_in_flight`: the first request with this key is still being \
            processed (with `Retry-After`).", body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 413, description = doc::BODY_TOO_LARGE, body = ErrorEnvelope),
        (status = 504, description = doc::OUTCOME_UNKNOWN, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names each bad field with its code (`required`, \
            `invalid_type`, `invalid_format`, `expired`, `out_of_range`, `unknown_currency`); \
            `idempotency_key_reused`: this key was used for a different request.", body = ErrorEnvelope),
        ServerErrors,
    ))]
pub async fn create_payment(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = payload::object(&read_body(raw)?, false)?;
    let req = payload::payment_request(&map, today())?;
    let key = keyed(&state, &headers, &merchant, "POST", "/payments", &map)?;
    let services = state.services.clone();
    carried(&state, &started, async move { services.create_payment(&merchant, req, key.as_ref()).await }).await
}

/// Runs a use case that writes in a task of its own, so that the request's timeout (or a client
/// that hangs up) cannot cut it between its write and its enqueue: once started, it is carried
/// through. The timeout's answer then says the outcome is unknown (see `super::timeout`).
async fn carried(
    state: &AppState,
    started: &WriteStarted,
    work: impl Future<Output = Result<Accepted, AppError>> + Send + 'static,
) -> Result<Response, ApiError> {
    started.mark();
    let task = state.writes.spawn(work.instrument(tracing::Span::current()));
    match task.await {
        Ok(answer) => Ok(accepted(&answer?)),
        // The task died mid-way (a panic): its write may have landed, so the outcome is unknown.
        Err(e) => {
            tracing::error!(error = %e, "the request's task ended before answering");
            Err(AppError::OutcomeUnknown.into())
        }
    }
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
        Unauthorized,
        RateLimitedDoc,
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        ServerErrors,
    ))]
pub async fn get_payment(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.services.get_payment(&merchant, payment_id(&id)?).await?;
    let mut resp = Json(views::view(&view)).into_response();
    if view.in_flight() {
        // Clients poll until the payment and its refunds are final; this paces them.
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(resp)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub(super) limit: Option<String>,
    /// The `NextCursor` of the previous page; omit for the first page.
    pub(super) cursor: Option<String>,
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
        Unauthorized,
        RateLimitedDoc,
        (status = 422, description = "`validation_failed`: `Fields` names `limit` with code `out_of_range`, or \
            `reference`, `status`, `customer`, `created_gte` or `created_lt` with code `invalid_format`.",
            body = ErrorEnvelope),
        ServerErrors,
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
    Ok(Json(views::page(&page.payments, page.next_cursor)))
}

/// A query string that does not parse into the route's parameters.
pub(super) fn invalid_query() -> ApiError {
    ApiError::BadRequest("invalid_query", "the query string is not valid".into())
}

/// A list's `limit`: 1 to 100, 20 when absent.
pub(super) fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw.map(str::parse::<u32>) {
        None => Ok(20),
        Some(Ok(n)) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new("limit", "out_of_range", "must be 1 to 100")])),
    }
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
        Unauthorized,
        RateLimitedDoc,
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
        ServerErrors,
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
    let map = payload::object(&read_body(raw)?, true)?;
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
