//! The axum API. It validates, writes, enqueues and answers; it never calls the bank.
pub mod auth;
pub mod error;
mod event_routes;
mod event_views;
pub(crate) mod filters;
mod headers;
pub mod jwks;
mod limits;
mod observe;
pub mod openapi;
pub mod payload;
pub mod rate;
mod routes;
pub mod scopes;
pub mod server;
pub mod verified;
pub(crate) mod views;
mod webhook_routes;
mod webhook_views;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use auth::Auth;
use error::ApiError;

pub struct Settings {
    pub default_merchant: MerchantId,
    pub token_issuance: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Header bytes per request (`name: value` lines); more is 431 `headers_too_large`.
    pub max_header_bytes: usize,
    pub conn: server::ConnLimits,
    /// The public URL (`BASE_URL`): the OpenAPI document's server.
    pub base_url: String,
    /// Webhook endpoints may be http or private addresses (`WEBHOOK_ALLOW_PRIVATE_URLS`).
    pub webhook_allow_private: bool,
    /// Serve `/openapi.json` and `/docs` (`API_DOCS`).
    pub api_docs: bool,
    /// Development mode (`config::keys`): no HSTS on plain-http loopback answers.
    pub development: bool,
}

/// What every handler and middleware gets, behind one `Arc`: axum clones the state for each
/// extractor and middleware of every request, and one reference count is cheaper than the
/// dozen a clone of `Services` takes.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub services: Services,
    /// Writes carried through in tasks of their own (see `routes::carried`); waited for at
    /// shutdown so none is cut between its write and its enqueue.
    pub writes: tokio_util::task::TaskTracker,
    pub auth: Arc<Auth>,
    pub settings: Arc<Settings>,
    /// Keys the fingerprints of idempotent requests (`IDEMPOTENCY_FINGERPRINT_KEY`).
    pub fingerprints: Arc<dyn crate::domain::idempotency::Fingerprints>,
}

/// Set by a handler just before it starts a write (see `routes::carried`): from then on a
/// timeout must not say "retry", since the write may take effect.
#[derive(Clone, Default)]
pub struct WriteStarted(Arc<AtomicBool>);

impl WriteStarted {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Bounds every request; a slow dependency answers with the envelope instead of hanging: 503
/// `timeout` (retry later) while nothing was written, 504 `outcome_unknown` once a write started.
/// The write itself is not cut short: it runs in a task of its own and is carried through.
async fn timeout(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = WriteStarted::default();
    req.extensions_mut().insert(started.clone());
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) if started.is_set() => ApiError::App(crate::app::AppError::OutcomeUnknown).into_response(),
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
        .routes(routes!(event_routes::payment_events))
        .routes(routes!(event_routes::list_events))
        .routes(routes!(event_routes::get_event))
        .routes(routes!(webhook_routes::attempts))
        .routes(routes!(webhook_routes::redeliver))
        .routes(routes!(webhook_routes::create_endpoint, webhook_routes::list_endpoints))
        .routes(routes!(webhook_routes::get_endpoint, webhook_routes::delete_endpoint))
        .routes(routes!(webhook_routes::rotate_secret))
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
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(state.clone(), limits::refuse_oversized))
        .layer(middleware::from_fn_with_state(state.clone(), headers::secure))
        .layer(middleware::from_fn(observe::track))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::public_request_span))
        .with_state(state)
}

/// The operators' surface, on its own listener (`ADMIN_PORT`), never on the public port:
/// `GET /metrics` (Prometheus) and `GET /status`.
pub fn admin_router() -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(telemetry::metrics::endpoint))
        .route("/status", axum::routing::get(|| async { axum::Json(views::status()) }))
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
