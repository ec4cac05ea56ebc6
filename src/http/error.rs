//! One error enum for the API, one envelope for every error:
//! `{"Error": {"Code": "...", "Message": "...", "Fields": [...]}}`. 5xx details are logged,
//! never sent: no stack trace, AWS error text, table or queue name reaches a client.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;

/// One bad field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FieldError {
    /// The request field (or query parameter) as the client sent it, e.g. `CardCVV`.
    #[schema(example = "CardCVV")]
    pub field: String,
    /// `required`, `invalid_type`, `invalid_format`, `expired`, `out_of_range`, `unknown_currency`,
    /// `unknown_merchant` or `unknown_field` (a field this request does not take).
    #[schema(example = "invalid_format")]
    pub code: &'static str,
    #[schema(example = "must be 3 or 4 digits")]
    pub message: String,
}

/// The body of every error answer: `{"Error": {"Code", "Message", "Fields"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    #[serde(rename = "Error")]
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// A stable machine code (see each response's description); branch on this, not on `Message`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// For humans; may change.
    #[schema(example = "the request has invalid fields")]
    pub message: String,
    /// Only with `validation_failed` (422): one entry per bad field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fields: Option<Vec<FieldError>>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON")]
    MalformedJson(String),
    #[error("the request body is too large")]
    BodyTooLarge,
    #[error("the request's headers are too large or too many")]
    HeadersTooLarge,
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(&'static str, String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("the token does not grant the {} scope this request needs", .0.name())]
    InsufficientScope(super::auth::scopes::Scope),
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request took too long")]
    Timeout,
    #[error("token issuance is switched off")]
    TokenIssuanceDisabled,
    #[error("too many requests for this merchant; retry after the time given")]
    RateLimited(super::auth::rate::Limited),
    #[error(transparent)]
    App(#[from] AppError),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        let msg = self.to_string();
        match self {
            Self::MalformedJson(detail) => (S::BAD_REQUEST, "malformed_json", format!("{msg}: {detail}")),
            Self::BodyTooLarge => (S::PAYLOAD_TOO_LARGE, "body_too_large", msg),
            Self::HeadersTooLarge => (S::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", msg),
            Self::Validation(_) => (S::UNPROCESSABLE_ENTITY, "validation_failed", msg),
            Self::BadRequest(code, m) => (S::BAD_REQUEST, code, m.clone()),
            Self::Unauthorized => (S::UNAUTHORIZED, "unauthorized", msg),
            Self::InsufficientScope(_) => (S::FORBIDDEN, "insufficient_scope", msg),
            Self::RouteNotFound => (S::NOT_FOUND, "route_not_found", msg),
            Self::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "method_not_allowed", msg),
            Self::Timeout => (S::SERVICE_UNAVAILABLE, "timeout", msg),
            Self::TokenIssuanceDisabled => (S::NOT_FOUND, "token_issuance_disabled", msg),
            Self::RateLimited(_) => (S::TOO_MANY_REQUESTS, "rate_limited", msg),
            Self::App(e) => match e {
                AppError::NotFound => (S::NOT_FOUND, "payment_not_found", "payment not found".into()),
                AppError::IdempotencyKeyReused => (S::UNPROCESSABLE_ENTITY, "idempotency_key_reused", msg),
                AppError::IdempotencyInFlight => (S::CONFLICT, "idempotency_key_in_flight", msg),
                AppError::NotRefundable(_) => (S::CONFLICT, "payment_not_refundable", msg),
                AppError::NothingLeftToRefund => (S::CONFLICT, "nothing_left_to_refund", msg),
                AppError::TooManyRefunds(_) => (S::CONFLICT, "too_many_refunds", msg),
                AppError::RefundExceedsRemaining { .. } => (S::CONFLICT, "refund_exceeds_remaining", msg),
                AppError::NotCapturable(_) => (S::CONFLICT, "not_capturable", msg),
                AppError::AuthorizationExpired => (S::CONFLICT, "authorization_expired", msg),
                AppError::CaptureExceedsCapturable { .. } => (S::CONFLICT, "capture_exceeds_capturable", msg),
                AppError::TooManyCaptures(_) => (S::CONFLICT, "too_many_captures", msg),
                AppError::NotCancelable => (S::CONFLICT, "not_cancelable", msg),
                AppError::InvalidCursor => (S::BAD_REQUEST, "invalid_cursor", msg),
                AppError::EventNotFound => (S::NOT_FOUND, "event_not_found", "event not found".into()),
                AppError::EndpointNotFound => (S::NOT_FOUND, "webhook_endpoint_not_found", msg),
                AppError::TooManyEndpoints(_) => (S::CONFLICT, "too_many_webhook_endpoints", msg),
                AppError::DeliveryBusy => (S::CONFLICT, "delivery_in_progress", msg),
                AppError::RedeliveriesLimited { .. } => (S::TOO_MANY_REQUESTS, "rate_limited", msg),
                // Nothing of the request was written, so trying again is safe.
                AppError::Contended => (S::CONFLICT, "payment_busy", msg),
                AppError::OutcomeUnknown => (S::GATEWAY_TIMEOUT, "outcome_unknown", OUTCOME_UNKNOWN.into()),
                AppError::Unavailable(_) => {
                    (S::SERVICE_UNAVAILABLE, "service_unavailable", "a dependency is unavailable, retry".into())
                }
                AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal_error", "internal error".into()),
            },
        }
    }
}

