//! What the handlers of every resource share: a body read as a JSON object, unknown fields
//! named, ids from the path, a list's page size and cursor, optional query parameters.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::IntoParams;

use super::error::{ApiError, FieldError};
use crate::domain::events::EventId;
use crate::domain::ids::PaymentId;

/// Times are 13-digit ms at most (the year 2286): what the lists' sort keys hold.
pub const MAX_TIME_MS: u64 = 10_000_000_000_000;

/// At most this many unknown fields are named in one answer.
const MAX_UNKNOWN_NAMED: usize = 10;

pub(crate) fn read_body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::MalformedJson("the body could not be read".into()),
    })
}

/// The event id of the path; the request's span names its payment from here on.
pub(crate) fn event_id(raw: &str) -> Result<EventId, ApiError> {
    let id = EventId::parse(raw)
        .ok_or_else(|| ApiError::BadRequest("invalid_event_id", "not an event id this API gives".into()))?;
    tracing::Span::current().record("payment_id", tracing::field::display(id.payment_id));
    Ok(id)
}

/// The payment id of the path; the request's span names it from here on.
pub(crate) fn payment_id(raw: &str) -> Result<PaymentId, ApiError> {
    let id = PaymentId::parse(raw)
        .map_err(|_| ApiError::BadRequest("invalid_payment_id", "the payment id must be a UUID".into()))?;
    tracing::Span::current().record("payment_id", tracing::field::display(id));
    Ok(id)
}

/// Parses a body that must be a JSON object (an empty body counts as `{}` when `empty_ok`).
pub fn object(body: &Bytes, empty_ok: bool) -> Result<Map<String, Value>, ApiError> {
    if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::MalformedJson("expected a JSON object".into())),
        Err(e) => Err(ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column()))),
    }
}

/// An error for each field of `body` that is not one of `known` (`unknown_field`): a field a
/// request does not take is named, never silently dropped, as a misspelt optional field would
/// be lost without a word. Names are cut to 64 characters, and at most ten are named.
pub fn unknown_fields<'a>(body: &'a Map<String, Value>, known: &'a [&str]) -> impl Iterator<Item = FieldError> + 'a {
    body.keys().filter(|k| !known.contains(&k.as_str())).take(MAX_UNKNOWN_NAMED).map(|k| {
        FieldError::new(k.chars().take(64).collect::<String>(), "unknown_field", "is not a field of this request")
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub(crate) limit: Option<String>,
    /// The `NextCursor` of the previous page; omit for the first page.
    pub(crate) cursor: Option<String>,
}

/// A query string that does not parse into the route's parameters.
pub(crate) fn invalid_query() -> ApiError {
    ApiError::BadRequest("invalid_query", "the query string is not valid".into())
}

/// A list's `limit`: 1 to 100, 20 when absent.
pub(crate) fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw.map(str::parse::<u32>) {
        None => Ok(20),
        Some(Ok(n)) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new("limit", "out_of_range", "must be 1 to 100")])),
    }
}

/// An optional query parameter as parsed: absent is `None`; one that does not parse is named
/// in `errors` with `code` and `message`.
pub(crate) fn param<T, E>(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    code: &'static str,
    parsed: Option<Result<T, E>>,
    message: impl FnOnce(E) -> String,
) -> Option<T> {
    match parsed? {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError::new(field, code, message(e)));
            None
        }
    }
}

/// A list's time bound: ms since the epoch, 13 digits at most (what the lists' sort keys hold).
pub(crate) fn time(errors: &mut Vec<FieldError>, field: &'static str, raw: Option<&str>) -> Option<u64> {
    let parsed = raw.map(|t| t.parse::<u64>().ok().filter(|t| *t < MAX_TIME_MS).ok_or(()));
    param(errors, field, "invalid_format", parsed, |()| {
        "must be a time in ms since the epoch (13 digits at most)".into()
    })
}
