//! The axum API. It validates, writes, enqueues and answers; it never calls the bank.
pub mod auth;
pub mod error;
pub mod payload;
mod routes;
pub mod start;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use tower_http::trace::TraceLayer;

use crate::app::Services;
use crate::domain::ids::MerchantId;
use auth::TokenIssuer;
use error::ApiError;

pub struct Settings {
    pub default_merchant: MerchantId,
    pub token_issuance: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
}

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub tokens: Arc<TokenIssuer>,
    pub settings: Arc<Settings>,
}

/// Bounds every request; a slow dependency answers 503 with the envelope instead of hanging.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/status", get(routes::status))
        .route("/token", get(routes::token))
        .route("/payments", get(routes::list_payments).post(routes::create_payment))
        .route("/payments/{id}", get(routes::get_payment))
        .route("/payments/{id}/refund", patch(routes::refund))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
