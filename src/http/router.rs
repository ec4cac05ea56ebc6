//! Every route and the layers around them, and the two listeners' surfaces.
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::{Extension, Router};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::{AppState, events, openapi, payments, server, service, webhook_endpoints};
use crate::telemetry;

/// Every route of the API, each registered with `routes!`, which takes its path and methods from
/// the handler's `#[utoipa::path]` and adds it to the OpenAPI document: add routes the same way
/// (and to `openapi::ROUTES`), never with a plain `.route`, so none goes undocumented.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(service::status))
        .routes(routes!(service::token))
        .routes(routes!(payments::create_payment, payments::list_payments))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments::refund))
        .routes(routes!(payments::capture::capture))
        .routes(routes!(payments::capture::cancel))
        .routes(routes!(events::payment_events))
        .routes(routes!(events::list_events))
        .routes(routes!(events::get_event))
        .routes(routes!(events::attempts))
        .routes(routes!(events::redeliver))
        .routes(routes!(webhook_endpoints::create_endpoint, webhook_endpoints::list_endpoints))
        .routes(routes!(webhook_endpoints::get_endpoint, webhook_endpoints::delete_endpoint))
        .routes(routes!(webhook_endpoints::rotate_secret))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs))
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
        .layer(middleware::from_fn_with_state(state.clone(), super::middleware::public))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::public_request_span))
        .with_state(state)
}

/// The operators' surface, on its own listener (`ADMIN_PORT`), never on the public port:
/// `GET /metrics` (Prometheus) and `GET /status`.
pub fn admin_router() -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(telemetry::metrics::endpoint))
        .route("/status", axum::routing::get(|| async { service::status().await }))
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.conn;
    server::serve(listener, router(state), limits, "public", shutdown).await
}

/// Serves the admin surface until `shutdown` completes, with the same connection bounds.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    limits: server::ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, admin_router(), limits, "admin", shutdown).await
}