/// What a client is told when a write may have taken effect: never "retry" alone, since a blind
/// retry of a request without `Idempotency-Key` could create a second payment, refund or webhook
/// endpoint. One text for every route: a payment write with a key is safe to repeat with it; the
/// webhook endpoints' routes take no key.
pub const OUTCOME_UNKNOWN: &str = "the request may or may not have taken effect (the database did not confirm \
    in time); if it did, it is carried through. Do not retry it blindly: a payment, refund, capture or cancel sent \
    with an Idempotency-Key is safe to repeat with the same key; otherwise look for what it would have made (the \
    payment, refund or webhook endpoint) before sending it again";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            // The full cause goes to the log (error codes only, see the adapters), not the client.
            tracing::error!(error = %self, ?self, code, "request failed");
        }
        let fields = if let Self::Validation(fields) = &self { Some(fields.clone()) } else { None };
        let body = ErrorEnvelope { error: ErrorBody { code, message, fields } };
        let mut resp = (status, axum::Json(body)).into_response();
        match &self {
            Self::Unauthorized => {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::InsufficientScope(scope) => {
                // RFC 6750 section 3: the error and the scope the request needs.
                let value = format!("Bearer error=\"insufficient_scope\", scope=\"{}\"", scope.name());
                if let Ok(value) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::App(AppError::IdempotencyInFlight | AppError::Unavailable(_)) | Self::Timeout => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::App(AppError::RedeliveriesLimited { retry_after_secs }) => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::RateLimited(limited) => {
                let headers = resp.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after_secs));
                for (name, value) in
                    [("ratelimit-policy", limited.policy_header()), ("ratelimit", limited.state_header())]
                {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
            }
            _ => {}
        }
        resp
    }
}

/// Response descriptions shared by the handlers' `#[utoipa::path]` annotations (routes.rs), kept
/// beside `parts()` so a new code is documented where it is made. Route-specific ones are inline.
/// The 500 and 503 that every API route may answer, listed once: a route's `responses(...)`
/// names this type instead of repeating them.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "documentation only: never built, its variants describe responses")]
pub enum ServerErrors {
    #[response(status = 500, description = doc::INTERNAL)]
    Internal(ErrorEnvelope),
    #[response(status = 503, description = doc::UNAVAILABLE,
        headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")))]
    Unavailable(ErrorEnvelope),
}

