//! The axum API. It validates, writes, enqueues and answers; it never calls the bank.
pub mod auth;
pub mod error;
mod observe;
pub mod openapi;
pub mod payload;
mod routes;
pub mod start;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Services;
use crate::domain::ids::MerchantId;
use crate::telemetry;
use auth::TokenIssuer;
use error::ApiError;

pub struct Settings {
    pub default_merchant: MerchantId,
    pub token_issuance: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// The public URL (`BASE_URL`): the OpenAPI document's server.
    pub base_url: String,
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

/// Every route of the API, each registered with `routes!`, which takes its path and methods from
/// the handler's `#[utoipa::path]` and adds it to the OpenAPI document: add routes the same way
/// (and to `openapi::ROUTES`), never with a plain `.route`, so none goes undocumented.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(routes::status))
        .routes(routes!(routes::token))
        .routes(routes!(routes::create_payment, routes::list_payments))
        .routes(routes!(routes::get_payment))
        .routes(routes!(routes::refund))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs))
        .routes(routes!(openapi::metrics))
}

pub fn router(state: AppState) -> Router {
    let (routes, spec) = api_routes().split_for_parts();
    let spec = openapi::finish(spec, &state.settings.base_url);
    routes
        .merge(openapi::swagger_ui())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(Extension(openapi::SpecJson::new(&spec)))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn(observe::track))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
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
