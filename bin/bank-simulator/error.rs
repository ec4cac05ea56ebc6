//! The simulator's one error type and its one envelope: `{"Error":{"Code","Message"}}`.
//!
//! Messages are written here, never copied from a parser, so a card number sent in the wrong
//! place can never be echoed back.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("the Idempotency-Key header is required")]
    KeyMissing,
    #[error("the Idempotency-Key header must be 1-255 visible ASCII characters")]
    KeyInvalid,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("this Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    KeyInFlight,
    #[error("the bank is temporarily unavailable")]
    Unavailable,
    #[error("the bank is shutting down")]
    ShuttingDown,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error")]
    Internal,
}

impl SimError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::KeyMissing | Self::KeyInvalid => StatusCode::BAD_REQUEST,
            Self::InvalidRequest(_) | Self::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::KeyInFlight => StatusCode::CONFLICT,
            Self::Unavailable | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeyMissing => "idempotency_key_missing",
            Self::KeyInvalid => "idempotency_key_invalid",
            Self::InvalidRequest(_) => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::KeyReused => "idempotency_key_reused",
            Self::KeyInFlight => "idempotency_key_in_flight",
            Self::Unavailable => "bank_unavailable",
            Self::ShuttingDown => "shutting_down",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal_error",
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let body = json!({ "Error": { "Code": self.code(), "Message": self.to_string() } });
        (self.status(), axum::Json(body)).into_response()
    }
}