/// Every error a route that needs a bearer token may answer whatever it does: 401 and 403
/// (`Unauthorized`), 429 (`RateLimitedDoc`), 500 and 503 (`ServerErrors`), in one group.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "documentation only: never built, its variants describe responses")]
pub enum BearerErrors {
    #[response(status = 401, description = doc::UNAUTHORIZED,
        headers(("WWW-Authenticate" = String, description = "`Bearer`.")))]
    Unauthorized(ErrorEnvelope),
    #[response(status = 403, description = doc::INSUFFICIENT_SCOPE,
        headers(("WWW-Authenticate" = String, description = "`Bearer error=\"insufficient_scope\", scope=\"<needed>\"`.")))]
    InsufficientScope(ErrorEnvelope),
    #[response(status = 429, description = doc::RATE_LIMITED,
        headers(
            ("Retry-After" = u32, description = "Seconds until the merchant's bucket has a token again."),
            ("RateLimit-Policy" = String, description = "IETF draft: `\"reads\"|\"writes\";q=<per second>;w=1`."),
            ("RateLimit" = String, description = "IETF draft: `\"<policy>\";r=0;t=<seconds>`."),
        ))]
    RateLimited(ErrorEnvelope),
    #[response(status = 500, description = doc::INTERNAL)]
    Internal(ErrorEnvelope),
    #[response(status = 503, description = doc::UNAVAILABLE,
        headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")))]
    Unavailable(ErrorEnvelope),
}

pub mod doc {
    pub const UNAUTHORIZED: &str = "`unauthorized`: the bearer token is missing, malformed, forged, expired, not yet \
        valid, for another issuer or audience, signed with an algorithm other than the key's, or names a merchant \
        that is not registered (or is disabled). Sent with `WWW-Authenticate: Bearer`.";
    pub const INSUFFICIENT_SCOPE: &str = "`insufficient_scope`: the token is valid but does not grant the scope \
        this request needs (`payments.read` for reads, `payments.write` for payments and refunds, `webhooks.manage` \
        for webhook endpoints, attempts and redeliveries).";
    pub const RATE_LIMITED: &str = "`rate_limited`: the merchant's rate limit (per API replica) for reads or writes is \
        used up; retry after `Retry-After` seconds.";
    pub const INTERNAL: &str = "`internal_error`: an unexpected failure. The cause is logged, never sent.";
    pub const UNAVAILABLE: &str = "`service_unavailable`: a dependency (database, queue) is unavailable; \
        `timeout`: the request took longer than `REQUEST_TIMEOUT_MS`. Both with `Retry-After`: retry later.";
    pub const TIMEOUT: &str = "`timeout`: the request took longer than `REQUEST_TIMEOUT_MS` (with `Retry-After`).";
    pub const BODY_TOO_LARGE: &str = "`body_too_large`: the body (or its declared `Content-Length`) is over \
        `MAX_BODY_BYTES` (16 KiB by default).";
    pub const OUTCOME_UNKNOWN: &str = "`outcome_unknown`: the database did not confirm the write in time, so the \
        request may or may not have taken effect (if it did, it is carried through: the payment or refund is \
        processed). Never sent with `Retry-After`: do not retry blindly. Repeat the request with the same \
        `Idempotency-Key` (a replay returns the first answer, or creates it once), or without a key look for the \
        payment (`GET /payments`) before sending it again.";
    pub const ENDPOINT_OUTCOME_UNKNOWN: &str = "`outcome_unknown`: the database did not confirm the write in time, \
        so the endpoint may or may not have been created (or its secret rotated); if it was, the change is carried \
        through, and may appear after this answer. Never sent with `Retry-After`, and these routes take no \
        `Idempotency-Key`: list the endpoints (`GET /webhook-endpoints`) before creating one again, and delete an \
        endpoint whose secret you never saw. A rotation whose answer was lost can be sent again: the secret your \
        receivers have keeps signing for its 24 hours either way.";
}
