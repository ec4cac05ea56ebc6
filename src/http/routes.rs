//! The handlers of CONTRACT section 3.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Merchant;
use super::error::{ApiError, FieldError};
use super::{payload, views};
use crate::app::KeyedRequest;
use crate::domain::idempotency::{IdempotencyKey, StoredResponse};
use crate::domain::ids::{MerchantId, PaymentId};

pub async fn status() -> Json<serde_json::Value> {
    Json(json!({ "Status": "OK", "Service": "api", "Version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    merchant: Option<String>,
}

/// Development token issuance: a token for `MERCHANT_ID`, or for another seeded merchant.
pub async fn token(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.settings.token_issuance {
        return Err(ApiError::TokenIssuanceDisabled);
    }
    let Query(q) = query.map_err(|_| ApiError::BadRequest("invalid_query", "the query string is not valid".into()))?;
    let merchant = match q.merchant {
        None => state.settings.default_merchant.clone(),
        Some(m) => {
            let m = MerchantId::parse(&m).map_err(|_| unknown_merchant())?;
            if !state.services.store.merchant_exists(&m).await.map_err(crate::app::AppError::from)? {
                return Err(unknown_merchant());
            }
            m
        }
    };
    let issued = state.tokens.issue(&merchant, state.services.clock.now_ms());
    Ok(Json(json!({
        "AuthenticationToken": issued.token,
        "AuthenticationTokenExpiry": issued.expires_at_ms,
        "TokenType": "Bearer",
        "MerchantID": merchant.to_string(),
    })))
}

fn unknown_merchant() -> ApiError {
    ApiError::Validation(vec![FieldError::new("merchant", "unknown_merchant", "is not a known merchant")])
}

fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::MalformedJson("the body could not be read".into()),
    })
}

fn payment_id(raw: &str) -> Result<PaymentId, ApiError> {
    PaymentId::parse(raw)
        .map_err(|_| ApiError::BadRequest("invalid_payment_id", "the payment id must be a UUID".into()))
}

/// The `Idempotency-Key` header, if sent, bound to the merchant and the request's hash.
fn keyed(
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
    Ok(Some(KeyedRequest { key, request_hash: payload::request_hash(method, path, map) }))
}

fn today() -> (u16, u8) {
    let now = time::OffsetDateTime::now_utc();
    (now.year() as u16, u8::from(now.month()))
}

fn stored(resp: StoredResponse) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK);
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], resp.body).into_response();
    if let Some(loc) = resp.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    r
}

pub async fn create_payment(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = payload::object(&body(raw)?, false)?;
    let req = payload::payment_request(&map, today())?;
    let key = keyed(&headers, &merchant, "POST", "/payments", &map)?;
    Ok(stored(state.services.create_payment(&merchant, req, key.as_ref()).await?))
}

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

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list_payments(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::BadRequest("invalid_query", "the query string is not valid".into()))?;
    let limit = match q.limit.as_deref().map(str::parse::<u32>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError::new("limit", "out_of_range", "must be 1 to 100")]));
        }
    };
    let page = state.services.list_payments(&merchant, limit, q.cursor.as_deref()).await?;
    let payments: Vec<_> = page.payments.iter().map(|p| views::payment(p, None)).collect();
    Ok(Json(json!({ "Payments": payments, "NextCursor": page.next_cursor })))
}

pub async fn refund(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = payment_id(&id)?;
    let map = payload::object(&body(raw)?, true)?;
    let amount = payload::refund_amount(&map)?;
    let key = keyed(&headers, &merchant, "PATCH", &format!("/payments/{id}/refund"), &map)?;
    Ok(stored(state.services.request_refund(&merchant, id, amount, key.as_ref()).await?))
}
